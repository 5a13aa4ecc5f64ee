//! `cargo xtask bench-vector`: vector search, recall against exact ground truth and
//! single-threaded QPS, ours against hnsw_rs, in one run.
//!
//! Datasets:
//! - text: the real 384-d MiniLM embeddings in `shared/vectors` (20,000 base, 1,000
//!   queries, exact top-100 ground truth; normalized, so cosine, inner product and L2 rank
//!   alike). Skipped with a message when the files are missing. Smaller `--text` sizes
//!   recompute the ground truth with `heliosdb_vector::brute_force`.
//! - synthetic: `--synthetic` points (default 100,000) of `--dim` (default 128) drawn from
//!   100 Gaussian clusters with a fixed seed, L2 metric, queries drawn the same way; the
//!   ground truth is `heliosdb_vector::brute_force`, whose time is the exact baseline.
//!
//! At every `--ef` (default 10,16,20,40,64,100), recall@10 (|result ∩ truth[..10]| / 10,
//! averaged) and QPS (one thread, timed after a warm-up pass over the same queries) of:
//! - `raw`: a `heliosdb_vector::Segment` (ef_construction 200, built with every core);
//! - `sql`: `SELECT id FROM t ORDER BY v <=> $1 LIMIT 10` prepared once and run on a
//!   `Connection` after `SET hnsw.ef_search = ef`, over `CREATE INDEX ... USING hnsw`;
//! - `hnsw_rs` (M 16, ef_construction 200, `parallel_insert` on every core): `DistCosine`
//!   as the baseline, and on the text set also `DistDot` (its SIMD distance for normalized
//!   vectors, the faster of the two); on the synthetic set `DistL2`.
//!
//! Plus the exact paths (brute force, and SQL on a table without an index), build times
//! (raw with 1 thread on the text set too, hnsw_rs, SQL `CREATE INDEX`), the encoded and
//! in-memory size of a segment, the database file size, inserts into an indexed table (one
//! transaction, then single-row autocommit) with QPS/recall while they sit in the exact
//! buffer and after `REINDEX`, and the process's peak RSS. Closing lines check the targets.
//!
//! hnsw_rs is a dependency of xtask alone, which is never published (`publish = false`):
//! no shipped crate depends on it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Args;
use heliosdb_nano::{EmbeddedDatabase, Value};
use heliosdb_vector::{HnswParams, Metric, Scratch, Segment};
use hnsw_rs::prelude::{DistCosine, DistDot, DistL2, Hnsw};

use crate::bench::report::ms;

#[derive(Args, Clone, Debug)]
pub struct BenchVectorArgs {
    /// Smoke run: 5,000 text vectors, 20,000 synthetic, 200 queries (unless given).
    #[arg(long)]
    pub quick: bool,
    /// Queries per measurement [default: 1000, 200 with --quick].
    #[arg(long)]
    pub queries: Option<usize>,
    /// Synthetic base vectors [default: 100000, 20000 with --quick]; 0 skips the set.
    #[arg(long)]
    pub synthetic: Option<usize>,
    /// Dimension of the synthetic set.
    #[arg(long, default_value_t = 128)]
    pub dim: usize,
    /// ef (search beam width) values, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "10,16,20,40,64,100")]
    pub ef: Vec<usize>,
    /// Text base vectors used, from the first [default: 20000, 5000 with --quick]; 0 skips
    /// the set.
    #[arg(long)]
    pub text: Option<usize>,
    /// Directory of the text set [default: <workspace>/../shared/vectors].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Directory for the temporary databases [default: <target dir>/xtask-bench-vector].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Leave out the SQL path on the synthetic set (its CREATE INDEX is the longest step).
    #[arg(long)]
    pub no_sql_synthetic: bool,
}

pub fn launch(args: &BenchVectorArgs) -> Result<()> {
    if !cfg!(debug_assertions) {
        return run(args);
    }
    crate::bench::relaunch_release("bench-vector", "bench-vector-run")
}

const K: usize = 10;
const TEXT_DIM: usize = 384;
const TEXT_GT_WIDTH: usize = 100;
const CLUSTERS: usize = 100;
const SEED: u64 = 0x5EED_0F7E_C701_2500;
/// Queries for the exact paths (brute force is timed over all of them on the text set).
const EXACT_SQL_QUERIES: usize = 100;

/// A flat row-major set of vectors.
struct Data {
    dim: usize,
    base: Vec<f32>,
    queries: Vec<f32>,
    /// Per query, the true nearest ids, nearest first (at least K).
    truth: Vec<Vec<u32>>,
}

impl Data {
    fn n(&self) -> usize {
        self.base.len() / self.dim
    }
    fn row(&self, i: usize) -> &[f32] {
        &self.base[i * self.dim..(i + 1) * self.dim]
    }
    fn query(&self, q: usize) -> &[f32] {
        &self.queries[q * self.dim..(q + 1) * self.dim]
    }
    fn nq(&self) -> usize {
        self.queries.len() / self.dim
    }
}

/// One measured point of a curve.
#[derive(Clone, Copy, Debug)]
struct Point {
    ef: usize,
    recall: f64,
    qps: f64,
}

/// Results of one method at each ef.
#[derive(Clone, Debug, Default)]
struct Curve {
    name: String,
    points: Vec<Point>,
}

impl Curve {
    fn new(name: &str) -> Curve {
        Curve {
            name: name.into(),
            points: Vec::new(),
        }
    }

    fn at(&self, ef: usize) -> Option<Point> {
        self.points.iter().copied().find(|p| p.ef == ef)
    }

    /// The smallest ef reaching `recall`.
    fn first_reaching(&self, recall: f64) -> Option<Point> {
        let mut pts = self.points.clone();
        pts.sort_by_key(|p| p.ef);
        pts.into_iter().find(|p| p.recall >= recall)
    }

    /// QPS at exactly `recall`, linearly interpolated between the two ef values around it
    /// (in ef order); None if no ef reaches it. The first point already above it counts as
    /// is (the curve's QPS there is a lower bound).
    fn qps_at_recall(&self, recall: f64) -> Option<f64> {
        let mut pts = self.points.clone();
        pts.sort_by_key(|p| p.ef);
        let i = pts.iter().position(|p| p.recall >= recall)?;
        if i == 0 {
            return Some(pts[0].qps);
        }
        let (a, b) = (pts[i - 1], pts[i]);
        if b.recall <= a.recall {
            return Some(b.qps);
        }
        let t = (recall - a.recall) / (b.recall - a.recall);
        Some(a.qps + t * (b.qps - a.qps))
    }
}

/// Recall@K of `results` against `truth`.
fn recall(results: &[Vec<u64>], truth: &[Vec<u32>]) -> f64 {
    let mut hits = 0usize;
    for (r, t) in results.iter().zip(truth) {
        let t = &t[..K];
        hits += r
            .iter()
            .take(K)
            .filter(|id| t.contains(&(**id as u32)))
            .count();
    }
    hits as f64 / (results.len() * K) as f64
}

/// Runs `search` over queries `0..nq`: a warm-up pass over the first `warm` queries, then
/// a timed pass over all of them. Returns the timed pass's results and its time.
fn timed(
    nq: usize,
    warm: usize,
    mut search: impl FnMut(usize) -> Result<Vec<u64>>,
) -> Result<(Vec<Vec<u64>>, Duration)> {
    for q in 0..warm.min(nq) {
        std::hint::black_box(search(q)?);
    }
    let mut out = Vec::with_capacity(nq);
    let start = Instant::now();
    for q in 0..nq {
        out.push(search(q)?);
    }
    Ok((out, start.elapsed()))
}

fn qps(nq: usize, d: Duration) -> f64 {
    nq as f64 / d.as_secs_f64()
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// `12,345` style.
fn thousands(x: f64) -> String {
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .map(|l| l["VmHWM:".len()..].trim().to_owned())
}

// ---------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------

fn read_f32(path: &Path) -> Result<Vec<f32>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    ensure!(bytes.len() % 4 == 0, "{}: not whole f32s", path.display());
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn read_u32(path: &Path) -> Result<Vec<u32>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    ensure!(bytes.len() % 4 == 0, "{}: not whole u32s", path.display());
    Ok(bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// The text set, its first `n` base vectors and first `nq` queries; None if missing.
fn load_text(dir: &Path, n: usize, nq: usize) -> Result<Option<Data>> {
    let files = ["base.f32", "queries.f32", "groundtruth.u32"];
    if let Some(missing) = files.iter().find(|f| !dir.join(f).is_file()) {
        println!(
            "text set: {} not found in {}: skipped",
            missing,
            dir.display()
        );
        return Ok(None);
    }
    let mut base = read_f32(&dir.join("base.f32"))?;
    let mut queries = read_f32(&dir.join("queries.f32"))?;
    let gt = read_u32(&dir.join("groundtruth.u32"))?;
    let full = base.len() / TEXT_DIM;
    let full_q = queries.len() / TEXT_DIM;
    ensure!(
        base.len() == full * TEXT_DIM && queries.len() == full_q * TEXT_DIM,
        "text set: file sizes are not multiples of {TEXT_DIM} f32"
    );
    ensure!(
        gt.len() == full_q * TEXT_GT_WIDTH,
        "text set: ground truth is not {full_q} x {TEXT_GT_WIDTH}"
    );
    let n = n.min(full);
    let nq = nq.min(full_q);
    base.truncate(n * TEXT_DIM);
    queries.truncate(nq * TEXT_DIM);
    let mut data = Data {
        dim: TEXT_DIM,
        base,
        queries,
        truth: Vec::new(),
    };
    if n == full {
        data.truth = (0..nq)
            .map(|q| gt[q * TEXT_GT_WIDTH..q * TEXT_GT_WIDTH + K].to_vec())
            .collect();
    } else {
        // The file's ground truth is over all base vectors: recompute it over the subset.
        data.truth = (0..nq)
            .map(|q| {
                heliosdb_vector::brute_force(Metric::Cosine, &data.base, TEXT_DIM, data.query(q), K)
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect()
            })
            .collect();
    }
    Ok(Some(data))
}

/// splitmix64: a tiny, fixed-seed generator.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    fn gauss(&mut self) -> f32 {
        let (u, v) = (self.unit(), self.unit());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }
}

/// `CLUSTERS` centres ~ N(0, 1) per coordinate; each point a random centre plus N(0, 0.5²)
/// noise per coordinate. Queries are drawn the same way (not from the base).
fn synthetic(n: usize, nq: usize, dim: usize) -> Data {
    let mut rng = Rng(SEED);
    let centres: Vec<f32> = (0..CLUSTERS * dim).map(|_| rng.gauss()).collect();
    let draw = |count: usize, rng: &mut Rng| {
        let mut out = Vec::with_capacity(count * dim);
        for _ in 0..count {
            let c = (rng.next_u64() % CLUSTERS as u64) as usize;
            for j in 0..dim {
                out.push(centres[c * dim + j] + 0.5 * rng.gauss());
            }
        }
        out
    };
    let base = draw(n, &mut rng);
    let queries = draw(nq, &mut rng);
    Data {
        dim,
        base,
        queries,
        truth: Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------
// The measurements
// ---------------------------------------------------------------------------------------

/// Everything printed for one dataset.
#[derive(Default)]
struct Report {
    title: String,
    curves: Vec<Curve>,
    /// Extra rows: (label, recall, qps, note).
    exact: Vec<(String, f64, f64, String)>,
    notes: Vec<String>,
}

fn brute_force_ids(metric: Metric, data: &Data, q: usize) -> Vec<u64> {
    heliosdb_vector::brute_force(metric, &data.base, data.dim, data.query(q), K)
        .into_iter()
        .map(|(id, _)| u64::from(id))
        .collect()
}

fn items(data: &Data) -> Vec<(u64, Vec<f32>)> {
    (0..data.n())
        .map(|i| (i as u64, data.row(i).to_vec()))
        .collect()
}

fn params(threads: usize) -> HnswParams {
    HnswParams {
        m: 16,
        ef_construction: 200,
        ef_search: 40,
        threads,
        ..HnswParams::default()
    }
}

/// The raw segment: builds, sizes, and the ef sweep.
fn raw(
    data: &Data,
    metric: Metric,
    efs: &[usize],
    one_thread_build: bool,
    rep: &mut Report,
) -> Result<Curve> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let start = Instant::now();
    let segment = Segment::build(metric, data.dim as u32, &params(0), items(data))
        .context("building the raw segment")?;
    let build = start.elapsed();
    ensure!(segment.len() == data.n(), "segment lost vectors");
    rep.notes.push(format!(
        "raw segment build: {} ({cores} threads), {} layers; graph degree fixed by \
         instant-distance: {} links on upper layers, {} on layer 0 (m = 16 is only recorded)",
        secs(build),
        segment.layers(),
        heliosdb_vector::UPPER_LINKS,
        heliosdb_vector::ZERO_LINKS
    ));
    if one_thread_build {
        let start = Instant::now();
        let one = Segment::build(metric, data.dim as u32, &params(1), items(data))?;
        rep.notes.push(format!(
            "raw segment build with 1 thread: {} ({:.2}x the {cores}-thread time)",
            secs(start.elapsed()),
            start.elapsed().as_secs_f64() / build.as_secs_f64()
        ));
        drop(one);
    }
    let start = Instant::now();
    let encoded = segment.encode();
    let encode = start.elapsed();
    let start = Instant::now();
    let decoded = Segment::<u64>::decode(&encoded).context("decoding the segment")?;
    let decode = start.elapsed();
    let raw_vectors = (data.n() * data.dim * 4) as u64;
    rep.notes.push(format!(
        "segment size: encoded {} ({:.2}x the raw f32 vectors, {}), memory_bytes {}; \
         encode {:.0} ms, decode {:.0} ms",
        mib(encoded.len() as u64),
        encoded.len() as f64 / raw_vectors as f64,
        mib(raw_vectors),
        mib(segment.memory_bytes() as u64),
        ms(encode),
        ms(decode)
    ));
    let mut scratch = Scratch::new();
    for q in 0..data.nq().min(20) {
        let a = segment.search(data.query(q), K, 40, &mut scratch, &|_| false);
        let b = decoded.search(data.query(q), K, 40, &mut scratch, &|_| false);
        ensure!(a == b, "a decoded segment answers query {q} differently");
    }
    drop(decoded);
    drop(encoded);
    let mut curve = Curve::new("raw");
    for &ef in efs {
        let (res, took) = timed(data.nq(), data.nq(), |q| {
            Ok(segment
                .search(data.query(q), K, ef, &mut scratch, &|_| false)
                .into_iter()
                .map(|(k, _)| k)
                .collect())
        })?;
        curve.points.push(Point {
            ef,
            recall: recall(&res, &data.truth),
            qps: qps(data.nq(), took),
        });
    }
    Ok(curve)
}

/// hnsw_rs with distance `dist`: build with parallel_insert, then the ef sweep.
fn hnsw_rs_curve<D>(
    data: &Data,
    name: &str,
    m: usize,
    dist: D,
    efs: &[usize],
    rep: &mut Report,
) -> Curve
where
    D: hnsw_rs::prelude::Distance<f32> + Send + Sync,
{
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let start = Instant::now();
    let mut h = Hnsw::<f32, D>::new(m, data.n(), 16, 200, dist);
    let rows: Vec<(&[f32], usize)> = (0..data.n()).map(|i| (data.row(i), i)).collect();
    h.parallel_insert_slice(&rows);
    h.set_searching_mode(true);
    rep.notes.push(format!(
        "{name} build (parallel_insert, {cores} threads, M {m} = {m} links on upper layers \
         and {} on layer 0, ef_construction 200): {}",
        2 * m,
        secs(start.elapsed())
    ));
    let mut curve = Curve::new(name);
    for &ef in efs {
        let (res, took) = timed(data.nq(), data.nq(), |q| {
            Ok(h.search(data.query(q), K, ef)
                .into_iter()
                .map(|n| n.d_id as u64)
                .collect())
        })
        .expect("hnsw_rs search cannot fail");
        curve.points.push(Point {
            ef,
            recall: recall(&res, &data.truth),
            qps: qps(data.nq(), took),
        });
    }
    curve
}

fn ids(rows: &heliosdb_nano::Rows) -> Result<Vec<u64>> {
    rows.rows
        .iter()
        .map(|r| Ok(r.get::<i64>(0)? as u64))
        .collect()
}

/// Loads `data`'s rows `range` into `table` through `insert_vectors` (one transaction).
fn load(
    db: &EmbeddedDatabase,
    table: &str,
    data: &Data,
    range: std::ops::Range<usize>,
) -> Result<u64> {
    let rows = range.map(|i| (Value::Integer(i as i64), data.row(i).to_vec()));
    Ok(db.insert_vectors(table, "id", "v", rows)?)
}

/// The ef sweep through SQL: a prepared statement on one connection, `SET hnsw.ef_search`.
fn sql_sweep(
    db: &EmbeddedDatabase,
    data: &Data,
    select: &str,
    efs: &[usize],
    name: &str,
) -> Result<Curve> {
    let mut conn = db.connect();
    let stmt = db.prepare(select)?;
    let mut curve = Curve::new(name);
    for &ef in efs {
        conn.execute(&format!("SET hnsw.ef_search = {ef}"), &[])?;
        let (res, took) = timed(data.nq(), data.nq(), |q| {
            let rows = conn.query_prepared(&stmt, &[Value::Vector(data.query(q).to_vec())])?;
            ids(&rows)
        })?;
        curve.points.push(Point {
            ef,
            recall: recall(&res, &data.truth),
            qps: qps(data.nq(), took),
        });
    }
    Ok(curve)
}

/// The file size of the database at `path` (redb: one file).
fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

struct SqlSetup<'a> {
    ops: &'a str,
    op: &'a str,
    ty: String,
}

/// The SQL path on `data`: load, CREATE INDEX, EXPLAIN, the ef sweep.
fn sql_indexed(
    dir: &Path,
    file: &str,
    data: &Data,
    setup: &SqlSetup<'_>,
    efs: &[usize],
    rep: &mut Report,
) -> Result<(EmbeddedDatabase, Curve)> {
    let path = dir.join(file);
    let _ = std::fs::remove_file(&path);
    let db = EmbeddedDatabase::open(&path)?;
    db.execute(
        &format!("CREATE TABLE t (id INTEGER PRIMARY KEY, v {})", setup.ty),
        &[],
    )?;
    let start = Instant::now();
    let n = load(&db, "t", data, 0..data.n())?;
    ensure!(n as usize == data.n(), "inserted {n} rows of {}", data.n());
    let loaded = start.elapsed();
    let before_index = file_size(&path);
    let start = Instant::now();
    db.execute(
        &format!(
            "CREATE INDEX t_v ON t USING hnsw (v {}) WITH (m = 16, ef_construction = 200, \
             ef_search = 40)",
            setup.ops
        ),
        &[],
    )?;
    let indexed = start.elapsed();
    rep.notes.push(format!(
        "sql: load {} rows (insert_vectors, one transaction) {} ({} rows/s); CREATE INDEX {}",
        data.n(),
        secs(loaded),
        thousands(qps(data.n(), loaded)),
        secs(indexed)
    ));
    rep.notes.push(format!(
        "sql: database file {} after loading, {} after CREATE INDEX",
        mib(before_index),
        mib(file_size(&path))
    ));
    let select = format!("SELECT id FROM t ORDER BY v {} $1 LIMIT {K}", setup.op);
    let explain = db.query(
        &format!("EXPLAIN {select}"),
        &[Value::Vector(data.query(0).to_vec())],
    )?;
    let plan: Vec<String> = explain
        .rows
        .iter()
        .map(|r| {
            r.values
                .iter()
                .map(|v| match v {
                    Value::Text(s) => s.clone(),
                    other => format!("{other:?}"),
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    rep.notes
        .push(format!("sql: EXPLAIN {select}: {}", plan.join(" / ")));
    if !plan.iter().any(|l| l.contains("Vector Index Scan")) {
        rep.notes
            .push("sql: WARNING: the plan does not use the vector index".into());
    }
    let curve = sql_sweep(&db, data, &select, efs, "sql")?;
    Ok((db, curve))
}

/// The SQL exact path: the same query on a table without an index.
fn sql_exact(db: &EmbeddedDatabase, data: &Data, setup: &SqlSetup<'_>) -> Result<(f64, f64)> {
    db.execute(
        &format!("CREATE TABLE t2 (id INTEGER PRIMARY KEY, v {})", setup.ty),
        &[],
    )?;
    load(db, "t2", data, 0..data.n())?;
    let select = format!("SELECT id FROM t2 ORDER BY v {} $1 LIMIT {K}", setup.op);
    let stmt = db.prepare(&select)?;
    let mut conn = db.connect();
    let nq = data.nq().min(EXACT_SQL_QUERIES);
    let (res, took) = timed(nq, 5, |q| {
        ids(&conn.query_prepared(&stmt, &[Value::Vector(data.query(q).to_vec())])?)
    })?;
    Ok((recall(&res, &data.truth[..nq]), qps(nq, took)))
}

/// Inserts into an indexed table: load all but `txn + single` rows, CREATE INDEX, insert
/// `txn` rows in one transaction and `single` rows one autocommit INSERT each, then the ef
/// sweep with those rows in the exact buffer (background compaction off), REINDEX, and
/// the sweep again.
#[allow(clippy::too_many_arguments)]
fn sql_inserts(
    dir: &Path,
    data: &Data,
    setup: &SqlSetup<'_>,
    efs: &[usize],
    txn: usize,
    single: usize,
    rep: &mut Report,
) -> Result<Vec<Curve>> {
    let path = dir.join("inserts.db");
    let _ = std::fs::remove_file(&path);
    let db = EmbeddedDatabase::open(&path)?;
    heliosdb_nano::sql::vector::set_background_compaction(db.database(), false);
    let n = data.n();
    let n0 = n - txn - single;
    db.execute(
        &format!("CREATE TABLE t (id INTEGER PRIMARY KEY, v {})", setup.ty),
        &[],
    )?;
    load(&db, "t", data, 0..n0)?;
    db.execute(
        &format!(
            "CREATE INDEX t_v ON t USING hnsw (v {}) WITH (m = 16, ef_construction = 200)",
            setup.ops
        ),
        &[],
    )?;
    let select = format!("SELECT id FROM t ORDER BY v {} $1 LIMIT {K}", setup.op);
    let stmt = db.prepare(&select)?;
    // One query first, so the index is loaded and current before the inserts.
    stmt.query(&[Value::Vector(data.query(0).to_vec())])?;

    let start = Instant::now();
    load(&db, "t", data, n0..n0 + txn)?;
    let in_txn = start.elapsed();
    let insert = db.prepare("INSERT INTO t (id, v) VALUES ($1, $2)")?;
    let start = Instant::now();
    for i in n0 + txn..n {
        insert.execute(&[
            Value::Integer(i as i64),
            Value::Vector(data.row(i).to_vec()),
        ])?;
    }
    let autocommit = start.elapsed();
    let start = Instant::now();
    stmt.query(&[Value::Vector(data.query(0).to_vec())])?;
    let catch_up = start.elapsed();
    rep.notes.push(format!(
        "insert into an indexed table of {n0} rows: {txn} rows in one transaction \
         (insert_vectors) {:.0} ms = {} rows/s; {single} single-row autocommit INSERTs \
         {:.0} ms = {} rows/s; the first query after them (reads the {} changed rows \
         from the log into the exact buffer) {:.1} ms",
        ms(in_txn),
        thousands(qps(txn, in_txn)),
        ms(autocommit),
        thousands(qps(single, autocommit)),
        txn + single,
        ms(catch_up)
    ));
    let mut buffered = sql_sweep(&db, data, &select, efs, "sql+buffer")?;
    buffered.name = format!("sql, {} rows buffered", txn + single);
    let mut conn = db.connect();
    let start = Instant::now();
    conn.execute("REINDEX INDEX t_v", &[])?;
    let reindex = start.elapsed();
    let start = Instant::now();
    stmt.query(&[Value::Vector(data.query(0).to_vec())])?;
    let first = start.elapsed();
    rep.notes.push(format!(
        "REINDEX INDEX t_v ({n} rows, one segment): {}; first query after it {:.1} ms; \
         database file {}",
        secs(reindex),
        ms(first),
        mib(file_size(&path))
    ));
    let mut after = sql_sweep(&db, data, &select, efs, "sql+reindex")?;
    after.name = "sql, after REINDEX".into();
    Ok(vec![buffered, after])
}

/// The whole dataset: exact baseline, raw, hnsw_rs, SQL.
struct Plan<'a> {
    name: &'a str,
    metric: Metric,
    setup: SqlSetup<'a>,
    sql: bool,
    sql_exact: bool,
    inserts: Option<(usize, usize)>,
    one_thread_build: bool,
}

fn run_dataset(data: &mut Data, plan: &Plan<'_>, efs: &[usize], dir: &Path) -> Result<Report> {
    let mut rep = Report {
        title: format!(
            "{} ({} x {}, {})",
            plan.name,
            data.n(),
            data.dim,
            plan.metric.name()
        ),
        ..Report::default()
    };
    eprintln!("[{}] exact baseline ...", plan.name);
    // Brute force, one thread, over every query; on the synthetic set this is the ground
    // truth itself.
    let nq = data.nq();
    let (res, took) = timed(nq, 10, |q| Ok(brute_force_ids(plan.metric, data, q)))?;
    if data.truth.is_empty() {
        data.truth = res
            .iter()
            .map(|r| r.iter().map(|&id| id as u32).collect())
            .collect();
        rep.notes.push(format!(
            "ground truth: heliosdb_vector::brute_force, {} queries in {} ({} kernel)",
            nq,
            secs(took),
            heliosdb_vector::kernel_name()
        ));
    }
    rep.exact.push((
        format!("brute force {}", plan.metric.name()),
        recall(&res, &data.truth),
        qps(nq, took),
        format!(
            "heliosdb_vector::brute_force, {} kernel, {nq} queries",
            heliosdb_vector::kernel_name()
        ),
    ));
    // Throughput, not latency: every query of the set in one brute_force_batch call
    // (each block of rows is compared with all queries while it is in cache).
    let start = Instant::now();
    let batch =
        heliosdb_vector::brute_force_batch(plan.metric, &data.base, data.dim, &data.queries, K);
    let took = start.elapsed();
    let batch_ids: Vec<Vec<u64>> = batch
        .iter()
        .map(|r| r.iter().map(|&(id, _)| u64::from(id)).collect())
        .collect();
    ensure!(
        batch_ids == res,
        "brute_force_batch disagrees with brute_force"
    );
    rep.exact.push((
        format!("brute force {} batched", plan.metric.name()),
        recall(&batch_ids, &data.truth),
        qps(nq, took),
        format!("throughput: brute_force_batch, all {nq} queries in one call, one thread"),
    ));
    if plan.metric == Metric::Cosine {
        // The text vectors are normalized: inner product ranks alike with one dot per row
        // instead of two (cosine also needs each row's norm).
        let (res, took) = timed(nq, 10, |q| {
            Ok(brute_force_ids(Metric::InnerProduct, data, q))
        })?;
        rep.exact.push((
            "brute force inner_product".into(),
            recall(&res, &data.truth),
            qps(nq, took),
            format!(
                "same ranking on normalized vectors; {} MiB scanned per query",
                data.base.len() * 4 / (1024 * 1024)
            ),
        ));
    }

    eprintln!("[{}] raw segment ...", plan.name);
    let raw_curve = raw(data, plan.metric, efs, plan.one_thread_build, &mut rep)?;
    rep.curves.push(raw_curve);

    eprintln!("[{}] hnsw_rs ...", plan.name);
    match plan.metric {
        Metric::Cosine => {
            let c = hnsw_rs_curve(data, "hnsw_rs cos", 16, DistCosine, efs, &mut rep);
            rep.curves.push(c);
            let c = hnsw_rs_curve(data, "hnsw_rs dot", 16, DistDot, efs, &mut rep);
            rep.curves.push(c);
            let c = hnsw_rs_curve(data, "hnsw_rs dot M32", 32, DistDot, efs, &mut rep);
            rep.curves.push(c);
        }
        Metric::L2 => {
            let c = hnsw_rs_curve(data, "hnsw_rs l2", 16, DistL2, efs, &mut rep);
            rep.curves.push(c);
            let c = hnsw_rs_curve(data, "hnsw_rs l2 M32", 32, DistL2, efs, &mut rep);
            rep.curves.push(c);
        }
        Metric::InnerProduct => bail!("no inner-product dataset"),
    }

    if plan.sql {
        eprintln!("[{}] sql ...", plan.name);
        let file = format!("{}.db", plan.name);
        let (db, curve) = sql_indexed(dir, &file, data, &plan.setup, efs, &mut rep)?;
        rep.curves.push(curve);
        if plan.sql_exact {
            eprintln!("[{}] sql exact ...", plan.name);
            let (r, q) = sql_exact(&db, data, &plan.setup)?;
            rep.exact.push((
                "sql exact (no index)".into(),
                r,
                q,
                format!("{} queries", data.nq().min(EXACT_SQL_QUERIES)),
            ));
        }
        drop(db);
        let _ = std::fs::remove_file(dir.join(&file));
        if let Some((txn, single)) = plan.inserts {
            eprintln!("[{}] sql inserts ...", plan.name);
            let curves = sql_inserts(dir, data, &plan.setup, efs, txn, single, &mut rep)?;
            rep.curves.extend(curves);
            let _ = std::fs::remove_file(dir.join("inserts.db"));
        }
    }
    Ok(rep)
}

fn curve<'a>(rep: &'a Report, name: &str) -> Option<&'a Curve> {
    rep.curves.iter().find(|c| c.name == name)
}

fn print_report(rep: &Report) {
    println!();
    for n in &rep.notes {
        println!("  {n}");
    }
    println!();
    let baselines: Vec<&Curve> = rep
        .curves
        .iter()
        .filter(|c| c.name.starts_with("hnsw_rs"))
        .collect();
    let mut header = format!("{:<34}{:>10}{:>10}", rep.title, "recall@10", "QPS");
    for b in &baselines {
        header.push_str(&format!("{:>20}", format!("vs {}", b.name)));
    }
    header.push_str("   sql/raw");
    println!("{header}");
    let raw = curve(rep, "raw");
    for c in &rep.curves {
        for p in &c.points {
            let mut line = format!(
                "{:<34}{:>10.4}{:>10}",
                format!("{} ef={}", c.name, p.ef),
                p.recall,
                thousands(p.qps)
            );
            for b in &baselines {
                let cell = match b.at(p.ef) {
                    Some(bp) if !c.name.starts_with("hnsw_rs") => {
                        format!("{:.2}x", p.qps / bp.qps)
                    }
                    _ => String::new(),
                };
                line.push_str(&format!("{cell:>20}"));
            }
            if c.name.starts_with("sql")
                && let Some(rp) = raw.and_then(|r| r.at(p.ef))
            {
                line.push_str(&format!("{:>10.2}", p.qps / rp.qps));
            }
            println!("{line}");
        }
    }
    for (label, r, q, note) in &rep.exact {
        println!("{:<34}{:>10.4}{:>10}   {note}", label, r, thousands(*q));
    }
    println!();
    print!("  QPS at equal recall (interpolated over ef):");
    for target in [0.90, 0.95, 0.99] {
        print!("\n    recall {target:.2}:");
        for c in &rep.curves {
            match c.qps_at_recall(target) {
                Some(q) => print!("  {} {}", c.name, thousands(q)),
                None => print!("  {} -", c.name),
            }
        }
    }
    println!();
    if let (Some(raw), Some(sql)) = (raw, curve(rep, "sql")) {
        let extra: Vec<String> = sql
            .points
            .iter()
            .filter_map(|p| {
                let r = raw.at(p.ef)?;
                Some(format!("ef={} {:.1}", p.ef, 1e6 / p.qps - 1e6 / r.qps))
            })
            .collect();
        println!("  SQL time per query over raw (µs): {}", extra.join(", "));
    }
}

fn pass(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

/// The closing target lines.
fn verdicts(reports: &[(bool, Report)]) {
    println!();
    println!("targets:");
    for (is_text, rep) in reports {
        let name = rep.title.split(' ').next().unwrap_or("");
        let raw = curve(rep, "raw");
        let sql = curve(rep, "sql");
        for c in [raw, sql].into_iter().flatten() {
            match c.first_reaching(0.95) {
                Some(p) => println!(
                    "  {name}: {} recall@10 >= 0.95: PASS at ef={} (recall {:.4}, {} QPS)",
                    c.name,
                    p.ef,
                    p.recall,
                    thousands(p.qps)
                ),
                None => println!(
                    "  {name}: {} recall@10 >= 0.95: FAIL (best {:.4})",
                    c.name,
                    c.points.iter().map(|p| p.recall).fold(0.0, f64::max)
                ),
            }
        }
        if let (Some(raw), Some(sql)) = (raw, sql) {
            let min_ratio = sql
                .points
                .iter()
                .filter_map(|p| Some(p.qps / raw.at(p.ef)?.qps))
                .fold(f64::INFINITY, f64::min);
            match sql.first_reaching(0.95) {
                Some(p) => {
                    let ratio = p.qps / raw.at(p.ef).map_or(f64::NAN, |r| r.qps);
                    let ok = ratio >= 0.8;
                    let mut line = format!(
                        "  {name}: SQL QPS >= 80% of raw: {} (at ef={}: {:.0}%; lowest over \
                         all ef {:.0}%)",
                        pass(ok),
                        p.ef,
                        ratio * 100.0,
                        min_ratio * 100.0
                    );
                    if *is_text {
                        line.push_str(&format!(
                            "; SQL QPS >= 7,000 at recall >= 0.95: {} ({})",
                            pass(p.qps >= 7000.0),
                            thousands(p.qps)
                        ));
                    }
                    println!("{line}");
                }
                None => println!("  {name}: SQL QPS targets: FAIL (SQL never reaches 0.95)"),
            }
            for (r, s) in raw.points.iter().zip(&sql.points) {
                if s.recall + 0.005 < r.recall {
                    println!(
                        "  {name}: WARNING: SQL recall {:.4} below raw {:.4} at ef={}",
                        s.recall, r.recall, r.ef
                    );
                }
            }
        }
        for b in rep.curves.iter().filter(|c| c.name.starts_with("hnsw_rs")) {
            for ours in [raw, sql].into_iter().flatten() {
                match (ours.qps_at_recall(0.95), b.qps_at_recall(0.95)) {
                    (Some(o), Some(h)) => println!(
                        "  {name}: {} no worse than {} at recall 0.95: {} ({} vs {} QPS, {:.2}x)",
                        ours.name,
                        b.name,
                        pass(o >= h),
                        thousands(o),
                        thousands(h),
                        o / h
                    ),
                    (Some(o), None) => println!(
                        "  {name}: {} no worse than {} at recall 0.95: PASS ({} reaches 0.95 \
                         at {} QPS, {} never does)",
                        ours.name,
                        b.name,
                        ours.name,
                        thousands(o),
                        b.name
                    ),
                    (None, _) => println!(
                        "  {name}: {} no worse than {} at recall 0.95: FAIL ({} never reaches \
                         0.95)",
                        ours.name, b.name, ours.name
                    ),
                }
            }
        }
        if *is_text {
            for (label, _, q, _) in &rep.exact {
                println!(
                    "  {name}: {label} >= 1,000 QPS: {} ({})",
                    pass(*q >= 1000.0),
                    thousands(*q)
                );
            }
        }
    }
}

pub fn run(args: &BenchVectorArgs) -> Result<()> {
    if cfg!(debug_assertions) {
        bail!("bench-vector-run needs an optimized build: use `cargo xtask bench-vector`");
    }
    let quick = args.quick;
    let nq = args.queries.unwrap_or(if quick { 200 } else { 1000 });
    let n_text = args.text.unwrap_or(if quick { 5_000 } else { 20_000 });
    let n_syn = args
        .synthetic
        .unwrap_or(if quick { 20_000 } else { 100_000 });
    ensure!(nq > 0, "--queries must be at least 1");
    ensure!(!args.ef.is_empty(), "--ef needs at least one value");
    ensure!(
        args.ef.iter().all(|&e| e >= 1),
        "--ef values must be at least 1"
    );
    ensure!(args.dim > 0, "--dim must be at least 1");
    let efs = &args.ef;
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| crate::workspace_root().join("target"), PathBuf::from)
            .join("xtask-bench-vector"),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let data_dir = args
        .data
        .clone()
        .unwrap_or_else(|| crate::workspace_root().join("../shared/vectors"));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    println!(
        "bench-vector: k = {K}, {nq} queries per measurement, ef {:?}, queries on one thread \
         (timed after a warm-up pass), builds on {cores} cores; distance kernel {}; \
         databases in {}",
        efs,
        heliosdb_vector::kernel_name(),
        dir.display()
    );
    let mut reports = Vec::new();
    if n_text > 0
        && let Some(mut text) = load_text(&data_dir, n_text, nq)?
    {
        let (txn, single) = if quick { (500, 200) } else { (5_000, 1_000) };
        let plan = Plan {
            name: "text",
            metric: Metric::Cosine,
            setup: SqlSetup {
                ops: "vector_cosine_ops",
                op: "<=>",
                ty: format!("VECTOR({TEXT_DIM})"),
            },
            sql: true,
            sql_exact: true,
            inserts: (text.n() > 2 * (txn + single)).then_some((txn, single)),
            one_thread_build: true,
        };
        let rep = run_dataset(&mut text, &plan, efs, &dir)?;
        print_report(&rep);
        reports.push((true, rep));
    }
    if n_syn > 0 {
        eprintln!("[synthetic] generating ...");
        let mut syn = synthetic(n_syn, nq, args.dim);
        let plan = Plan {
            name: "synthetic",
            metric: Metric::L2,
            setup: SqlSetup {
                ops: "vector_l2_ops",
                op: "<->",
                ty: format!("VECTOR({})", args.dim),
            },
            sql: !args.no_sql_synthetic,
            sql_exact: false,
            inserts: None,
            one_thread_build: false,
        };
        let rep = run_dataset(&mut syn, &plan, efs, &dir)?;
        print_report(&rep);
        reports.push((false, rep));
    }
    verdicts(&reports);
    println!();
    println!(
        "peak RSS (VmHWM): {}; total time {}",
        peak_rss().unwrap_or_else(|| "unknown".into()),
        secs(started.elapsed())
    );
    Ok(())
}
