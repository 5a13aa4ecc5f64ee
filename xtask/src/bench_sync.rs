//! `cargo xtask bench-sync`: the sync engine's costs, each in the same run as its baseline.
//!
//! - Merge throughput: `rows` three-column rows (id, a TEXT, b INTEGER) committed on node A
//!   in commits of 1,000 rows, served with `SyncNode::changes_for` and applied on node B
//!   with `SyncNode::apply`, one batch per commit (conflict detection is always on). Twice:
//!   into an empty B, and into a B holding its own concurrent version of every row (every
//!   row conflicts). Baseline: SQLite applying the same rows with `INSERT OR REPLACE` in
//!   transactions of 1,000 (what a merge must at least do). Target: >= 150,000 rows/s.
//! - Local write overhead: `rows` inserts in one transaction through the core API, then
//!   the sync catch-up (`SyncNode::frontier`, which folds the commits into row metadata),
//!   against SQLite's prepared INSERTs in one transaction. Target: <= 1.5x.
//! - Bytes per changed row: 1,000 updates of one column, encoded as a sync frame, against
//!   the raw size of the changed values (and key); on varied and on repetitive data.
//!   Target: <= 1.5x, and below 1.0x on repetitive data once compressed.
//!
//! Results are checked: after each merge B holds exactly A's rows.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Args;
use heliosdb_core::{ColumnSpec, DataType, Database, TableSpec, Value};
use heliosdb_sync::SyncNode;
use heliosdb_sync::wire::{self, Message};

use crate::bench::report::{median, ms};

#[derive(Args, Clone, Debug)]
pub struct BenchSyncArgs {
    /// Smoke run: 10,000 rows, 1 iteration (unless given explicitly).
    #[arg(long)]
    pub quick: bool,
    /// Rows merged and inserted [default: 100000, 10000 with --quick].
    #[arg(long)]
    pub rows: Option<usize>,
    /// Repetitions; the median is reported [default: 3, 1 with --quick].
    #[arg(long)]
    pub iterations: Option<usize>,
}

/// Rows per commit on A, and so per batch applied on B.
const BATCH_ROWS: usize = 1000;

pub fn launch(args: &BenchSyncArgs) -> Result<()> {
    if !cfg!(debug_assertions) {
        return run(args);
    }
    crate::bench::relaunch_release("bench-sync", "bench-sync-run")
}

fn open(dir: &Path, name: &str) -> Result<SyncNode> {
    let db = Database::open(dir.join(name))?;
    let mut w = db.begin_write()?;
    w.create_table(
        &TableSpec::new("t")
            .column(ColumnSpec::new("id", DataType::Integer))
            .column(ColumnSpec::new("a", DataType::Text))
            .column(ColumnSpec::new("b", DataType::Integer))
            .primary_key(["id"]),
    )?;
    w.commit()?;
    Ok(SyncNode::new(db))
}

fn text(i: usize) -> String {
    format!("row {i:08} text")
}

/// Inserts rows 0..rows on `node` in commits of BATCH_ROWS, with `b` = `b_of(i)`.
fn fill(node: &SyncNode, rows: usize, b_of: impl Fn(usize) -> i64) -> Result<()> {
    let db = node.database();
    for start in (0..rows).step_by(BATCH_ROWS) {
        let mut w = db.begin_write()?;
        for i in start..(start + BATCH_ROWS).min(rows) {
            w.put("t", &[(i as i64).into(), text(i).into(), b_of(i).into()])?;
        }
        w.commit()?;
    }
    Ok(())
}

fn checksum(db: &Database) -> Result<(usize, i64)> {
    let r = db.begin_read()?;
    let mut n = 0;
    let mut sum = 0i64;
    for row in r.scan("t", ..)? {
        let values = row?.values()?;
        n += 1;
        if let Value::Integer(b) = values[2] {
            sum = sum.wrapping_add(b);
        }
    }
    Ok((n, sum))
}

/// Serves A's commits to B one batch at a time; returns the time B spent applying and
/// the conflicts it recorded.
fn merge(a: &SyncNode, b: &SyncNode) -> Result<(Duration, u64)> {
    let mut applying = Duration::ZERO;
    let mut conflicts = 0;
    loop {
        let batch = a.changes_for(&b.frontier()?, 1)?;
        if batch.commits.is_empty() {
            return Ok((applying, conflicts));
        }
        let start = Instant::now();
        let report = b.apply(&batch)?;
        applying += start.elapsed();
        ensure!(report.applied > 0, "a batch applied nothing: {report:?}");
        conflicts += report.conflicts;
    }
}

/// SQLite writing the same rows with `statement`, `per_txn` rows per transaction.
fn sqlite_write(path: &Path, statement: &str, rows: usize, per_txn: usize) -> Result<Duration> {
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
         CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b INTEGER);",
    )?;
    let start = Instant::now();
    for first in (0..rows).step_by(per_txn) {
        let tx = conn.unchecked_transaction()?;
        {
            let mut stmt = tx.prepare_cached(statement)?;
            for i in first..(first + per_txn).min(rows) {
                stmt.execute(rusqlite::params![i as i64, text(i), i as i64])?;
            }
        }
        tx.commit()?;
    }
    Ok(start.elapsed())
}

/// Our insert of the same rows in one transaction, and then the sync catch-up.
fn ours_insert(dir: &Path, rows: usize) -> Result<(Duration, Duration)> {
    let node = open(dir, "insert.db")?;
    let start = Instant::now();
    let mut w = node.database().begin_write()?;
    for i in 0..rows {
        w.insert("t", &[(i as i64).into(), text(i).into(), (i as i64).into()])?;
    }
    w.commit()?;
    let insert = start.elapsed();
    let start = Instant::now();
    node.frontier()?;
    Ok((insert, start.elapsed()))
}

/// Frame bytes per row of a batch of 1,000 one-column updates, against the raw bytes of
/// the changed values and keys.
fn bytes_per_row(repetitive: bool) -> Result<(f64, f64, bool)> {
    let dir = tempfile::tempdir()?;
    let a = open(dir.path(), "a.db")?;
    let b = open(dir.path(), "b.db")?;
    fill(&a, BATCH_ROWS, |i| i as i64)?;
    let mut raw = 0usize;
    let mut w = a.database().begin_write()?;
    for i in 0..BATCH_ROWS {
        let a_text = if repetitive {
            "status: shipped".to_owned()
        } else {
            format!("{:016x}", (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        };
        raw += 8 + a_text.len(); // the key and the changed value
        w.put("t", &[(i as i64).into(), a_text.into(), (i as i64).into()])?;
    }
    w.commit()?;
    // Everything up to the fill is on B already: the batch is the updates alone.
    merge(&a, &b)?;
    let mut before_updates = b.frontier()?;
    before_updates = before_updates
        .iter()
        .map(|(n, s)| (n, if n == a.node_id() { s - 1 } else { s }))
        .collect();
    let batch = a.changes_for(&before_updates, 1)?;
    ensure!(
        batch.commits.len() == 1 && batch.commits[0].changes.len() == BATCH_ROWS,
        "expected one commit of {BATCH_ROWS} updates"
    );
    let frame = wire::encode(&Message::Changes(batch))?;
    let compressed = frame.get(6).is_some_and(|flags| flags & 1 == 1);
    Ok((
        frame.len() as f64 / BATCH_ROWS as f64,
        raw as f64 / BATCH_ROWS as f64,
        compressed,
    ))
}

pub fn run(args: &BenchSyncArgs) -> Result<()> {
    if cfg!(debug_assertions) {
        bail!("bench-sync-run needs an optimized build: use `cargo xtask bench-sync`");
    }
    let rows = args
        .rows
        .unwrap_or(if args.quick { 10_000 } else { 100_000 });
    let iterations = args.iterations.unwrap_or(if args.quick { 1 } else { 3 });
    ensure!(rows >= BATCH_ROWS, "--rows must be at least {BATCH_ROWS}");
    println!(
        "bench-sync: {rows} rows of (id INTEGER, a TEXT, b INTEGER), batches of {BATCH_ROWS}, \
         {iterations} iteration(s); sqlite WAL synchronous=NORMAL, ours durable"
    );
    let (mut clean, mut conflicting, mut sqlite_m) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ins_ours, mut ins_catch_up, mut ins_sqlite) = (Vec::new(), Vec::new(), Vec::new());
    for iteration in 0..iterations {
        let dir = tempfile::tempdir().context("temporary directory")?;
        let a = open(dir.path(), "a.db")?;
        fill(&a, rows, |i| i as i64)?;
        let expected = checksum(a.database())?;
        let b = open(dir.path(), "b.db")?;
        let (took, conflicts) = merge(&a, &b)?;
        ensure!(
            checksum(b.database())? == expected,
            "B differs from A after the merge"
        );
        ensure!(conflicts == 0, "an empty B recorded {conflicts} conflicts");
        clean.push(took);

        // Every row already exists on C in a concurrent version.
        let c = open(dir.path(), "c.db")?;
        fill(&c, rows, |i| -(i as i64))?;
        let (took, conflicts) = merge(&a, &c)?;
        ensure!(
            conflicts as usize == rows,
            "{conflicts} conflicts recorded, expected {rows}"
        );
        conflicting.push(took);
        let replace = "INSERT OR REPLACE INTO t VALUES (?1, ?2, ?3)";
        sqlite_m.push(sqlite_write(
            &dir.path().join("merge.sqlite"),
            replace,
            rows,
            BATCH_ROWS,
        )?);

        let (insert, catch_up) = ours_insert(dir.path(), rows)?;
        ins_ours.push(insert);
        ins_catch_up.push(catch_up);
        let insert = "INSERT INTO t VALUES (?1, ?2, ?3)";
        ins_sqlite.push(sqlite_write(
            &dir.path().join("insert.sqlite"),
            insert,
            rows,
            rows,
        )?);
        println!(
            "  iteration {}: merge {:.0} ms, conflicting merge {:.0} ms, sqlite replace {:.0} ms; \
             insert {:.0} ms + catch-up {:.0} ms, sqlite insert {:.0} ms",
            iteration + 1,
            ms(clean[iteration]),
            ms(conflicting[iteration]),
            ms(sqlite_m[iteration]),
            ms(ins_ours[iteration]),
            ms(ins_catch_up[iteration]),
            ms(ins_sqlite[iteration]),
        );
    }
    let per_s = |d: Duration| rows as f64 / d.as_secs_f64();
    let (m_clean, m_conf, m_sqlite) = (median(&clean), median(&conflicting), median(&sqlite_m));
    let (i_ours, i_catch, i_sqlite) = (
        median(&ins_ours),
        median(&ins_catch_up),
        median(&ins_sqlite),
    );
    println!();
    println!("median of {iterations}:");
    println!(
        "merge, no conflicts:     {:>9.0} rows/s ({:.0} ms)   target >= 150000: {}",
        per_s(m_clean),
        ms(m_clean),
        verdict(per_s(m_clean) >= 150_000.0)
    );
    println!(
        "merge, every row in conflict: {:>5.0} rows/s ({:.0} ms)",
        per_s(m_conf),
        ms(m_conf)
    );
    println!(
        "sqlite INSERT OR REPLACE: {:>8.0} rows/s ({:.0} ms)   ours/sqlite time {:.2}",
        per_s(m_sqlite),
        ms(m_sqlite),
        m_clean.as_secs_f64() / m_sqlite.as_secs_f64()
    );
    let with_sync = i_ours + i_catch;
    println!(
        "local insert: ours {:.0} ms + catch-up {:.0} ms = {:.0} ms, sqlite {:.0} ms: \
         ours/sqlite {:.2} without catch-up, {:.2} with   target <= 1.5 (with): {}",
        ms(i_ours),
        ms(i_catch),
        ms(with_sync),
        ms(i_sqlite),
        i_ours.as_secs_f64() / i_sqlite.as_secs_f64(),
        with_sync.as_secs_f64() / i_sqlite.as_secs_f64(),
        verdict(with_sync.as_secs_f64() / i_sqlite.as_secs_f64() <= 1.5)
    );
    for repetitive in [false, true] {
        let (wire, raw, compressed) = bytes_per_row(repetitive)?;
        let target = if repetitive { 1.0 } else { 1.5 };
        println!(
            "bytes per changed row, {} data: {wire:.1} on the wire ({}), {raw:.1} raw: \
             {:.2}x   target {} {target}: {}",
            if repetitive { "repetitive" } else { "varied" },
            if compressed { "lz4" } else { "plain" },
            wire / raw,
            if repetitive { "<" } else { "<=" },
            verdict(if repetitive {
                wire / raw < target
            } else {
                wire / raw <= target
            })
        );
    }
    Ok(())
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}
