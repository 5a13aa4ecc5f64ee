//! Compressed TEXT values in row tables: training, drift, history, ALTER … SET COMPRESSION,
//! LZ4 for long values, statistics, refusals that change nothing, reopening.

use std::collections::BTreeMap;

use heliosdb_core::{
    ColumnCompression, ColumnSpec, ColumnStats, DataType, Database, Error, Hlc, IndexSpec,
    StorageOptions, TableCompression, TableSpec, Value,
};

/// Deterministic log-like lines (English words, numbers, a level), `seed` varies them.
fn line(i: u64, seed: u64) -> String {
    const WORDS: [&str; 16] = [
        "the",
        "sensor",
        "reported",
        "temperature",
        "within",
        "expected",
        "range",
        "device",
        "battery",
        "level",
        "connection",
        "restored",
        "after",
        "timeout",
        "while",
        "syncing",
    ];
    let mut x = i.wrapping_mul(6364136223846793005).wrapping_add(seed | 1);
    let mut out = format!("{} ", ["INFO", "WARN", "ERROR"][(i % 3) as usize]);
    for _ in 0..10 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        out.push_str(WORDS[(x >> 60) as usize]);
        out.push(' ');
    }
    out.push_str(&format!("id={}", i * 7 + seed));
    out
}

/// Lines of another vocabulary: what a column's values look like after they drift.
fn drifted(i: u64) -> String {
    format!(
        "https://example.org/api/v2/customers/{}/orders?page={}&sort=created_at",
        i * 13,
        i % 50
    )
}

fn spec(name: &str, compression: TableCompression) -> TableSpec {
    TableSpec::new(name)
        .column(ColumnSpec::new("id", DataType::Integer))
        .column(ColumnSpec::new("msg", DataType::Text))
        .column(ColumnSpec::new("n", DataType::Integer))
        .primary_key(["id"])
        .storage(StorageOptions {
            compression,
            ..StorageOptions::default()
        })
}

fn load(db: &Database, table: &str, rows: impl Iterator<Item = (u64, String)>) -> Hlc {
    let mut w = db.begin_write().unwrap();
    for (i, s) in rows {
        w.put(
            table,
            &[
                Value::Integer(i as i64),
                Value::Text(s),
                Value::Integer(i as i64),
            ],
        )
        .unwrap();
    }
    w.commit().unwrap().commit_ts
}

fn contents(db: &Database, table: &str) -> BTreeMap<i64, String> {
    let r = db.begin_read().unwrap();
    r.scan(table, ..)
        .unwrap()
        .map(|row| match row.unwrap().values().unwrap().as_slice() {
            [Value::Integer(i), Value::Text(s), _] => (*i, s.clone()),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn stats(db: &Database, table: &str, column: &str) -> ColumnStats {
    db.begin_read()
        .unwrap()
        .compression_stats(table)
        .unwrap()
        .into_iter()
        .find(|s| s.column == column)
        .unwrap()
}

fn ratio(s: &ColumnStats) -> f64 {
    s.raw_bytes as f64 / s.stored_bytes as f64
}

#[test]
fn auto_trains_fsst_and_every_value_reads_back_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let mut model = BTreeMap::new();
    {
        let db = Database::open(&path).unwrap();
        let mut w = db.begin_write().unwrap();
        w.create_table(&spec("logs", TableCompression::Auto))
            .unwrap();
        w.create_table(&spec("plain", TableCompression::None))
            .unwrap();
        w.create_index("logs", &IndexSpec::new("logs_msg", ["msg"]))
            .unwrap();
        w.commit().unwrap();
        // Several commits: the first trains on its sample, the rest use the table.
        for batch in 0..5u64 {
            let rows: Vec<(u64, String)> = (batch * 1000..(batch + 1) * 1000)
                .map(|i| (i, line(i, 1)))
                .collect();
            load(&db, "logs", rows.clone().into_iter());
            load(&db, "plain", rows.clone().into_iter());
            model.extend(rows.into_iter().map(|(i, s)| (i as i64, s)));
        }
        // Edge values: empty, one byte, non-ASCII, a long repetitive value (LZ4 territory).
        let edge = [
            String::new(),
            "x".to_owned(),
            "Grüße aus Köln — 東京 🚀".repeat(3),
            "abcdefgh".repeat(10_000),
        ];
        let rows: Vec<(u64, String)> = edge
            .iter()
            .enumerate()
            .map(|(k, s)| (100_000 + k as u64, s.clone()))
            .collect();
        load(&db, "logs", rows.clone().into_iter());
        model.extend(rows.into_iter().map(|(i, s)| (i as i64, s)));
        assert_eq!(contents(&db, "logs"), model);

        let s = stats(&db, "logs", "msg");
        assert!(s.codec.starts_with("fsst"), "codec {}", s.codec);
        assert!(ratio(&s) > 1.8, "ratio {:.2} on log lines", ratio(&s));
        let p = stats(&db, "plain", "msg");
        assert_eq!(p.codec, "none");
        assert_eq!(p.raw_bytes, p.stored_bytes);
        // The key column is never compressed.
        assert_eq!(stats(&db, "logs", "id").codec, "none");
    }
    let db = Database::open(&path).unwrap();
    assert_eq!(contents(&db, "logs"), model);
    // Lookups by value through an index on the compressed column.
    let r = db.begin_read().unwrap();
    let want = line(4321, 1);
    let hits: Vec<Vec<Value>> = r
        .index_scan(
            "logs",
            "logs_msg",
            vec![Value::Text(want.clone())]..=vec![Value::Text(want.clone())],
        )
        .unwrap()
        .map(|row| row.unwrap().values().unwrap())
        .collect();
    assert_eq!(hits.len(), 1);
    assert!(hits[0][1].same_as(&Value::Text(want)));
    // Writes after reopening keep using the column's table.
    drop(r);
    load(&db, "logs", (200_000..201_000).map(|i| (i, line(i, 1))));
    assert!(ratio(&stats(&db, "logs", "msg")) > 1.8);
}

#[test]
fn drift_retrains_and_history_keeps_reading_the_old_tables() {
    let db = Database::open_in_memory().unwrap();
    let mut w = db.begin_write().unwrap();
    w.create_table(&spec("t", TableCompression::None)).unwrap();
    w.commit().unwrap();
    let mut w = db.begin_write().unwrap();
    w.set_column_compression("t", "msg", ColumnCompression::Fsst)
        .unwrap();
    w.commit().unwrap();
    let before = load(&db, "t", (0..3000).map(|i| (i, line(i, 2))));
    let old = contents(&db, "t");
    let on_lines = ratio(&stats(&db, "t", "msg"));
    assert!(on_lines > 1.8, "ratio {on_lines:.2}");

    // A different vocabulary, more than a drift interval of it: the column retrains.
    for batch in 0..6u64 {
        load(
            &db,
            "t",
            (batch * 3000..(batch + 1) * 3000).map(|i| (i % 3000, drifted(i))),
        );
    }
    let now = contents(&db, "t");
    assert_eq!(now.len(), 3000);
    for (i, s) in &now {
        assert_eq!(*s, drifted(15_000 + *i as u64));
    }
    let s = stats(&db, "t", "msg");
    assert!(s.codec.starts_with("fsst"), "codec {}", s.codec);
    assert!(
        ratio(&s) > 1.8,
        "after drift the column should have been retrained: ratio {:.2}",
        ratio(&s)
    );

    // History versions were written with the first table and still decode.
    let r = db.begin_read().unwrap();
    let past: BTreeMap<i64, String> = r
        .scan_as_of("t", before)
        .unwrap()
        .map(|row| match row.unwrap().values().unwrap().as_slice() {
            [Value::Integer(i), Value::Text(s), _] => (*i, s.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(past, old);
    let one = r
        .get_as_of("t", &[Value::Integer(17)], before)
        .unwrap()
        .unwrap();
    assert_eq!(one.get(1).unwrap().into_owned(), Value::Text(line(17, 2)));
}

#[test]
fn set_column_compression_rewrites_rows_and_refusals_change_nothing() {
    let db = Database::open_in_memory().unwrap();
    let mut w = db.begin_write().unwrap();
    w.create_table(&spec("t", TableCompression::None)).unwrap();
    w.create_table(
        &TableSpec::new("col")
            .column(ColumnSpec::new("msg", DataType::Text))
            .columnar(),
    )
    .unwrap();
    w.commit().unwrap();
    load(&db, "t", (0..2000).map(|i| (i, line(i, 3))));
    let model = contents(&db, "t");
    let seq_before = db.begin_read().unwrap().last_commit_seq().unwrap();
    assert_eq!(stats(&db, "t", "msg").codec, "none");

    let mut w = db.begin_write().unwrap();
    w.set_column_compression("t", "msg", ColumnCompression::Fsst)
        .unwrap();
    w.commit().unwrap();
    let s = stats(&db, "t", "msg");
    assert_eq!(s.codec, "fsst", "every current row is rewritten");
    assert!(ratio(&s) > 1.8);
    assert_eq!(contents(&db, "t"), model);
    // Only the setting is logged, not a change per rewritten row.
    let logged = db
        .begin_read()
        .unwrap()
        .changes_since(seq_before, 100_000)
        .unwrap()
        .len();
    assert!(logged <= 2, "{logged} change records for a setting");

    let mut w = db.begin_write().unwrap();
    w.set_column_compression("t", "msg", ColumnCompression::None)
        .unwrap();
    w.commit().unwrap();
    let s = stats(&db, "t", "msg");
    assert_eq!(s.codec, "none");
    assert_eq!(s.raw_bytes, s.stored_bytes);
    assert_eq!(contents(&db, "t"), model);

    // Refusals: typed errors, and the table is as it was.
    let mut w = db.begin_write().unwrap();
    let refused = [
        w.set_column_compression("t", "n", ColumnCompression::Fsst),
        w.set_column_compression("t", "id", ColumnCompression::Lz4),
        w.set_column_compression("col", "msg", ColumnCompression::Fsst),
    ];
    for r in refused {
        assert!(matches!(r, Err(Error::InvalidSchema(_))), "{r:?}");
    }
    assert!(matches!(
        w.set_column_compression("t", "nope", ColumnCompression::Fsst),
        Err(Error::ColumnNotFound { .. })
    ));
    assert!(matches!(
        w.set_table_extension("t", heliosdb_core::FSST_EXTENSION, Some(vec![1, 2, 3])),
        Err(Error::InvalidSchema(_))
    ));
    w.commit().unwrap();
    assert_eq!(stats(&db, "t", "msg").codec, "none");
    assert_eq!(contents(&db, "t"), model);
}

#[test]
fn lz4_compresses_long_values_and_leaves_short_ones_plain() {
    let db = Database::open_in_memory().unwrap();
    let mut w = db.begin_write().unwrap();
    w.create_table(&spec("docs", TableCompression::None))
        .unwrap();
    w.set_column_compression("docs", "msg", ColumnCompression::Lz4)
        .unwrap();
    w.commit().unwrap();
    let long = |i: u64| format!("{{\"id\": {i}, \"body\": \"{}\"}}", line(i, 4).repeat(40));
    load(
        &db,
        "docs",
        (0..200).map(|i| (i, if i % 3 != 0 { long(i) } else { "short".into() })),
    );
    let s = stats(&db, "docs", "msg");
    assert_eq!(s.codec, "lz4+none", "long values LZ4, short ones plain");
    assert!(ratio(&s) > 3.0, "ratio {:.2}", ratio(&s));
    for (i, v) in contents(&db, "docs") {
        let want = if i % 3 != 0 {
            long(i as u64)
        } else {
            "short".into()
        };
        assert_eq!(v, want);
    }
}
