//! heliosdb-core ("ours"): a typed table `kv(k BLOB PRIMARY KEY, v BLOB)` through the public
//! transaction API, durable commits (the default).

use std::path::Path;

use anyhow::{Context, Result, bail};
use heliosdb_core::{ColumnSpec, DataType, Database, TableSpec, Value, ValueRef};

use super::{BenchArgs, Check, Engine, Key, Row};

const TABLE: &str = "kv";

pub struct Ours {
    db: Database,
}

pub fn open(path: &Path, _args: &BenchArgs) -> Result<Box<dyn Engine>> {
    from_database(Database::open(path)?, true)
}

/// The engine over an already open database (any backend, any options), creating the `kv`
/// table when `create` is set; without it the table must exist (a reopened database).
pub fn from_database(db: Database, create: bool) -> Result<Box<dyn Engine>> {
    if create {
        let mut tx = db.begin_write()?;
        tx.create_table(
            &TableSpec::new(TABLE)
                .column(ColumnSpec::new("k", DataType::Blob))
                .column(ColumnSpec::new("v", DataType::Blob))
                .primary_key(["k"]),
        )?;
        tx.commit()?;
    }
    Ok(Box::new(Ours { db }))
}

impl Ours {
    fn insert(&self, rows: &[Row]) -> Result<()> {
        let mut tx = self.db.begin_write()?;
        for (k, v) in rows {
            tx.insert(TABLE, &[Value::Blob(k.to_vec()), Value::Blob(v.to_vec())])?;
        }
        tx.commit()?;
        Ok(())
    }
}

impl Engine for Ours {
    fn bulk_insert(&mut self, rows: &[Row]) -> Result<()> {
        self.insert(rows)
    }

    fn durable_commits(&mut self, rows: &[Row]) -> Result<()> {
        for row in rows {
            self.insert(std::slice::from_ref(row))?;
        }
        Ok(())
    }

    fn point_reads(&self, keys: &[Key]) -> Result<Check> {
        let tx = self.db.begin_read()?;
        let mut check = Check::default();
        for k in keys {
            let row = tx
                .get(TABLE, &[Value::Blob(k.to_vec())])?
                .with_context(|| format!("ours: key {k:02x?} not found"))?;
            match row.get(1)?.as_ref() {
                ValueRef::Blob(v) => check.add(v),
                _ => bail!("ours: column v of key {k:02x?} is not a blob"),
            }
        }
        Ok(check)
    }

    fn full_scan(&self) -> Result<Check> {
        let tx = self.db.begin_read()?;
        let mut check = Check::default();
        for row in tx.scan(TABLE, ..)? {
            let row = row?;
            match row.get(1)?.as_ref() {
                ValueRef::Blob(v) => check.add(v),
                _ => bail!("ours: column v is not a blob"),
            }
        }
        Ok(check)
    }
}
