//! Raw redb: one `&[u8] -> &[u8]` table, no encoding on top. The ceiling for anything
//! built on redb.

use std::path::Path;

use anyhow::{Context, Result};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use super::{BenchArgs, Check, Engine, Key, Row};

const KV: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");

pub struct RawRedb {
    db: Database,
}

pub fn open(path: &Path, _args: &BenchArgs) -> Result<Box<dyn Engine>> {
    let db = Database::create(path)?;
    let tx = db.begin_write()?;
    tx.open_table(KV)?;
    tx.commit()?;
    Ok(Box::new(RawRedb { db }))
}

impl RawRedb {
    fn insert(&self, rows: &[Row]) -> Result<()> {
        let mut tx = self.db.begin_write()?;
        // The default, spelled out: fsync on commit.
        tx.set_durability(Durability::Immediate)?;
        {
            let mut table = tx.open_table(KV)?;
            for (k, v) in rows {
                table.insert(&k[..], &v[..])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

impl Engine for RawRedb {
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
        let table = tx.open_table(KV)?;
        let mut check = Check::default();
        for k in keys {
            let value = table
                .get(&k[..])?
                .with_context(|| format!("redb: key {k:02x?} not found"))?;
            check.add(value.value());
        }
        Ok(check)
    }

    fn full_scan(&self) -> Result<Check> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(KV)?;
        let mut check = Check::default();
        for item in table.iter()? {
            let (_key, value) = item?;
            check.add(value.value());
        }
        Ok(check)
    }
}
