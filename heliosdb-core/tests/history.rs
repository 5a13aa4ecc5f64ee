//! Reads as of past timestamps after updates and deletes; retention and collection.
use std::time::Duration;

use heliosdb_core::{ColumnSpec, DataType, Database, Error, Hlc, TableSpec, Value};

fn setup() -> Database {
    let db = Database::open_in_memory().unwrap();
    let mut w = db.begin_write().unwrap();
    w.create_table(
        &TableSpec::new("acct")
            .column(ColumnSpec::new("id", DataType::Integer))
            .column(ColumnSpec::new("balance", DataType::Integer))
            .primary_key(["id"]),
    )
    .unwrap();
    w.commit().unwrap();
    db
}

fn set(db: &Database, id: i64, balance: Option<i64>) -> Hlc {
    let mut w = db.begin_write().unwrap();
    match balance {
        Some(b) => w
            .put("acct", &[Value::Integer(id), Value::Integer(b)])
            .unwrap(),
        None => assert!(w.delete("acct", &[Value::Integer(id)]).unwrap()),
    }
    w.commit().unwrap().commit_ts
}

fn balance_at(db: &Database, id: i64, at: Hlc) -> Option<i64> {
    let r = db.begin_read().unwrap();
    r.get_as_of("acct", &[Value::Integer(id)], at)
        .unwrap()
        .map(|row| match row.get(1).unwrap().as_ref() {
            heliosdb_core::ValueRef::Integer(b) => b,
            other => panic!("{other:?}"),
        })
}

fn all_at(db: &Database, at: Hlc) -> Vec<(i64, i64)> {
    let r = db.begin_read().unwrap();
    r.scan_as_of("acct", at)
        .unwrap()
        .map(|row| match row.unwrap().values().unwrap().as_slice() {
            [Value::Integer(k), Value::Integer(b)] => (*k, *b),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn reads_as_of_past_times_see_what_was_current() {
    let db = setup();
    let t1 = set(&db, 1, Some(100));
    let t2 = set(&db, 2, Some(200));
    let t3 = set(&db, 1, Some(150));
    let t4 = set(&db, 2, None);
    let t5 = set(&db, 2, Some(999));
    let t6 = set(&db, 1, None);

    let before = Hlc(t1.0 - 1);
    assert_eq!(balance_at(&db, 1, before), None);
    assert_eq!(balance_at(&db, 1, t1), Some(100));
    assert_eq!(balance_at(&db, 1, t2), Some(100));
    assert_eq!(balance_at(&db, 1, t3), Some(150));
    assert_eq!(balance_at(&db, 1, t5), Some(150));
    assert_eq!(balance_at(&db, 1, t6), None);
    assert_eq!(balance_at(&db, 2, t3), Some(200));
    assert_eq!(balance_at(&db, 2, t4), None);
    assert_eq!(balance_at(&db, 2, t5), Some(999));

    assert_eq!(all_at(&db, before), vec![]);
    assert_eq!(all_at(&db, t2), vec![(1, 100), (2, 200)]);
    assert_eq!(all_at(&db, t3), vec![(1, 150), (2, 200)]);
    assert_eq!(all_at(&db, t4), vec![(1, 150)]);
    assert_eq!(all_at(&db, t5), vec![(1, 150), (2, 999)]);
    assert_eq!(all_at(&db, t6), vec![(2, 999)]);
    assert_eq!(all_at(&db, db.now()), vec![(2, 999)]);
}

#[test]
fn versions_written_twice_in_one_transaction_keep_only_the_committed_one() {
    let db = setup();
    let t1 = set(&db, 1, Some(1));
    let mut w = db.begin_write().unwrap();
    w.put("acct", &[Value::Integer(1), Value::Integer(2)])
        .unwrap();
    w.put("acct", &[Value::Integer(1), Value::Integer(3)])
        .unwrap();
    let t2 = w.commit().unwrap().commit_ts;
    assert_eq!(balance_at(&db, 1, t1), Some(1));
    assert_eq!(balance_at(&db, 1, t2), Some(3));
}

#[test]
fn future_and_expired_times_are_errors() {
    let db = setup();
    set(&db, 1, Some(1));
    let r = db.begin_read().unwrap();
    let future = Hlc::new(db.now().physical_ms() + 60_000, 0);
    assert!(matches!(
        r.get_as_of("acct", &[Value::Integer(1)], future),
        Err(Error::FutureTimestamp { .. })
    ));
    // The default retention is 7 days: 8 days ago is gone.
    let old = db.now().saturating_sub_ms(8 * 24 * 3600 * 1000);
    assert!(matches!(
        r.scan_as_of("acct", old).map(|_| ()),
        Err(Error::HistoryUnavailable { .. })
    ));
}

#[test]
fn retention_bounds_history_and_collection_removes_it() {
    let db = setup();
    for b in 0..50 {
        set(&db, 1, Some(b));
    }
    let t_mid = db.now();
    db.set_history_retention(Some(Duration::from_millis(1)))
        .unwrap();
    assert_eq!(db.history_retention(), Some(Duration::from_millis(1)));
    std::thread::sleep(Duration::from_millis(5));
    // 49 replaced versions are past the horizon now.
    assert_eq!(db.collect_garbage().unwrap(), 49);
    assert_eq!(db.collect_garbage().unwrap(), 0);
    // Raising retention again does not bring collected history back: reads before the
    // collection horizon stay refused instead of returning partial history.
    db.set_history_retention(None).unwrap();
    let r = db.begin_read().unwrap();
    assert!(matches!(
        r.get_as_of("acct", &[Value::Integer(1)], Hlc(t_mid.0 - 1_000_000)),
        Err(Error::HistoryUnavailable { .. })
    ));
    assert_eq!(balance_at(&db, 1, db.now()), Some(49));
}

#[test]
fn versions_list_every_version_in_a_window_with_its_operation() {
    use heliosdb_core::VersionOp::{Delete, Insert, Update};
    let db = setup();
    let t1 = set(&db, 1, Some(100));
    let t2 = set(&db, 1, Some(150));
    let t3 = set(&db, 2, Some(200));
    let t4 = set(&db, 1, None);
    let t5 = set(&db, 1, Some(7));
    let versions = |from: Hlc, to: Hlc| {
        let r = db.begin_read().unwrap();
        let mut out = Vec::new();
        r.versions::<heliosdb_core::Error>("acct", .., from, to, |v| {
            let (Value::Integer(k), Value::Integer(b)) = (&v.values[0], &v.values[1]) else {
                panic!("{v:?}")
            };
            out.push((*k, *b, v.valid_from, v.valid_to, v.op));
            Ok(true)
        })
        .unwrap();
        out
    };
    assert_eq!(
        versions(t1, t5),
        vec![
            (1, 100, t1, Some(t2), Insert),
            (1, 150, t2, Some(t4), Update),
            (1, 150, t4, Some(t5), Delete),
            (1, 7, t5, None, Insert),
            (2, 200, t3, None, Insert),
        ]
    );
    // A window sees the versions valid in it and the deletes made in it, nothing else.
    assert_eq!(
        versions(t3, t3),
        vec![(1, 150, t2, Some(t4), Update), (2, 200, t3, None, Insert)]
    );
    assert_eq!(versions(t4, t4).len(), 2);
    assert_eq!(versions(t4, t4)[0].4, Delete);

    // Each commit names the local time AS OF reads use for it.
    let r = db.begin_read().unwrap();
    let last = r.last_commit_seq().unwrap();
    let c = r.commit(last).unwrap().unwrap();
    assert_eq!((c.local_ts, c.commit_ts), (t5, t5));
    assert_eq!(r.commit(last + 1).unwrap(), None);
    assert_eq!(r.first_commit_seq().unwrap(), 1);
}

#[test]
fn scans_as_of_a_time_honour_key_ranges() {
    let db = setup();
    let mut t = Hlc::ZERO;
    for id in 0..10 {
        t = set(&db, id, Some(id * 10));
    }
    for id in 0..10 {
        set(&db, id, None);
    }
    let r = db.begin_read().unwrap();
    let keys = |range: (std::ops::Bound<Vec<Value>>, std::ops::Bound<Vec<Value>>)| {
        r.scan_as_of_range("acct", range, t)
            .unwrap()
            .map(|row| match row.unwrap().get(0).unwrap().as_ref() {
                heliosdb_core::ValueRef::Integer(k) => k,
                other => panic!("{other:?}"),
            })
            .collect::<Vec<_>>()
    };
    use std::ops::Bound::{Excluded, Included, Unbounded};
    let k = |i: i64| vec![Value::Integer(i)];
    assert_eq!(keys((Included(k(3)), Excluded(k(6)))), vec![3, 4, 5]);
    assert_eq!(keys((Excluded(k(7)), Unbounded)), vec![8, 9]);
    assert_eq!(balance_at(&db, 0, t), Some(0));
    assert_eq!(all_at(&db, t).len(), 10, "{:?}", all_at(&db, t));
    assert_eq!(keys((Unbounded, Included(k(1)))), vec![0, 1]);
    assert!(all_at(&db, db.now()).is_empty());
}
