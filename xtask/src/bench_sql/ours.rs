//! HeliosDB Nano ("ours") through its SQL API, `EmbeddedDatabase`: prepared statements for
//! the reads (each runs in its own autocommit read transaction), `Transaction::execute` for
//! writes inside a transaction (the SQL text is parsed once and then found in the
//! database's statement cache), or `Transaction::execute_prepared`. Commits are durable
//! (the default).

use std::path::Path;

use anyhow::{Result, bail, ensure};
use heliosdb_nano::{EmbeddedDatabase, Value};

use super::{
    BATCH, Check, Data, Engine, InsertHow, Q_INSERT, Q_SCAN_T, Rows, SCHEMA, Val, multi_insert_sql,
    with_literals,
};

pub struct Ours {
    db: EmbeddedDatabase,
}

pub fn open(path: &Path) -> Result<Box<dyn Engine>> {
    with_schema(EmbeddedDatabase::open(path)?, true)
}

/// The engine over an already open storage engine (any backend, any options), creating
/// SCHEMA when `create` is set; without it the tables must exist (a reopened database).
pub fn from_database(db: heliosdb_core::Database, create: bool) -> Result<Box<dyn Engine>> {
    with_schema(EmbeddedDatabase::from_database(db), create)
}

fn with_schema(db: EmbeddedDatabase, create: bool) -> Result<Box<dyn Engine>> {
    if create {
        for sql in SCHEMA {
            db.execute(sql, &[])?;
        }
    }
    Ok(Box::new(Ours { db }))
}

fn val(v: &Value) -> Result<Val<'_>> {
    Ok(match v {
        Value::Null => Val::Null,
        Value::Integer(i) => Val::Int(*i),
        Value::Real(r) => Val::Real(*r),
        Value::Text(t) => Val::Text(t),
        other => bail!("ours: unexpected {} value", other.type_name()),
    })
}

/// Adds every row of a result to `check`.
fn collect(rows: &heliosdb_nano::Rows, check: &mut Check) -> Result<()> {
    let mut values = Vec::new();
    for row in &rows.rows {
        values.clear();
        for v in &row.values {
            values.push(val(v)?);
        }
        check.add_row(&values);
    }
    Ok(())
}

impl Ours {
    /// Multi-row INSERTs of BATCH rows (and one for the remainder) in one transaction.
    fn batched(&self, rows: &Rows<'_>) -> Result<()> {
        let full = multi_insert_sql(rows.table, rows.cols, BATCH, false);
        let mut params = Vec::with_capacity(BATCH * rows.cols);
        let mut tx = self.db.transaction()?;
        let mut start = 0;
        while start < rows.len {
            let end = (start + BATCH).min(rows.len);
            params.clear();
            for i in start..end {
                (rows.fill)(i, &mut params);
            }
            let n = if end - start == BATCH {
                tx.execute(&full, &params)?
            } else {
                let sql = multi_insert_sql(rows.table, rows.cols, end - start, false);
                tx.execute(&sql, &params)?
            };
            ensure!(
                n == (end - start) as u64,
                "ours: INSERT of {} rows reported {n}",
                end - start
            );
            start = end;
        }
        tx.commit()?;
        Ok(())
    }
}

impl Engine for Ours {
    fn insert_t(&mut self, data: &Data, how: InsertHow) -> Result<()> {
        match how {
            InsertHow::PerRow => {
                let mut tx = self.db.transaction()?;
                for (id, k, v) in &data.t {
                    let params = [
                        Value::Integer(*id),
                        Value::Integer(*k),
                        Value::Text(v.clone()),
                    ];
                    tx.execute(Q_INSERT, &params)?;
                }
                tx.commit()?;
            }
            InsertHow::Batched => self.batched(&data.t_rows())?,
            InsertHow::ParsedOnce => {
                // A prepared statement run inside the transaction: parsed once.
                let insert = self.db.prepare(Q_INSERT)?;
                let mut tx = self.db.transaction()?;
                for (id, k, v) in &data.t {
                    let params = [
                        Value::Integer(*id),
                        Value::Integer(*k),
                        Value::Text(v.clone()),
                    ];
                    tx.execute_prepared(&insert, &params)?;
                }
                tx.commit()?;
            }
        }
        Ok(())
    }

    fn load(&mut self, rows: &Rows<'_>) -> Result<()> {
        self.batched(rows)
    }

    fn scan_t(&mut self) -> Result<Check> {
        let mut check = Check::default();
        collect(&self.db.query(Q_SCAN_T, &[])?, &mut check)?;
        Ok(check)
    }

    fn queries(&mut self, sql: &str, params: &[i64], arity: usize, literal: bool) -> Result<Check> {
        let mut check = Check::default();
        let sets: Vec<&[i64]> = if arity == 0 {
            vec![&[]]
        } else {
            params.chunks(arity).collect()
        };
        if literal {
            // Ad-hoc SQL text, parsed on every call.
            for set in sets {
                collect(&self.db.query(&with_literals(sql, set), &[])?, &mut check)?;
            }
        } else {
            let stmt = self.db.prepare(sql)?;
            let mut values = Vec::with_capacity(arity);
            for set in sets {
                values.clear();
                values.extend(set.iter().map(|&v| Value::Integer(v)));
                collect(&stmt.query(&values)?, &mut check)?;
            }
        }
        Ok(check)
    }

    fn explain(&mut self, sql: &str, params: &[i64]) -> Result<Vec<String>> {
        let params: Vec<Value> = params.iter().map(|&v| Value::Integer(v)).collect();
        let rows = self.db.query(&format!("EXPLAIN {sql}"), &params)?;
        Ok(rows
            .rows
            .iter()
            .map(|row| {
                row.values
                    .iter()
                    .map(|v| match v {
                        Value::Text(s) => s.clone(),
                        other => format!("{other:?}"),
                    })
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .collect())
    }
}
