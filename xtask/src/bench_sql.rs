//! `cargo xtask bench-sql`: HeliosDB's SQL API (`EmbeddedDatabase`) vs SQLite (rusqlite,
//! bundled, WAL, `synchronous=NORMAL`) through SQL with prepared statements, in the same run.
//!
//! Workloads (issue 3):
//! - 1: `rows` inserts into `t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT)` (ids a random
//!   permutation of 1..=rows, v 50 bytes) in one transaction, on a fresh database each
//!   iteration, in three variants: (a) one INSERT per row — SQLite's `prepare_cached`,
//!   HeliosDB's `Transaction::execute` with the text (parsed once, then cached);
//!   (b) 1000-row multi-row INSERTs with parameters, both engines; (c) one INSERT per row
//!   prepared once and run with `Transaction::execute_prepared`;
//! - 2: `reads` `SELECT v FROM t WHERE id = ?` with random ids, each an autocommit statement;
//! - 3: `scans` × `SELECT count(*), sum(k) FROM t WHERE id BETWEEN a AND b AND k % 7 = 3`
//!   over ranges of 10% of the table;
//! - 4: `SELECT k % 100, count(*), sum(id), avg(k) FROM big GROUP BY k % 100` over
//!   `big_rows` rows (loaded beforehand, not timed);
//! - 5: `joins` × `SELECT c.name, sum(o.amount) FROM customers c JOIN orders o ON
//!   o.customer_id = c.id WHERE c.id BETWEEN a AND b GROUP BY c.name` for ranges of 10
//!   customers (`orders` has an index on `customer_id`).
//!
//! 2L, 3L and 5L repeat 2, 3 and 5 with the values written into the SQL text, a new text per
//! call, so both engines parse every call: the cost of ad-hoc SQL.
//!
//! Every workload's results are checksummed and compared with checksums computed from the
//! generated data (so both engines must agree with each other and with the data); after
//! each insert run a scan checks every row. A mismatch aborts the run.

pub(crate) mod ours;
mod report;
mod sqlite;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Args;

/// Rows per multi-row INSERT (workload 1b and the loads).
pub const BATCH: usize = 1000;
/// Length of `t.v`.
pub const V_LEN: usize = 50;
/// Customers per join query.
pub const JOIN_WIDTH: i64 = 10;

#[derive(Args, Clone, Debug)]
pub struct BenchSqlArgs {
    /// Smoke run: 10,000 rows in t, 100,000 in big, 1,000 customers, 10,000 orders,
    /// 1 iteration (unless given explicitly).
    #[arg(long)]
    pub quick: bool,
    /// Repetitions of each workload; the median is reported [default: 5, 1 with --quick].
    #[arg(long)]
    pub iterations: Option<usize>,
    /// Rows of t, inserted by workload 1; also the orders (and a tenth of it the customers)
    /// of workload 5 [default: 100000, 10000 with --quick].
    #[arg(long)]
    pub rows: Option<usize>,
    /// Primary-key SELECTs in workload 2 [default: as many as --rows].
    #[arg(long)]
    pub reads: Option<usize>,
    /// Range-scan queries in workload 3 [default: 50, 20 with --quick].
    #[arg(long)]
    pub scans: Option<usize>,
    /// Rows of big, aggregated by workload 4 [default: 1000000, 100000 with --quick].
    #[arg(long)]
    pub big_rows: Option<usize>,
    /// Join queries in workload 5 [default: 100, 20 with --quick].
    #[arg(long)]
    pub joins: Option<usize>,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Directory for the temporary databases [default: <target dir>/xtask-bench-sql].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `cargo xtask bench-sql`: build xtask in release mode and run `bench-sql-run` with the same
/// arguments. A binary that is already optimized runs the benchmark directly.
pub fn launch(args: &BenchSqlArgs) -> Result<()> {
    if !cfg!(debug_assertions) {
        return run(args);
    }
    crate::bench::relaunch_release("bench-sql", "bench-sql-run")
}

/// Sizes and repetitions after defaults are applied.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub rows: usize,
    pub reads: usize,
    pub scans: usize,
    pub big_rows: usize,
    pub customers: usize,
    pub orders: usize,
    pub joins: usize,
    pub iterations: usize,
}

impl Config {
    fn from_args(args: &BenchSqlArgs) -> Result<Config> {
        let (rows, scans, big_rows, joins, iterations) = if args.quick {
            (10_000, 20, 100_000, 20, 1)
        } else {
            (100_000, 50, 1_000_000, 100, 5)
        };
        let rows = args.rows.unwrap_or(rows);
        let config = Config {
            rows,
            reads: args.reads.unwrap_or(rows),
            scans: args.scans.unwrap_or(scans),
            big_rows: args.big_rows.unwrap_or(big_rows),
            customers: (rows / 10).max(JOIN_WIDTH as usize),
            orders: rows,
            joins: args.joins.unwrap_or(joins),
            iterations: args.iterations.unwrap_or(iterations),
        };
        ensure!(config.rows >= 10, "--rows must be at least 10");
        ensure!(config.reads > 0, "--reads must be at least 1");
        ensure!(config.scans > 0, "--scans must be at least 1");
        ensure!(config.big_rows > 0, "--big-rows must be at least 1");
        ensure!(config.joins > 0, "--joins must be at least 1");
        ensure!(config.iterations > 0, "--iterations must be at least 1");
        Ok(config)
    }
}

/// A result value in engine-neutral form, for checksums.
#[derive(Clone, Copy, Debug)]
pub enum Val<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
}

/// Numbers compare by value at a resolution of 1e-3, so an integer sum equals the same sum
/// returned as a real, and an average may differ in its last bits.
fn val_digest(v: Val<'_>) -> u64 {
    let num = |x: i64| mix(x as u64 ^ 0x4E55_4D00);
    match v {
        Val::Null => 0x6E75_6C6C,
        Val::Int(i) => num(i.wrapping_mul(1000)),
        Val::Real(r) => num((r * 1000.0).round() as i64),
        Val::Text(s) => {
            // FNV-1a, then mixed.
            let mut h: u64 = 0xCBF2_9CE4_8422_2325;
            for &b in s.as_bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3);
            }
            mix(h ^ s.len() as u64)
        }
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What a workload returned: rows and an order-independent sum of row digests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Check {
    pub rows: u64,
    pub sum: u64,
}

impl Check {
    /// Account for one result row (its values in column order).
    pub fn add_row(&mut self, values: &[Val<'_>]) {
        let mut h: u64 = 0x5245_5355_4C54; // "RESULT"
        for &v in values {
            h = mix(h.wrapping_mul(31).wrapping_add(val_digest(v)));
        }
        self.rows += 1;
        self.sum = self.sum.wrapping_add(h);
    }
}

/// splitmix64: small, fast and good enough for benchmark data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// The generated data, the workloads' parameters and the checksums every engine must
/// reproduce.
pub struct Data {
    /// t's rows `(id, k, v)` in insertion order (ids are a permutation of 1..=rows).
    pub t: Vec<(i64, i64, String)>,
    /// big's rows `(id, k)`, ids 1..=big_rows.
    pub big: Vec<(i64, i64)>,
    /// customers' rows `(id, name)`, ids 1..=customers.
    pub customers: Vec<(i64, String)>,
    /// orders' rows `(id, customer_id, amount)`.
    pub orders: Vec<(i64, i64, i64)>,
    pub read_ids: Vec<i64>,
    pub scan_ranges: Vec<(i64, i64)>,
    pub join_ranges: Vec<(i64, i64)>,
    pub expect_t: Check,
    pub expect_reads: Check,
    pub expect_scans: Check,
    pub expect_group: Check,
    pub expect_joins: Check,
}

impl Data {
    pub fn generate(config: &Config) -> Data {
        let mut rng = SplitMix64(0x5351_4C42_454E_4348); // "SQLBENCH"
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

        let n = config.rows as i64;
        let mut ids: Vec<i64> = (1..=n).collect();
        for i in (1..ids.len()).rev() {
            ids.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let mut by_id = vec![(0i64, String::new()); config.rows + 1];
        let mut expect_t = Check::default();
        let t: Vec<(i64, i64, String)> = ids
            .into_iter()
            .map(|id| {
                let k = rng.below(1_000_000) as i64;
                let v: String = (0..V_LEN)
                    .map(|_| char::from(ALPHABET[rng.below(ALPHABET.len() as u64) as usize]))
                    .collect();
                expect_t.add_row(&[Val::Int(id), Val::Int(k), Val::Text(&v)]);
                by_id[id as usize] = (k, v.clone());
                (id, k, v)
            })
            .collect();

        let mut expect_reads = Check::default();
        let read_ids = (0..config.reads)
            .map(|_| {
                let id = 1 + rng.below(n as u64) as i64;
                expect_reads.add_row(&[Val::Text(&by_id[id as usize].1)]);
                id
            })
            .collect();

        let width = (n / 10).max(1);
        let mut expect_scans = Check::default();
        let scan_ranges = (0..config.scans)
            .map(|_| {
                let a = 1 + rng.below((n - width + 1) as u64) as i64;
                let b = a + width - 1;
                let (mut count, mut sum) = (0i64, 0i64);
                for (k, _) in &by_id[a as usize..=b as usize] {
                    if k % 7 == 3 {
                        count += 1;
                        sum += k;
                    }
                }
                let sum = if count == 0 { Val::Null } else { Val::Int(sum) };
                expect_scans.add_row(&[Val::Int(count), sum]);
                (a, b)
            })
            .collect();

        let mut groups = vec![(0i64, 0i64, 0i64); 100]; // count, sum(id), sum(k)
        let big: Vec<(i64, i64)> = (1..=config.big_rows as i64)
            .map(|id| {
                let k = rng.below(1_000_000) as i64;
                let g = &mut groups[(k % 100) as usize];
                g.0 += 1;
                g.1 += id;
                g.2 += k;
                (id, k)
            })
            .collect();
        let mut expect_group = Check::default();
        for (g, &(count, sum_id, sum_k)) in groups.iter().enumerate() {
            if count > 0 {
                expect_group.add_row(&[
                    Val::Int(g as i64),
                    Val::Int(count),
                    Val::Int(sum_id),
                    Val::Real(sum_k as f64 / count as f64),
                ]);
            }
        }

        let customers: Vec<(i64, String)> = (1..=config.customers as i64)
            .map(|id| (id, format!("customer {id:06}")))
            .collect();
        let mut per_customer = vec![(0i64, 0i64); config.customers + 1]; // orders, sum(amount)
        let orders: Vec<(i64, i64, i64)> = (1..=config.orders as i64)
            .map(|id| {
                let customer = 1 + rng.below(config.customers as u64) as i64;
                let amount = 1 + rng.below(1000) as i64;
                let c = &mut per_customer[customer as usize];
                c.0 += 1;
                c.1 += amount;
                (id, customer, amount)
            })
            .collect();
        let mut expect_joins = Check::default();
        let last = config.customers as i64;
        let join_ranges = (0..config.joins)
            .map(|_| {
                let a = 1 + rng.below((last - JOIN_WIDTH + 1) as u64) as i64;
                let b = a + JOIN_WIDTH - 1;
                for c in a..=b {
                    let (count, sum) = per_customer[c as usize];
                    if count > 0 {
                        let name = &customers[c as usize - 1].1;
                        expect_joins.add_row(&[Val::Text(name), Val::Int(sum)]);
                    }
                }
                (a, b)
            })
            .collect();

        Data {
            t,
            big,
            customers,
            orders,
            read_ids,
            scan_ranges,
            join_ranges,
            expect_t,
            expect_reads,
            expect_scans,
            expect_group,
            expect_joins,
        }
    }
}

/// The schema both engines create.
pub const SCHEMA: &[&str] = &[
    "CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, v TEXT)",
    "CREATE TABLE big (id INTEGER PRIMARY KEY, k INTEGER)",
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, amount INTEGER)",
    "CREATE INDEX orders_customer ON orders (customer_id)",
];

/// The queries, with `$n` parameters (SQLite gets `?n`).
pub const Q_INSERT: &str = "INSERT INTO t VALUES ($1, $2, $3)";
pub const Q_SCAN_T: &str = "SELECT id, k, v FROM t";
pub const Q_POINT: &str = "SELECT v FROM t WHERE id = $1";
pub const Q_RANGE: &str = "SELECT count(*), sum(k) FROM t WHERE id BETWEEN $1 AND $2 AND k % 7 = 3";
pub const Q_GROUP: &str = "SELECT k % 100, count(*), sum(id), avg(k) FROM big GROUP BY k % 100";
pub const Q_JOIN: &str = "SELECT c.name, sum(o.amount) FROM customers c JOIN orders o \
                          ON o.customer_id = c.id WHERE c.id BETWEEN $1 AND $2 GROUP BY c.name";

/// `INSERT INTO table VALUES (..), (..), ...` with `rows` rows of `cols` parameters.
pub fn multi_insert_sql(table: &str, cols: usize, rows: usize, sqlite: bool) -> String {
    let mut sql = format!("INSERT INTO {table} VALUES ");
    let mut n = 0;
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            n += 1;
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("{}{n}", if sqlite { '?' } else { '$' }));
        }
        sql.push(')');
    }
    sql
}

/// `sql` with `$1`, `$2`, ... replaced by `values`.
pub fn with_literals(sql: &str, values: &[i64]) -> String {
    let mut out = sql.to_owned();
    for (i, v) in values.iter().enumerate().rev() {
        out = out.replace(&format!("${}", i + 1), &v.to_string());
    }
    out
}

/// `$n` → `?n`.
pub fn to_sqlite(sql: &str) -> String {
    sql.replace('$', "?")
}

/// Appends row `i`'s values to a parameter list.
pub type Fill<'a> = dyn Fn(usize, &mut Vec<heliosdb_nano::Value>) + 'a;

/// A table's rows as parameter lists, for batched loads.
pub struct Rows<'a> {
    pub table: &'static str,
    pub cols: usize,
    pub len: usize,
    /// Appends row `i`'s values to the parameter list.
    pub fill: Box<Fill<'a>>,
}

impl Data {
    pub fn t_rows(&self) -> Rows<'_> {
        Rows {
            table: "t",
            cols: 3,
            len: self.t.len(),
            fill: Box::new(move |i, out| {
                use heliosdb_nano::Value;
                let (id, k, v) = &self.t[i];
                out.extend([
                    Value::Integer(*id),
                    Value::Integer(*k),
                    Value::Text(v.clone()),
                ]);
            }),
        }
    }

    /// big, customers and orders.
    pub fn read_tables(&self) -> [Rows<'_>; 3] {
        use heliosdb_nano::Value;
        [
            Rows {
                table: "big",
                cols: 2,
                len: self.big.len(),
                fill: Box::new(move |i, out| {
                    let (id, k) = self.big[i];
                    out.extend([Value::Integer(id), Value::Integer(k)]);
                }),
            },
            Rows {
                table: "customers",
                cols: 2,
                len: self.customers.len(),
                fill: Box::new(move |i, out| {
                    let (id, name) = &self.customers[i];
                    out.extend([Value::Integer(*id), Value::Text(name.clone())]);
                }),
            },
            Rows {
                table: "orders",
                cols: 3,
                len: self.orders.len(),
                fill: Box::new(move |i, out| {
                    let (id, c, a) = self.orders[i];
                    out.extend([Value::Integer(id), Value::Integer(c), Value::Integer(a)]);
                }),
            },
        ]
    }
}

/// How workload 1 inserts its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertHow {
    /// One INSERT per row through the public API.
    PerRow,
    /// Multi-row INSERTs of BATCH rows.
    Batched,
    /// One INSERT per row, prepared once (HeliosDB: `Transaction::execute_prepared`).
    ParsedOnce,
}

/// One engine under test; each instance owns one database file with SCHEMA created.
pub trait Engine {
    /// Insert t's rows in one transaction and commit it.
    fn insert_t(&mut self, data: &Data, how: InsertHow) -> Result<()>;
    /// Load a table in one transaction (batched), untimed.
    fn load(&mut self, rows: &Rows<'_>) -> Result<()>;
    /// `SELECT id, k, v FROM t`.
    fn scan_t(&mut self) -> Result<Check>;
    /// Run the query `sql` (`$n` parameters) once per `arity` values of `params` (once if
    /// `arity` is 0), prepared once with parameters bound, or as SQL text with the values
    /// written in (`literal`, parsed per call); every returned row goes into the check.
    fn queries(&mut self, sql: &str, params: &[i64], arity: usize, literal: bool) -> Result<Check>;
    /// The engine's plan for each read query (with literal parameters), for the log.
    fn explain(&mut self, sql: &str, params: &[i64]) -> Result<Vec<String>>;
}

pub type Opener = fn(&Path) -> Result<Box<dyn Engine>>;

pub const ENGINES: [(&str, Opener); 2] = [("sqlite", sqlite::open), ("ours", ours::open)];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    InsertPerRow,
    InsertBatched,
    InsertParsedOnce,
    PointSelects,
    RangeScans,
    GroupBy,
    Join,
    PointSelectsLiteral,
    RangeScansLiteral,
    JoinLiteral,
}

impl Workload {
    pub const ALL: [Workload; 10] = [
        Workload::InsertPerRow,
        Workload::InsertBatched,
        Workload::InsertParsedOnce,
        Workload::PointSelects,
        Workload::RangeScans,
        Workload::GroupBy,
        Workload::Join,
        Workload::PointSelectsLiteral,
        Workload::RangeScansLiteral,
        Workload::JoinLiteral,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Workload::InsertPerRow => "1a",
            Workload::InsertBatched => "1b",
            Workload::InsertParsedOnce => "1c",
            Workload::PointSelects => "2",
            Workload::RangeScans => "3",
            Workload::GroupBy => "4",
            Workload::Join => "5",
            Workload::PointSelectsLiteral => "2L",
            Workload::RangeScansLiteral => "3L",
            Workload::JoinLiteral => "5L",
        }
    }

    pub fn label(self, c: &Config) -> String {
        let id = self.id();
        match self {
            Workload::InsertPerRow => format!("{id} {} inserts 1 txn, per row", c.rows),
            Workload::InsertBatched => format!("{id} {} inserts 1 txn, {BATCH}/stmt", c.rows),
            Workload::InsertParsedOnce => {
                format!("{id} {} inserts 1 txn, prepared once", c.rows)
            }
            Workload::PointSelects => format!("{id} {} pk selects", c.reads),
            Workload::RangeScans => format!("{id} {} range scans 10%", c.scans),
            Workload::GroupBy => format!("{id} group by, {} rows", c.big_rows),
            Workload::Join => format!("{id} {} joins, {JOIN_WIDTH} customers", c.joins),
            Workload::PointSelectsLiteral => format!("{id} {} pk selects, literal SQL*", c.reads),
            Workload::RangeScansLiteral => format!("{id} {} range scans, literal SQL*", c.scans),
            Workload::JoinLiteral => format!("{id} {} joins, literal SQL*", c.joins),
        }
    }

    /// Target for ours/sqlite (at most).
    pub fn target(self) -> f64 {
        match self {
            Workload::InsertPerRow
            | Workload::InsertBatched
            | Workload::InsertParsedOnce
            | Workload::PointSelects
            | Workload::PointSelectsLiteral => 1.5,
            Workload::RangeScans
            | Workload::GroupBy
            | Workload::Join
            | Workload::RangeScansLiteral
            | Workload::JoinLiteral => 2.0,
        }
    }

    fn index(self) -> usize {
        Workload::ALL.iter().position(|&w| w == self).unwrap()
    }
}

/// Timings of every iteration: `samples[workload][engine]`.
pub struct Samples {
    pub samples: Vec<Vec<Vec<Duration>>>,
}

/// `bench-sql-run`: the benchmark proper.
pub fn run(args: &BenchSqlArgs) -> Result<()> {
    if cfg!(debug_assertions) {
        bail!("bench-sql-run needs an optimized build: use `cargo xtask bench-sql`");
    }
    let config = Config::from_args(args)?;
    let base = match &args.dir {
        Some(dir) => dir.clone(),
        None => std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| crate::workspace_root().join("target"), PathBuf::from)
            .join("xtask-bench-sql"),
    };
    std::fs::create_dir_all(&base)
        .with_context(|| format!("could not create {}", base.display()))?;

    println!(
        "bench-sql: t {} rows (v {V_LEN} B), {} pk selects, {} range scans, big {} rows, \
         {} customers / {} orders, {} joins, {} iteration(s); sqlite WAL synchronous=NORMAL; \
         databases in {}",
        config.rows,
        config.reads,
        config.scans,
        config.big_rows,
        config.customers,
        config.orders,
        config.joins,
        config.iterations,
        base.display()
    );
    let data = Data::generate(&config);
    let mut samples = Samples {
        samples: vec![vec![Vec::new(); ENGINES.len()]; Workload::ALL.len()],
    };

    // 1: a fresh database for every engine, variant and iteration; engines take turns.
    let inserts = [
        (Workload::InsertPerRow, InsertHow::PerRow),
        (Workload::InsertBatched, InsertHow::Batched),
        (Workload::InsertParsedOnce, InsertHow::ParsedOnce),
    ];
    for iteration in 0..config.iterations {
        for &(workload, how) in &inserts {
            for (e, &(name, open)) in ENGINES.iter().enumerate() {
                let dir = temp_dir(&base, name)?;
                let mut db =
                    open(&dir.path().join("bench.db")).with_context(|| format!("{name}: open"))?;
                let start = Instant::now();
                let result = db.insert_t(&data, how);
                let took = start.elapsed();
                let what = workload.label(&config);
                result.with_context(|| format!("{name}: {what}"))?;
                let check = db
                    .scan_t()
                    .with_context(|| format!("{name}: scan after {what}"))?;
                verify(name, &what, check, data.expect_t)?;
                samples.samples[workload.index()][e].push(took);
            }
        }
        progress(&samples, iteration, &inserts.map(|(w, _)| w));
    }

    // 2-5: one loaded database per engine, kept open while the engines take turns.
    let mut loaded = Vec::new();
    for &(name, open) in &ENGINES {
        let dir = temp_dir(&base, name)?;
        let mut db = open(&dir.path().join("bench.db")).with_context(|| format!("{name}: open"))?;
        let start = Instant::now();
        db.insert_t(&data, InsertHow::Batched)
            .with_context(|| format!("{name}: loading t"))?;
        verify(name, "loading t", db.scan_t()?, data.expect_t)?;
        for rows in data.read_tables() {
            db.load(&rows)
                .with_context(|| format!("{name}: loading {}", rows.table))?;
        }
        println!(
            "  {name}: loaded t, big, customers, orders in {:.0} ms (not timed)",
            report::ms(start.elapsed())
        );
        loaded.push((dir, db));
    }
    let examples: [(&str, &[i64]); 4] = [
        (Q_POINT, &[42]),
        (Q_RANGE, &[1000, 2000]),
        (Q_GROUP, &[]),
        (Q_JOIN, &[10, 19]),
    ];
    for (&(name, _), (_dir, db)) in ENGINES.iter().zip(&mut loaded) {
        println!("  {name} plans:");
        for (sql, params) in examples {
            let literal = with_literals(sql, params);
            let forms: &[(&str, &[i64])] = if params.is_empty() {
                &[(sql, &[])]
            } else {
                &[(&literal, &[]), (sql, params)]
            };
            for &(sql, params) in forms {
                println!("    {sql}  {params:?}");
                for line in db
                    .explain(sql, params)
                    .with_context(|| format!("{name}: explain"))?
                {
                    println!("      {line}");
                }
            }
        }
    }

    let reads = [
        Workload::PointSelects,
        Workload::RangeScans,
        Workload::GroupBy,
        Workload::Join,
        Workload::PointSelectsLiteral,
        Workload::RangeScansLiteral,
        Workload::JoinLiteral,
    ];
    let scan_params: Vec<i64> = data.scan_ranges.iter().flat_map(|&(a, b)| [a, b]).collect();
    let join_params: Vec<i64> = data.join_ranges.iter().flat_map(|&(a, b)| [a, b]).collect();
    for iteration in 0..config.iterations {
        for &workload in &reads {
            for (e, (&(name, _), (_dir, db))) in ENGINES.iter().zip(&mut loaded).enumerate() {
                let start = Instant::now();
                use Workload as W;
                let literal = matches!(
                    workload,
                    W::PointSelectsLiteral | W::RangeScansLiteral | W::JoinLiteral
                );
                let (sql, params, arity, expect) = match workload {
                    W::PointSelects | W::PointSelectsLiteral => {
                        (Q_POINT, &data.read_ids[..], 1, data.expect_reads)
                    }
                    W::RangeScans | W::RangeScansLiteral => {
                        (Q_RANGE, &scan_params[..], 2, data.expect_scans)
                    }
                    W::GroupBy => (Q_GROUP, &[][..], 0, data.expect_group),
                    W::Join | W::JoinLiteral => (Q_JOIN, &join_params[..], 2, data.expect_joins),
                    _ => unreachable!("not a read workload"),
                };
                let check = db.queries(sql, params, arity, literal);
                let took = start.elapsed();
                let what = workload.label(&config);
                let check = check.with_context(|| format!("{name}: {what}"))?;
                verify(name, &what, check, expect)?;
                samples.samples[workload.index()][e].push(took);
            }
        }
        progress(&samples, iteration, &reads);
    }
    drop(loaded);

    let results = report::Results::new(&config, &samples);
    println!();
    results.print_table();
    if let Some(path) = &args.json {
        std::fs::write(path, results.to_json())
            .with_context(|| format!("could not write {}", path.display()))?;
        println!("bench-sql: results written to {}", path.display());
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

pub(crate) fn verify(engine: &str, what: &str, got: Check, expected: Check) -> Result<()> {
    if got != expected {
        bail!(
            "CHECKSUM MISMATCH: {engine} after {what}: returned {} rows (digest sum {:#018x}), \
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
        line.push_str(&format!(" {}", w.id()));
        for (e, (name, _)) in ENGINES.iter().enumerate() {
            let took = samples.samples[w.index()][e][iteration];
            line.push_str(&format!(" {name} {:.1} ms", report::ms(took)));
            line.push(if e + 1 < ENGINES.len() { ',' } else { ';' });
        }
    }
    println!("{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both engines return what the data says, on small data in a debug build.
    #[test]
    fn engines_agree_with_the_data() {
        let config = Config {
            rows: 300,
            reads: 200,
            scans: 5,
            big_rows: 5000,
            customers: 30,
            orders: 300,
            joins: 5,
            iterations: 1,
        };
        let data = Data::generate(&config);
        assert_eq!(data.expect_t.rows, 300);
        assert_eq!(data.expect_reads.rows, 200);
        assert_eq!(data.expect_scans.rows, 5);
        assert_eq!(data.expect_group.rows, 100);
        assert!(data.expect_joins.rows > 0);
        for (name, open) in ENGINES {
            for how in [InsertHow::PerRow, InsertHow::Batched, InsertHow::ParsedOnce] {
                let dir = tempfile::tempdir().unwrap();
                let mut db = open(&dir.path().join("a.db")).unwrap();
                db.insert_t(&data, how).unwrap();
                assert_eq!(db.scan_t().unwrap(), data.expect_t, "{name} {how:?}");
                if how != InsertHow::Batched {
                    continue;
                }
                for rows in data.read_tables() {
                    db.load(&rows).unwrap();
                }
                let scans: Vec<i64> = data.scan_ranges.iter().flat_map(|&(a, b)| [a, b]).collect();
                let joins: Vec<i64> = data.join_ranges.iter().flat_map(|&(a, b)| [a, b]).collect();
                for literal in [false, true] {
                    let reads = db.queries(Q_POINT, &data.read_ids, 1, literal).unwrap();
                    assert_eq!(reads, data.expect_reads, "{name}");
                    let got = db.queries(Q_RANGE, &scans, 2, literal).unwrap();
                    assert_eq!(got, data.expect_scans, "{name}");
                    let got = db.queries(Q_GROUP, &[], 0, literal).unwrap();
                    assert_eq!(got, data.expect_group, "{name}");
                    let got = db.queries(Q_JOIN, &joins, 2, literal).unwrap();
                    assert_eq!(got, data.expect_joins, "{name}");
                }
            }
        }
    }

    #[test]
    fn missing_id_reads_nothing() {
        for (name, open) in ENGINES {
            let dir = tempfile::tempdir().unwrap();
            let mut db = open(&dir.path().join("a.db")).unwrap();
            let none = db.queries(Q_POINT, &[7], 1, false).unwrap();
            assert_eq!(none.rows, 0, "{name}");
        }
    }

    #[test]
    fn multi_insert_text() {
        assert_eq!(
            multi_insert_sql("t", 2, 2, false),
            "INSERT INTO t VALUES ($1, $2), ($3, $4)"
        );
        assert_eq!(
            multi_insert_sql("t", 1, 1, true),
            "INSERT INTO t VALUES (?1)"
        );
    }

    #[test]
    fn int_and_real_digests_agree() {
        assert_eq!(val_digest(Val::Int(12)), val_digest(Val::Real(12.0)));
        assert_ne!(val_digest(Val::Int(12)), val_digest(Val::Real(12.5)));
    }
}
