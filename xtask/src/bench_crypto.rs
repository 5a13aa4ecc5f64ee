//! `cargo xtask bench-crypto`: the cost of encryption at rest. The same database engines
//! run unencrypted ("plain", redb's own file backend) and encrypted (heliosdb-crypto's
//! `EncryptedFile` with a raw 256-bit key, so no key derivation is timed), taking turns
//! within every iteration, in one run:
//!
//! - heliosdb-core on the workloads of `cargo xtask bench` (A bulk insert, B durable
//!   commits, C point reads, D full scan), with its data generator, engine and checksums;
//! - `EmbeddedDatabase` on the workloads of `cargo xtask bench-sql` (1a/1b/1c inserts, 2 pk
//!   selects, 3 range scans, 4 group by, 5 joins), likewise.
//!
//! A read that hits redb's page cache never reaches the storage backend, so it costs the
//! same encrypted or not. The read workloads therefore run twice: on the database as the
//! load left it (default page cache, "warm"), and reopened with a small page cache
//! (`--cold-cache-kib`, "cold cache") so that most pages are read through the backend
//! and decrypted on the measured path. The file itself is then in the OS page cache, so
//! "cold" measures decryption, not the disk.
//!
//! Targets (issue: "≤ 10% overhead on reads and ≤ 15% on writes"): encrypted/plain of the
//! medians at most 1.10 for reads and 1.15 for writes. Also printed: the key derivation
//! time (PBKDF2-HMAC-SHA256 at the default iterations), the time to open an encrypted
//! database with a passphrase and with a raw key, and the file sizes after the loads.
//!
//! Every result is checksummed against the generated data, as in the other benchmarks; a
//! mismatch aborts the run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use clap::Args;
use heliosdb_core::{Database, DatabaseOptions};
use heliosdb_crypto::{EncryptedFile, KdfParams, KeySource};

use crate::bench::report::{median, ms};
use crate::bench::{self, BenchArgs, EngineSpec, SqliteSync};
use crate::bench_sql::{self, InsertHow, Q_GROUP, Q_JOIN, Q_POINT, Q_RANGE};

/// The raw key of the encrypted databases (32 bytes).
const RAW_KEY: [u8; 32] = *b"heliosdb bench-crypto raw key 32";
/// The passphrase of the open-time measurement.
const PASSPHRASE: &str = "correct horse battery staple";

#[derive(Args, Clone, Debug)]
pub struct BenchCryptoArgs {
    /// Smoke run: 10,000 rows, 100 durable commits, 100,000 rows in big, 1 iteration
    /// (unless given explicitly).
    #[arg(long)]
    pub quick: bool,
    /// Repetitions of each workload; the median is reported [default: 5, 1 with --quick].
    #[arg(long)]
    pub iterations: Option<usize>,
    /// Rows of the core workloads A, C, D and of the SQL table t (workloads 1-3), also
    /// the orders (a tenth of it the customers) of workload 5 [default: 100000, 10000
    /// with --quick].
    #[arg(long)]
    pub rows: Option<usize>,
    /// Single-row durable commits in core workload B [default: 1000, 100 with --quick].
    #[arg(long)]
    pub commits: Option<usize>,
    /// Point reads in core workload C and pk selects in SQL workload 2 [default: as many
    /// as --rows].
    #[arg(long)]
    pub reads: Option<usize>,
    /// Range-scan queries in SQL workload 3 [default: 50, 20 with --quick].
    #[arg(long)]
    pub scans: Option<usize>,
    /// Rows of big, aggregated by SQL workload 4 [default: 1000000, 100000 with --quick].
    #[arg(long)]
    pub big_rows: Option<usize>,
    /// Join queries in SQL workload 5 [default: 100, 20 with --quick].
    #[arg(long)]
    pub joins: Option<usize>,
    /// redb page cache of the "cold cache" read runs, in KiB.
    #[arg(long, default_value_t = 1024, value_name = "KIB")]
    pub cold_cache_kib: usize,
    /// Directory for the temporary databases [default: <target dir>/xtask-bench-crypto].
    /// Use a real disk: on tmpfs, fsync costs nothing and workload B means little.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `cargo xtask bench-crypto`: build xtask in release mode and run `bench-crypto-run` with
/// the same arguments. A binary that is already optimized runs the benchmark directly.
pub fn launch(args: &BenchCryptoArgs) -> Result<()> {
    if !cfg!(debug_assertions) {
        return run(args);
    }
    bench::relaunch_release("bench-crypto", "bench-crypto-run")
}

/// Sizes after defaults are applied: the core and the SQL benchmark's own configurations.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub core: bench::Config,
    pub sql: bench_sql::Config,
    pub iterations: usize,
    /// The page cache of the cold-cache runs, in bytes.
    pub cold_cache: usize,
}

impl Config {
    fn from_args(args: &BenchCryptoArgs) -> Result<Config> {
        let (rows, commits, scans, big_rows, joins, iterations) = if args.quick {
            (10_000, 100, 20, 100_000, 20, 1)
        } else {
            (100_000, 1_000, 50, 1_000_000, 100, 5)
        };
        let rows = args.rows.unwrap_or(rows);
        let reads = args.reads.unwrap_or(rows);
        let iterations = args.iterations.unwrap_or(iterations);
        let config = Config {
            core: bench::Config {
                rows,
                commits: args.commits.unwrap_or(commits),
                reads,
                iterations,
            },
            sql: bench_sql::Config {
                rows,
                reads,
                scans: args.scans.unwrap_or(scans),
                big_rows: args.big_rows.unwrap_or(big_rows),
                customers: (rows / 10).max(bench_sql::JOIN_WIDTH as usize),
                orders: rows,
                joins: args.joins.unwrap_or(joins),
                iterations,
            },
            iterations,
            cold_cache: args.cold_cache_kib.saturating_mul(1024),
        };
        ensure!(rows >= 10, "--rows must be at least 10");
        ensure!(config.core.commits > 0, "--commits must be at least 1");
        ensure!(reads > 0, "--reads must be at least 1");
        ensure!(config.sql.scans > 0, "--scans must be at least 1");
        ensure!(config.sql.big_rows > 0, "--big-rows must be at least 1");
        ensure!(config.sql.joins > 0, "--joins must be at least 1");
        ensure!(iterations > 0, "--iterations must be at least 1");
        ensure!(config.cold_cache > 0, "--cold-cache-kib must be at least 1");
        Ok(config)
    }
}

/// Unencrypted or encrypted: the two "engines" of this benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Plain,
    Encrypted,
}

impl Variant {
    pub const ALL: [Variant; 2] = [Variant::Plain, Variant::Encrypted];

    pub fn name(self) -> &'static str {
        match self {
            Variant::Plain => "plain",
            Variant::Encrypted => "encrypted",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The variants in the order they run in `iteration`: alternating, so neither always
    /// runs first (on a cache the other just filled, or after the other's fsyncs).
    fn order(iteration: usize) -> [Variant; 2] {
        if iteration.is_multiple_of(2) {
            Variant::ALL
        } else {
            [Variant::Encrypted, Variant::Plain]
        }
    }
}

/// Opens (or creates) the heliosdb-core database at `path`, unencrypted through redb's file
/// backend or encrypted with `key`, with a page cache of `cache_bytes` (redb's default when
/// `None`); durable commits, as everywhere in the benchmarks.
pub fn open_database(
    variant: Variant,
    path: &Path,
    key: &KeySource,
    cache_bytes: Option<usize>,
) -> Result<Database> {
    let options = DatabaseOptions {
        cache_bytes,
        ..DatabaseOptions::default()
    };
    let db = match variant {
        Variant::Plain => Database::open_with(path, options)?,
        Variant::Encrypted => {
            let file = EncryptedFile::open(path, key)
                .map_err(|e| anyhow!("{}: opening encrypted: {e}", path.display()))?;
            Database::open_with_backend(file, &path.display().to_string(), options)?
        }
    };
    Ok(db)
}

fn raw_key() -> KeySource {
    KeySource::raw(RAW_KEY)
}

/// The core engine (`bench::ours`) on a database of `variant`; `create` makes its table.
fn core_engine(
    variant: Variant,
    path: &Path,
    cache_bytes: Option<usize>,
    create: bool,
) -> Result<Box<dyn bench::Engine>> {
    let db = open_database(variant, path, &raw_key(), cache_bytes)?;
    bench::ours::from_database(db, create)
}

/// The SQL engine (`bench_sql::ours`) on a database of `variant`; `create` makes SCHEMA.
fn sql_engine(
    variant: Variant,
    path: &Path,
    cache_bytes: Option<usize>,
    create: bool,
) -> Result<Box<dyn bench_sql::Engine>> {
    let db = open_database(variant, path, &raw_key(), cache_bytes)?;
    bench_sql::ours::from_database(db, create)
}

/// `bench::Opener`s, for `bench::write_workload`.
fn core_plain(path: &Path, _args: &BenchArgs) -> Result<Box<dyn bench::Engine>> {
    core_engine(Variant::Plain, path, None, true)
}

fn core_encrypted(path: &Path, _args: &BenchArgs) -> Result<Box<dyn bench::Engine>> {
    core_engine(Variant::Encrypted, path, None, true)
}

fn core_spec(variant: Variant) -> EngineSpec {
    EngineSpec {
        name: variant.name(),
        open: match variant {
            Variant::Plain => core_plain,
            Variant::Encrypted => core_encrypted,
        },
    }
}

/// Reads or writes: which target applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
}

impl Kind {
    /// encrypted/plain, at most.
    pub fn target(self) -> f64 {
        match self {
            Kind::Read => 1.10,
            Kind::Write => 1.15,
        }
    }
}

/// One row of the results: a workload's samples per variant.
pub struct Line {
    pub label: String,
    pub kind: Kind,
    pub samples: [Vec<Duration>; 2],
}

impl Line {
    fn new(label: String, kind: Kind) -> Line {
        Line {
            label,
            kind,
            samples: [Vec::new(), Vec::new()],
        }
    }

    pub fn median_ms(&self, variant: Variant) -> f64 {
        ms(median(&self.samples[variant.index()]))
    }

    /// encrypted/plain of the medians.
    pub fn ratio(&self) -> f64 {
        self.median_ms(Variant::Encrypted) / self.median_ms(Variant::Plain)
    }

    pub fn met(&self) -> bool {
        self.ratio() <= self.kind.target()
    }
}

/// The results table, in the order rows are added.
#[derive(Default)]
pub struct Results {
    pub lines: Vec<Line>,
}

impl Results {
    /// Adds a row and returns its index.
    fn add(&mut self, label: String, kind: Kind) -> usize {
        self.lines.push(Line::new(label, kind));
        self.lines.len() - 1
    }

    fn push(&mut self, line: usize, variant: Variant, took: Duration) {
        self.lines[line].samples[variant.index()].push(took);
    }

    /// One progress line for the rows `lines` after `iteration`.
    fn progress(&self, iteration: usize, lines: &[usize]) {
        let mut out = format!("  iteration {}:", iteration + 1);
        for &l in lines {
            let line = &self.lines[l];
            // "core A ..." or "sql 1a ...": the workload's id.
            let id = line.label.split(' ').nth(1).unwrap_or("");
            let s = &line.samples;
            out.push_str(&format!(
                " {id} plain {:.1} ms, encrypted {:.1} ms;",
                ms(s[0][iteration]),
                ms(s[1][iteration])
            ));
        }
        println!("{out}");
    }

    pub fn print_table(&self, iterations: usize) {
        println!(
            "median of {iterations} iteration(s), ms; encrypted = heliosdb-crypto EncryptedFile, \
             raw 256-bit key; durable commits"
        );
        let width = self
            .lines
            .iter()
            .map(|l| l.label.len())
            .max()
            .unwrap_or(8)
            .max(8);
        let header = format!(
            "{:<width$} | {:>10} | {:>12} | {:>15} | {:<14}",
            "workload", "plain ms", "encrypted ms", "encrypted/plain", "target"
        );
        println!("{}", header.trim_end());
        println!("{}", "-".repeat(header.trim_end().len()));
        let (mut met, mut missed) = (0, 0);
        let mut worst: Option<&Line> = None;
        for line in &self.lines {
            let verdict = if line.met() {
                met += 1;
                "met"
            } else {
                missed += 1;
                "MISSED"
            };
            if worst.is_none_or(|w| line.ratio() - line.kind.target() > w.ratio() - w.kind.target())
            {
                worst = Some(line);
            }
            println!(
                "{:<width$} | {:>10.2} | {:>12.2} | {:>15.3} | <= {:.2} {verdict}",
                line.label,
                line.median_ms(Variant::Plain),
                line.median_ms(Variant::Encrypted),
                line.ratio(),
                line.kind.target(),
            );
        }
        let worst = worst.map_or_else(String::new, |w| {
            format!(
                "; closest to or furthest past its target: {} at {:.3} (target {:.2})",
                w.label,
                w.ratio(),
                w.kind.target()
            )
        });
        println!(
            "targets (reads <= 1.10, writes <= 1.15): {met} met, {missed} missed of {}{worst}",
            met + missed
        );
    }
}

/// `bench-crypto-run`: the benchmark proper.
pub fn run(args: &BenchCryptoArgs) -> Result<()> {
    if cfg!(debug_assertions) {
        bail!("bench-crypto-run needs an optimized build: use `cargo xtask bench-crypto`");
    }
    let config = Config::from_args(args)?;
    let base = match &args.dir {
        Some(dir) => dir.clone(),
        None => std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| crate::workspace_root().join("target"), PathBuf::from)
            .join("xtask-bench-crypto"),
    };
    std::fs::create_dir_all(&base)
        .with_context(|| format!("could not create {}", base.display()))?;
    let (c, s) = (&config.core, &config.sql);
    println!(
        "bench-crypto: plain vs encrypted (raw 256-bit key), {} iteration(s), variants \
         alternate which runs first; cold cache = {} KiB page cache; databases in {}",
        config.iterations,
        config.cold_cache / 1024,
        base.display()
    );
    println!(
        "  core: {} rows (A, C, D), {} durable commits (B), {} point reads (C), key {} B, \
         value {} B",
        c.rows,
        c.commits,
        c.reads,
        bench::KEY_LEN,
        bench::VAL_LEN
    );
    println!(
        "  sql: t {} rows, {} pk selects, {} range scans, big {} rows, {} customers / {} \
         orders, {} joins",
        s.rows, s.reads, s.scans, s.big_rows, s.customers, s.orders, s.joins
    );

    let mut results = Results::default();
    let mut sizes = Vec::new();
    core_benchmark(&config, &base, &mut results, &mut sizes)?;
    sql_benchmark(&config, &base, &mut results, &mut sizes)?;

    println!();
    results.print_table(config.iterations);

    println!();
    println!("file sizes after the load (encrypted: 32 B per 4 KiB block plus headers):");
    for (what, [plain, encrypted]) in &sizes {
        println!(
            "  {what}: plain {plain} B ({:.2} MiB), encrypted {encrypted} B ({:.2} MiB), \
             encrypted/plain {:.4} (+{} B)",
            mib(*plain),
            mib(*encrypted),
            *encrypted as f64 / *plain as f64,
            *encrypted as i64 - *plain as i64
        );
    }

    println!();
    key_timings(&base, KdfParams::default())?;
    Ok(())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn file_size(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("could not stat {}", path.display()))?
        .len())
}

/// Core workloads A-D of `cargo xtask bench`, plus C and D with a cold cache.
fn core_benchmark(
    config: &Config,
    base: &Path,
    results: &mut Results,
    sizes: &mut Vec<(String, [u64; 2])>,
) -> Result<()> {
    use bench::Workload as W;
    let c = &config.core;
    let data = bench::Data::generate(c);
    let bench_args = BenchArgs {
        quick: false,
        iterations: Some(c.iterations),
        rows: Some(c.rows),
        commits: Some(c.commits),
        reads: Some(c.reads),
        json: None,
        dir: None,
        sqlite_synchronous: SqliteSync::Normal,
    };
    let label = |w: W| format!("core {}", w.label(c));

    println!("core writes:");
    let writes = [
        results.add(label(W::BulkInsert), Kind::Write),
        results.add(label(W::DurableCommits), Kind::Write),
    ];
    for iteration in 0..config.iterations {
        for variant in Variant::order(iteration) {
            let spec = core_spec(variant);
            for (&line, workload) in writes.iter().zip([W::BulkInsert, W::DurableCommits]) {
                let took = bench::write_workload(&spec, &bench_args, c, base, &data, workload)?;
                results.push(line, variant, took);
            }
        }
        results.progress(iteration, &writes);
    }

    // C and D: one loaded database per variant, read warm, then reopened with a cold cache.
    let mut dirs = Vec::new();
    let mut size = [0; 2];
    for variant in Variant::ALL {
        let name = variant.name();
        let dir = bench::temp_dir(base, &format!("core-{name}"))?;
        let path = dir.path().join("bench.db");
        let mut db = core_engine(variant, &path, None, true)
            .with_context(|| format!("core {name}: open"))?;
        db.bulk_insert(&data.rows)
            .with_context(|| format!("core {name}: loading for C and D"))?;
        bench::verify(name, "core load", db.full_scan()?, data.expect_rows)?;
        drop(db);
        size[variant.index()] = file_size(&path)?;
        dirs.push((variant, dir, path));
    }
    sizes.push((format!("core kv, {} rows", c.rows), size));

    for (cache, suffix) in [
        (None, String::new()),
        (Some(config.cold_cache), ", cold cache".to_owned()),
    ] {
        println!(
            "core reads{}:",
            if cache.is_some() { " (cold cache)" } else { "" }
        );
        let lines = [
            results.add(format!("{}{suffix}", label(W::PointReads)), Kind::Read),
            results.add(format!("{}{suffix}", label(W::FullScan)), Kind::Read),
        ];
        let mut open = Vec::new();
        for (variant, _dir, path) in &dirs {
            let name = variant.name();
            let db = core_engine(*variant, path, cache, false)
                .with_context(|| format!("core {name}: reopen"))?;
            // One untimed pass, so the first iteration finds the cache as the others do.
            bench::verify(name, "core warm-up", db.full_scan()?, data.expect_rows)?;
            bench::verify(
                name,
                "core warm-up",
                db.point_reads(&data.read_keys)?,
                data.expect_reads,
            )?;
            open.push(db);
        }
        for iteration in 0..config.iterations {
            for variant in Variant::order(iteration) {
                let name = variant.name();
                let db = &open[variant.index()];
                let start = Instant::now();
                let check = db.point_reads(&data.read_keys);
                let took = start.elapsed();
                let check = check.with_context(|| format!("core {name}: C point reads"))?;
                bench::verify(name, "core C point reads", check, data.expect_reads)?;
                results.push(lines[0], variant, took);

                let start = Instant::now();
                let check = db.full_scan();
                let took = start.elapsed();
                let check = check.with_context(|| format!("core {name}: D full scan"))?;
                bench::verify(name, "core D full scan", check, data.expect_rows)?;
                results.push(lines[1], variant, took);
            }
            results.progress(iteration, &lines);
        }
    }
    Ok(())
}

/// SQL workloads 1-5 of `cargo xtask bench-sql` through `EmbeddedDatabase`, plus 2-5 with a
/// cold cache.
fn sql_benchmark(
    config: &Config,
    base: &Path,
    results: &mut Results,
    sizes: &mut Vec<(String, [u64; 2])>,
) -> Result<()> {
    use bench_sql::Workload as W;
    let s = &config.sql;
    let data = bench_sql::Data::generate(s);
    let label = |w: W| format!("sql {}", w.label(s));

    println!("sql inserts:");
    let inserts = [
        (W::InsertPerRow, InsertHow::PerRow),
        (W::InsertBatched, InsertHow::Batched),
        (W::InsertParsedOnce, InsertHow::ParsedOnce),
    ];
    let lines = inserts.map(|(w, _)| results.add(label(w), Kind::Write));
    for iteration in 0..config.iterations {
        for (&line, &(workload, how)) in lines.iter().zip(&inserts) {
            for variant in Variant::order(iteration) {
                let name = variant.name();
                let dir = bench_sql::temp_dir(base, &format!("sql-{name}"))?;
                let mut db = sql_engine(variant, &dir.path().join("bench.db"), None, true)
                    .with_context(|| format!("sql {name}: open"))?;
                let start = Instant::now();
                let result = db.insert_t(&data, how);
                let took = start.elapsed();
                let what = workload.label(s);
                result.with_context(|| format!("sql {name}: {what}"))?;
                let check = db
                    .scan_t()
                    .with_context(|| format!("sql {name}: scan after {what}"))?;
                bench_sql::verify(name, &what, check, data.expect_t)?;
                drop(db);
                results.push(line, variant, took);
            }
        }
        results.progress(iteration, &lines);
    }

    let mut dirs = Vec::new();
    let mut size = [0; 2];
    for variant in Variant::ALL {
        let name = variant.name();
        let dir = bench_sql::temp_dir(base, &format!("sql-{name}"))?;
        let path = dir.path().join("bench.db");
        let mut db =
            sql_engine(variant, &path, None, true).with_context(|| format!("sql {name}: open"))?;
        let start = Instant::now();
        db.insert_t(&data, InsertHow::Batched)
            .with_context(|| format!("sql {name}: loading t"))?;
        bench_sql::verify(name, "loading t", db.scan_t()?, data.expect_t)?;
        for rows in data.read_tables() {
            db.load(&rows)
                .with_context(|| format!("sql {name}: loading {}", rows.table))?;
        }
        println!(
            "  sql {name}: loaded t, big, customers, orders in {:.0} ms (not timed)",
            ms(start.elapsed())
        );
        drop(db);
        size[variant.index()] = file_size(&path)?;
        dirs.push((variant, dir, path));
    }
    sizes.push((
        format!(
            "sql t {} + big {} + customers {} + orders {} rows",
            s.rows, s.big_rows, s.customers, s.orders
        ),
        size,
    ));

    let scan_params: Vec<i64> = data.scan_ranges.iter().flat_map(|&(a, b)| [a, b]).collect();
    let join_params: Vec<i64> = data.join_ranges.iter().flat_map(|&(a, b)| [a, b]).collect();
    let reads = [
        (
            W::PointSelects,
            Q_POINT,
            &data.read_ids[..],
            1,
            data.expect_reads,
        ),
        (
            W::RangeScans,
            Q_RANGE,
            &scan_params[..],
            2,
            data.expect_scans,
        ),
        (W::GroupBy, Q_GROUP, &[][..], 0, data.expect_group),
        (W::Join, Q_JOIN, &join_params[..], 2, data.expect_joins),
    ];
    for (cache, suffix) in [
        (None, String::new()),
        (Some(config.cold_cache), ", cold cache".to_owned()),
    ] {
        println!(
            "sql reads{}:",
            if cache.is_some() { " (cold cache)" } else { "" }
        );
        let lines = reads.map(|(w, ..)| results.add(format!("{}{suffix}", label(w)), Kind::Read));
        let mut open = Vec::new();
        for (variant, _dir, path) in &dirs {
            let name = variant.name();
            let mut db = sql_engine(*variant, path, cache, false)
                .with_context(|| format!("sql {name}: reopen"))?;
            // One untimed pass, so the first iteration finds the cache as the others do.
            for &(workload, sql, params, arity, expect) in &reads {
                let what = format!("warm-up {}", workload.label(s));
                let check = db
                    .queries(sql, params, arity, false)
                    .with_context(|| format!("sql {name}: {what}"))?;
                bench_sql::verify(name, &what, check, expect)?;
            }
            open.push(db);
        }
        for iteration in 0..config.iterations {
            for (&line, &(workload, sql, params, arity, expect)) in lines.iter().zip(&reads) {
                for variant in Variant::order(iteration) {
                    let name = variant.name();
                    let db = &mut open[variant.index()];
                    let start = Instant::now();
                    let check = db.queries(sql, params, arity, false);
                    let took = start.elapsed();
                    let what = workload.label(s);
                    let check = check.with_context(|| format!("sql {name}: {what}"))?;
                    bench_sql::verify(name, &what, check, expect)?;
                    results.push(line, variant, took);
                }
            }
            results.progress(iteration, &lines);
        }
    }
    Ok(())
}

/// Key derivation and open times, printed.
fn key_timings(base: &Path, kdf: KdfParams) -> Result<()> {
    const RUNS: usize = 3;
    let kdf_runs: Vec<Duration> = (0..RUNS).map(|_| heliosdb_crypto::kdf_time(kdf)).collect();
    println!(
        "key derivation: kdf_time(PBKDF2-HMAC-SHA256, {} iterations) median of {RUNS}: {:.1} ms \
         (runs: {})",
        kdf.iterations,
        ms(median(&kdf_runs)),
        list_ms(&kdf_runs)
    );
    let opens = open_times(base, kdf, RUNS)?;
    for (what, runs) in &opens {
        println!(
            "  open an existing small database, {what}: median of {RUNS} {:.1} ms (runs: {})",
            ms(median(runs)),
            list_ms(runs)
        );
    }
    Ok(())
}

fn list_ms(runs: &[Duration]) -> String {
    runs.iter()
        .map(|&d| format!("{:.1}", ms(d)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Times `runs` reopenings (backend and `Database`, closed between runs) of a small
/// database: plain, encrypted with a raw key, and encrypted with a passphrase (created with
/// `kdf`, which the passphrase opens then derive with).
fn open_times(
    base: &Path,
    kdf: KdfParams,
    runs: usize,
) -> Result<Vec<(&'static str, Vec<Duration>)>> {
    let dir = bench::temp_dir(base, "open")?;
    let passphrase = KeySource::passphrase(PASSPHRASE.to_owned());
    let raw = raw_key();
    type OpenFn<'a> = Box<dyn Fn(&Path) -> Result<Database> + 'a>;
    let kinds: [(&'static str, OpenFn<'_>); 3] = [
        (
            "plain",
            Box::new(|p| open_database(Variant::Plain, p, &raw, None)),
        ),
        (
            "encrypted, raw key",
            Box::new(|p| open_database(Variant::Encrypted, p, &raw, None)),
        ),
        (
            "encrypted, passphrase",
            Box::new(|p| {
                let file = EncryptedFile::open_with(p, &passphrase, kdf)
                    .map_err(|e| anyhow!("{}: opening encrypted: {e}", p.display()))?;
                Ok(Database::open_with_backend(
                    file,
                    &p.display().to_string(),
                    DatabaseOptions::default(),
                )?)
            }),
        ),
    ];
    let mut out = Vec::new();
    for (i, (what, open)) in kinds.iter().enumerate() {
        let path = dir.path().join(format!("open-{i}.db"));
        {
            // Create it with one row, so the reopen reads a real database.
            let mut db = bench::ours::from_database(open(&path)?, true)?;
            db.bulk_insert(&[([7; bench::KEY_LEN], [9; bench::VAL_LEN])])?;
        }
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            let db = open(&path).with_context(|| format!("reopen {what}"))?;
            times.push(start.elapsed());
            let db = bench::ours::from_database(db, false)?;
            let check = db.full_scan()?;
            ensure!(
                check.rows == 1,
                "{what}: reopened database has {} rows",
                check.rows
            );
        }
        out.push((*what, times));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain and encrypted read back exactly what was written, through the core and the SQL
    /// engine, also reopened with a tiny page cache (small data, debug build).
    #[test]
    fn variants_agree_on_checksums() {
        let core = bench::Config {
            rows: 300,
            commits: 20,
            reads: 500,
            iterations: 1,
        };
        let data = bench::Data::generate(&core);
        let sql = bench_sql::Config {
            rows: 300,
            reads: 200,
            scans: 5,
            big_rows: 3000,
            customers: 30,
            orders: 300,
            joins: 5,
            iterations: 1,
        };
        let sql_data = bench_sql::Data::generate(&sql);
        let scans: Vec<i64> = sql_data
            .scan_ranges
            .iter()
            .flat_map(|&(a, b)| [a, b])
            .collect();
        let joins: Vec<i64> = sql_data
            .join_ranges
            .iter()
            .flat_map(|&(a, b)| [a, b])
            .collect();
        let tiny = Some(64 * 1024);
        let mut sizes = [0; 2];
        for variant in Variant::ALL {
            let v = variant.name();
            let dir = tempfile::tempdir().unwrap();
            let a = dir.path().join("a.db");
            let mut db = core_engine(variant, &a, None, true).unwrap();
            db.bulk_insert(&data.rows).unwrap();
            assert_eq!(db.full_scan().unwrap(), data.expect_rows, "{v}");
            drop(db);
            sizes[variant.index()] = file_size(&a).unwrap();
            let db = core_engine(variant, &a, tiny, false).unwrap();
            assert_eq!(db.point_reads(&data.read_keys).unwrap(), data.expect_reads);
            assert_eq!(db.full_scan().unwrap(), data.expect_rows, "{v}");

            let mut db = core_engine(variant, &dir.path().join("b.db"), None, true).unwrap();
            db.durable_commits(&data.commit_rows).unwrap();
            assert_eq!(db.full_scan().unwrap(), data.expect_commits, "{v}");

            let s = dir.path().join("s.db");
            let mut db = sql_engine(variant, &s, None, true).unwrap();
            db.insert_t(&sql_data, InsertHow::ParsedOnce).unwrap();
            assert_eq!(db.scan_t().unwrap(), sql_data.expect_t, "{v}");
            for rows in sql_data.read_tables() {
                db.load(&rows).unwrap();
            }
            drop(db);
            for cache in [None, tiny] {
                let mut db = sql_engine(variant, &s, cache, false).unwrap();
                let got = db.queries(Q_POINT, &sql_data.read_ids, 1, false).unwrap();
                assert_eq!(got, sql_data.expect_reads, "{v}");
                let got = db.queries(Q_RANGE, &scans, 2, false).unwrap();
                assert_eq!(got, sql_data.expect_scans, "{v}");
                let got = db.queries(Q_GROUP, &[], 0, false).unwrap();
                assert_eq!(got, sql_data.expect_group, "{v}");
                let got = db.queries(Q_JOIN, &joins, 2, false).unwrap();
                assert_eq!(got, sql_data.expect_joins, "{v}");
            }
        }
        assert!(sizes[0] > 0 && sizes[1] > 0, "{sizes:?}");
    }

    /// The encrypted file is not the plain one: the raw key's bytes and the data are not
    /// in it in the clear, and another key cannot open it.
    #[test]
    fn encrypted_file_is_encrypted() {
        let config = bench::Config {
            rows: 50,
            commits: 1,
            reads: 1,
            iterations: 1,
        };
        let data = bench::Data::generate(&config);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.db");
        let mut db = core_engine(Variant::Encrypted, &path, None, true).unwrap();
        db.bulk_insert(&data.rows).unwrap();
        drop(db);
        let bytes = std::fs::read(&path).unwrap();
        let value = &data.rows[0].1[..];
        assert!(!bytes.windows(value.len()).any(|w| w == value));
        assert!(!bytes.windows(RAW_KEY.len()).any(|w| w == RAW_KEY));
        let other = KeySource::raw([0x5A; 32]);
        assert!(open_database(Variant::Encrypted, &path, &other, None).is_err());
    }

    /// The open-time measurement works, with the fewest KDF iterations allowed (debug build).
    #[test]
    fn open_times_reopen_every_kind() {
        let dir = tempfile::tempdir().unwrap();
        let opens = open_times(dir.path(), KdfParams { iterations: 10_000 }, 2).unwrap();
        assert_eq!(opens.len(), 3);
        assert!(opens.iter().all(|(_, runs)| runs.len() == 2));
    }

    #[test]
    fn variants_alternate() {
        assert_eq!(Variant::order(0), [Variant::Plain, Variant::Encrypted]);
        assert_eq!(Variant::order(1), [Variant::Encrypted, Variant::Plain]);
    }
}
