//! Commits in a loop until killed, printing `committed N` after each commit returns.
//! `crash_writer PATH [HEXKEY]`: with a key, the database is encrypted at rest.
//!
//! Each transaction N writes rows 3N, 3N+1, 3N+2 (with `txn = N`) and sets the counter row
//! (key -1) to N, so a reader can tell a partial transaction from a whole one.
use heliosdb_nano::{ColumnSpec, DataType, Database, KeySource, TableSpec, Value};
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: crash_writer PATH")?;
    let db = match std::env::args().nth(2) {
        Some(hex) => {
            heliosdb_nano::open_encrypted(&path, &KeySource::from_hex(&hex)?, Default::default())?
        }
        None => Database::open(&path)?,
    };
    let mut next = {
        let r = db.begin_read()?;
        if r.catalog().table("t").is_ok() {
            match r.get("t", &[Value::Integer(-1)])? {
                Some(row) => match row.values()?[1] {
                    Value::Integer(n) => n + 1,
                    _ => return Err("counter row is not an integer".into()),
                },
                None => 0,
            }
        } else {
            let mut w = db.begin_write()?;
            w.create_table(
                &TableSpec::new("t")
                    .column(ColumnSpec::new("k", DataType::Integer))
                    .column(ColumnSpec::new("txn", DataType::Integer))
                    .column(ColumnSpec::new("payload", DataType::Text))
                    .primary_key(["k"]),
            )?;
            w.commit()?;
            0
        }
    };
    let mut out = std::io::stdout().lock();
    loop {
        let mut w = db.begin_write()?;
        for j in 0..3 {
            let payload = format!("transaction {next} row {j} {}", "x".repeat(100));
            w.insert(
                "t",
                &[
                    Value::Integer(next * 3 + j),
                    Value::Integer(next),
                    payload.into(),
                ],
            )?;
        }
        w.put(
            "t",
            &[Value::Integer(-1), Value::Integer(next), Value::Null],
        )?;
        w.commit()?;
        writeln!(out, "committed {next}")?;
        out.flush()?;
        next += 1;
    }
}
