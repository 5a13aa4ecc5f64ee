//! `heliosdb demo`: the sync story on loopback with real QUIC, step by step.
//!
//! A server and two clients (a laptop and a phone), each its own database file in a
//! temporary directory; the server's `notes` table syncs down; both clients edit offline,
//! both changing the same row; they sync through the server, the conflict resolves the
//! same everywhere, and all three end with identical rows (checked by content hash).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use heliosdb_nano::sql::values;
use heliosdb_nano::sync::SyncNode;
use heliosdb_nano::sync::auth::{self, RootKey, TokenSpec};
use heliosdb_nano::sync::net::{
    self, Limits, ServerIdentity, SyncClient, SyncConfig, SyncServer, Trust,
};
use heliosdb_nano::{EmbeddedDatabase, Value};

use crate::sync_cmd::{human_bytes, plural};

const SCHEMA: &str = "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, author TEXT)";

struct Peer {
    name: &'static str,
    sql: EmbeddedDatabase,
    node: Arc<SyncNode>,
}

impl Peer {
    fn open(dir: &std::path::Path, name: &'static str) -> Result<Peer> {
        let path = dir.join(format!("{name}.db"));
        let sql =
            EmbeddedDatabase::open(&path).with_context(|| format!("opening {}", path.display()))?;
        let node = Arc::new(SyncNode::new(sql.database().clone()));
        Ok(Peer { name, sql, node })
    }

    fn run(&self, statement: &str) -> Result<()> {
        println!("   {:<7} {statement}", format!("{}:", self.name));
        self.sql
            .execute(statement, &[])
            .with_context(|| format!("{} running {statement}", self.name))?;
        Ok(())
    }

    fn rows(&self, query: &str) -> Result<Vec<Vec<Value>>> {
        let rows = self
            .sql
            .query(query, &[])
            .with_context(|| format!("{} running {query}", self.name))?;
        Ok(rows.rows.into_iter().map(|r| r.values).collect())
    }

    /// The notes, in key order.
    fn notes(&self) -> Result<Vec<Vec<Value>>> {
        self.rows("SELECT id, body, author FROM notes ORDER BY id")
    }
}

fn show(row: &[Value]) -> String {
    let cells: Vec<String> = row
        .iter()
        .map(|v| match v {
            Value::Null => "NULL".to_owned(),
            Value::Text(t) => format!("'{t}'"),
            other => values::to_text(other),
        })
        .collect();
    format!("({})", cells.join(", "))
}

/// SHA-256 of the rows as text (cells and rows separated by control characters).
fn content_hash(rows: &[Vec<Value>]) -> String {
    let mut text = String::new();
    for row in rows {
        for v in row {
            let cell = match v {
                Value::Null => "\u{0}NULL".to_owned(),
                other => values::to_text(other),
            };
            text.push_str(&cell);
            text.push('\u{1f}');
        }
        text.push('\u{1e}');
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    let mut hex = String::new();
    for b in digest.as_ref() {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

pub fn run() -> Result<()> {
    let start = Instant::now();
    net::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let dir = tempfile::tempdir().context("creating a temporary directory")?;

    println!("HeliosDB Nano sync demo: a server and two clients on loopback, over QUIC\n");
    println!("1. Set-up");
    println!("   working directory {}", dir.path().display());
    let server = Peer::open(dir.path(), "server")?;
    let laptop = Peer::open(dir.path(), "laptop")?;
    let phone = Peer::open(dir.path(), "phone")?;
    server.run(SCHEMA)?;
    server.run("INSERT INTO notes VALUES (1, 'buy milk', 'server')")?;

    let root = RootKey::generate();
    println!("   root key {}", root.public_key_string());
    let token = |device: &str| {
        auth::issue(
            &root,
            &TokenSpec {
                read: vec!["*".into()],
                write: vec!["notes".into()],
                ttl: Duration::from_secs(3600),
                device: Some(device.into()),
            },
        )
    };
    let (laptop_token, phone_token) = (token("laptop")?, token("phone")?);
    println!("   tokens for laptop and phone: read every table, write notes, valid 1 h");

    let identity = ServerIdentity::self_signed_dev()?;
    let sync_server = {
        let _runtime = rt.enter();
        let s = SyncServer::bind(
            "127.0.0.1:0".parse()?,
            &identity,
            server.node.clone(),
            root.public(),
            Limits::default(),
        )
        .context("binding a loopback UDP port")?;
        s.spawn();
        s
    };
    let url = format!("quic://{}", sync_server.local_addr()?);
    println!(
        "   server listening on {url}, dev certificate with fingerprint {}",
        sync_server.fingerprint()
    );
    println!("   laptop and phone pin that fingerprint (--pin)");
    let client = |peer: &Peer, token: &str| {
        SyncClient::new(SyncConfig::new(
            &url,
            token,
            Trust::Pin(sync_server.fingerprint().to_owned()),
            peer.node.clone(),
        ))
    };
    let laptop_client = client(&laptop, &laptop_token)?;
    let phone_client = client(&phone, &phone_token)?;
    let sync = |peer: &Peer, client: &SyncClient| -> Result<()> {
        let r = rt
            .block_on(client.sync())
            .with_context(|| format!("syncing {}", peer.name))?;
        println!(
            "   {:<7} synced in {} ms: sent {}, received {}, {} resolved here, {} up / {} down",
            format!("{}:", peer.name),
            r.duration.as_millis(),
            plural(r.sent_commits, "commit", "commits"),
            plural(r.received_commits, "commit", "commits"),
            plural(r.conflicts, "conflict", "conflicts"),
            human_bytes(r.bytes_sent),
            human_bytes(r.bytes_received)
        );
        Ok(())
    };
    sync(&laptop, &laptop_client)?;
    sync(&phone, &phone_client)?;
    for peer in [&laptop, &phone] {
        let rows = peer.notes()?;
        println!(
            "   {:<7} has the notes table, {} row(s)",
            format!("{}:", peer.name),
            rows.len()
        );
    }

    println!("\n2. Offline edits (no connection)");
    laptop.run("INSERT INTO notes VALUES (2, 'call the plumber', 'laptop')")?;
    laptop.run("UPDATE notes SET body = 'buy milk and eggs', author = 'laptop' WHERE id = 1")?;
    // A little later, so that the phone's edit is the last write.
    std::thread::sleep(Duration::from_millis(5));
    phone.run("INSERT INTO notes VALUES (3, 'book the dentist', 'phone')")?;
    phone.run("UPDATE notes SET body = 'buy oat milk', author = 'phone' WHERE id = 1")?;
    for peer in [&laptop, &phone] {
        println!(
            "   {:<7} row 1 reads {}",
            format!("{}:", peer.name),
            show(&peer.rows("SELECT id, body, author FROM notes WHERE id = 1")?[0])
        );
    }

    println!("\n3. Back online: sync laptop, phone, laptop");
    sync(&laptop, &laptop_client)?;
    sync(&phone, &phone_client)?;
    sync(&laptop, &laptop_client)?;
    println!("   conflicts recorded (SELECT * FROM heliosdb_conflicts):");
    let mut recorded = 0;
    for peer in [&server, &laptop, &phone] {
        for c in
            peer.rows("SELECT table_name, row_key, rule, before, after FROM heliosdb_conflicts")?
        {
            recorded += 1;
            let t = |v: &Value| match v {
                Value::Null => "(none)".to_owned(),
                other => values::to_text(other),
            };
            println!(
                "   {:<7} {} key {} by {}: {} -> {}",
                format!("{}:", peer.name),
                t(&c[0]),
                t(&c[1]),
                t(&c[2]),
                t(&c[3]),
                t(&c[4])
            );
        }
    }
    if recorded == 0 {
        bail!("both clients changed row 1, but no node recorded a conflict");
    }
    let winner = server.rows("SELECT id, body, author FROM notes WHERE id = 1")?;
    println!(
        "   the winning row 1 (last writer wins): {}",
        show(&winner[0])
    );

    println!("\n4. Convergence");
    let mut hashes = Vec::new();
    for peer in [&server, &laptop, &phone] {
        let rows = peer.notes()?;
        let hash = content_hash(&rows);
        println!(
            "   {:<7} {} rows, sha256 {}",
            format!("{}:", peer.name),
            rows.len(),
            &hash[..16]
        );
        for row in &rows {
            println!("            {}", show(row));
        }
        hashes.push(hash);
    }
    rt.block_on(sync_server.shutdown());
    if hashes.iter().any(|h| *h != hashes[0]) {
        bail!("the three databases differ after syncing: this is a bug, please report it");
    }
    println!(
        "   converged: all three databases hold identical rows ({} ms in all)",
        start.elapsed().as_millis()
    );
    Ok(())
}
