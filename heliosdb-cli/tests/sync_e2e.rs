//! Sync end to end: the built `heliosdb` binary as real processes on 127.0.0.1 sockets —
//! random workloads with clients going offline converge, SIGKILL of a client or of the
//! server in the middle of a sync loses and duplicates nothing, tokens and pins are
//! enforced through the CLI, and hostile bytes leave the server serving.
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_heliosdb");

fn s(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

fn heliosdb(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running heliosdb")
}

fn describe(args: &[&str], o: &Output) -> String {
    format!(
        "heliosdb {args:?}: {}\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs heliosdb, asserts success, returns stdout.
fn ok(args: &[&str]) -> String {
    let o = heliosdb(args);
    assert!(o.status.success(), "{}", describe(args, &o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs heliosdb, asserts failure, returns stderr.
fn fails(args: &[&str]) -> String {
    let o = heliosdb(args);
    assert!(
        !o.status.success(),
        "expected a failure: {}",
        describe(args, &o)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A child process killed (SIGKILL) and reaped when dropped, test failure or not.
struct Proc(Option<Child>);

impl Proc {
    fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("the process is running")
    }

    fn sigkill(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits for the exit (SIGKILL after `limit`); whether it exited 0.
    fn terminate(&mut self, limit: Duration) -> bool {
        let Some(mut child) = self.0.take() else {
            return false;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + limit;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return status.success(),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return false;
                }
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.sigkill();
    }
}

fn spawn(args: &[&str]) -> Proc {
    let child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning heliosdb");
    Proc(Some(child))
}

/// Collects a pipe's text in the background (so that the child never blocks on it).
fn drain(mut pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}

/// A `heliosdb sync serve` process.
struct Server {
    proc: Proc,
    addr: String,
    fingerprint: String,
    node: String,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts a server; `identity` is `None` for `--dev`, or a certificate and key file.
    fn start(db: &Path, root_key: &Path, listen: &str, identity: Option<(&Path, &Path)>) -> Server {
        Server::start_with(db, root_key, listen, identity, &[])
    }

    fn start_with(
        db: &Path,
        root_key: &Path,
        listen: &str,
        identity: Option<(&Path, &Path)>,
        extra: &[&str],
    ) -> Server {
        let mut args = vec![
            "sync",
            "serve",
            "--db",
            s(db),
            "--listen",
            listen,
            "--root-key",
            s(root_key),
        ];
        match identity {
            None => args.push("--dev"),
            Some((cert, key)) => args.extend(["--cert", s(cert), "--key", s(key)]),
        }
        args.extend(extra);
        let mut proc = spawn(&args);
        let stdout = proc.child().stdout.take().unwrap();
        let stderr = drain(proc.child().stderr.take().unwrap());
        let (lines_tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    // Keep reading so that the server never blocks on a full pipe.
                    continue;
                }
            }
        });
        let (mut addr, mut fingerprint, mut node) = (None, None, None);
        let deadline = Instant::now() + Duration::from_secs(30);
        while addr.is_none() || fingerprint.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "the server did not print its address and fingerprint; stderr:\n{}",
                    stderr.lock().unwrap()
                )
            });
            if let Some(a) = line.strip_prefix("listening on ") {
                addr = Some(a.trim().to_owned());
            } else if let Some(f) = line.strip_prefix("fingerprint ") {
                fingerprint = Some(f.trim().to_owned());
            } else if let Some(rest) = line.split("(node ").nth(1) {
                node = Some(rest.trim_end_matches(')').to_owned());
            }
        }
        Server {
            proc,
            addr: addr.unwrap(),
            fingerprint: fingerprint.unwrap(),
            node: node.expect("the server prints its node id"),
            stderr,
        }
    }

    fn url(&self) -> String {
        format!("quic://{}", self.addr)
    }

    fn port(&self) -> u16 {
        self.addr.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Graceful stop (SIGTERM); asserts a clean exit.
    fn stop(mut self) {
        let clean = self.proc.terminate(Duration::from_secs(20));
        assert!(
            clean,
            "the server did not exit cleanly on SIGTERM; stderr:\n{}",
            self.stderr.lock().unwrap()
        );
    }

    fn sync_args<'a>(&'a self, db: &'a str, token: &'a str, url: &'a str) -> Vec<&'a str> {
        vec![
            "sync",
            "run",
            "--db",
            db,
            "--server",
            url,
            "--token",
            token,
            "--pin",
            &self.fingerprint,
        ]
    }

    /// One `heliosdb sync run`; its output.
    fn sync(&self, db: &Path, token: &str) -> Output {
        let url = self.url();
        heliosdb(&self.sync_args(s(db), token, &url))
    }

    /// One `heliosdb sync run` that must succeed; its stdout.
    fn sync_ok(&self, db: &Path, token: &str) -> String {
        let url = self.url();
        ok(&self.sync_args(s(db), token, &url))
    }
}

struct Setup {
    dir: tempfile::TempDir,
    root_key: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let root_key = dir.path().join("root.key");
        let public = ok(&["token", "keygen", "--out", s(&root_key)]);
        assert!(public.trim().starts_with("ed25519/"), "{public}");
        Setup { dir, root_key }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A token file (`@path`) for these rights.
    fn token(&self, name: &str, read: &str, write: &str, ttl: &str) -> String {
        let token = ok(&[
            "token",
            "issue",
            "--root-key",
            s(&self.root_key),
            "--read",
            read,
            "--write",
            write,
            "--ttl",
            ttl,
        ]);
        let path = self.path(name);
        std::fs::write(&path, token.trim()).unwrap();
        format!("@{}", s(&path))
    }

    fn server(&self, db: &Path) -> Server {
        Server::start(db, &self.root_key, "127.0.0.1:0", None)
    }
}

fn sql(db: &Path, text: &str) -> String {
    ok(&["sql", s(db), "-c", text])
}

fn csv(db: &Path, table: &str) -> String {
    ok(&[
        "sql",
        s(db),
        "-c",
        &format!("SELECT * FROM {table} ORDER BY k"),
        "--format",
        "csv",
    ])
}

/// The number after `label` in a sync report (`sent:`, `received:`).
fn reported(out: &str, label: &str) -> u64 {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {label:?} in the report:\n{out}"))
}

/// `heliosdb sync status`: the node id and the frontier's commit count per origin.
fn status(db: &Path) -> (String, Vec<(String, u64)>) {
    let out = ok(&["sync", "status", "--db", s(db)]);
    let node = out
        .lines()
        .find_map(|l| l.strip_prefix("node id:"))
        .unwrap_or_else(|| panic!("no node id in:\n{out}"))
        .trim()
        .to_owned();
    let frontier = out
        .lines()
        .skip_while(|l| !l.starts_with("frontier"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| {
            let mut words = l.split_whitespace();
            let origin = words.next().unwrap().to_owned();
            let n = words.next().unwrap().parse().unwrap();
            (origin, n)
        })
        .collect();
    (node, frontier)
}

/// How many commits of `origin` the database at `db` has.
fn has_of(db: &Path, origin: &str) -> u64 {
    status(db)
        .1
        .into_iter()
        .find(|(o, _)| o == origin)
        .map_or(0, |(_, n)| n)
}

/// A small deterministic generator (xorshift64*), seeded per run and printed.
struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let seed = std::env::var("HELIOSDB_E2E_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("HELIOSDB_E2E_SEED={seed}");
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn random_workloads_with_offline_clients_converge_on_all_four() {
    let setup = Setup::new();
    let server_db = setup.path("server.db");
    sql(
        &server_db,
        "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT, n INTEGER); \
         INSERT INTO t VALUES (0, 'from the server', 0), (1, 'from the server', 0)",
    );
    let token = setup.token("all.token", "*", "*", "1h");
    let server = setup.server(&server_db);
    let clients: Vec<PathBuf> = (0..3).map(|i| setup.path(&format!("c{i}.db"))).collect();
    for c in &clients {
        let out = server.sync_ok(c, &token);
        assert_eq!(reported(&out, "received:"), 2, "the schema and the rows");
    }
    let mut rng = Rng::seeded();
    let url = server.url();
    let mut skipped = 0;
    for round in 0..5 {
        let mut online = Vec::new();
        for (i, c) in clients.iter().enumerate() {
            let mut statements = Vec::new();
            for j in 0..(3 + rng.below(5)) {
                let k = rng.below(24);
                statements.push(match rng.below(10) {
                    0..=4 => format!(
                        "INSERT INTO t VALUES ({k}, 'c{i} r{round} s{j}', {}) ON CONFLICT DO NOTHING",
                        rng.below(100)
                    ),
                    5..=7 => {
                        format!("UPDATE t SET v = 'c{i} r{round} s{j} upd', n = n + 1 WHERE k = {k}")
                    }
                    _ => format!("DELETE FROM t WHERE k = {k}"),
                });
            }
            sql(c, &statements.join("; "));
            // Client 2 is offline for rounds 1 and 2; the others now and then.
            let offline = (i == 2 && (1..=2).contains(&round)) || rng.below(4) == 0;
            if offline {
                skipped += 1;
            } else {
                online.push(c.clone());
            }
        }
        // The online clients sync at the same time.
        let procs: Vec<(PathBuf, Proc)> = online
            .into_iter()
            .map(|c| {
                let p = spawn(&server.sync_args(s(&c), &token, &url));
                (c, p)
            })
            .collect();
        for (c, mut p) in procs {
            let out = p.0.take().unwrap().wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: {}",
                describe(&["sync", "run", "--db", s(&c)], &out)
            );
        }
    }
    assert!(skipped >= 2);
    // Everyone back: a pass pushes everything to the server, a second brings it to all.
    for _ in 0..2 {
        for c in &clients {
            server.sync_ok(c, &token);
        }
    }
    server.stop();
    let expected = csv(&server_db, "t");
    assert!(
        expected.lines().count() > 1,
        "no rows left at all:\n{expected}"
    );
    for c in &clients {
        assert_eq!(
            csv(c, "t"),
            expected,
            "{} differs from the server",
            c.display()
        );
    }
}

/// `commits` commits of 8 rows each in table `t` (plus its CREATE TABLE).
fn big_database(db: &Path, commits: usize) {
    let mut text = String::from("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT, n INTEGER);\n");
    for c in 0..commits {
        let rows: Vec<String> = (0..8)
            .map(|i| {
                let k = c * 8 + i;
                format!("({k}, 'row {k} of the initial load', {i})")
            })
            .collect();
        text.push_str(&format!("INSERT INTO t VALUES {};\n", rows.join(", ")));
    }
    let path = db.with_extension("sql");
    std::fs::write(&path, text).unwrap();
    let status = Command::new(BIN)
        .args(["sql", s(db)])
        .stdin(std::fs::File::open(&path).unwrap())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Tries `attempt` with delays at these fractions of `full` until it reports a partial
/// state (`Some(true)`); `Some(false)`: too late, `None`: too early.
fn cut_mid_sync(full: Duration, mut attempt: impl FnMut(Duration) -> Option<bool>) {
    let mut seen = Vec::new();
    for fraction in [0.5, 0.3, 0.7, 0.15, 0.85, 0.4, 0.6] {
        let delay = full.mul_f64(fraction);
        let outcome = attempt(delay);
        eprintln!("cut after {delay:?} (of {full:?}): partial {outcome:?}");
        if outcome == Some(true) {
            return;
        }
        seen.push((delay, outcome));
    }
    panic!("never cut a sync in the middle (delay, partial?): {seen:?}");
}

#[test]
fn sigkill_of_a_client_then_of_the_server_mid_sync_loses_and_duplicates_nothing() {
    // 8,000 rows in 1,000 commits, served in batches of 50 commits: a cut falls between
    // two batches (each applies atomically) more often than not.
    const COMMITS: usize = 1000;
    const BATCH: &[&str] = &["--batch-commits", "50"];
    let setup = Setup::new();
    let big = setup.path("big.db");
    big_database(&big, COMMITS);
    let (origin, frontier) = status(&big);
    let total = frontier
        .iter()
        .find(|(o, _)| *o == origin)
        .map(|(_, n)| *n)
        .unwrap();
    assert_eq!(total, COMMITS as u64 + 1);
    let token = setup.token("all.token", "*", "*", "1h");

    // --- A client killed while it pulls.
    let server = Server::start_with(&big, &setup.root_key, "127.0.0.1:0", None, BATCH);
    assert_eq!(
        server.node, origin,
        "the server serves the database it was given"
    );
    let reference = setup.path("reference.db");
    let start = Instant::now();
    let out = server.sync_ok(&reference, &token);
    let full = start.elapsed();
    assert_eq!(reported(&out, "received:"), total);
    let expected = csv(&reference, "t");
    assert_eq!(expected.lines().count(), COMMITS * 8 + 1);

    let mut n = 0;
    let url = server.url();
    cut_mid_sync(full, |delay| {
        n += 1;
        let client = setup.path(&format!("killed{n}.db"));
        let mut p = spawn(&server.sync_args(s(&client), &token, &url));
        std::thread::sleep(delay);
        let finished = p.child().try_wait().unwrap().is_some();
        p.sigkill();
        if finished || !client.exists() {
            return if finished { Some(false) } else { None };
        }
        let before = has_of(&client, &origin);
        eprintln!("client killed with {before} of {total} commits");
        if before == 0 {
            return None;
        }
        if before == total {
            return Some(false);
        }
        // Restarted: the sync completes with exactly what was missing.
        let out = server.sync_ok(&client, &token);
        assert_eq!(
            before + reported(&out, "received:"),
            total,
            "had {before} commits, then received:\n{out}"
        );
        assert_eq!(has_of(&client, &origin), total);
        assert_eq!(csv(&client, "t"), expected, "rows lost or changed");
        let again = server.sync_ok(&client, &token);
        assert_eq!(reported(&again, "received:"), 0, "nothing is sent twice");
        Some(true)
    });
    server.stop();

    // --- The server killed while a client pushes everything to it (relayed from the
    // reference copy), restarted on the same database, port and certificate.
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert_file, key_file) = (setup.path("cert.pem"), setup.path("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.signing_key.serialize_pem()).unwrap();
    let identity = Some((cert_file.as_path(), key_file.as_path()));
    let mut n = 0;
    let mut port = 0;
    cut_mid_sync(full, |delay| {
        n += 1;
        let db = setup.path(&format!("server{n}.db"));
        let listen = format!("127.0.0.1:{port}");
        let server = Server::start_with(&db, &setup.root_key, &listen, identity, BATCH);
        port = server.port();
        let url = server.url();
        let mut client = spawn(&server.sync_args(s(&reference), &token, &url));
        std::thread::sleep(delay);
        let finished = client.child().try_wait().unwrap().is_some();
        let mut server_proc = server.proc;
        server_proc.sigkill();
        client.sigkill();
        if finished {
            return Some(false);
        }
        let before = has_of(&db, &origin);
        eprintln!("server killed with {before} of {total} commits");
        if before == total {
            return Some(false);
        }
        if before == 0 {
            return None;
        }
        let listen = format!("127.0.0.1:{port}");
        let server = Server::start_with(&db, &setup.root_key, &listen, identity, BATCH);
        assert_eq!(server.port(), port, "restarted on the same port");
        let out = server.sync_ok(&reference, &token);
        assert_eq!(
            before + reported(&out, "sent:"),
            total,
            "the server had {before} commits, then the client sent:\n{out}"
        );
        server.stop();
        assert_eq!(has_of(&db, &origin), total);
        assert_eq!(
            csv(&db, "t"),
            expected,
            "rows lost or changed on the server"
        );
        Some(true)
    });
}

#[test]
fn tokens_rights_and_pins_are_enforced_through_the_cli() {
    let setup = Setup::new();
    let server_db = setup.path("server.db");
    sql(
        &server_db,
        "CREATE TABLE notes (k INTEGER PRIMARY KEY, body TEXT); \
         CREATE TABLE secret (k INTEGER PRIMARY KEY, body TEXT); \
         INSERT INTO notes VALUES (1, 'public'), (2, 'also public'); \
         INSERT INTO secret VALUES (1, 'the launch codes')",
    );
    let full = setup.token("full.token", "*", "*", "1h");
    let short = setup.token("short.token", "*", "*", "1s");
    let started = Instant::now();
    let server = setup.server(&server_db);

    // Another server's root key.
    let other_key = setup.path("other.key");
    ok(&["token", "keygen", "--out", s(&other_key)]);
    let foreign = ok(&[
        "token",
        "issue",
        "--root-key",
        s(&other_key),
        "--read",
        "*",
        "--write",
        "*",
        "--ttl",
        "1h",
    ]);
    let o = server.sync(&setup.path("foreign.db"), foreign.trim());
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("another root key"), "{err}");

    // A wrong pin: refused by the client, naming both fingerprints.
    let wrong = "ab".repeat(32);
    let url = server.url();
    let err = fails(&[
        "sync",
        "run",
        "--db",
        s(&setup.path("pinned.db")),
        "--server",
        &url,
        "--token",
        &full,
        "--pin",
        &wrong,
    ]);
    assert!(
        err.contains(&wrong) && err.contains(&server.fingerprint),
        "{err}"
    );

    // Read filtering: without read rights on `secret`, none of it arrives.
    let reader = setup.path("reader.db");
    let notes_only = setup.token("notes.token", "notes", "notes", "1h");
    server.sync_ok(&reader, &notes_only);
    let info = ok(&["info", s(&reader)]);
    assert!(info.contains("table notes (2 rows)"), "{info}");
    assert!(
        !info.contains("table secret") || info.contains("table secret (0 rows)"),
        "{info}"
    );

    // An attenuated token pushing to a table outside its rights: refused, nothing applied.
    let narrowed = ok(&["token", "attenuate", "--token", &full, "--write", "notes"]);
    let narrowed = narrowed.trim();
    let writer = setup.path("writer.db");
    server.sync_ok(&writer, narrowed);
    sql(
        &writer,
        "BEGIN; INSERT INTO notes VALUES (100, 'smuggled'); \
         INSERT INTO secret VALUES (100, 'smuggled'); COMMIT",
    );
    let o = server.sync(&writer, narrowed);
    assert!(!o.status.success(), "{}", describe(&["sync", "run"], &o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("secret") && err.contains("does not allow writing"),
        "{err}"
    );
    let observer = setup.path("observer.db");
    server.sync_ok(&observer, &full);
    assert!(!csv(&observer, "notes").contains("smuggled"));
    assert!(!csv(&observer, "secret").contains("smuggled"));
    assert!(csv(&observer, "secret").contains("launch codes"));

    // An expired token.
    std::thread::sleep(Duration::from_secs(2).saturating_sub(started.elapsed()));
    let o = server.sync(&setup.path("late.db"), &short);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("expired"), "{err}");
    server.stop();
}

#[test]
fn garbage_and_truncated_frames_leave_the_server_serving() {
    use heliosdb_nano::sync::SyncNode;
    use heliosdb_nano::sync::net::proto::{self, AuthRequest};
    use heliosdb_nano::sync::net::{SyncClient, SyncConfig, Trust};
    use heliosdb_nano::sync::wire::Message;

    let setup = Setup::new();
    let server_db = setup.path("server.db");
    sql(
        &server_db,
        "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT, n INTEGER); INSERT INTO t VALUES (1, 'x', 1)",
    );
    let token_file = setup.token("all.token", "*", "*", "1h");
    let token = std::fs::read_to_string(token_file.trim_start_matches('@')).unwrap();
    let server = setup.server(&server_db);

    // Raw UDP: junk of every size, and a packet that looks like a QUIC Initial.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut rng = Rng(0x5eed);
    for size in [0usize, 1, 7, 20, 100, 1200, 1500, 9000] {
        let junk: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
        udp.send_to(&junk, &server.addr).unwrap();
    }
    let mut initial = vec![0xc0, 0, 0, 0, 1, 8];
    initial.extend((0..1194).map(|_| rng.next() as u8));
    udp.send_to(&initial, &server.addr).unwrap();
    udp.send_to(&initial[..40], &server.addr).unwrap();

    // Raw QUIC: a verified connection that then sends garbage or truncated frames.
    heliosdb_nano::sync::net::install_crypto_provider();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let node = Arc::new(SyncNode::new(
        heliosdb_nano::core::Database::open_in_memory().unwrap(),
    ));
    let client = SyncClient::new(SyncConfig::new(
        server.url(),
        token.trim(),
        Trust::Pin(server.fingerprint.clone()),
        node.clone(),
    ))
    .unwrap();
    let auth = proto::encode_control(&AuthRequest {
        token: token.trim().to_owned(),
    })
    .unwrap();
    let hello = proto::encode_wire_record(&Message::Hello {
        node: node.node_id(),
        frontier: node.frontier().unwrap(),
    })
    .unwrap();
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        (
            "http garbage",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            false,
        ),
        ("0xff bytes", vec![0xff; 64], false),
        (
            "a truncated auth frame",
            auth[..auth.len() / 2].to_vec(),
            true,
        ),
        (
            "auth, then a truncated hello",
            [&auth[..], &hello[..hello.len() - 3]].concat(),
            true,
        ),
        (
            "auth, then garbage",
            [&auth[..], &[0x01, 0x02, 0x03][..]].concat(),
            true,
        ),
    ];
    rt.block_on(async {
        for (what, bytes, finish) in cases {
            let (endpoint, conn) = client.connect().await.unwrap();
            let (mut send, _recv) = conn.open_bi().await.unwrap();
            send.write_all(&bytes).await.unwrap();
            if finish {
                send.finish().unwrap();
            }
            let reason = tokio::time::timeout(Duration::from_secs(15), conn.closed())
                .await
                .unwrap_or_else(|_| panic!("{what}: the server did not close the connection"));
            eprintln!("{what}: closed with {reason}");
            drop(endpoint);
        }
        // A connection that opens nothing and goes away.
        let (endpoint, conn) = client.connect().await.unwrap();
        conn.close(0u32.into(), b"bye");
        drop(endpoint);
    });

    // A real client is served afterwards, both ways.
    let c = setup.path("client.db");
    let out = server.sync_ok(&c, &token_file);
    assert_eq!(reported(&out, "received:"), 2);
    sql(&c, "INSERT INTO t VALUES (2, 'after the garbage', 2)");
    let out = server.sync_ok(&c, &token_file);
    assert_eq!(reported(&out, "sent:"), 1);
    server.stop();
    assert!(csv(&server_db, "t").contains("after the garbage"));
}

#[test]
fn watch_pulls_what_another_client_pushes_and_stops_on_sigterm() {
    let setup = Setup::new();
    let server_db = setup.path("server.db");
    sql(
        &server_db,
        "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT, n INTEGER)",
    );
    let token = setup.token("all.token", "*", "*", "1h");
    let server = setup.server(&server_db);
    let url = server.url();

    // A wrong pin ends --watch at once instead of retrying for ever.
    let watched = setup.path("watched.db");
    let wrong = "cd".repeat(32);
    let err = fails(&[
        "sync",
        "run",
        "--db",
        s(&watched),
        "--server",
        &url,
        "--token",
        &token,
        "--pin",
        &wrong,
        "--watch",
    ]);
    assert!(err.contains(&wrong), "{err}");

    let mut args = server.sync_args(s(&watched), &token, &url);
    args.push("--watch");
    let mut watcher = spawn(&args);
    let stdout = watcher.child().stdout.take().unwrap();
    let stderr = drain(watcher.child().stderr.take().unwrap());
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let wait_for = |what: &str, pred: &dyn Fn(&str) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) if pred(&line) => return line,
                Ok(_) => {}
                Err(_) => panic!(
                    "the watcher never printed {what}; stderr:\n{}",
                    stderr.lock().unwrap()
                ),
            }
        }
    };
    // Its first sync brings the schema.
    wait_for("its first sync", &|l| l.contains("received 1 commit"));

    let writer = setup.path("writer.db");
    server.sync_ok(&writer, &token);
    sql(
        &writer,
        "INSERT INTO t VALUES (7, 'pushed by another client', 1)",
    );
    assert_eq!(reported(&server.sync_ok(&writer, &token), "sent:"), 1);
    // The server pokes the watcher, which pulls the row without being asked.
    wait_for("a sync receiving the row", &|l| {
        l.contains("received 1 commit")
    });
    assert!(
        watcher.terminate(Duration::from_secs(20)),
        "--watch exits 0 on SIGTERM"
    );
    assert!(csv(&watched, "t").contains("pushed by another client"));
    server.stop();
}
