//! Sync over QUIC on loopback: clients converge through a server, tokens are checked before
//! any data moves, rights filter and refuse per table, wrong certificates and hostile bytes
//! are refused, and a sync cut in the middle resumes without applying anything twice.
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use heliosdb_core::{ColumnSpec, DataType, Database, TableSpec, Value};
use heliosdb_sync::SyncNode;
use heliosdb_sync::auth::{self, Attenuation, RootKey, TokenSpec};
use heliosdb_sync::net::proto::{self, AuthRequest};
use heliosdb_sync::net::{
    Limits, NetError, RefusalKind, ServerIdentity, SyncClient, SyncConfig, SyncServer, Trust, close,
};

fn node() -> Arc<SyncNode> {
    let db = Database::open_in_memory().unwrap();
    let mut w = db.begin_write().unwrap();
    for name in ["notes", "secret"] {
        w.create_table(
            &TableSpec::new(name)
                .column(ColumnSpec::new("k", DataType::Integer))
                .column(ColumnSpec::new("body", DataType::Text))
                .primary_key(["k"]),
        )
        .unwrap();
    }
    w.commit().unwrap();
    Arc::new(SyncNode::new(db))
}

fn put(n: &SyncNode, table: &str, k: i64, body: &str) {
    let mut w = n.database().begin_write().unwrap();
    w.put(table, &[k.into(), body.into()]).unwrap();
    w.commit().unwrap();
}

fn rows(n: &SyncNode, table: &str) -> Vec<Vec<Value>> {
    let r = n.database().begin_read().unwrap();
    r.scan(table, ..)
        .unwrap()
        .map(|row| row.unwrap().values().unwrap())
        .collect()
}

fn spec(read: &[&str], write: &[&str]) -> TokenSpec {
    TokenSpec {
        read: read.iter().map(|s| s.to_string()).collect(),
        write: write.iter().map(|s| s.to_string()).collect(),
        ttl: Duration::from_secs(3600),
        device: None,
    }
}

struct Setup {
    root: RootKey,
    identity: ServerIdentity,
    server_node: Arc<SyncNode>,
    server: SyncServer,
    url: String,
}

impl Setup {
    fn start(limits: Limits) -> Setup {
        heliosdb_sync::net::install_crypto_provider();
        let root = RootKey::generate();
        let identity = ServerIdentity::self_signed_dev().unwrap();
        let server_node = node();
        let server = SyncServer::bind(
            "127.0.0.1:0".parse().unwrap(),
            &identity,
            server_node.clone(),
            root.public(),
            limits,
        )
        .unwrap();
        server.spawn();
        let url = format!("quic://127.0.0.1:{}", server.local_addr().unwrap().port());
        Setup {
            root,
            identity,
            server_node,
            server,
            url,
        }
    }

    fn token(&self, read: &[&str], write: &[&str]) -> String {
        auth::issue(&self.root, &spec(read, write)).unwrap()
    }

    fn client_with(&self, node: &Arc<SyncNode>, token: String) -> SyncClient {
        let trust = Trust::Pin(self.server.fingerprint().to_owned());
        SyncClient::new(SyncConfig::new(&self.url, token, trust, node.clone())).unwrap()
    }

    fn client(&self, node: &Arc<SyncNode>) -> SyncClient {
        self.client_with(node, self.token(&["*"], &["*"]))
    }
}

fn refused_kind(
    result: Result<heliosdb_sync::net::SyncReport, NetError>,
) -> (RefusalKind, Option<String>, String) {
    match result {
        Err(NetError::Refused {
            kind,
            table,
            message,
        }) => (kind, table, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_converge_through_the_server() {
    let s = Setup::start(Limits::default());
    let (a, b) = (node(), node());
    put(&a, "notes", 1, "from a");
    put(&b, "notes", 2, "from b");
    put(&s.server_node, "notes", 3, "from the server");
    let (ca, cb) = (s.client(&a), s.client(&b));
    // Concurrently, then once more each so that each gets what the other pushed.
    let (ra, rb) = tokio::join!(ca.sync(), cb.sync());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    // Each pushes its schema commit (CREATE TABLE, run on every node) and its row.
    assert_eq!(ra.sent_commits, 2);
    assert_eq!(rb.sent_commits, 2);
    assert!(ra.bytes_sent > 0 && ra.bytes_received > 0);
    ca.sync().await.unwrap();
    cb.sync().await.unwrap();
    let expected = rows(&s.server_node, "notes");
    assert_eq!(expected.len(), 3);
    assert_eq!(rows(&a, "notes"), expected);
    assert_eq!(rows(&b, "notes"), expected);
    // Nothing left to exchange: a sync now moves nothing.
    let idle = ca.sync().await.unwrap();
    assert_eq!((idle.sent_commits, idle.received_commits), (0, 0));
    assert!(!idle.incomplete);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_resolves_the_same_on_all_three() {
    let s = Setup::start(Limits::default());
    let (a, b) = (node(), node());
    put(&a, "notes", 1, "a's version");
    put(&b, "notes", 1, "b's version");
    let (ca, cb) = (s.client(&a), s.client(&b));
    ca.sync().await.unwrap();
    let rb = cb.sync().await.unwrap();
    ca.sync().await.unwrap();
    let expected = rows(&s.server_node, "notes");
    assert_eq!(expected.len(), 1);
    assert_eq!(rows(&a, "notes"), expected);
    assert_eq!(rows(&b, "notes"), expected);
    assert!(rb.conflicts >= 1, "b saw a's concurrent write: {rb:?}");
    assert!(!s.server_node.conflicts().unwrap().is_empty());
    assert!(!b.conflicts().unwrap().is_empty());
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_refused_before_data_moves() {
    let s = Setup::start(Limits::default());
    put(&s.server_node, "notes", 1, "server row");
    let client_node = node();
    put(&client_node, "notes", 2, "client row");

    let expired = auth::issue_at(
        &s.root,
        &spec(&["*"], &["*"]),
        SystemTime::now() - Duration::from_secs(7200),
    )
    .unwrap();
    let other_root = RootKey::generate();
    let foreign = auth::issue(&other_root, &spec(&["*"], &["*"])).unwrap();
    let tampered = {
        let token = auth::issue(&s.root, &spec(&["aaaaaaaa"], &["aaaaaaaa"])).unwrap();
        let mut bytes = biscuit_auth::UnverifiedBiscuit::from_base64(&token)
            .unwrap()
            .to_vec()
            .unwrap();
        let at = bytes.windows(8).position(|w| w == b"aaaaaaaa").unwrap();
        bytes[at..at + 8].copy_from_slice(b"zzzzzzzz");
        biscuit_auth::UnverifiedBiscuit::from(&bytes)
            .unwrap()
            .to_base64()
            .unwrap()
    };
    for (token, kind) in [
        (expired, RefusalKind::TokenExpired),
        (foreign, RefusalKind::WrongRootKey),
        (tampered, RefusalKind::TokenTampered),
        ("garbage".to_owned(), RefusalKind::TokenGarbled),
    ] {
        let (got, _, message) = refused_kind(s.client_with(&client_node, token).sync().await);
        assert_eq!(got, kind, "{message}");
    }
    // Nothing moved either way.
    assert_eq!(rows(&s.server_node, "notes").len(), 1);
    assert_eq!(rows(&client_node, "notes").len(), 1);
    assert!(
        !s.server_node
            .frontier()
            .unwrap()
            .iter()
            .any(|(n, _)| n == client_node.node_id())
    );
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_outside_the_attenuated_rights_is_refused_whole() {
    let s = Setup::start(Limits::default());
    let client_node = node();
    put(&client_node, "notes", 1, "allowed");
    put(&client_node, "secret", 1, "not allowed");
    put(&client_node, "notes", 2, "allowed too");
    let token = s.token(&["*"], &["notes", "secret"]);
    let narrowed = auth::attenuate(
        &token,
        &Attenuation {
            write: Some(vec!["notes".into()]),
            ..Attenuation::default()
        },
    )
    .unwrap();
    let (kind, table, message) = refused_kind(s.client_with(&client_node, narrowed).sync().await);
    assert_eq!(kind, RefusalKind::Forbidden);
    assert_eq!(table.as_deref(), Some("secret"), "{message}");
    // The batch held all three commits: none applied.
    assert!(rows(&s.server_node, "notes").is_empty());
    assert!(rows(&s.server_node, "secret").is_empty());
    // The full token pushes it all.
    s.client_with(&client_node, token).sync().await.unwrap();
    assert_eq!(rows(&s.server_node, "notes").len(), 2);
    assert_eq!(rows(&s.server_node, "secret").len(), 1);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_read_rights_never_receives_those_rows() {
    let s = Setup::start(Limits::default());
    put(&s.server_node, "notes", 1, "public");
    put(&s.server_node, "secret", 1, "hidden");
    {
        // One commit with both tables: only the readable half may arrive.
        let mut w = s.server_node.database().begin_write().unwrap();
        w.put("notes", &[2.into(), "public too".into()]).unwrap();
        w.put("secret", &[2.into(), "hidden too".into()]).unwrap();
        w.commit().unwrap();
    }
    let reader = node();
    // Write on "*": the reader pushes its own CREATE TABLE commit, secret included.
    let token = s.token(&["notes"], &["*"]);
    let report = s.client_with(&reader, token.clone()).sync().await.unwrap();
    let server_id = s.server_node.node_id();
    let server_commits = s.server_node.frontier().unwrap().get(&server_id);
    assert_eq!(
        server_commits, 4,
        "schema, two single rows, one commit with both"
    );
    assert_eq!(
        report.received_commits, server_commits,
        "filtered commits are still applied (empty or in part)"
    );
    assert_eq!(rows(&reader, "notes"), rows(&s.server_node, "notes"));
    assert!(rows(&reader, "secret").is_empty());
    // Its frontier covers the filtered commits, so it is not offered them again.
    assert_eq!(
        reader.frontier().unwrap().get(&server_id),
        s.server_node.frontier().unwrap().get(&server_id)
    );
    let again = s.client_with(&reader, token).sync().await.unwrap();
    assert_eq!(again.received_commits, 0);
    // A client with the right gets everything.
    let full = node();
    s.client(&full).sync().await.unwrap();
    assert_eq!(rows(&full, "secret").len(), 2);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_pinned_fingerprint_is_refused_by_the_client() {
    let s = Setup::start(Limits::default());
    let client_node = node();
    put(&client_node, "notes", 1, "must not leave");
    let wrong = "ab".repeat(32);
    let client = SyncClient::new(SyncConfig::new(
        &s.url,
        s.token(&["*"], &["*"]),
        Trust::Pin(wrong.clone()),
        client_node.clone(),
    ))
    .unwrap();
    match client.sync().await {
        Err(NetError::FingerprintMismatch { expected, found }) => {
            assert_eq!(expected, wrong);
            assert_eq!(found, s.server.fingerprint());
        }
        other => panic!("expected a fingerprint mismatch, got {other:?}"),
    }
    assert!(rows(&s.server_node, "notes").is_empty());
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_file_trusts_the_server_it_signed_and_no_other() {
    heliosdb_sync::net::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let make = |name: &str| {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .unwrap();
        let cert = dir.path().join(format!("{name}.pem"));
        let key = dir.path().join(format!("{name}.key"));
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        (cert, key)
    };
    let (cert, key) = make("server");
    let (other_cert, _) = make("other");
    let identity = ServerIdentity::from_pem_files(&cert, &key).unwrap();
    let root = RootKey::generate();
    let server = SyncServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        &identity,
        node(),
        root.public(),
        Limits::default(),
    )
    .unwrap();
    server.spawn();
    let url = format!("quic://127.0.0.1:{}", server.local_addr().unwrap().port());
    let token = auth::issue(&root, &spec(&["*"], &["*"])).unwrap();
    let client_node = node();
    put(&client_node, "notes", 1, "x");
    let trusted = SyncClient::new(SyncConfig::new(
        &url,
        token.clone(),
        Trust::CaFile(cert),
        client_node.clone(),
    ))
    .unwrap();
    // The schema commit and the row.
    assert_eq!(trusted.sync().await.unwrap().sent_commits, 2);
    let untrusted = SyncClient::new(SyncConfig::new(
        &url,
        token,
        Trust::CaFile(other_cert),
        client_node,
    ))
    .unwrap();
    match untrusted.sync().await {
        Err(NetError::UntrustedCertificate { found, .. }) => {
            assert_eq!(found, identity.fingerprint())
        }
        other => panic!("expected an untrusted certificate, got {other:?}"),
    }
    server.shutdown().await;
}

/// The application close code the server ended `conn` with.
async fn closed_with(conn: &quinn::Connection) -> u64 {
    match tokio::time::timeout(Duration::from_secs(10), conn.closed())
        .await
        .expect("the server closes a misbehaving connection")
    {
        quinn::ConnectionError::ApplicationClosed(close) => close.error_code.into_inner(),
        other => panic!("expected an application close, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_truncated_and_oversize_frames_close_only_that_connection() {
    let s = Setup::start(Limits::default());
    let good_node = node();
    put(&good_node, "notes", 1, "still served");
    let good = s.client(&good_node);
    let token = s.token(&["*"], &["*"]);

    // Garbage instead of the auth frame: its length prefix is over the bound.
    let (endpoint, conn) = good.connect().await.unwrap();
    let (mut send, _recv) = conn.open_bi().await.unwrap();
    send.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let code = closed_with(&conn).await;
    assert!(
        code == u64::from(close::TOO_LARGE) || code == u64::from(close::PROTOCOL),
        "code {code}"
    );

    // A syncing client is unaffected while another connection misbehaves.
    let (_e2, bad) = good.connect().await.unwrap();
    let (mut bad_send, _bad_recv) = bad.open_bi().await.unwrap();
    bad_send.write_all(&[0xff; 64]).await.unwrap();
    good.sync().await.unwrap();
    assert_eq!(closed_with(&bad).await, u64::from(close::TOO_LARGE));

    // A valid auth frame, then a truncated sync frame and the end of the stream.
    let (_e3, conn) = good.connect().await.unwrap();
    let (mut send, _recv) = conn.open_bi().await.unwrap();
    send.write_all(
        &proto::encode_control(&AuthRequest {
            token: token.clone(),
        })
        .unwrap(),
    )
    .await
    .unwrap();
    let hello = proto::encode_wire_record(&heliosdb_sync::wire::Message::Hello {
        node: good_node.node_id(),
        frontier: good_node.frontier().unwrap(),
    })
    .unwrap();
    send.write_all(&hello[..hello.len() - 3]).await.unwrap();
    send.finish().unwrap();
    assert_eq!(closed_with(&conn).await, u64::from(close::PROTOCOL));

    // A valid token, then a corrupted frame (checksum).
    let (_e4, conn) = good.connect().await.unwrap();
    let (mut send, _recv) = conn.open_bi().await.unwrap();
    send.write_all(
        &proto::encode_control(&AuthRequest {
            token: token.clone(),
        })
        .unwrap(),
    )
    .await
    .unwrap();
    let mut corrupt = hello.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0x55;
    send.write_all(&corrupt).await.unwrap();
    assert_eq!(closed_with(&conn).await, u64::from(close::PROTOCOL));

    // A sync frame header claiming more than the frame limit.
    let (_e5, conn) = good.connect().await.unwrap();
    let (mut send, _recv) = conn.open_bi().await.unwrap();
    send.write_all(&proto::encode_control(&AuthRequest { token }).unwrap())
        .await
        .unwrap();
    let mut huge = hello.clone();
    huge[1 + 7..1 + 11].copy_from_slice(&(60u32 * 1024 * 1024).to_le_bytes());
    send.write_all(&huge[..16]).await.unwrap();
    assert_eq!(closed_with(&conn).await, u64::from(close::TOO_LARGE));

    // And the server still serves.
    put(&good_node, "notes", 2, "after the garbage");
    let report = good.sync().await.unwrap();
    assert_eq!(report.sent_commits, 1);
    assert_eq!(rows(&s.server_node, "notes").len(), 2);
    drop(endpoint);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_cut_in_the_middle_resumes_without_applying_anything_twice() {
    const COMMITS: u64 = 300;
    let limits = Limits {
        batch_commits_max: 5,
        ..Limits::default()
    };
    let s = Setup::start(limits);
    for k in 0..COMMITS as i64 {
        put(&s.server_node, "notes", k, "row");
    }
    let server_id = s.server_node.node_id();
    // The puts and the server's CREATE TABLE commit.
    let total = s.server_node.frontier().unwrap().get(&server_id);
    assert_eq!(total, COMMITS + 1);
    let client_node = node();
    let client = Arc::new(s.client(&client_node));

    let task = {
        let client = client.clone();
        tokio::spawn(async move { client.sync().await })
    };
    // Cut the sync once the first batches are in.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let have = client_node.frontier().unwrap().get(&server_id);
        assert!(have < total, "the sync finished before it could be cut");
        if have > 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no batch arrived");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    // Let a batch being applied when the task was cut finish (it is atomic either way).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let applied_before = client_node.frontier().unwrap().get(&server_id);
    assert!(applied_before > 0 && applied_before < total);
    // The server's first commit is its CREATE TABLE: no row.
    assert_eq!(rows(&client_node, "notes").len() as u64, applied_before - 1);

    let report = client.sync().await.unwrap();
    assert_eq!(
        report.received_commits,
        total - applied_before,
        "the resumed sync applies exactly what was missing"
    );
    assert_eq!(rows(&client_node, "notes"), rows(&s.server_node, "notes"));
    assert_eq!(client_node.frontier().unwrap().get(&server_id), total);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_urls_and_pins_are_typed_errors() {
    let n = node();
    for url in [
        "http://127.0.0.1:1",
        "quic://127.0.0.1",
        "quic://127.0.0.1:1/x",
    ] {
        let err = SyncClient::new(SyncConfig::new(
            url,
            "t",
            Trust::Pin("ab".repeat(32)),
            n.clone(),
        ))
        .unwrap_err();
        assert!(matches!(err, NetError::BadUrl { .. }), "{url}: {err:?}");
    }
    let err = SyncClient::new(SyncConfig::new(
        "quic://127.0.0.1:1",
        "t",
        Trust::Pin("nope".into()),
        n,
    ))
    .unwrap_err();
    assert!(matches!(err, NetError::BadFingerprint(_)), "{err:?}");
}

/// Waits (at most `limit`) until `table` on `n` has `count` rows; returns whether it did.
async fn wait_rows(n: &SyncNode, table: &str, count: usize, limit: Duration) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if rows(n, table).len() == count {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    false
}

/// The background mode: a commit on A reaches B through the server with nothing calling
/// `sync` — A pushes on its commit, the server pokes B, B pulls — again and again on the
/// same connections; when the server goes and comes back on the same port, the clients
/// reconnect by themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_mode_delivers_commits_without_polling() {
    let setup = Setup::start(Limits::default());
    let (a, b) = (node(), node());
    let mut watch_a = setup.client(&a).watch();
    let mut watch_b = setup.client(&b).watch();
    for (i, watch) in [&mut watch_a, &mut watch_b].into_iter().enumerate() {
        match tokio::time::timeout(Duration::from_secs(10), watch.next()).await {
            Ok(Some(heliosdb_sync::net::WatchEvent::Synced(_))) => {}
            other => panic!("client {i}: expected a first sync, got {other:?}"),
        }
    }
    for i in 1..=20 {
        put(&a, "notes", i, &format!("from a {i}"));
        assert!(
            wait_rows(&b, "notes", i as usize, Duration::from_secs(10)).await,
            "commit {i} of A did not reach B"
        );
    }
    put(&b, "notes", 100, "from b");
    assert!(wait_rows(&a, "notes", 21, Duration::from_secs(10)).await);
    assert_eq!(rows(&a, "notes"), rows(&b, "notes"));
    assert_eq!(rows(&a, "notes"), rows(&setup.server_node, "notes"));

    // The server restarts on the same port, with the same database and certificate:
    // both clients reconnect by themselves and catch up.
    let port = setup.server.local_addr().unwrap().port();
    setup.server.shutdown().await;
    drop(setup.server);
    put(&a, "notes", 200, "written while the server was down");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let server = SyncServer::bind(
        format!("127.0.0.1:{port}").parse().unwrap(),
        &setup.identity,
        setup.server_node.clone(),
        setup.root.public(),
        Limits::default(),
    )
    .unwrap();
    server.spawn();
    assert!(
        wait_rows(&b, "notes", 22, Duration::from_secs(40)).await,
        "B did not get A's offline commit after the server came back"
    );
    let mut saw_disconnect = false;
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(50), watch_a.next()).await
    {
        saw_disconnect |= matches!(event, heliosdb_sync::net::WatchEvent::Disconnected { .. });
    }
    assert!(saw_disconnect, "A reported losing the server");
    watch_a.stop().await;
    watch_b.stop().await;
    server.shutdown().await;
}

/// A server configured for HS256 JWTs takes them as tokens with the same rights: a JWT
/// allowing writes to `notes` only pushes `notes` and is refused for `secret`; a JWT
/// signed with another secret is refused before any data moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_bearer_tokens_map_to_rights() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    heliosdb_sync::net::install_crypto_provider();
    let root = RootKey::generate();
    let identity = ServerIdentity::self_signed_dev().unwrap();
    let server_node = node();
    let server = SyncServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        &identity,
        server_node.clone(),
        root.public(),
        Limits::default(),
    )
    .unwrap()
    .accept_jwt(heliosdb_sync::jwt::JwtConfig {
        hs256_secret: Some(b"shared secret".to_vec()),
        ..Default::default()
    })
    .unwrap();
    server.spawn();
    let url = format!("quic://127.0.0.1:{}", server.local_addr().unwrap().port());
    let jwt = |secret: &[u8], write: &str| {
        let exp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 600;
        let claims = format!(
            r#"{{"exp":{exp},"sub":"app-user-1","heliosdb_read":["*"],"heliosdb_write":{write}}}"#
        );
        let signed = format!(
            "{}.{}",
            B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
            B64.encode(claims.as_bytes())
        );
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        format!(
            "{signed}.{}",
            B64.encode(ring::hmac::sign(&key, signed.as_bytes()).as_ref())
        )
    };
    let client = |n: &Arc<SyncNode>, token: String| {
        let trust = Trust::Pin(server.fingerprint().to_owned());
        SyncClient::new(SyncConfig::new(&url, token, trust, n.clone())).unwrap()
    };
    let a = node();
    // The tables (a's CREATE TABLEs) need write on both; rows then on notes only.
    let both = r#"["notes","secret"]"#;
    client(&a, jwt(b"shared secret", both))
        .sync()
        .await
        .unwrap();
    put(&a, "notes", 1, "via jwt");
    let notes_only = r#"["notes"]"#;
    client(&a, jwt(b"shared secret", notes_only))
        .sync()
        .await
        .unwrap();
    assert_eq!(rows(&server_node, "notes"), rows(&a, "notes"));
    put(&a, "secret", 1, "not allowed");
    let (kind, table, _) = refused_kind(
        client(&a, jwt(b"shared secret", r#"["notes"]"#))
            .sync()
            .await,
    );
    assert_eq!(kind, RefusalKind::Forbidden);
    assert_eq!(table.as_deref(), Some("secret"));
    assert!(rows(&server_node, "secret").is_empty());
    let b = node();
    let (kind, _, _) = refused_kind(client(&b, jwt(b"wrong secret", r#"["*"]"#)).sync().await);
    assert_eq!(kind, RefusalKind::TokenTampered);
    assert!(
        rows(&b, "notes").is_empty(),
        "no data before the token verifies"
    );
    server.shutdown().await;
}

/// Hubs peer with each other: hub 2 serves its own clients and syncs as a client of hub
/// 1. A's write on hub 1 reaches B on hub 2 with its origin kept, B's reaches A, and a
/// kept connection (`session`) syncs repeatedly without new handshakes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubs_peer_with_each_other() {
    let h1 = Setup::start(Limits::default());
    let h2 = Setup::start(Limits::default());
    let (a, b) = (node(), node());
    put(&a, "notes", 1, "from a");
    h1.client(&a).sync().await.unwrap();
    let hub_link = h1.client(&h2.server_node);
    hub_link.sync().await.unwrap();
    h2.client(&b).sync().await.unwrap();
    assert_eq!(rows(&b, "notes"), rows(&a, "notes"));
    assert!(
        b.frontier().unwrap().get(&a.node_id()) > 0,
        "A's commits keep A as origin"
    );
    put(&b, "notes", 2, "from b");
    h2.client(&b).sync().await.unwrap();
    let session = hub_link.session().await.unwrap();
    let moved = session.sync().await.unwrap();
    assert!(moved.sent_commits > 0);
    let idle = session.sync().await.unwrap();
    assert_eq!((idle.sent_commits, idle.received_commits), (0, 0));
    session.close().await;
    h1.client(&a).sync().await.unwrap();
    assert_eq!(rows(&a, "notes"), rows(&b, "notes"));
    assert_eq!(rows(&a, "notes").len(), 2);
    // Nothing echoes: a second round everywhere moves nothing.
    for report in [
        h1.client(&a).sync().await.unwrap(),
        hub_link.sync().await.unwrap(),
        h2.client(&b).sync().await.unwrap(),
    ] {
        assert_eq!((report.sent_commits, report.received_commits), (0, 0));
    }
}
