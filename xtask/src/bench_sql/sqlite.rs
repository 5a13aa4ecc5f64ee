//! SQLite through rusqlite (bundled): WAL journal, `synchronous=NORMAL`, cached prepared
//! statements; reads are autocommit statements, as applications commonly run them.

use std::path::Path;

use anyhow::{Result, bail, ensure};
use heliosdb_nano::Value;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql, params, params_from_iter};

use super::{
    BATCH, Check, Data, Engine, InsertHow, Q_INSERT, Q_SCAN_T, Rows, SCHEMA, Val, multi_insert_sql,
    to_sqlite, with_literals,
};

pub struct Sqlite {
    conn: Connection,
}

pub fn open(path: &Path) -> Result<Box<dyn Engine>> {
    let conn = Connection::open(path)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    ensure!(
        mode.eq_ignore_ascii_case("wal"),
        "sqlite: journal_mode is {mode}, not wal"
    );
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    for sql in SCHEMA {
        conn.execute_batch(sql)?;
    }
    Ok(Box::new(Sqlite { conn }))
}

/// A HeliosDB value as a SQLite parameter (the batched loads share one parameter list).
struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Integer(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            other => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    format!("unexpected {} parameter", other.type_name()).into(),
                ));
            }
        })
    }
}

fn val(v: ValueRef<'_>) -> Result<Val<'_>> {
    Ok(match v {
        ValueRef::Null => Val::Null,
        ValueRef::Integer(i) => Val::Int(i),
        ValueRef::Real(r) => Val::Real(r),
        ValueRef::Text(t) => Val::Text(std::str::from_utf8(t)?),
        ValueRef::Blob(_) => bail!("sqlite: unexpected blob"),
    })
}

/// Adds every row of a query to `check`.
fn collect(
    stmt: &mut rusqlite::Statement<'_>,
    p: impl rusqlite::Params,
    check: &mut Check,
) -> Result<()> {
    let n = stmt.column_count();
    let mut rows = stmt.query(p)?;
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            values.push(val(row.get_ref(i)?)?);
        }
        check.add_row(&values);
    }
    Ok(())
}

impl Sqlite {
    /// Multi-row INSERTs of BATCH rows (and one for the remainder) in the current connection.
    fn batched(conn: &Connection, rows: &Rows<'_>) -> Result<()> {
        let full = multi_insert_sql(rows.table, rows.cols, BATCH, true);
        let mut params = Vec::with_capacity(BATCH * rows.cols);
        let mut start = 0;
        while start < rows.len {
            let end = (start + BATCH).min(rows.len);
            params.clear();
            for i in start..end {
                (rows.fill)(i, &mut params);
            }
            let mut stmt = if end - start == BATCH {
                conn.prepare_cached(&full)?
            } else {
                conn.prepare_cached(&multi_insert_sql(rows.table, rows.cols, end - start, true))?
            };
            stmt.execute(params_from_iter(params.iter().map(Param)))?;
            start = end;
        }
        Ok(())
    }
}

impl Engine for Sqlite {
    fn insert_t(&mut self, data: &Data, how: InsertHow) -> Result<()> {
        let tx = self.conn.transaction()?;
        match how {
            InsertHow::PerRow | InsertHow::ParsedOnce => {
                let mut insert = tx.prepare_cached(&to_sqlite(Q_INSERT))?;
                for (id, k, v) in &data.t {
                    insert.execute(params![id, k, v.as_str()])?;
                }
            }
            InsertHow::Batched => Self::batched(&tx, &data.t_rows())?,
        }
        tx.commit()?;
        Ok(())
    }

    fn load(&mut self, rows: &Rows<'_>) -> Result<()> {
        let tx = self.conn.transaction()?;
        Self::batched(&tx, rows)?;
        tx.commit()?;
        Ok(())
    }

    fn scan_t(&mut self) -> Result<Check> {
        let mut check = Check::default();
        collect(&mut *self.conn.prepare_cached(Q_SCAN_T)?, [], &mut check)?;
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
            // Ad-hoc SQL text: prepared (parsed) on every call, no statement cache.
            for set in sets {
                let mut stmt = self.conn.prepare(&with_literals(sql, set))?;
                collect(&mut stmt, [], &mut check)?;
            }
        } else {
            let mut stmt = self.conn.prepare_cached(&to_sqlite(sql))?;
            for set in sets {
                collect(&mut stmt, params_from_iter(set), &mut check)?;
            }
        }
        Ok(check)
    }

    fn explain(&mut self, sql: &str, params: &[i64]) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", to_sqlite(sql)))?;
        let mut rows = stmt.query(params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(row.get::<_, String>(3)?);
        }
        Ok(out)
    }
}
