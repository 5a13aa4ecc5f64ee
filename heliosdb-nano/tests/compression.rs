//! Compressed TEXT columns through SQL: `WITH (compression = 'auto')`, `ALTER TABLE …
//! ALTER COLUMN … SET COMPRESSION`, the `heliosdb_compression` system table, and queries
//! that answer exactly as on an uncompressed table.
use heliosdb_nano::{EmbeddedDatabase, Value};

const ROWS: i64 = 3_000;

fn message(i: i64) -> String {
    let level = ["INFO", "WARN", "ERROR"][(i % 3) as usize];
    let what = [
        "connection restored after timeout",
        "battery level within the expected range",
        "sensor reported temperature above threshold",
        "sync finished with no conflicts",
    ][(i % 4) as usize];
    format!("{level} device-{} {what} (seq {i})", i % 17)
}

fn create(db: &EmbeddedDatabase, name: &str, with: &str) {
    db.execute(
        &format!(
            "CREATE TABLE {name} (id INTEGER PRIMARY KEY, msg TEXT, tag TEXT, n INTEGER) {with}"
        ),
        &[],
    )
    .unwrap();
    let mut tx = db.transaction().unwrap();
    let insert = db
        .prepare(&format!("INSERT INTO {name} VALUES ($1, $2, $3, $4)"))
        .unwrap();
    for i in 0..ROWS {
        let tag = if i % 5 == 0 {
            Value::Null
        } else {
            Value::Text(format!("tag-{}", i % 11))
        };
        tx.execute_prepared(
            &insert,
            &[
                Value::Integer(i),
                Value::Text(message(i)),
                tag,
                Value::Integer(i % 100),
            ],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

fn answer(db: &EmbeddedDatabase, sql: &str, table: &str) -> Vec<String> {
    let rows = db
        .query(&sql.replace("{t}", table), &[])
        .unwrap_or_else(|e| panic!("{sql} on {table}: {e}"));
    rows.rows
        .iter()
        .map(|r| format!("{:?}", r.values))
        .collect()
}

/// (codec, ratio) of `table.column` from `heliosdb_compression`.
fn shown(db: &EmbeddedDatabase, table: &str, column: &str) -> (String, f64) {
    let rows = db
        .query(
            "SELECT codec, ratio, layout FROM heliosdb_compression \
             WHERE table_name = $1 AND column_name = $2",
            &[Value::Text(table.into()), Value::Text(column.into())],
        )
        .unwrap();
    assert_eq!(rows.rows.len(), 1, "{table}.{column}");
    let v = &rows.rows[0].values;
    match (&v[0], &v[1]) {
        (Value::Text(c), Value::Real(r)) => (c.clone(), *r),
        other => panic!("{other:?}"),
    }
}

const QUERIES: &[&str] = &[
    "SELECT id, msg, tag FROM {t} ORDER BY id",
    "SELECT msg FROM {t} WHERE msg = 'WARN device-1 battery level within the expected range (seq 1)'",
    "SELECT count(*) FROM {t} WHERE msg LIKE '%threshold%'",
    "SELECT tag, count(*), min(msg), max(length(msg)) FROM {t} GROUP BY tag ORDER BY tag",
    "SELECT id FROM {t} WHERE tag IS NULL AND n < 10 ORDER BY id",
    "SELECT upper(msg) FROM {t} WHERE id BETWEEN 100 AND 120 ORDER BY msg DESC",
    "SELECT a.id FROM {t} a JOIN {t} b ON a.msg = b.msg AND a.id <> b.id ORDER BY a.id",
];

#[test]
fn compressed_tables_answer_like_plain_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    {
        let db = EmbeddedDatabase::open(&path).unwrap();
        create(&db, "plain", "");
        create(&db, "auto", "WITH (compression = 'auto')");
        create(&db, "later", "");
        db.execute(
            "ALTER TABLE later ALTER COLUMN msg SET COMPRESSION fsst",
            &[],
        )
        .unwrap();
        db.execute("ALTER TABLE later ALTER tag SET COMPRESSION lz4", &[])
            .unwrap();

        let (codec, ratio) = shown(&db, "auto", "msg");
        assert!(codec.starts_with("fsst"), "{codec}");
        assert!(ratio > 2.0, "auto msg ratio {ratio}");
        let (codec, ratio) = shown(&db, "later", "msg");
        assert_eq!(codec, "fsst");
        assert!(ratio > 2.0, "later msg ratio {ratio}");
        assert_eq!(shown(&db, "plain", "msg"), ("none".into(), 1.0));
        // Short tags do not pay for LZ4: they stay plain.
        assert_eq!(shown(&db, "later", "tag").0, "none");

        for q in QUERIES {
            let want = answer(&db, q, "plain");
            assert!(!want.is_empty() || q.contains("JOIN"), "{q} is empty");
            assert_eq!(answer(&db, q, "auto"), want, "{q}");
            assert_eq!(answer(&db, q, "later"), want, "{q}");
        }
        // Updates and deletes through SQL.
        for t in ["plain", "auto", "later"] {
            db.execute(
                &format!("UPDATE {t} SET msg = msg || ' [acknowledged]' WHERE n % 7 = 0"),
                &[],
            )
            .unwrap();
            db.execute(&format!("DELETE FROM {t} WHERE n = 42"), &[])
                .unwrap();
        }
    }
    let db = EmbeddedDatabase::open(&path).unwrap();
    for q in QUERIES {
        let want = answer(&db, q, "plain");
        assert_eq!(answer(&db, q, "auto"), want, "after reopen: {q}");
        assert_eq!(answer(&db, q, "later"), want, "after reopen: {q}");
    }
}

#[test]
fn bad_compression_statements_are_refused_and_change_nothing() {
    let db = EmbeddedDatabase::open_in_memory().unwrap();
    create(&db, "t", "");
    db.execute(
        "CREATE TABLE c (ts TIMESTAMP, msg TEXT) WITH (storage = 'columnar')",
        &[],
    )
    .unwrap();
    db.execute("CREATE TABLE k (name TEXT PRIMARY KEY, v TEXT)", &[])
        .unwrap();
    let before = answer(&db, "SELECT * FROM {t} ORDER BY id", "t");
    let cases = [
        (
            "ALTER TABLE t ALTER COLUMN msg SET COMPRESSION zstd",
            "fsst, lz4 or none",
        ),
        (
            "ALTER TABLE t ALTER COLUMN msg SET STORAGE plain",
            "SET COMPRESSION",
        ),
        (
            "ALTER TABLE t ALTER COLUMN n SET COMPRESSION fsst",
            "only TEXT columns",
        ),
        (
            "ALTER TABLE k ALTER COLUMN name SET COMPRESSION fsst",
            "primary key",
        ),
        (
            "ALTER TABLE t ALTER COLUMN nope SET COMPRESSION fsst",
            "nope",
        ),
        (
            "ALTER TABLE c ALTER COLUMN msg SET COMPRESSION fsst",
            "columnar",
        ),
        (
            "CREATE TABLE x (a TEXT) WITH (compression = 'brotli')",
            "'auto' or 'none'",
        ),
    ];
    for (sql, needle) in cases {
        let err = db.execute(sql, &[]).unwrap_err().to_string();
        assert!(err.contains(needle), "{sql}: {err}");
    }
    assert!(db.query("SELECT * FROM x", &[]).is_err());
    assert_eq!(shown(&db, "t", "msg").0, "none");
    assert_eq!(answer(&db, "SELECT * FROM {t} ORDER BY id", "t"), before);

    // Inside a transaction that rolls back, the setting and the rewrite roll back too.
    let mut tx = db.transaction().unwrap();
    tx.execute("ALTER TABLE t ALTER COLUMN msg SET COMPRESSION fsst", &[])
        .unwrap();
    tx.rollback().unwrap();
    assert_eq!(shown(&db, "t", "msg").0, "none");
    assert_eq!(answer(&db, "SELECT * FROM {t} ORDER BY id", "t"), before);
}
