//! `cargo xtask bench`: SQLite vs raw redb vs heliosdb-core on the same data, in the same run.
//!
//! Workloads (24-byte keys, 150-byte values, pseudo-random, inserted in random key order):
//! - A: `rows` inserts in one transaction, into a fresh database each iteration;
//! - B: `commits` durable commits of one row each, into a fresh database each iteration;
//! - C: `reads` random point reads of existing keys in one read transaction;
//! - D: a full scan reading every value.
//!
//! C and D run against one database per engine, loaded with the `rows` rows beforehand.
//! Every read workload returns a checksum of the bytes it read, compared with one computed
//! from the generated data; after A and B a scan checks that every row arrived. A mismatch
//! aborts the run: a benchmark that reads nothing is a fake result.

pub(crate) mod ours;
mod raw_redb;
pub(crate) mod report;
mod sqlite;

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::{Args, ValueEnum};

pub const KEY_LEN: usize = 24;
pub const VAL_LEN: usize = 150;
pub type Key = [u8; KEY_LEN];
pub type Val = [u8; VAL_LEN];
pub type Row = (Key, Val);

#[derive(Args, Clone, Debug)]
pub struct BenchArgs {
    /// Smoke run: 10,000 rows, 100 durable commits, 1 iteration (unless given explicitly).
    #[arg(long)]
    pub quick: bool,
    /// Repetitions of each workload; the median is reported [default: 5, 1 with --quick].
    #[arg(long)]
    pub iterations: Option<usize>,
    /// Rows for workloads A, C and D [default: 100000, 10000 with --quick].
    #[arg(long)]
    pub rows: Option<usize>,
    /// Single-row durable commits in workload B [default: 1000, 100 with --quick].
    #[arg(long)]
    pub commits: Option<usize>,
    /// Point reads in workload C [default: as many as --rows].
    #[arg(long)]
    pub reads: Option<usize>,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Directory for the temporary databases [default: <target dir>/xtask-bench].
    /// Use a real disk: on tmpfs, fsync costs nothing and workload B means little.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// SQLite `PRAGMA synchronous` (WAL mode). NORMAL does not fsync each commit; FULL does,
    /// which is what redb's Durability::Immediate does.
    #[arg(long, value_enum, default_value_t = SqliteSync::Normal)]
    pub sqlite_synchronous: SqliteSync,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqliteSync {
    Normal,
    Full,
}

impl SqliteSync {
    pub fn pragma(self) -> &'static str {
        match self {
            SqliteSync::Normal => "NORMAL",
            SqliteSync::Full => "FULL",
        }
    }
}

/// `cargo xtask bench`: build xtask in release mode and run `bench-run` with the same arguments.
/// A binary that is already optimized runs the benchmark directly.
pub fn launch(args: &BenchArgs) -> Result<()> {
    if !cfg!(debug_assertions) {
        return run(args);
    }
    relaunch_release("bench", "bench-run")
}

/// Runs `cargo run --release -p xtask -- <run_command>` with everything that followed
/// `command` on our command line, so benchmarks always measure optimized code.
pub fn relaunch_release(command: &str, run_command: &str) -> Result<()> {
    let root = crate::workspace_root();
    let cargo = crate::cargo();
    let forwarded: Vec<OsString> = std::env::args_os()
        .skip_while(|a| a != command)
        .skip(1)
        .collect();
    let mut cmd = Command::new(&cargo);
    cmd.arg("run")
        .arg("--release")
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .args(["--package", "xtask"]);
    cmd.args(["--", run_command]).args(&forwarded);
    eprintln!("{command}: building xtask in release mode and running the benchmark ...");
    let status = cmd
        .status()
        .with_context(|| format!("could not start {}", cargo.display()))?;
    if !status.success() {
        bail!("release benchmark run failed ({status})");
    }
    Ok(())
}

/// Sizes and repetitions after defaults are applied.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub rows: usize,
    pub commits: usize,
    pub reads: usize,
    pub iterations: usize,
}

impl Config {
    fn from_args(args: &BenchArgs) -> Result<Config> {
        let (rows, commits, iterations) = if args.quick {
            (10_000, 100, 1)
        } else {
            (100_000, 1_000, 5)
        };
        let rows = args.rows.unwrap_or(rows);
        let config = Config {
            rows,
            commits: args.commits.unwrap_or(commits),
            reads: args.reads.unwrap_or(rows),
            iterations: args.iterations.unwrap_or(iterations),
        };
        ensure!(config.rows > 0, "--rows must be at least 1");
        ensure!(config.commits > 0, "--commits must be at least 1");
        ensure!(config.reads > 0, "--reads must be at least 1");
        ensure!(config.iterations > 0, "--iterations must be at least 1");
        Ok(config)
    }
}

/// What a read workload saw: rows read and an order-independent sum of value digests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Check {
    pub rows: u64,
    pub sum: u64,
}

impl Check {
    /// Account for one value read.
    #[inline]
    pub fn add(&mut self, value: &[u8]) {
        self.rows += 1;
        self.sum = self.sum.wrapping_add(digest(value));
    }
}

/// A few bytes of the value (the first and last eight) and its length.
#[inline]
fn digest(value: &[u8]) -> u64 {
    let word = |bytes: Option<&[u8]>| {
        bytes.map_or(0, |b| {
            let mut w = [0u8; 8];
            w.copy_from_slice(b);
            u64::from_le_bytes(w)
        })
    };
    let head = word(value.get(..8));
    let tail = word(value.len().checked_sub(8).and_then(|s| value.get(s..)));
    (value.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ head ^ tail.rotate_left(29)
}

/// One storage engine under test. Each instance owns one database file.
pub trait Engine {
    /// Insert all rows in one transaction and commit it durably.
    fn bulk_insert(&mut self, rows: &[Row]) -> Result<()>;
    /// Insert each row in its own durably committed transaction.
    fn durable_commits(&mut self, rows: &[Row]) -> Result<()>;
    /// Look up each key (all exist) in one read transaction.
    fn point_reads(&self, keys: &[Key]) -> Result<Check>;
    /// Read every value in the table.
    fn full_scan(&self) -> Result<Check>;
}

/// Creates a fresh database (with its `kv` table) at a path.
pub type Opener = fn(&Path, &BenchArgs) -> Result<Box<dyn Engine>>;

pub struct EngineSpec {
    pub name: &'static str,
    pub open: Opener,
}

pub const ENGINE_NAMES: [&str; 3] = ["sqlite", "redb", "ours"];

/// The engines compiled in, in ENGINE_NAMES order.
fn engines() -> Vec<EngineSpec> {
    vec![
        EngineSpec {
            name: "sqlite",
            open: sqlite::open,
        },
        EngineSpec {
            name: "redb",
            open: raw_redb::open,
        },
        EngineSpec {
            name: "ours",
            open: ours::open,
        },
    ]
}

/// splitmix64: small, fast and good enough for benchmark data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// The generated data and the checksums every engine must reproduce.
pub struct Data {
    /// Rows for A (and the C/D database), distinct random keys in random order.
    pub rows: Vec<Row>,
    /// Rows for B.
    pub commit_rows: Vec<Row>,
    /// Keys for C, drawn uniformly (with repetition) from `rows`.
    pub read_keys: Vec<Key>,
    pub expect_rows: Check,
    pub expect_commits: Check,
    pub expect_reads: Check,
}

impl Data {
    pub fn generate(config: &Config) -> Data {
        let mut rng = SplitMix64(0x4845_4C49_4F53_4442); // "HELIOSDB"
        let mut seen = HashSet::with_capacity(config.rows + config.commits);
        let mut gen_rows = |n: usize, rng: &mut SplitMix64| {
            let mut rows = Vec::with_capacity(n);
            let mut check = Check::default();
            while rows.len() < n {
                let mut key = [0u8; KEY_LEN];
                rng.fill(&mut key);
                if !seen.insert(key) {
                    continue;
                }
                let mut val = [0u8; VAL_LEN];
                rng.fill(&mut val);
                check.add(&val);
                rows.push((key, val));
            }
            (rows, check)
        };
        let (rows, expect_rows) = gen_rows(config.rows, &mut rng);
        let (commit_rows, expect_commits) = gen_rows(config.commits, &mut rng);
        let mut expect_reads = Check::default();
        let read_keys = (0..config.reads)
            .map(|_| {
                let (key, val) = &rows[rng.below(rows.len())];
                expect_reads.add(val);
                *key
            })
            .collect();
        Data {
            rows,
            commit_rows,
            read_keys,
            expect_rows,
            expect_commits,
            expect_reads,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    BulkInsert,
    DurableCommits,
    PointReads,
    FullScan,
}

impl Workload {
    pub const ALL: [Workload; 4] = [
        Workload::BulkInsert,
        Workload::DurableCommits,
        Workload::PointReads,
        Workload::FullScan,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Workload::BulkInsert => "A",
            Workload::DurableCommits => "B",
            Workload::PointReads => "C",
            Workload::FullScan => "D",
        }
    }

    pub fn label(self, config: &Config) -> String {
        match self {
            Workload::BulkInsert => format!("A {} inserts, 1 txn", config.rows),
            Workload::DurableCommits => format!("B {} durable commits", config.commits),
            Workload::PointReads => format!("C {} point reads", config.reads),
            Workload::FullScan => format!("D full scan {} rows", config.rows),
        }
    }

    /// Targets for ours/sqlite and ours/redb (at most).
    pub fn targets(self) -> (f64, f64) {
        match self {
            Workload::BulkInsert | Workload::DurableCommits => (1.0, 2.0),
            Workload::PointReads | Workload::FullScan => (1.0, 1.3),
        }
    }
}

/// Timings of every iteration: `samples[workload][engine]`.
pub struct Samples {
    pub engines: Vec<&'static str>,
    pub samples: Vec<Vec<Vec<Duration>>>,
}

impl Samples {
    fn push(&mut self, workload: Workload, engine: usize, took: Duration) {
        let w = Workload::ALL.iter().position(|&x| x == workload).unwrap();
        self.samples[w][engine].push(took);
    }
}

/// `bench-run`: the benchmark proper.
pub fn run(args: &BenchArgs) -> Result<()> {
    if cfg!(debug_assertions) {
        bail!("bench-run needs an optimized build: use `cargo xtask bench`");
    }
    let config = Config::from_args(args)?;
    let base = match &args.dir {
        Some(dir) => dir.clone(),
        None => std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| crate::workspace_root().join("target"), PathBuf::from)
            .join("xtask-bench"),
    };
    std::fs::create_dir_all(&base)
        .with_context(|| format!("could not create {}", base.display()))?;

    let engines = engines();
    println!(
        "bench: {} rows (A, C, D), {} durable commits (B), {} point reads (C), {} iteration(s); \
         key {KEY_LEN} B, value {VAL_LEN} B; sqlite WAL synchronous={}; databases in {}",
        config.rows,
        config.commits,
        config.reads,
        config.iterations,
        args.sqlite_synchronous.pragma(),
        base.display()
    );
    let data = Data::generate(&config);
    let mut samples = Samples {
        engines: engines.iter().map(|e| e.name).collect(),
        samples: vec![vec![Vec::new(); engines.len()]; Workload::ALL.len()],
    };

    // A and B: a fresh database for every engine and iteration; engines take turns.
    for iteration in 0..config.iterations {
        for (e, engine) in engines.iter().enumerate() {
            let took = write_workload(engine, args, &config, &base, &data, Workload::BulkInsert)?;
            samples.push(Workload::BulkInsert, e, took);
            let took = write_workload(
                engine,
                args,
                &config,
                &base,
                &data,
                Workload::DurableCommits,
            )?;
            samples.push(Workload::DurableCommits, e, took);
        }
        progress(
            &samples,
            iteration,
            &[Workload::BulkInsert, Workload::DurableCommits],
        );
    }

    // C and D: one loaded database per engine, kept open while the engines take turns.
    let mut loaded = Vec::new();
    for engine in &engines {
        let dir = temp_dir(&base, engine.name)?;
        let mut db = (engine.open)(&dir.path().join("bench.db"), args)
            .with_context(|| format!("{}: open", engine.name))?;
        db.bulk_insert(&data.rows)
            .with_context(|| format!("{}: loading for C and D", engine.name))?;
        verify(engine.name, "load", db.full_scan()?, data.expect_rows)?;
        loaded.push((dir, db));
    }
    for iteration in 0..config.iterations {
        for (e, (engine, (_dir, db))) in engines.iter().zip(&loaded).enumerate() {
            let start = Instant::now();
            let check = db.point_reads(&data.read_keys);
            let took = start.elapsed();
            let check = check.with_context(|| format!("{}: C point reads", engine.name))?;
            verify(engine.name, "C point reads", check, data.expect_reads)?;
            samples.push(Workload::PointReads, e, took);

            let start = Instant::now();
            let check = db.full_scan();
            let took = start.elapsed();
            let check = check.with_context(|| format!("{}: D full scan", engine.name))?;
            verify(engine.name, "D full scan", check, data.expect_rows)?;
            samples.push(Workload::FullScan, e, took);
        }
        progress(
            &samples,
            iteration,
            &[Workload::PointReads, Workload::FullScan],
        );
    }
    drop(loaded);

    let results = report::Results::new(&config, args, &samples);
    println!();
    results.print_table();
    if let Some(path) = &args.json {
        std::fs::write(path, results.to_json())
            .with_context(|| format!("could not write {}", path.display()))?;
        println!("bench: results written to {}", path.display());
    }
    Ok(())
}

pub(crate) fn temp_dir(base: &Path, engine: &str) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(&format!("{engine}-"))
        .tempdir_in(base)
        .with_context(|| {
            format!(
                "could not create a temporary directory in {}",
                base.display()
            )
        })
}

/// Run A or B once on a fresh database and check that every row arrived.
pub(crate) fn write_workload(
    engine: &EngineSpec,
    args: &BenchArgs,
    config: &Config,
    base: &Path,
    data: &Data,
    workload: Workload,
) -> Result<Duration> {
    let dir = temp_dir(base, engine.name)?;
    let mut db = (engine.open)(&dir.path().join("bench.db"), args)
        .with_context(|| format!("{}: open", engine.name))?;
    let (rows, expect) = match workload {
        Workload::BulkInsert => (&data.rows, data.expect_rows),
        Workload::DurableCommits => (&data.commit_rows, data.expect_commits),
        Workload::PointReads | Workload::FullScan => unreachable!("not a write workload"),
    };
    let start = Instant::now();
    let result = match workload {
        Workload::BulkInsert => db.bulk_insert(rows),
        _ => db.durable_commits(rows),
    };
    let took = start.elapsed();
    let what = workload.label(config);
    result.with_context(|| format!("{}: {what}", engine.name))?;
    let check = db
        .full_scan()
        .with_context(|| format!("{}: scan after {what}", engine.name))?;
    verify(engine.name, &what, check, expect)?;
    drop(db);
    drop(dir);
    Ok(took)
}

pub(crate) fn verify(engine: &str, what: &str, got: Check, expected: Check) -> Result<()> {
    if got != expected {
        bail!(
            "CHECKSUM MISMATCH: {engine} after {what}: read {} rows (digest sum {:#018x}), \
             expected {} rows (digest sum {:#018x}); the results would be meaningless",
            got.rows,
            got.sum,
            expected.rows,
            expected.sum
        );
    }
    Ok(())
}

fn progress(samples: &Samples, iteration: usize, workloads: &[Workload]) {
    let mut line = format!("  iteration {}:", iteration + 1);
    for &w in workloads {
        let wi = Workload::ALL.iter().position(|&x| x == w).unwrap();
        line.push_str(&format!(" {}", w.id()));
        for (e, name) in samples.engines.iter().enumerate() {
            let took = samples.samples[wi][e][iteration];
            line.push_str(&format!(" {name} {:.2} ms", report::ms(took)));
            line.push(if e + 1 < samples.engines.len() {
                ','
            } else {
                ';'
            });
        }
    }
    println!("{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> BenchArgs {
        BenchArgs {
            quick: true,
            iterations: None,
            rows: None,
            commits: None,
            reads: None,
            json: None,
            dir: None,
            sqlite_synchronous: SqliteSync::Normal,
        }
    }

    /// Every engine reads back exactly what was written (small data, debug build).
    #[test]
    fn engines_agree_on_checksums() {
        let config = Config {
            rows: 300,
            commits: 20,
            reads: 500,
            iterations: 1,
        };
        let data = Data::generate(&config);
        assert_eq!(data.expect_rows.rows, 300);
        assert_eq!(data.expect_reads.rows, 500);
        let args = args();
        for engine in engines() {
            let dir = tempfile::tempdir().unwrap();
            let mut db = (engine.open)(&dir.path().join("a.db"), &args).unwrap();
            db.bulk_insert(&data.rows).unwrap();
            assert_eq!(db.full_scan().unwrap(), data.expect_rows, "{}", engine.name);
            let reads = db.point_reads(&data.read_keys).unwrap();
            assert_eq!(reads, data.expect_reads, "{}", engine.name);

            let mut db = (engine.open)(&dir.path().join("b.db"), &args).unwrap();
            db.durable_commits(&data.commit_rows).unwrap();
            assert_eq!(
                db.full_scan().unwrap(),
                data.expect_commits,
                "{}",
                engine.name
            );
        }
    }

    #[test]
    fn missing_key_is_an_error() {
        let config = Config {
            rows: 10,
            commits: 1,
            reads: 1,
            iterations: 1,
        };
        let data = Data::generate(&config);
        for engine in engines() {
            let dir = tempfile::tempdir().unwrap();
            let mut db = (engine.open)(&dir.path().join("a.db"), &args()).unwrap();
            db.bulk_insert(&data.rows).unwrap();
            assert!(
                db.point_reads(&[[0xAB; KEY_LEN]]).is_err(),
                "{}",
                engine.name
            );
        }
    }

    #[test]
    fn median_of_even_and_odd() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        assert_eq!(report::median(&ms(&[5, 1, 3])), Duration::from_millis(3));
        assert_eq!(
            report::median(&ms(&[4, 1, 3, 2])),
            Duration::from_micros(2500)
        );
    }
}
