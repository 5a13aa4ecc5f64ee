//! The `heliosdb` command-line tool.
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use heliosdb_nano::{
    Change, ColumnSpec, DataType, Database, DatabaseOptions, Hlc, TableSpec, ValueRef,
};

#[derive(Parser)]
#[command(
    name = "heliosdb",
    version,
    about = "HeliosDB Nano: an embedded database in one file"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Open an interactive shell on a database file (created if missing).
    Shell {
        /// The database file.
        #[arg(default_value = "heliosdb.db")]
        path: PathBuf,
    },
    /// Print a database's node id, tables and row counts.
    Info {
        #[arg(default_value = "heliosdb.db")]
        path: PathBuf,
    },
    /// Verify the checksum of every page of a database file.
    Check {
        #[arg(default_value = "heliosdb.db")]
        path: PathBuf,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Shell { path } => shell(&path),
        Command::Info { path } => info(&path),
        Command::Check { path } => {
            let options = DatabaseOptions {
                verify_on_open: true,
                ..Default::default()
            };
            Database::open_with(&path, options)
                .with_context(|| format!("checking {}", path.display()))?;
            println!("{}: every page verified", path.display());
            Ok(())
        }
    }
}

fn info(path: &PathBuf) -> Result<()> {
    let db = Database::open(path).with_context(|| format!("opening {}", path.display()))?;
    let r = db.begin_read()?;
    println!("file:     {}", path.display());
    println!("node id:  {}", db.node_id());
    println!("commits:  {}", r.last_commit_seq()?);
    for t in r.catalog().tables() {
        println!("table {} ({} rows)", t.name, r.scan(&t.name, ..)?.count());
    }
    Ok(())
}

const KV: &str = "kv";

const HELP: &str = "\
This is a key-value shell over the storage engine: SQL arrives with the SQL engine.
Keys and values are text, stored in the table `kv`.
  put KEY VALUE      insert or replace (VALUE is the rest of the line)
  get KEY            print the value
  del KEY            delete
  scan [PREFIX]      list pairs in key order
  asof MS KEY        the value at a past time (Unix milliseconds)
  changes [SEQ]      the change log after commit SEQ (default 0)
  info               node id, commits, tables
  help, \\q";

fn shell(path: &PathBuf) -> Result<()> {
    let db = Database::open(path).with_context(|| format!("opening {}", path.display()))?;
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        println!(
            "heliosdb shell on {} (node {})",
            path.display(),
            db.node_id()
        );
        println!("Key-value commands until the SQL engine lands; type `help`.");
    }
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        if interactive {
            print!("heliosdb> ");
            std::io::stdout().flush()?;
        }
        let Some(line) = lines.next() else { break };
        let line = line?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if matches!(line, "\\q" | "quit" | "exit") {
            break;
        }
        if let Err(e) = run(&db, line) {
            eprintln!("error: {e:#}");
            if !interactive {
                std::process::exit(1);
            }
        }
    }
    Ok(())
}

fn ensure_kv(db: &Database) -> Result<()> {
    if db.begin_read()?.catalog().table(KV).is_ok() {
        return Ok(());
    }
    let mut w = db.begin_write()?;
    if w.catalog().table(KV).is_err() {
        w.create_table(
            &TableSpec::new(KV)
                .column(ColumnSpec::new("key", DataType::Text))
                .column(ColumnSpec::new("value", DataType::Text))
                .primary_key(["key"]),
        )?;
    }
    w.commit()?;
    Ok(())
}

fn text(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Text(s) => s.to_owned(),
        other => other.to_owned().to_string(),
    }
}

fn run(db: &Database, line: &str) -> Result<()> {
    let (cmd, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    match cmd {
        "help" | "\\?" => println!("{HELP}"),
        "info" => {
            let r = db.begin_read()?;
            println!("node {}  commits {}", db.node_id(), r.last_commit_seq()?);
            for t in r.catalog().tables() {
                println!("table {} ({} rows)", t.name, r.scan(&t.name, ..)?.count());
            }
        }
        "put" => {
            let (key, value) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            if key.is_empty() {
                bail!("usage: put KEY VALUE");
            }
            ensure_kv(db)?;
            let mut w = db.begin_write()?;
            w.put(KV, &[key.into(), value.trim_start().into()])?;
            let info = w.commit()?;
            println!("ok (commit {} at {})", info.commit_seq, info.commit_ts);
        }
        "get" => {
            ensure_kv(db)?;
            let r = db.begin_read()?;
            match r.get(KV, &[rest.into()])? {
                Some(row) => println!("{}", text(row.get(1)?)),
                None => println!("(not found)"),
            }
        }
        "del" => {
            ensure_kv(db)?;
            let mut w = db.begin_write()?;
            let existed = w.delete(KV, &[rest.into()])?;
            w.commit()?;
            println!("{}", if existed { "deleted" } else { "(not found)" });
        }
        "scan" => {
            ensure_kv(db)?;
            let r = db.begin_read()?;
            for row in r.scan(KV, ..)? {
                let row = row?;
                let key = text(row.get(0)?);
                if key.starts_with(rest) {
                    println!("{key} = {}", text(row.get(1)?));
                }
            }
        }
        "asof" => {
            let (ms, key) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let ms: u64 = ms.parse().context("usage: asof UNIX_MS KEY")?;
            ensure_kv(db)?;
            let r = db.begin_read()?;
            match r.get_as_of(KV, &[key.trim().into()], Hlc::at_unix_ms(ms))? {
                Some(row) => println!("{}", text(row.get(1)?)),
                None => println!("(not present then)"),
            }
        }
        "changes" => {
            let since: u64 = if rest.is_empty() {
                0
            } else {
                rest.parse().context("usage: changes [SEQ]")?
            };
            let r = db.begin_read()?;
            for c in r.changes_since(since, 1000)? {
                let what = match &c.change {
                    Change::Insert { key, columns } => format!("insert {key:?} {columns:?}"),
                    Change::Update { key, columns } => format!("update {key:?} {columns:?}"),
                    Change::Delete { key } => format!("delete {key:?}"),
                    Change::Schema(s) => format!("schema {s:?}"),
                };
                println!(
                    "#{}.{} {} {} {what}",
                    c.position.commit_seq, c.position.index, c.commit_ts, c.table
                );
            }
        }
        other => bail!("unknown command {other:?}; type `help`"),
    }
    Ok(())
}
