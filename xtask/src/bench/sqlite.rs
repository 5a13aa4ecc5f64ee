//! SQLite through rusqlite (bundled): WAL journal, a rowid table with a BLOB primary key,
//! cached prepared statements. This is SQLite as applications commonly use it.

use std::path::Path;

use anyhow::{Result, bail, ensure};
use rusqlite::{Connection, params};

use super::{BenchArgs, Check, Engine, Key, Row};

const INSERT: &str = "INSERT INTO kv(k, v) VALUES (?1, ?2)";
const GET: &str = "SELECT v FROM kv WHERE k = ?1";
const SCAN: &str = "SELECT v FROM kv";

pub struct Sqlite {
    conn: Connection,
}

pub fn open(path: &Path, args: &BenchArgs) -> Result<Box<dyn Engine>> {
    let conn = Connection::open(path)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    ensure!(
        mode.eq_ignore_ascii_case("wal"),
        "sqlite: journal_mode is {mode}, not wal"
    );
    conn.pragma_update(None, "synchronous", args.sqlite_synchronous.pragma())?;
    conn.execute_batch("CREATE TABLE kv(k BLOB PRIMARY KEY, v BLOB NOT NULL)")?;
    Ok(Box::new(Sqlite { conn }))
}

impl Engine for Sqlite {
    fn bulk_insert(&mut self, rows: &[Row]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(INSERT)?;
            for (k, v) in rows {
                insert.execute(params![&k[..], &v[..]])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn durable_commits(&mut self, rows: &[Row]) -> Result<()> {
        // Autocommit: every statement is its own transaction.
        let mut insert = self.conn.prepare_cached(INSERT)?;
        for (k, v) in rows {
            insert.execute(params![&k[..], &v[..]])?;
        }
        Ok(())
    }

    fn point_reads(&self, keys: &[Key]) -> Result<Check> {
        let tx = self.conn.unchecked_transaction()?;
        let mut check = Check::default();
        {
            let mut get = tx.prepare_cached(GET)?;
            for k in keys {
                let mut rows = get.query(params![&k[..]])?;
                let Some(row) = rows.next()? else {
                    bail!("sqlite: key {k:02x?} not found");
                };
                check.add(row.get_ref(0)?.as_blob()?);
            }
        }
        tx.commit()?;
        Ok(check)
    }

    fn full_scan(&self) -> Result<Check> {
        let tx = self.conn.unchecked_transaction()?;
        let mut check = Check::default();
        {
            let mut scan = tx.prepare_cached(SCAN)?;
            let mut rows = scan.query([])?;
            while let Some(row) = rows.next()? {
                check.add(row.get_ref(0)?.as_blob()?);
            }
        }
        tx.commit()?;
        Ok(check)
    }
}
