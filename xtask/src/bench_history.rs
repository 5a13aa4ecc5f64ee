//! `cargo xtask bench-history`: time travel, branches and materialized views (issue 9),
//! each against its baseline in the same run.
//!
//! - `AS OF` point reads against current point reads, on a table of `rows` rows whose
//!   every row was updated twice after the time read (so each as-of read goes to the
//!   history): through the core API (`get` vs `get_as_of`) and through SQL prepared
//!   statements (`WHERE id = $1` vs `AS OF TIMESTAMP $2 WHERE id = $1`). Target: ≤ 2×.
//! - Branch creation (`CREATE BRANCH`) on databases of 10k, 100k and 1M rows (`--quick`:
//!   1k, 10k, 100k). Target: flat (the same milliseconds whatever the size).
//! - A materialized GROUP BY view (COUNT, SUM, AVG, MIN, MAX over 1,000 groups) on a table
//!   of `view_rows` rows: a full refresh against `REFRESH … INCREMENTALLY` after 1% of the
//!   rows changed. Target: incremental ≥ 10× faster. The view is checked against its query
//!   after the incremental refresh.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use clap::Args;
use heliosdb_core::{ColumnSpec, DataType, Database, Hlc, TableSpec, Value};
use heliosdb_nano::EmbeddedDatabase;

use crate::bench::report::{median, ms};

#[derive(Args, Clone, Debug)]
pub struct BenchHistoryArgs {
    /// Smoke run: smaller tables, 1 iteration (unless given explicitly).
    #[arg(long)]
    pub quick: bool,
    /// Rows of the point-read table [default: 100000, 10000 with --quick].
    #[arg(long)]
    pub rows: Option<usize>,
    /// Rows of the materialized view's base table [default: 1000000, 100000 with --quick].
    #[arg(long)]
    pub view_rows: Option<usize>,
    /// Repetitions; the median is reported [default: 5, 1 with --quick].
    #[arg(long)]
    pub iterations: Option<usize>,
}

pub fn launch(args: &BenchHistoryArgs) -> Result<()> {
    if !cfg!(debug_assertions) {
        return run(args);
    }
    crate::bench::relaunch_release("bench-history", "bench-history-run")
}

pub fn run(args: &BenchHistoryArgs) -> Result<()> {
    let rows = args
        .rows
        .unwrap_or(if args.quick { 10_000 } else { 100_000 });
    let view_rows = args
        .view_rows
        .unwrap_or(if args.quick { 100_000 } else { 1_000_000 });
    let iterations = args
        .iterations
        .unwrap_or(if args.quick { 1 } else { 5 })
        .max(1);
    let dir = tempfile::tempdir()?;
    println!(
        "bench-history: {rows} rows for point reads, {view_rows} for the view, median of {iterations}"
    );

    as_of_reads(&dir.path().join("asof.db"), rows, iterations)?;
    let sizes: &[usize] = if args.quick {
        &[1_000, 10_000, 100_000]
    } else {
        &[10_000, 100_000, 1_000_000]
    };
    // Branches and materialized views are the parts of issue 9 still being built: until
    // this build runs their SQL, the sections say so instead of stopping the run.
    if let Err(e) = branch_creation(dir.path(), sizes, iterations) {
        println!("  not measured: {e:#}");
    }
    if let Err(e) = view_refresh(&dir.path().join("mv.db"), view_rows, iterations) {
        println!();
        println!("Materialized GROUP BY view: not measured: {e:#}");
    }
    Ok(())
}

fn table_spec() -> TableSpec {
    TableSpec::new("t")
        .column(ColumnSpec::new("id", DataType::Integer))
        .column(ColumnSpec::new("v", DataType::Integer))
        .column(ColumnSpec::new("note", DataType::Text))
        .primary_key(["id"])
}

/// Inserts `rows` rows (v = `v`) in commits of 10,000 and returns the last commit's time.
fn fill(db: &Database, rows: usize, v: i64) -> Result<Hlc> {
    let mut last = Hlc::ZERO;
    for start in (0..rows).step_by(10_000) {
        let mut w = db.begin_write()?;
        for i in start..(start + 10_000).min(rows) {
            w.put(
                "t",
                &[
                    Value::Integer(i as i64),
                    Value::Integer(v + i as i64),
                    Value::Text(format!("note {i:08}")),
                ],
            )?;
        }
        last = w.commit()?.commit_ts;
    }
    Ok(last)
}

/// A fixed pseudo-random order of keys, so both sides read the same keys.
fn keys(rows: usize, n: usize) -> Vec<i64> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % rows as u64) as i64
        })
        .collect()
}

fn as_of_reads(path: &std::path::Path, rows: usize, iterations: usize) -> Result<()> {
    let db = Database::open(path)?;
    {
        let mut w = db.begin_write()?;
        w.create_table(&table_spec())?;
        w.commit()?;
    }
    let then = fill(&db, rows, 0)?;
    std::thread::sleep(Duration::from_millis(2));
    fill(&db, rows, 1_000_000)?;
    fill(&db, rows, 2_000_000)?;
    let reads = 100_000.min(rows * 10);
    let keys = keys(rows, reads);

    // Core API.
    let (mut cur, mut past) = (Vec::new(), Vec::new());
    for _ in 0..iterations {
        let r = db.begin_read()?;
        let start = Instant::now();
        let mut sum = 0i64;
        for &k in &keys {
            let row = r.get("t", &[Value::Integer(k)])?.context("row")?;
            if let Value::Integer(v) = row.values()?[1] {
                sum += v;
            }
        }
        cur.push(start.elapsed());
        ensure!(
            sum >= 2_000_000 * reads as i64,
            "current reads saw old rows"
        );
        let start = Instant::now();
        let mut sum = 0i64;
        for &k in &keys {
            let row = r
                .get_as_of("t", &[Value::Integer(k)], then)?
                .context("row")?;
            if let Value::Integer(v) = row.values()?[1] {
                sum += v;
            }
        }
        past.push(start.elapsed());
        ensure!(sum < 1_000_000 * reads as i64, "as-of reads saw new rows");
    }
    let (c, p) = (median(&cur), median(&past));
    println!();
    println!("AS OF point reads ({reads} random keys, every row updated twice since):");
    println!(
        "  core  get: {:8.0} ns/read   get_as_of: {:8.0} ns/read   ratio {:.2}x (target <= 2x)",
        c.as_nanos() as f64 / reads as f64,
        p.as_nanos() as f64 / reads as f64,
        p.as_secs_f64() / c.as_secs_f64()
    );

    // SQL, prepared statements through the facade.
    drop(db);
    let edb = EmbeddedDatabase::open(path)?;
    let current = edb.prepare("SELECT v FROM t WHERE id = $1")?;
    let as_of = edb.prepare("SELECT v FROM t AS OF TIMESTAMP $2 WHERE id = $1")?;
    let at = Value::Timestamp((then.physical_ms() * 1000) as i64);
    let (mut cur, mut past) = (Vec::new(), Vec::new());
    let sql_reads = reads.min(20_000);
    for _ in 0..iterations {
        let start = Instant::now();
        for &k in &keys[..sql_reads] {
            let r = current.query(&[Value::Integer(k)])?;
            ensure!(r.rows.len() == 1, "current SQL read found no row");
        }
        cur.push(start.elapsed());
        let start = Instant::now();
        for &k in &keys[..sql_reads] {
            let r = as_of.query(&[Value::Integer(k), at.clone()])?;
            ensure!(
                matches!(r.rows.first().map(|r| &r.values[0]), Some(Value::Integer(v)) if *v < 1_000_000),
                "AS OF SQL read did not see the old row"
            );
        }
        past.push(start.elapsed());
    }
    let (c, p) = (median(&cur), median(&past));
    println!(
        "  SQL   current: {:6.2} us/read  AS OF: {:6.2} us/read   ratio {:.2}x (target <= 2x)",
        c.as_secs_f64() * 1e6 / sql_reads as f64,
        p.as_secs_f64() * 1e6 / sql_reads as f64,
        p.as_secs_f64() / c.as_secs_f64()
    );
    Ok(())
}

fn branch_creation(dir: &std::path::Path, sizes: &[usize], iterations: usize) -> Result<()> {
    println!();
    println!(
        "CREATE BRANCH (median of {} creations per size):",
        iterations.max(3)
    );
    let mut first = None;
    for &n in sizes {
        let path = dir.join(format!("branch-{n}.db"));
        {
            let db = Database::open(&path)?;
            let mut w = db.begin_write()?;
            w.create_table(&table_spec())?;
            w.commit()?;
            fill(&db, n, 0)?;
        }
        let edb = EmbeddedDatabase::open(&path)?;
        let mut times = Vec::new();
        for i in 0..iterations.max(3) {
            let start = Instant::now();
            edb.execute(&format!("CREATE BRANCH b{i}"), &[])?;
            times.push(start.elapsed());
        }
        // The branch reads the parent as of its fork point.
        let mut conn = edb.connect();
        conn.execute("USE BRANCH b0", &[])?;
        let count = conn.query("SELECT count(*) FROM t", &[])?;
        ensure!(
            count.rows[0].values[0] == Value::Integer(n as i64),
            "a branch of {n} rows counts {:?}",
            count.rows[0].values[0]
        );
        let m = median(&times);
        let base = *first.get_or_insert(m);
        println!(
            "  {n:>9} rows: {:8.3} ms   ({:.2}x the smallest)",
            ms(m),
            m.as_secs_f64() / base.as_secs_f64()
        );
    }
    Ok(())
}

fn view_refresh(path: &std::path::Path, rows: usize, iterations: usize) -> Result<()> {
    let edb = EmbeddedDatabase::open(path)?;
    edb.execute(
        "CREATE TABLE readings (id INTEGER PRIMARY KEY, device INTEGER NOT NULL, value INTEGER NOT NULL)",
        &[],
    )?;
    {
        let db = edb.database();
        for start in (0..rows).step_by(10_000) {
            let mut w = db.begin_write()?;
            for i in start..(start + 10_000).min(rows) {
                w.put(
                    "readings",
                    &[
                        Value::Integer(i as i64),
                        Value::Integer((i % 1000) as i64),
                        Value::Integer(((i * 7919) % 10_007) as i64),
                    ],
                )?;
            }
            w.commit()?;
        }
    }
    let query = "SELECT device, count(*) AS n, sum(value) AS total, avg(value) AS mean, \
                 min(value) AS lo, max(value) AS hi FROM readings GROUP BY device";
    edb.execute(&format!("CREATE MATERIALIZED VIEW mv AS {query}"), &[])?;
    let changed = rows / 100;
    let (mut full, mut incremental) = (Vec::new(), Vec::new());
    for round in 0..iterations {
        let start = Instant::now();
        edb.execute("REFRESH MATERIALIZED VIEW mv", &[])?;
        full.push(start.elapsed());
        // 1% of the rows change: updates spread over every group, some extremes deleted.
        {
            let db = edb.database();
            let mut w = db.begin_write()?;
            for j in 0..changed {
                let id = ((j * 97 + round * 13) % rows) as i64;
                if j % 10 == 0 {
                    w.delete("readings", &[Value::Integer(id)])?;
                } else {
                    w.put(
                        "readings",
                        &[
                            Value::Integer(id),
                            Value::Integer(id % 1000),
                            Value::Integer((j % 20_000) as i64),
                        ],
                    )?;
                }
            }
            w.commit()?;
        }
        let start = Instant::now();
        edb.execute("REFRESH MATERIALIZED VIEW mv INCREMENTALLY", &[])?;
        incremental.push(start.elapsed());
        let view = edb.query("SELECT * FROM mv ORDER BY device", &[])?;
        let fresh = edb.query(&format!("{query} ORDER BY device"), &[])?;
        ensure!(
            view.rows == fresh.rows,
            "the view differs from its query after an incremental refresh"
        );
    }
    let (f, i) = (median(&full), median(&incremental));
    println!();
    println!("Materialized GROUP BY view over {rows} rows (1,000 groups), {changed} rows changed:");
    println!(
        "  full refresh {:9.2} ms   incremental {:9.2} ms   speed-up {:.1}x (target >= 10x)",
        ms(f),
        ms(i),
        f.as_secs_f64() / i.as_secs_f64()
    );
    Ok(())
}
