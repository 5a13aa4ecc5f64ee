//! The `heliosdb` command-line tool.
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use heliosdb_nano::core::Database;
use heliosdb_nano::sql::session::Session;
use heliosdb_nano::{DatabaseOptions, KdfParams, Value};
use keys::{KeyArgs, NewKeyArgs};

mod demo;
mod keys;
mod output;
mod sync_cmd;
mod transfer;

#[derive(Parser)]
#[command(
    name = "heliosdb",
    version,
    about = "HeliosDB Nano: an embedded SQL database in one file, with sync over QUIC",
    after_help = "Start with `heliosdb demo`: two clients edit offline, sync through a server \
                  over QUIC, and converge."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Open an interactive SQL shell on a database file (created if missing).
    Shell {
        /// The database file.
        #[arg(default_value = "heliosdb.db")]
        path: PathBuf,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Run SQL (from -c, or from standard input) and print the results.
    Sql {
        /// The database file.
        path: PathBuf,
        /// The SQL to run; several statements may be separated by `;`.
        #[arg(short = 'c', long = "command")]
        command: Option<String>,
        /// How to print rows.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Load a CSV file (with a header row naming columns) into an existing table, all or
    /// nothing.
    Import {
        /// The database file.
        path: PathBuf,
        /// The table to load into.
        table: String,
        /// The CSV file.
        file: PathBuf,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Write a table (or a query's rows) as CSV with a header row.
    Export {
        /// The database file.
        path: PathBuf,
        /// The table to export.
        table: String,
        /// The CSV file to write; standard output when left out.
        file: Option<PathBuf>,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Print a database's node id, tables and row counts.
    Info {
        #[arg(default_value = "heliosdb.db")]
        path: PathBuf,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Verify the checksum of every page of a database file (and, when encrypted, the
    /// authentication tag of every block redb reads).
    Check {
        #[arg(default_value = "heliosdb.db")]
        path: PathBuf,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Change an encrypted database's key. By default the data key is re-wrapped under
    /// the new key: milliseconds whatever the file's size, plus the passphrase KDF.
    /// `--full` also re-encrypts every block under a fresh data key; a crash leaves
    /// either the old file or the new one, never a mix (it needs room for a copy).
    Rekey {
        /// The encrypted database file (it must not be open elsewhere).
        path: PathBuf,
        #[command(flatten)]
        keys: KeyArgs,
        #[command(flatten)]
        new_keys: NewKeyArgs,
        /// Re-encrypt every block under a new data key, not only re-wrap the data key.
        #[arg(long)]
        full: bool,
        /// PBKDF2-HMAC-SHA256 iterations for a new passphrase.
        #[arg(long, default_value_t = KdfParams::default().iterations)]
        kdf_iterations: u32,
    },
    /// Sync databases over QUIC: `serve` one, `run` a client against it, show `status`.
    Sync {
        #[command(subcommand)]
        command: sync_cmd::SyncCommand,
    },
    /// Sync tokens: make a server root key, issue tokens, narrow them offline.
    Token {
        #[command(subcommand)]
        command: sync_cmd::TokenCommand,
    },
    /// Run the whole sync story on loopback: a server, two clients editing offline, a
    /// conflict resolved, all three converged.
    Demo,
}

/// Output formats for rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// An aligned table, as psql prints it.
    Table,
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per row.
    Json,
}

fn main() {
    let result = match Cli::parse().command {
        Command::Shell { path, keys } => shell(&path, &keys),
        Command::Sql {
            path,
            command,
            format,
            keys,
        } => sql(&path, &keys, command, format),
        Command::Import {
            path,
            table,
            file,
            keys,
        } => open(&path, &keys).and_then(|db| transfer::import(&db, &table, &file)),
        Command::Export {
            path,
            table,
            file,
            keys,
        } => open(&path, &keys).and_then(|db| transfer::export(&db, &table, file.as_deref())),
        Command::Info { path, keys } => info(&path, &keys),
        Command::Check { path, keys } => check(&path, &keys),
        Command::Rekey {
            path,
            keys,
            new_keys,
            full,
            kdf_iterations,
        } => rekey(&path, &keys, &new_keys, full, kdf_iterations),
        Command::Sync { command } => sync_cmd::sync(command),
        Command::Token { command } => sync_cmd::token(command),
        Command::Demo => demo::run(),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn open(path: &Path, keys: &KeyArgs) -> Result<Database> {
    keys::open(path, keys, DatabaseOptions::default())
}

/// A SQL session that also sees the system tables (`heliosdb_conflicts`).
fn sql_session(path: &Path, keys: &KeyArgs) -> Result<Session> {
    let db = open(path, keys)?;
    let system = std::sync::Arc::new(heliosdb_nano::system_tables(&db));
    Ok(Session::new(db).with_system_tables(system))
}

fn check(path: &Path, keys: &KeyArgs) -> Result<()> {
    if !path.exists() {
        bail!("{} does not exist", path.display());
    }
    let options = DatabaseOptions {
        verify_on_open: true,
        ..Default::default()
    };
    keys::open(path, keys, options).with_context(|| format!("checking {}", path.display()))?;
    println!("{}: every page verified", path.display());
    Ok(())
}

fn rekey(
    path: &Path,
    keys: &KeyArgs,
    new_keys: &NewKeyArgs,
    full: bool,
    kdf_iterations: u32,
) -> Result<()> {
    if !path.exists() {
        bail!("{} does not exist", path.display());
    }
    let Some(old) = keys.source(false)? else {
        bail!("give the current key: --key-env VAR, --key-file FILE or --passphrase");
    };
    let new = new_keys.source()?;
    let kdf = KdfParams {
        iterations: kdf_iterations,
    };
    let started = Instant::now();
    if full {
        heliosdb_nano::crypto::reencrypt(path, &old, &new, kdf)
    } else {
        heliosdb_nano::crypto::rekey(path, &old, &new, kdf)
    }
    .with_context(|| format!("changing the key of {}", path.display()))?;
    let what = if full {
        "re-encrypted under a new data key and key"
    } else {
        "data key re-wrapped under the new key"
    };
    println!(
        "{}: {what} in {:.1} ms",
        path.display(),
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

fn info(path: &Path, keys: &KeyArgs) -> Result<()> {
    let db = open(path, keys)?;
    let r = db.begin_read()?;
    println!("file:     {}", path.display());
    println!("node id:  {}", db.node_id());
    println!("commits:  {}", r.last_commit_seq()?);
    for t in r.catalog().tables() {
        println!("table {} ({} rows)", t.name, r.scan(&t.name, ..)?.count());
    }
    Ok(())
}

/// Runs `text` and prints each outcome; returns whether every statement succeeded.
fn run_and_print(session: &mut Session, text: &str, format: Format, out: &mut impl Write) -> bool {
    match session.execute(text, &[]) {
        Ok(outcomes) => {
            for outcome in &outcomes {
                let _ = output::print(outcome, format, out);
            }
            true
        }
        Err(e) => {
            let _ = out.flush();
            eprint!("{}", e.render(text));
            false
        }
    }
}

fn sql(path: &Path, keys: &KeyArgs, command: Option<String>, format: Format) -> Result<()> {
    let mut session = sql_session(path, keys)?;
    let text = match command {
        Some(c) => c,
        None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading SQL from standard input")?;
            s
        }
    };
    let mut stdout = std::io::stdout().lock();
    if !run_and_print(&mut session, &text, format, &mut stdout) {
        std::process::exit(1);
    }
    Ok(())
}

const HELP: &str = "\
Type SQL ending in `;` (PostgreSQL dialect). Meta-commands:
  \\dt          list tables
  \\d TABLE     describe a table
  \\compression [TABLE]
               per column: codec, raw and stored bytes, ratio (all tables without TABLE)
  \\timing      toggle timing of statements
  \\q           quit";

/// Whether `buffer` holds complete statements: it ends in `;` outside quotes and comments.
fn complete(buffer: &str) -> bool {
    let (mut single, mut double, mut line_comment) = (false, false, false);
    let mut last = ' ';
    let mut chars = buffer.chars().peekable();
    while let Some(c) = chars.next() {
        if line_comment {
            if c == '\n' {
                line_comment = false;
            }
            continue;
        }
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '-' if !single && !double && chars.peek() == Some(&'-') => line_comment = true,
            _ => {}
        }
        if !c.is_whitespace() && !line_comment {
            last = c;
        }
    }
    !single && !double && last == ';'
}

fn meta(
    session: &mut Session,
    line: &str,
    timing: &mut bool,
    out: &mut impl Write,
) -> Result<bool> {
    let mut words = line.split_whitespace();
    match words.next().unwrap_or_default() {
        "\\q" => return Ok(false),
        "\\?" | "\\h" | "help" => println!("{HELP}"),
        "\\timing" => {
            *timing = !*timing;
            println!("Timing is {}.", if *timing { "on" } else { "off" });
        }
        "\\dt" => {
            let r = session.database().begin_read()?;
            let mut rows: Vec<Vec<Value>> = r
                .catalog()
                .tables()
                .map(|t| vec![Value::Text(t.name.clone()), Value::Text("table".into())])
                .collect();
            let views = heliosdb_nano::sql::views::Views::of(r.catalog())?;
            rows.extend(
                views
                    .views
                    .iter()
                    .map(|v| vec![Value::Text(v.name.clone()), Value::Text("view".into())]),
            );
            output::print_rows(&["name", "type"], &rows, Format::Table, out)?;
        }
        "\\d" => match words.next() {
            None => return meta(session, "\\dt", timing, out),
            Some(name) => {
                let r = session.database().begin_read()?;
                let table = r.catalog().table(name)?;
                let rows: Vec<Vec<Value>> = table
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let key = if table.primary_key.contains(&i) {
                            "primary key"
                        } else {
                            ""
                        };
                        vec![
                            Value::Text(c.name.clone()),
                            Value::Text(c.data_type.to_string().to_lowercase()),
                            Value::Text(if c.nullable { "" } else { "not null" }.into()),
                            Value::Text(key.into()),
                        ]
                    })
                    .collect();
                writeln!(out, "Table \"{}\"", table.name)?;
                output::print_rows(
                    &["column", "type", "nullable", "key"],
                    &rows,
                    Format::Table,
                    out,
                )?;
                for index in &table.indexes {
                    let cols: Vec<&str> = index
                        .columns
                        .iter()
                        .map(|&c| table.columns[c].name.as_str())
                        .collect();
                    let unique = if index.unique { "UNIQUE " } else { "" };
                    writeln!(
                        out,
                        "Index \"{}\": {unique}({})",
                        index.name,
                        cols.join(", ")
                    )?;
                }
            }
        },
        "\\compression" => {
            let r = session.database().begin_read()?;
            let tables: Vec<_> = match words.next() {
                Some(name) => vec![r.catalog().table(name)?.clone()],
                None => r.catalog().tables().cloned().collect(),
            };
            let mut rows = Vec::new();
            for table in tables {
                let layout = if table.is_columnar() {
                    "columnar"
                } else {
                    "row"
                };
                for s in r.compression_stats(&table.name)? {
                    rows.push(heliosdb_nano::compression_row(&table.name, layout, &s));
                }
            }
            output::print_rows(
                &[
                    "table_name",
                    "column_name",
                    "layout",
                    "codec",
                    "value_count",
                    "raw_bytes",
                    "stored_bytes",
                    "ratio",
                ],
                &rows,
                Format::Table,
                out,
            )?;
        }
        other => println!("unknown meta-command {other}; \\? lists them"),
    }
    Ok(true)
}

fn shell(path: &Path, keys: &KeyArgs) -> Result<()> {
    let mut session = sql_session(path, keys)?;
    let mut out = std::io::stdout();
    if !std::io::stdin().is_terminal() {
        // Piped input: run it all, stop at the first error with a non-zero exit.
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        let mut timing = false;
        let mut buffer = String::new();
        for line in text.lines() {
            if buffer.trim().is_empty() && line.trim_start().starts_with('\\') {
                if !meta(&mut session, line.trim(), &mut timing, &mut out)? {
                    return Ok(());
                }
                continue;
            }
            buffer.push_str(line);
            buffer.push('\n');
            if complete(&buffer) {
                if !run_and_print(&mut session, &buffer, Format::Table, &mut out) {
                    std::process::exit(1);
                }
                buffer.clear();
            }
        }
        if !buffer.trim().is_empty()
            && !run_and_print(&mut session, &buffer, Format::Table, &mut out)
        {
            std::process::exit(1);
        }
        return Ok(());
    }
    println!(
        "heliosdb shell on {} (node {}). \\? for help, \\q to quit.",
        path.display(),
        session.database().node_id()
    );
    let mut editor = rustyline::DefaultEditor::new()?;
    let history = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".heliosdb_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    let mut buffer = String::new();
    let mut timing = false;
    loop {
        let prompt = match (buffer.is_empty(), session.in_transaction()) {
            (true, false) => "heliosdb=> ",
            (true, true) => "heliosdb*> ",
            (false, _) => "heliosdb-> ",
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(rustyline::error::ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        if buffer.is_empty() && line.trim_start().starts_with('\\') {
            let _ = editor.add_history_entry(line.as_str());
            match meta(&mut session, line.trim(), &mut timing, &mut out) {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    continue;
                }
            }
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if complete(&buffer) {
            let _ = editor.add_history_entry(buffer.trim_end());
            let start = Instant::now();
            run_and_print(&mut session, &buffer, Format::Table, &mut out);
            if timing {
                println!("Time: {:.3} ms", start.elapsed().as_secs_f64() * 1000.0);
            }
            buffer.clear();
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::complete;

    #[test]
    fn statements_end_at_a_semicolon_outside_quotes() {
        assert!(complete("SELECT 1;"));
        assert!(complete("SELECT 1;\n  "));
        assert!(!complete("SELECT ';"));
        assert!(complete("SELECT ';';"));
        assert!(!complete("SELECT 1 -- done;"));
        assert!(!complete("SELECT\n1"));
    }
}
