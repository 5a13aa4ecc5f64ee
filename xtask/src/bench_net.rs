//! `cargo xtask bench-net`: sync over QUIC on loopback, each figure in the same run as its
//! reference.
//!
//! - End-to-end throughput: `rows` row changes committed on client A (commits of 100 rows),
//!   A syncs them to the server, B syncs them from it; changes per second over both syncs.
//!   Reference: the same rows moved node to node in process (`changes_for` / `apply`, no
//!   network), so the ratio is what the network layer costs. Target: >= 20,000 changes/s.
//! - Write-to-peer latency: A and B in the background mode (`SyncClient::watch`); a
//!   commit on A, then the time until B's database commits it (B's commit notice), over
//!   `commits` commits one after another; p50 and p99. Target: p50 <= 10 ms.
//! - An idle sync round on a database of `big` rows (the server's; the client holds them
//!   all): stream bytes, all UDP bytes, and time; on a new connection each (QUIC and TLS
//!   handshake included, time from connecting to the last record) and on one kept
//!   connection (as in the background mode). Target: <= 1 KB and <= 10 ms.
//! - Initial sync of those `big` rows into an empty client, run in a child process so its
//!   peak memory (VmHWM) is the client's alone: time and peak RSS, with redb's default
//!   page cache and with a 64 MiB one (what sync itself holds).
//!
//! Every figure is checked: the rows arrive, and B / the client end identical to the source.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Args;
use heliosdb_core::{ColumnSpec, DataType, Database, TableSpec, Value};
use heliosdb_sync::SyncNode;
use heliosdb_sync::auth::{self, RootKey, TokenSpec};
use heliosdb_sync::net::{
    Limits, ServerIdentity, SyncClient, SyncConfig, SyncServer, Trust, WatchEvent,
};

use crate::bench::report::{median, ms};

#[derive(Args, Clone, Debug)]
pub struct BenchNetArgs {
    /// Smoke run: 10,000 changes, 100 latency commits, 50,000 big rows.
    #[arg(long)]
    pub quick: bool,
    /// Row changes moved A -> server -> B [default: 100000].
    #[arg(long)]
    pub rows: Option<usize>,
    /// Commits timed for latency [default: 1000].
    #[arg(long)]
    pub commits: Option<usize>,
    /// Rows of the database for the idle round and the initial sync [default: 1000000].
    #[arg(long)]
    pub big: Option<usize>,
}

/// One initial sync into `path` by a child process; prints its time and peak RSS.
async fn initial_sync(net: &Net, path: &Path, big: usize, cache_mib: Option<usize>) -> Result<()> {
    let exe = std::env::current_exe()?;
    let mut command = std::process::Command::new(exe);
    command
        .arg("bench-net-client")
        .arg("--db")
        .arg(path)
        .args(["--server", &net.url, "--pin", net.server.fingerprint()])
        .args(["--token", &net.token()?]);
    if let Some(mib) = cache_mib {
        command.args(["--cache-mib", &mib.to_string()]);
    }
    let out = tokio::task::spawn_blocking(move || command.output())
        .await?
        .context("could not start the initial-sync client")?;
    ensure!(
        out.status.success(),
        "the initial-sync client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let field = |name: &str| -> Result<f64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .context(format!("no {name} in the client's output {line:?}"))?
            .parse::<f64>()
            .context("a number")
    };
    let (got, took_ms, hwm_kb) = (field("rows")?, field("ms")?, field("hwm_kb")?);
    ensure!(got as usize == big, "the client got {got} rows of {big}");
    let cache = match cache_mib {
        Some(mib) => format!("{mib} MiB page cache"),
        None => "redb's default page cache".to_owned(),
    };
    println!(
        "initial sync of {big} rows into an empty client ({cache}): {:.1} s ({:.0} rows/s), \
         client peak RSS {:.0} MB",
        took_ms / 1e3,
        big as f64 / (took_ms / 1e3),
        hwm_kb / 1024.0
    );

    Ok(())
}

/// The child process of the initial-sync figure.
#[derive(Args, Clone, Debug)]
pub struct BenchNetClientArgs {
    #[arg(long)]
    pub db: std::path::PathBuf,
    #[arg(long)]
    pub server: String,
    #[arg(long)]
    pub pin: String,
    #[arg(long)]
    pub token: String,
    /// redb's page cache, in MiB (redb's default when left out).
    #[arg(long)]
    pub cache_mib: Option<usize>,
}

const ROWS_PER_COMMIT: usize = 100;
const BIG_ROWS_PER_COMMIT: usize = 1000;

pub fn launch(args: &BenchNetArgs) -> Result<()> {
    if !cfg!(debug_assertions) {
        return run(args);
    }
    crate::bench::relaunch_release("bench-net", "bench-net-run")
}

fn create_table(db: &Database) -> Result<()> {
    let mut w = db.begin_write()?;
    w.create_table(
        &TableSpec::new("t")
            .column(ColumnSpec::new("id", DataType::Integer))
            .column(ColumnSpec::new("a", DataType::Text))
            .column(ColumnSpec::new("b", DataType::Integer))
            .primary_key(["id"]),
    )?;
    w.commit()?;
    Ok(())
}

fn open(path: &Path, table: bool) -> Result<Arc<SyncNode>> {
    let db = Database::open(path)?;
    if table {
        create_table(&db)?;
    }
    Ok(Arc::new(SyncNode::new(db)))
}

fn fill(node: &SyncNode, rows: usize, per_commit: usize) -> Result<()> {
    let db = node.database();
    for start in (0..rows).step_by(per_commit) {
        let mut w = db.begin_write()?;
        for i in start..(start + per_commit).min(rows) {
            let i = i as i64;
            w.put(
                "t",
                &[i.into(), format!("row {i:08} text").into(), i.into()],
            )?;
        }
        w.commit()?;
    }
    Ok(())
}

fn count(db: &Database) -> Result<usize> {
    let r = db.begin_read()?;
    let mut n = 0;
    for row in r.scan("t", ..)? {
        row?;
        n += 1;
    }
    Ok(n)
}

/// Stands up a server on a fresh database in `dir` (the `t` table created there; clients
/// get it by syncing).
struct Net {
    root: RootKey,
    server_node: Arc<SyncNode>,
    server: SyncServer,
    url: String,
}

impl Net {
    fn start(path: &Path) -> Result<Net> {
        heliosdb_sync::net::install_crypto_provider();
        let root = RootKey::generate();
        let identity = ServerIdentity::self_signed_dev()?;
        let server_node = open(path, true)?;
        let server = SyncServer::bind(
            "127.0.0.1:0".parse()?,
            &identity,
            server_node.clone(),
            root.public(),
            Limits::default(),
        )?;
        server.spawn();
        let url = format!("quic://127.0.0.1:{}", server.local_addr()?.port());
        Ok(Net {
            root,
            server_node,
            server,
            url,
        })
    }

    fn token(&self) -> Result<String> {
        Ok(auth::issue(
            &self.root,
            &TokenSpec {
                read: vec!["*".into()],
                write: vec!["*".into()],
                ttl: Duration::from_secs(24 * 3600),
                device: None,
            },
        )?)
    }

    fn client(&self, node: &Arc<SyncNode>) -> Result<SyncClient> {
        let trust = Trust::Pin(self.server.fingerprint().to_owned());
        Ok(SyncClient::new(SyncConfig::new(
            &self.url,
            self.token()?,
            trust,
            node.clone(),
        ))?)
    }
}

pub fn run(args: &BenchNetArgs) -> Result<()> {
    if cfg!(debug_assertions) {
        bail!("bench-net-run needs an optimized build: use `cargo xtask bench-net`");
    }
    let rows = args
        .rows
        .unwrap_or(if args.quick { 10_000 } else { 100_000 });
    let commits = args.commits.unwrap_or(if args.quick { 100 } else { 1000 });
    let big = args
        .big
        .unwrap_or(if args.quick { 50_000 } else { 1_000_000 });
    println!(
        "bench-net: loopback QUIC; {rows} changes A -> server -> B, {commits} latency commits, \
         {big}-row database; ours durable"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        throughput(rows).await?;
        latency(commits).await?;
        big_database(big).await
    })
}

async fn throughput(rows: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let net = Net::start(&dir.path().join("server.db"))?;
    let a = open(&dir.path().join("a.db"), false)?;
    let b = open(&dir.path().join("b.db"), false)?;
    // The table first (a schema commit of the server's), then A's rows.
    net.client(&a)?.sync().await?;
    net.client(&b)?.sync().await?;
    fill(&a, rows, ROWS_PER_COMMIT)?;
    a.frontier()?; // the local catch-up, measured by bench-sync, not here
    let start = Instant::now();
    let push = net.client(&a)?.sync().await?;
    let pull = net.client(&b)?.sync().await?;
    let took = start.elapsed();
    ensure!(
        count(b.database())? == rows && count(net.server_node.database())? == rows,
        "B or the server is missing rows"
    );

    // Reference: the same rows node to node in process.
    let c = open(&dir.path().join("c.db"), false)?;
    let d = open(&dir.path().join("d.db"), false)?;
    let (cc, dd) = (c.clone(), d.clone());
    let local = tokio::task::spawn_blocking(move || -> Result<Duration> {
        // Until nothing moves: a batch's rows wait while their table's commit (another
        // origin's) comes later in it.
        let copy = |from: &SyncNode, to: &SyncNode| -> Result<()> {
            loop {
                let batch = from.changes_for(&to.frontier()?, 1000)?;
                if batch.commits.is_empty() || to.apply(&batch)?.applied == 0 {
                    return Ok(());
                }
            }
        };
        copy(&a, &cc)?;
        let start = Instant::now();
        copy(&cc, &dd)?;
        Ok(start.elapsed())
    })
    .await??;
    ensure!(
        count(d.database())? == rows,
        "the in-process reference lost rows"
    );
    let per_s = rows as f64 / took.as_secs_f64();
    println!(
        "end-to-end throughput: {per_s:.0} changes/s ({rows} changes, push {:.0} ms + pull {:.0} ms, \
         {:.1} MB on the wire)   target >= 20000: {}",
        ms(push.duration),
        ms(pull.duration),
        (push.udp_bytes_sent
            + push.udp_bytes_received
            + pull.udp_bytes_sent
            + pull.udp_bytes_received) as f64
            / 1e6,
        verdict(per_s >= 20_000.0)
    );
    println!(
        "  in-process reference (changes_for/apply, one hop): {:.0} changes/s; \
         QUIC two hops / in-process one hop time: {:.2}",
        rows as f64 / local.as_secs_f64(),
        took.as_secs_f64() / local.as_secs_f64()
    );
    net.server.shutdown().await;
    Ok(())
}

async fn latency(commits: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let net = Net::start(&dir.path().join("server.db"))?;
    let a = open(&dir.path().join("a.db"), false)?;
    let b = open(&dir.path().join("b.db"), false)?;
    net.client(&a)?.sync().await?;
    net.client(&b)?.sync().await?;
    let mut watch_a = net.client(&a)?.watch();
    let mut watch_b = net.client(&b)?.watch();
    for watch in [&mut watch_a, &mut watch_b] {
        match tokio::time::timeout(Duration::from_secs(10), watch.next()).await {
            Ok(Some(WatchEvent::Synced(_))) => {}
            other => bail!("the background mode did not start: {other:?}"),
        }
    }
    // Drain events so the channels never matter.
    let drain = |mut w: heliosdb_sync::net::Watch| {
        tokio::spawn(async move { while w.next().await.is_some() {} })
    };
    let (da, db_) = (drain(watch_a), drain(watch_b));
    let notices = b.database().subscribe();
    let notices = Arc::new(std::sync::Mutex::new(notices));
    let mut samples = Vec::with_capacity(commits);
    for i in 0..commits {
        let (a2, n2) = (a.clone(), notices.clone());
        let took = tokio::task::spawn_blocking(move || -> Result<Duration> {
            let rx = n2.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            while rx.try_recv().is_ok() {}
            let mut w = a2.database().begin_write()?;
            let k = 10_000_000 + i as i64;
            w.put("t", &[k.into(), "latency".into(), Value::Integer(i as i64)])?;
            w.commit()?;
            let start = Instant::now();
            rx.recv_timeout(Duration::from_secs(10))
                .context("B did not commit A's write within 10 s")?;
            Ok(start.elapsed())
        })
        .await??;
        let k = 10_000_000 + i as i64;
        ensure!(
            b.database().begin_read()?.get("t", &[k.into()])?.is_some(),
            "B committed something, but not A's row {k}"
        );
        samples.push(took);
    }
    da.abort();
    db_.abort();
    samples.sort();
    let p = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "write-to-peer latency (background mode, A -> server -> B), {commits} commits: \
         p50 {:.2} ms, p99 {:.2} ms   target p50 <= 10 ms: {}",
        ms(p(0.5)),
        ms(p(0.99)),
        verdict(p(0.5) <= Duration::from_millis(10))
    );
    net.server.shutdown().await;
    Ok(())
}

async fn big_database(big: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let net = Net::start(&dir.path().join("server.db"))?;
    let (node, rows) = (net.server_node.clone(), big);
    tokio::task::spawn_blocking(move || -> Result<()> {
        fill(&node, rows, BIG_ROWS_PER_COMMIT)?;
        node.frontier()?;
        Ok(())
    })
    .await??;

    // Initial sync in a child process, for its own peak memory: with redb's default page
    // cache (which holds much of the file it writes), and with a 64 MiB cache, which
    // shows what sync itself holds.
    let small = dir.path().join("client-64mib.db");
    initial_sync(&net, &small, big, Some(64)).await?;
    let client_db = dir.path().join("client.db");
    initial_sync(&net, &client_db, big, None).await?;

    // Idle rounds: the client has everything.
    let client = open(&client_db, false)?;
    let mut times = Vec::new();
    let mut bytes = (0, 0);
    for _ in 0..5 {
        let report = net.client(&client)?.sync().await?;
        ensure!(
            report.sent_commits == 0 && report.received_commits == 0,
            "an idle round moved commits: {report:?}"
        );
        times.push(report.duration);
        bytes = (
            report.bytes_sent + report.bytes_received,
            report.udp_bytes_sent + report.udp_bytes_received,
        );
    }
    // The same on one kept connection (the background mode's case): no handshake.
    let kept = net.client(&client)?;
    let session = kept.session().await?;
    let mut kept_times = Vec::new();
    let mut kept_bytes = (0, 0);
    for _ in 0..5 {
        let report = session.sync().await?;
        ensure!(
            report.sent_commits == 0 && report.received_commits == 0,
            "an idle round moved commits: {report:?}"
        );
        kept_times.push(report.duration);
        kept_bytes = (
            report.bytes_sent + report.bytes_received,
            report.udp_bytes_sent + report.udp_bytes_received,
        );
    }
    session.close().await;
    let t = median(&times);
    let kt = median(&kept_times);
    println!(
        "idle sync round on a {big}-row database, kept connection (median of 5): {:.2} ms, \
         {} stream bytes, {} UDP bytes   target <= 1 KB and <= 10 ms: bytes {}, time {}",
        ms(kt),
        kept_bytes.0,
        kept_bytes.1,
        verdict(kept_bytes.1 <= 1024),
        verdict(kt <= Duration::from_millis(10))
    );
    println!(
        "idle sync round on a {big}-row database (median of 5, new connection each): \
         {:.2} ms, {} stream bytes, {} UDP bytes with the QUIC/TLS handshake   \
         target <= 1 KB and <= 10 ms: stream bytes {}, time {}",
        ms(t),
        bytes.0,
        bytes.1,
        verdict(bytes.0 <= 1024),
        verdict(t <= Duration::from_millis(10))
    );
    net.server.shutdown().await;
    Ok(())
}

/// The child process: one sync into `db`, then `rows=N ms=T hwm_kb=K` on stdout.
pub fn client(args: &BenchNetClientArgs) -> Result<()> {
    heliosdb_sync::net::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let options = heliosdb_core::DatabaseOptions {
        cache_bytes: args.cache_mib.map(|mib| mib << 20),
        ..Default::default()
    };
    let node = Arc::new(SyncNode::new(Database::open_with(&args.db, options)?));
    let start = Instant::now();
    let config = SyncConfig::new(
        &args.server,
        args.token.clone(),
        Trust::Pin(args.pin.clone()),
        node.clone(),
    );
    let report = runtime.block_on(SyncClient::new(config)?.sync())?;
    let took = start.elapsed();
    ensure!(!report.incomplete, "the initial sync was incomplete");
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    println!(
        "rows={} ms={:.1} hwm_kb={hwm_kb}",
        count(node.database())?,
        ms(took)
    );
    Ok(())
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}
