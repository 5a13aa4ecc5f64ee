//! `heliosdb sync …` and `heliosdb token …`: serving, syncing over QUIC, status, tokens.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use clap::{ArgGroup, Subcommand};
use heliosdb_nano::sql::values;
use heliosdb_nano::sync::SyncNode;
use heliosdb_nano::sync::VersionVector;
use heliosdb_nano::sync::auth::{self, Attenuation, RootKey, TokenSpec};
use heliosdb_nano::sync::net::{
    self, Limits, NetError, RefusalKind, ServerIdentity, SyncClient, SyncConfig, SyncReport,
    SyncServer, Trust, WatchEvent,
};
use heliosdb_nano::{EmbeddedDatabase, Value};

use crate::keys::KeyArgs;

#[derive(Subcommand)]
pub enum SyncCommand {
    /// Serve a database to sync clients over QUIC until Ctrl-C or SIGTERM.
    ///
    /// Prints `listening on ADDR` and `fingerprint HEX` once bound; clients pin that
    /// fingerprint with `heliosdb sync run --pin HEX`.
    #[command(group(ArgGroup::new("identity").required(true).args(["cert", "dev"])))]
    Serve {
        /// The database file to serve (created if missing).
        #[arg(long)]
        db: PathBuf,
        #[command(flatten)]
        keys: KeyArgs,
        /// The UDP address to bind, e.g. 0.0.0.0:4433 (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:4433")]
        listen: SocketAddr,
        /// The server's certificate chain (PEM, leaf first).
        #[arg(long, requires = "key", conflicts_with = "dev")]
        cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, requires = "cert", conflicts_with = "dev")]
        key: Option<PathBuf>,
        /// Generate a throw-away self-signed certificate (development); its fingerprint
        /// is printed for clients to pin.
        #[arg(long)]
        dev: bool,
        /// The root key file that signs the tokens this server accepts
        /// (`heliosdb token keygen --out FILE` makes one).
        #[arg(long)]
        root_key: PathBuf,
        /// The most commits per batch, both ways: each batch applies atomically, so
        /// smaller batches lose less work when a connection drops mid-sync.
        #[arg(long, default_value_t = Limits::default().batch_commits_max)]
        batch_commits: u32,
    },
    /// Sync a database with a server once (or keep syncing with --watch).
    #[command(group(ArgGroup::new("trust").required(true).args(["pin", "ca"])))]
    Run {
        /// The local database file (created if missing).
        #[arg(long)]
        db: PathBuf,
        #[command(flatten)]
        keys: KeyArgs,
        /// The server, as quic://host:port.
        #[arg(long)]
        server: String,
        /// The sync token (from `heliosdb token issue`), or @FILE to read it from a file.
        #[arg(long)]
        token: String,
        /// Trust exactly the server certificate with this SHA-256 fingerprint (as
        /// `heliosdb sync serve` prints it).
        #[arg(long, conflicts_with = "ca")]
        pin: Option<String>,
        /// Trust server certificates signed by a CA in this PEM file.
        #[arg(long)]
        ca: Option<PathBuf>,
        /// Keep syncing until Ctrl-C: one connection stays open, and a sync runs whenever
        /// this database or the server's database changes; reconnects with exponential backoff
        /// (capped at 30 s) after failures, printing each.
        #[arg(long)]
        watch: bool,
    },
    /// Print a database's sync state: node id, frontier, offline queue, recent conflicts.
    Status {
        /// The database file.
        #[arg(long)]
        db: PathBuf,
        #[command(flatten)]
        keys: KeyArgs,
    },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Generate a server root key into a new file and print its public key.
    Keygen {
        /// The file to create (never overwritten; readable by its owner only).
        #[arg(long)]
        out: PathBuf,
    },
    /// Issue a sync token signed by a root key; prints the token.
    Issue {
        /// The root key file.
        #[arg(long)]
        root_key: PathBuf,
        /// Tables the holder may read, comma separated; `*` for all (none if left out).
        #[arg(long, default_value = "", hide_default_value = true)]
        read: String,
        /// Tables the holder may write, comma separated; `*` for all (none if left out).
        #[arg(long, default_value = "", hide_default_value = true)]
        write: String,
        /// How long the token is valid: 30s, 15m, 12h, 7d.
        #[arg(long, value_parser = parse_duration)]
        ttl: Duration,
        /// The device the token is for.
        #[arg(long)]
        device: Option<String>,
    },
    /// Narrow a token offline (fewer tables, shorter life); prints the narrower token.
    Attenuate {
        /// The token, or @FILE.
        #[arg(long)]
        token: String,
        /// Only these tables may be read (comma separated; "" forbids every read).
        #[arg(long)]
        read: Option<String>,
        /// Only these tables may be written (comma separated; "" makes it read-only).
        #[arg(long)]
        write: Option<String>,
        /// Expire this long from now at the latest: 30s, 15m, 12h, 7d.
        #[arg(long, value_parser = parse_duration)]
        ttl: Option<Duration>,
    },
}

/// Parses `500ms`, `30s`, `15m`, `12h`, `7d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("{text:?} is not a duration: write it as 30s, 15m, 12h or 7d");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let ms_per = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    let ms = n
        .checked_mul(ms_per)
        .ok_or_else(|| format!("{text:?} is too long"))?;
    if ms == 0 {
        return Err(format!("{text:?} is zero: give a positive duration"));
    }
    Ok(Duration::from_millis(ms))
}

fn tables(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A token given as text, or as `@FILE`.
fn token_text(arg: &str) -> Result<String> {
    let token = match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the token from {path}"))?,
        None => arg.to_owned(),
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        bail!("the token is empty: pass the text `heliosdb token issue` printed, or @FILE");
    }
    Ok(token)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM.
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn sync_node(path: &Path, keys: &KeyArgs) -> Result<Arc<SyncNode>> {
    Ok(Arc::new(SyncNode::new(crate::open(path, keys)?)))
}

pub fn sync(command: SyncCommand) -> Result<()> {
    net::install_crypto_provider();
    match command {
        SyncCommand::Serve {
            db,
            listen,
            cert,
            key,
            dev,
            root_key,
            batch_commits,
            keys,
        } => {
            let limits = Limits {
                batch_commits_max: batch_commits,
                ..Limits::default()
            };
            serve(&db, &keys, listen, cert.zip(key), dev, &root_key, limits)
        }
        SyncCommand::Run {
            db,
            server,
            token,
            pin,
            ca,
            watch,
            keys,
        } => {
            let trust = match (pin, ca) {
                (Some(pin), _) => Trust::Pin(pin),
                (None, Some(ca)) => Trust::CaFile(ca),
                (None, None) => bail!("give --pin FINGERPRINT or --ca FILE to trust the server"),
            };
            run(&db, &keys, &server, &token_text(&token)?, trust, watch)
        }
        SyncCommand::Status { db, keys } => status(&db, &keys),
    }
}

fn serve(
    path: &Path,
    keys: &KeyArgs,
    listen: SocketAddr,
    pem: Option<(PathBuf, PathBuf)>,
    dev: bool,
    root_key: &Path,
    limits: Limits,
) -> Result<()> {
    let root = RootKey::load(root_key).with_context(|| {
        format!(
            "loading the root key (make one with `heliosdb token keygen --out {}`)",
            root_key.display()
        )
    })?;
    let identity = match pem {
        Some((cert, key)) => ServerIdentity::from_pem_files(&cert, &key)?,
        None if dev => ServerIdentity::self_signed_dev()?,
        None => bail!("give --cert FILE --key FILE, or --dev for a self-signed certificate"),
    };
    let node = sync_node(path, keys)?;
    let node_id = node.node_id();
    let rt = runtime()?;
    rt.block_on(async {
        let server = SyncServer::bind(listen, &identity, node, root.public(), limits)
            .with_context(|| format!("binding {listen} (is another server using that port?)"))?;
        let addr = server.local_addr()?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "serving {} (node {node_id})", path.display())?;
        writeln!(out, "listening on {addr}")?;
        writeln!(out, "fingerprint {}", server.fingerprint())?;
        if dev {
            writeln!(
                out,
                "development certificate: clients trust it with --pin {}",
                server.fingerprint()
            )?;
        }
        writeln!(out, "root key {}", root.public_key_string())?;
        out.flush()?;
        drop(out);
        server.spawn();
        terminated().await;
        println!("shutting down");
        let _ = std::io::stdout().flush();
        server.shutdown().await;
        Ok(())
    })
}

/// `n` bytes, readably.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

pub(crate) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A sync report, several lines.
pub fn print_report(out: &mut impl Write, server: &str, report: &SyncReport) -> Result<()> {
    writeln!(
        out,
        "synced with {server} in {} ms ({})",
        report.duration.as_millis(),
        plural(u64::from(report.rounds), "round", "rounds")
    )?;
    writeln!(
        out,
        "  sent:      {} ({})",
        plural(report.sent_commits, "commit", "commits"),
        human_bytes(report.bytes_sent)
    )?;
    writeln!(
        out,
        "  received:  {} ({})",
        plural(report.received_commits, "commit", "commits"),
        human_bytes(report.bytes_received)
    )?;
    writeln!(out, "  conflicts: {} resolved here", report.conflicts)?;
    if report.incomplete {
        writeln!(
            out,
            "  incomplete: some commits wait for a schema or an earlier commit; sync again"
        )?;
    }
    Ok(())
}

/// A sync report, one line (for --watch).
fn report_line(report: &SyncReport) -> String {
    format!(
        "synced: sent {}, received {}, {} ({} up, {} down) in {} ms{}",
        plural(report.sent_commits, "commit", "commits"),
        plural(report.received_commits, "commit", "commits"),
        plural(report.conflicts, "conflict", "conflicts"),
        human_bytes(report.bytes_sent),
        human_bytes(report.bytes_received),
        report.duration.as_millis(),
        if report.incomplete {
            ", incomplete"
        } else {
            ""
        }
    )
}

/// Errors that retrying cannot fix: --watch stops on them at its first sync.
fn is_permanent(e: &NetError) -> bool {
    match e {
        NetError::Refused { kind, .. } => matches!(
            kind,
            RefusalKind::TokenExpired
                | RefusalKind::WrongRootKey
                | RefusalKind::TokenTampered
                | RefusalKind::TokenGarbled
                | RefusalKind::TokenDenied
                | RefusalKind::Forbidden
        ),
        NetError::FingerprintMismatch { .. }
        | NetError::UntrustedCertificate { .. }
        | NetError::BadUrl { .. }
        | NetError::BadFingerprint(_)
        | NetError::Version { .. }
        | NetError::Auth(_) => true,
        _ => false,
    }
}

fn run(
    path: &Path,
    keys: &KeyArgs,
    server: &str,
    token: &str,
    trust: Trust,
    watch: bool,
) -> Result<()> {
    let node = sync_node(path, keys)?;
    let client = SyncClient::new(SyncConfig::new(server, token, trust, node))
        .context("checking the sync configuration")?;
    let url = client.url().to_string();
    let rt = runtime()?;
    rt.block_on(async {
        if !watch {
            let report = client
                .sync()
                .await
                .with_context(|| format!("syncing with {url}"))?;
            let mut out = std::io::stdout().lock();
            print_report(&mut out, &url, &report)?;
            out.flush()?;
            return Ok(());
        }
        println!("watching {url}: syncing now, then on every change here or on the server; Ctrl-C stops");
        // A first sync in the foreground: a wrong pin or a refused token ends here, with an
        // error, instead of being retried for ever.
        match client.sync().await {
            Ok(report) => println!("{}", report_line(&report)),
            Err(e) if is_permanent(&e) => {
                return Err(anyhow!(e).context(format!("syncing with {url}")));
            }
            Err(e) => eprintln!("sync with {url} failed: {e}; retrying in the background"),
        }
        let _ = std::io::stdout().flush();
        let mut background = client.watch();
        let stop = terminated();
        tokio::pin!(stop);
        let mut failures: u64 = 0;
        loop {
            tokio::select! {
                event = background.next() => match event {
                    Some(WatchEvent::Synced(report)) => {
                        if failures > 0 {
                            println!("reconnected after {}", plural(failures, "failure", "failures"));
                        }
                        failures = 0;
                        println!("{}", report_line(&report));
                    }
                    Some(WatchEvent::Disconnected { error, retry_in }) if retry_in == Duration::MAX => {
                        bail!("syncing with {url}: {error}");
                    }
                    Some(WatchEvent::Disconnected { error, retry_in }) => {
                        failures += 1;
                        eprintln!("sync with {url} failed: {error}; retrying in {retry_in:?}");
                    }
                    None => bail!("the background sync with {url} stopped unexpectedly"),
                },
                _ = &mut stop => break,
            }
            let _ = std::io::stdout().flush();
        }
        background.stop().await;
        println!("stopped");
        Ok(())
    })
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn ago(ms: u64) -> String {
    let secs = ms / 1000;
    match secs {
        0..60 => format!("{secs} s ago"),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86400 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86400),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "(none)".into(),
        other => values::to_text(other),
    }
}

fn status(path: &Path, keys: &KeyArgs) -> Result<()> {
    if !path.exists() {
        bail!(
            "{} does not exist: give the database file a sync command used",
            path.display()
        );
    }
    let db = crate::open(path, keys)?;
    let node = SyncNode::new(db.clone());
    let me = node.node_id();
    let frontier = node.frontier().context("reading the sync frontier")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "database: {}", path.display())?;
    writeln!(out, "node id:  {me}")?;
    writeln!(
        out,
        "frontier ({}):",
        plural(frontier.len() as u64, "origin", "origins")
    )?;
    for (origin, seq) in frontier.iter() {
        let mine = if origin == me { " (this node)" } else { "" };
        writeln!(
            out,
            "  {origin}  {}{mine}",
            plural(seq, "commit", "commits")
        )?;
    }
    let peers = node
        .peers()
        .context("reading the peers' acknowledgements")?;
    if peers.is_empty() {
        let (queued, oldest) = node
            .pending_for(&VersionVector::new())
            .context("measuring the offline queue")?;
        writeln!(
            out,
            "offline queue: {} made here, no peer has acknowledged any yet",
            plural(queued, "commit", "commits")
        )?;
        if let Some(oldest) = oldest {
            let age = unix_ms(SystemTime::now()).saturating_sub(oldest.physical_ms());
            writeln!(out, "  oldest: {oldest} ({})", ago(age))?;
        }
    }
    for (peer, acked) in &peers {
        let (queued, oldest) = node
            .pending_for(acked)
            .context("measuring the offline queue")?;
        write!(
            out,
            "offline queue for peer {peer}: {} of this node's not acknowledged",
            plural(queued, "commit", "commits")
        )?;
        match oldest {
            Some(oldest) => {
                let age = unix_ms(SystemTime::now()).saturating_sub(oldest.physical_ms());
                writeln!(out, ", oldest {oldest} ({})", ago(age))?;
            }
            None => writeln!(out)?,
        }
    }
    let sql = EmbeddedDatabase::from_database(db);
    let conflicts = sql
        .query(
            "SELECT id, table_name, row_key, rule, before, after FROM heliosdb_conflicts",
            &[],
        )
        .context("reading heliosdb_conflicts")?;
    let total = conflicts.rows.len();
    writeln!(
        out,
        "conflicts: {total} recorded{}",
        if total > 10 {
            ", the 10 most recent:"
        } else {
            ""
        }
    )?;
    for row in conflicts.rows.iter().rev().take(10) {
        let v = &row.values;
        writeln!(
            out,
            "  #{} {} key {} ({}): {} -> {}",
            text(&v[0]),
            text(&v[1]),
            text(&v[2]),
            text(&v[3]),
            text(&v[4]),
            text(&v[5])
        )?;
    }
    out.flush()?;
    Ok(())
}

pub fn token(command: TokenCommand) -> Result<()> {
    match command {
        TokenCommand::Keygen { out } => {
            let key = RootKey::generate();
            key.save(&out)?;
            eprintln!(
                "root key written to {} (keep it secret; `heliosdb sync serve --root-key {}` \
                 uses it, `heliosdb token issue --root-key {}` signs tokens with it)",
                out.display(),
                out.display(),
                out.display()
            );
            println!("{}", key.public_key_string());
        }
        TokenCommand::Issue {
            root_key,
            read,
            write,
            ttl,
            device,
        } => {
            let root = RootKey::load(&root_key)?;
            let spec = TokenSpec {
                read: tables(&read),
                write: tables(&write),
                ttl,
                device,
            };
            if spec.read.is_empty() && spec.write.is_empty() {
                bail!(
                    "the token would allow nothing: give --read TABLES and/or --write TABLES \
                     (comma separated, * for all)"
                );
            }
            let token = auth::issue(&root, &spec)?;
            eprintln!(
                "token: read [{}], write [{}], valid for {ttl:?}{}",
                spec.read.join(", "),
                spec.write.join(", "),
                spec.device
                    .as_deref()
                    .map(|d| format!(", device {d}"))
                    .unwrap_or_default()
            );
            println!("{token}");
        }
        TokenCommand::Attenuate {
            token,
            read,
            write,
            ttl,
        } => {
            let restrict = Attenuation {
                read: read.as_deref().map(tables),
                write: write.as_deref().map(tables),
                ttl,
            };
            if restrict == Attenuation::default() {
                bail!("give at least one of --read TABLES, --write TABLES, --ttl DURATION");
            }
            println!("{}", auth::attenuate(&token_text(&token)?, &restrict)?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_only() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["", "10", "s", "1x", "-1s", "0s", "99999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn table_lists_split_on_commas() {
        assert_eq!(tables("a, b,,c"), vec!["a", "b", "c"]);
        assert!(tables("").is_empty());
        assert_eq!(tables("*"), vec!["*"]);
    }
}
