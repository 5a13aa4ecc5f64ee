//! Columnar tables: row groups, the delta, updates and deletes, zone maps, reopening.

use std::collections::BTreeMap;
use std::ops::Bound;

use heliosdb_core::{
    ColumnSpec, DataType, Database, GROUP_ROWS, IndexSpec, TableSpec, Value, ZoneFilter,
};

fn spec() -> TableSpec {
    TableSpec::new("readings")
        .column(ColumnSpec::new("device", DataType::Integer))
        .column(ColumnSpec::new("ts", DataType::Timestamp))
        .column(ColumnSpec::new("temp", DataType::Real))
        .column(ColumnSpec::new("status", DataType::Text))
        .column(ColumnSpec::new("ok", DataType::Boolean))
        .column(ColumnSpec::new("raw", DataType::Blob))
        .column(ColumnSpec::new("v", DataType::Vector(2)))
        .columnar()
}

fn row(i: i64) -> Vec<Value> {
    vec![
        Value::Integer(i % 7),
        Value::Timestamp(1_700_000_000_000_000 + i * 1_000_000),
        if i % 11 == 0 {
            Value::Null
        } else {
            Value::Real(((i % 400) - 50) as f64 / 10.0)
        },
        Value::Text(["ok", "warn", "fail"][(i % 3) as usize].into()),
        Value::Boolean(i % 2 == 0),
        if i % 5 == 0 {
            Value::Null
        } else {
            Value::Blob(vec![(i % 256) as u8; 3])
        },
        if i % 13 == 0 {
            Value::Null
        } else {
            Value::Vector(vec![i as f32, -1.5])
        },
    ]
}

/// Every row by rowid, read through `scan`.
fn all_rows(db: &Database) -> BTreeMap<i64, Vec<Value>> {
    let r = db.begin_read().unwrap();
    let mut out = BTreeMap::new();
    for row in r.scan("readings", ..).unwrap() {
        let row = row.unwrap();
        let key = match row.key().unwrap().as_slice() {
            [Value::Integer(k)] => *k,
            other => panic!("rowid {other:?}"),
        };
        assert!(
            out.insert(key, row.values().unwrap()).is_none(),
            "rowid {key} twice"
        );
    }
    out
}

fn same(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_as(y))
}

#[test]
fn rows_pack_into_groups_and_read_back_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let n = GROUP_ROWS as i64 * 2 + 100;
    let mut model = BTreeMap::new();
    {
        let db = Database::open(&path).unwrap();
        let mut w = db.begin_write().unwrap();
        w.create_table(&spec()).unwrap();
        for i in 1..=n {
            w.insert("readings", &row(i)).unwrap();
            model.insert(i, row(i));
        }
        w.commit().unwrap();
        let r = db.begin_read().unwrap();
        let groups = r.row_groups("readings").unwrap();
        assert_eq!(groups.len(), 2, "two full groups, 100 rows in the delta");
        assert!(
            groups
                .iter()
                .all(|g| g.rows as usize == GROUP_ROWS && g.deleted == 0)
        );
        assert_eq!(
            (groups[0].min_rowid, groups[1].max_rowid),
            (1, 2 * GROUP_ROWS as i64)
        );
        let got = all_rows(&db);
        assert_eq!(got.len(), model.len());
        for (k, v) in &model {
            assert!(same(&got[k], v), "row {k}: {:?} vs {v:?}", got[k]);
        }
        // Point reads from a group and from the delta.
        for k in [1, 5000, GROUP_ROWS as i64 + 3, n] {
            let row = r.get("readings", &[Value::Integer(k)]).unwrap().unwrap();
            assert!(same(&row.values().unwrap(), &model[&k]));
        }
        assert!(
            r.get("readings", &[Value::Integer(n + 1)])
                .unwrap()
                .is_none()
        );
    }
    // Reopened: the same rows, and new rowids continue after the grouped ones.
    let db = Database::open(&path).unwrap();
    let got = all_rows(&db);
    assert_eq!(got.len(), model.len());
    let mut w = db.begin_write().unwrap();
    w.pack_columnar("readings").unwrap();
    w.insert("readings", &row(n + 1)).unwrap();
    assert_eq!(w.last_insert_rowid(), Some(n + 1));
    w.commit().unwrap();
    model.insert(n + 1, row(n + 1));
    assert_eq!(
        db.begin_read()
            .unwrap()
            .row_groups("readings")
            .unwrap()
            .len(),
        3
    );
    let got = all_rows(&db);
    assert_eq!(got.len(), model.len());
    for (k, v) in &model {
        assert!(same(&got[k], v), "row {k}");
    }
}

#[test]
fn updates_and_deletes_of_grouped_rows() {
    let db = Database::open_in_memory().unwrap();
    let mut w = db.begin_write().unwrap();
    w.create_table(&spec()).unwrap();
    let n = GROUP_ROWS as i64 + 10;
    for i in 1..=n {
        w.insert("readings", &row(i)).unwrap();
    }
    w.commit().unwrap();
    let before = db.begin_read().unwrap().last_commit_seq().unwrap();
    let t0 = db.begin_read().unwrap();
    let at = t0
        .get("readings", &[Value::Integer(7)])
        .unwrap()
        .unwrap()
        .valid_from()
        .unwrap();
    drop(t0);

    let mut w = db.begin_write().unwrap();
    let mut changed = row(7);
    changed[3] = Value::Text("replaced".into());
    assert!(
        w.update("readings", &[Value::Integer(7)], &changed)
            .unwrap()
    );
    assert!(w.delete("readings", &[Value::Integer(8)]).unwrap());
    assert!(!w.delete("readings", &[Value::Integer(8)]).unwrap());
    // The transaction sees its own writes.
    assert_eq!(
        w.get("readings", &[Value::Integer(7)]).unwrap().unwrap()[3],
        changed[3]
    );
    assert!(w.get("readings", &[Value::Integer(8)]).unwrap().is_none());
    assert_eq!(w.scan("readings", ..).unwrap().count() as i64, n - 1);
    w.commit().unwrap();

    let r = db.begin_read().unwrap();
    let g = &r.row_groups("readings").unwrap()[0];
    assert_eq!(
        g.deleted, 2,
        "the updated and the deleted row are marked in the group"
    );
    assert!(same(
        &r.get("readings", &[Value::Integer(7)])
            .unwrap()
            .unwrap()
            .values()
            .unwrap(),
        &changed
    ));
    assert!(r.get("readings", &[Value::Integer(8)]).unwrap().is_none());
    let rows = all_rows(&db);
    assert_eq!(rows.len() as i64, n - 1);
    assert!(same(&rows[&7], &changed));
    // The old version is history; the changes are logged like a row table's.
    let old = r
        .get_as_of("readings", &[Value::Integer(7)], at)
        .unwrap()
        .unwrap();
    assert!(same(&old.values().unwrap(), &row(7)));
    assert_eq!(r.changes_since(before, 10).unwrap().len(), 2);

    // Deleting the rest of the group removes it.
    let mut w = db.begin_write().unwrap();
    for i in 1..=GROUP_ROWS as i64 {
        w.delete("readings", &[Value::Integer(i)]).unwrap();
    }
    w.commit().unwrap();
    let r = db.begin_read().unwrap();
    assert!(r.row_groups("readings").unwrap().is_empty());
    let rows = all_rows(&db);
    // Row 7's new version lived in the delta and went with the loop too.
    assert_eq!(rows.len(), 10);
    assert!(rows.keys().all(|&k| k > GROUP_ROWS as i64));
}

#[test]
fn packing_is_not_logged_and_zone_maps_skip_groups() {
    let db = Database::open_in_memory().unwrap();
    let mut w = db.begin_write().unwrap();
    w.create_table(&spec()).unwrap();
    for i in 1..=1000 {
        w.insert("readings", &row(i)).unwrap();
    }
    w.commit().unwrap();
    let seq = db.begin_read().unwrap().last_commit_seq().unwrap();
    let mut w = db.begin_write().unwrap();
    assert_eq!(w.pack_columnar("readings").unwrap(), 1);
    w.commit().unwrap();
    let r = db.begin_read().unwrap();
    assert!(
        r.changes_since(seq, 10).unwrap().is_empty(),
        "packing logs nothing"
    );
    let g = &r.row_groups("readings").unwrap()[0];
    let ts = g.zones.iter().find(|z| z.column == 1).unwrap();
    assert_eq!(
        ts.min_max,
        Some((
            Value::Timestamp(1_700_000_000_000_000 + 1_000_000),
            Value::Timestamp(1_700_000_000_000_000 + 1_000 * 1_000_000)
        ))
    );
    let temp = g.zones.iter().find(|z| z.column == 2).unwrap();
    assert_eq!(temp.nulls, 1000 / 11);
    // Each column got a codec that suits it, and they all pay.
    let stats = r.compression_stats("readings").unwrap();
    let codec = |c: &str| stats.iter().find(|s| s.column == c).unwrap().clone();
    assert_eq!(codec("temp").codec, "alp");
    assert_eq!(codec("status").codec, "dict");
    assert!(
        ["delta", "for", "rle"].contains(&codec("ts").codec.as_str()),
        "{:?}",
        codec("ts")
    );
    for s in &stats {
        assert_eq!(s.values, 1000, "{s:?}");
        if s.column != "v" && s.column != "raw" {
            assert!(s.stored_bytes * 3 < s.raw_bytes, "{s:?}");
        }
    }

    let mut seen = 0;
    let wanted = [false, true, false, false, false, false, false];
    let past = ZoneFilter {
        column: 1,
        lower: Bound::Excluded(Value::Timestamp(1_800_000_000_000_000)),
        upper: Bound::Unbounded,
    };
    r.scan_columns("readings", Some(&wanted), &[past], |_| {
        seen += 1;
        Ok::<_, heliosdb_core::Error>(true)
    })
    .unwrap();
    assert_eq!(seen, 0, "the group's zone rules it out");
    let inside = ZoneFilter {
        column: 1,
        lower: Bound::Included(Value::Timestamp(1_700_000_000_000_000)),
        upper: Bound::Unbounded,
    };
    let mut temps = Vec::new();
    r.scan_columns(
        "readings",
        Some(&[false, false, true, false, false, false, false]),
        &[inside],
        |row| {
            assert!(row[0].is_null(), "columns not wanted read NULL");
            temps.push(row[2].clone());
            Ok::<_, heliosdb_core::Error>(true)
        },
    )
    .unwrap();
    assert_eq!(temps.len(), 1000);
    assert!(temps.iter().zip(1..).all(|(t, i)| t.same_as(&row(i)[2])));
}

#[test]
fn columnar_tables_refuse_uniqueness_and_layout_changes() {
    let db = Database::open_in_memory().unwrap();
    let mut w = db.begin_write().unwrap();
    let keyed = TableSpec::new("k")
        .column(ColumnSpec::new("id", DataType::Integer))
        .primary_key(["id"])
        .columnar();
    let e = w.create_table(&keyed).unwrap_err().to_string();
    assert!(e.contains("cannot be columnar"), "{e}");
    assert!(
        w.catalog().table("k").is_err(),
        "a refused create leaves nothing"
    );
    w.create_table(&spec()).unwrap();
    let e = w
        .create_index("readings", &IndexSpec::new("u", ["device"]).unique())
        .unwrap_err()
        .to_string();
    assert!(e.contains("unique index"), "{e}");
    w.create_index("readings", &IndexSpec::new("by_device", ["device"]))
        .unwrap();
    w.insert("readings", &row(1)).unwrap();
    let e = w
        .set_table_extension("readings", heliosdb_core::STORAGE_EXTENSION, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("has rows"), "{e}");
    w.commit().unwrap();
}

#[test]
fn index_lookups_reach_grouped_rows() {
    let db = Database::open_in_memory().unwrap();
    let mut w = db.begin_write().unwrap();
    w.create_table(&spec()).unwrap();
    w.create_index("readings", &IndexSpec::new("by_device", ["device"]))
        .unwrap();
    for i in 1..=200 {
        w.insert("readings", &row(i)).unwrap();
    }
    w.pack_columnar("readings").unwrap();
    let in_txn = w
        .index_scan(
            "readings",
            "by_device",
            vec![Value::Integer(3)]..=vec![Value::Integer(3)],
        )
        .unwrap();
    assert_eq!(in_txn.len(), (1..=200).filter(|i| i % 7 == 3).count());
    w.commit().unwrap();
    let r = db.begin_read().unwrap();
    let rows: Vec<_> = r
        .index_scan(
            "readings",
            "by_device",
            vec![Value::Integer(3)]..=vec![Value::Integer(3)],
        )
        .unwrap()
        .map(|row| row.unwrap().values().unwrap())
        .collect();
    assert_eq!(rows.len(), in_txn.len());
    assert!(rows.iter().all(|v| v[0] == Value::Integer(3)));
}
