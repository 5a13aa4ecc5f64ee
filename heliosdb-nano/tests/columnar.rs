//! Columnar tables through SQL: every query answers as it does on a row table with the
//! same rows, before and after updates and deletes, and after reopening.
use heliosdb_nano::{EmbeddedDatabase, Value};

const ROWS: i64 = 34_000; // two full row groups and a delta

fn create(db: &EmbeddedDatabase, name: &str, with: &str) {
    db.execute(
        &format!(
            "CREATE TABLE {name} (ts TIMESTAMP, device INTEGER, temp REAL, hum REAL, \
             status TEXT, note TEXT) {with}"
        ),
        &[],
    )
    .unwrap();
}

fn load(db: &EmbeddedDatabase, name: &str) {
    let mut tx = db.transaction().unwrap();
    let insert = db
        .prepare(&format!(
            "INSERT INTO {name} VALUES (to_timestamp($1), $2, $3, $4, $5, $6)"
        ))
        .unwrap();
    for i in 0..ROWS {
        let temp = if i % 97 == 0 {
            Value::Null
        } else {
            Value::Real(((i * 37) % 400) as f64 / 10.0 - 5.0)
        };
        let note = if i % 3 == 0 {
            Value::Null
        } else {
            Value::Text(format!("reading {} from sensor {}", i % 1000, i % 7))
        };
        tx.execute_prepared(
            &insert,
            &[
                Value::Integer(1_700_000_000 + i * 60),
                Value::Integer(i % 7),
                temp,
                Value::Real((i % 1000) as f64 / 100.0),
                Value::Text(["ok", "warn", "fail", "offline"][(i % 4) as usize].into()),
                note,
            ],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

/// The rows of `sql` (with `{t}` replaced by the table), sorted, as text.
fn answer(db: &EmbeddedDatabase, sql: &str, table: &str) -> Vec<String> {
    let rows = db
        .query(&sql.replace("{t}", table), &[])
        .unwrap_or_else(|e| panic!("{sql} on {table}: {e}"));
    let mut out: Vec<String> = rows
        .rows
        .iter()
        .map(|r| format!("{:?}", r.values))
        .collect();
    out.sort();
    out
}

const QUERIES: &[&str] = &[
    "SELECT count(*), count(temp), sum(device), min(temp), max(temp), min(ts), max(ts) FROM {t}",
    "SELECT device, count(*), min(hum), max(hum), sum(hum) FROM {t} GROUP BY device",
    "SELECT status, count(*) FROM {t} GROUP BY status",
    "SELECT count(*) FROM {t} WHERE ts >= to_timestamp(1700600000) AND ts < to_timestamp(1700700000)",
    "SELECT count(*), max(temp) FROM {t} WHERE ts > to_timestamp(1702000000)",
    "SELECT count(*) FROM {t} WHERE ts BETWEEN to_timestamp(1700000000) AND to_timestamp(1700000600)",
    "SELECT count(*) FROM {t} WHERE temp > 30.5 AND device = 3",
    "SELECT count(*) FROM {t} WHERE 34.0 < temp",
    "SELECT count(*) FROM {t} WHERE temp IS NULL",
    "SELECT count(*) FROM {t} WHERE note LIKE '%sensor 6'",
    "SELECT ts, device, temp, status, note FROM {t} WHERE device = 5 AND hum < 0.2",
    "SELECT note FROM {t} WHERE status = 'fail' ORDER BY ts DESC LIMIT 5",
    "SELECT DISTINCT status FROM {t}",
];

fn check_same(db: &EmbeddedDatabase, when: &str) {
    for q in QUERIES {
        let row = answer(db, q, "r");
        let col = answer(db, q, "c");
        assert_eq!(row, col, "{when}: {q}");
        assert!(!row.is_empty(), "{q} answers something");
    }
    // A join between the two agrees with itself both ways round.
    let j = "SELECT count(*) FROM r JOIN c ON r.ts = c.ts AND r.device = c.device";
    let n = answer(db, j, "");
    assert_eq!(n, answer(db, "SELECT count(*) FROM r", ""));
}

#[test]
fn columnar_tables_answer_as_row_tables_do() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    {
        let db = EmbeddedDatabase::open(&path).unwrap();
        create(&db, "r", "");
        create(&db, "c", "WITH (storage = 'columnar')");
        load(&db, "r");
        load(&db, "c");
        check_same(&db, "loaded");

        // Updates and deletes that reach grouped rows and delta rows.
        for sql in [
            "UPDATE {t} SET status = 'moved', temp = temp + 1 WHERE device = 2 AND hum < 1",
            "DELETE FROM {t} WHERE ts < to_timestamp(1700030000)",
            "DELETE FROM {t} WHERE device = 6 AND status = 'warn'",
            "UPDATE {t} SET note = 'late' WHERE ts > to_timestamp(1702030000)",
            "INSERT INTO {t} SELECT ts, device + 10, temp, hum, status, note FROM {t} WHERE device = 1 AND hum > 9.9",
        ] {
            let a = db.execute(&sql.replace("{t}", "r"), &[]).unwrap();
            let b = db.execute(&sql.replace("{t}", "c"), &[]).unwrap();
            assert_eq!(a, b, "{sql}");
            assert!(a > 0, "{sql} changes rows");
            assert_eq!(
                answer(&db, QUERIES[0], "r"),
                answer(&db, QUERIES[0], "c"),
                "after {sql}"
            );
        }
        check_same(&db, "changed");
        // Aborted changes leave nothing behind.
        let mut tx = db.transaction().unwrap();
        assert!(tx.execute("DELETE FROM c WHERE device = 4", &[]).unwrap() > 0);
        tx.execute("UPDATE c SET device = 99 WHERE device = 5", &[])
            .unwrap();
        tx.rollback().unwrap();
        check_same(&db, "rolled back");
    }
    let db = EmbeddedDatabase::open(&path).unwrap();
    check_same(&db, "reopened");
    let bad = db
        .execute(
            "CREATE TABLE k (id INTEGER PRIMARY KEY) WITH (storage = 'columnar')",
            &[],
        )
        .unwrap_err()
        .to_string();
    assert!(bad.contains("columnar"), "{bad}");
}
