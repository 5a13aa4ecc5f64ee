//! Property: random operation sequences against core match a BTreeMap model, and the
//! change log replayed into an empty database reproduces it.
use std::collections::BTreeMap;

use heliosdb_core::{ColumnSpec, DataType, Database, Error, IndexSpec, TableSpec, Value, WriteTxn};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Insert(i64, Option<u8>, i64),
    Put(i64, Option<u8>, i64),
    Update(i64, i64, Option<u8>, i64),
    Delete(i64),
    Commit,
    Rollback,
    /// Take a statement savepoint.
    Savepoint,
    /// Roll back to the newest open savepoint (and keep it open).
    RollbackTo,
    /// Release the newest open savepoint.
    Release,
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0i64..12;
    let a = proptest::option::of(0u8..6);
    prop_oneof![
        4 => (k.clone(), a.clone(), any::<i64>()).prop_map(|(k, a, b)| Op::Insert(k, a, b)),
        2 => (k.clone(), a.clone(), any::<i64>()).prop_map(|(k, a, b)| Op::Put(k, a, b)),
        3 => (k.clone(), k.clone(), a, any::<i64>()).prop_map(|(k, n, a, b)| Op::Update(k, n, a, b)),
        2 => k.prop_map(Op::Delete),
        1 => Just(Op::Commit),
        1 => Just(Op::Rollback),
        1 => Just(Op::Savepoint),
        1 => Just(Op::RollbackTo),
        1 => Just(Op::Release),
    ]
}

type Model = BTreeMap<i64, (Option<u8>, i64)>;

fn row(k: i64, a: Option<u8>, b: i64) -> Vec<Value> {
    vec![
        Value::Integer(k),
        a.map_or(Value::Null, |a| Value::Text(format!("a{a}"))),
        Value::Integer(b),
    ]
}

fn unique_ok(m: &Model, k: i64, a: Option<u8>, ignore: Option<i64>) -> bool {
    a.is_none()
        || !m
            .iter()
            .any(|(&mk, &(ma, _))| ma == a && mk != k && Some(mk) != ignore)
}

fn create(db: &Database) {
    let mut w = db.begin_write().unwrap();
    w.create_table(
        &TableSpec::new("t")
            .column(ColumnSpec::new("k", DataType::Integer))
            .column(ColumnSpec::new("a", DataType::Text))
            .column(ColumnSpec::new("b", DataType::Integer))
            .primary_key(["k"]),
    )
    .unwrap();
    w.create_index("t", &IndexSpec::new("t_a", ["a"]).unique())
        .unwrap();
    w.commit().unwrap();
}

fn contents(db: &Database) -> Vec<Vec<Value>> {
    let r = db.begin_read().unwrap();
    r.scan("t", ..)
        .unwrap()
        .map(|row| row.unwrap().values().unwrap())
        .collect()
}

fn model_rows(m: &Model) -> Vec<Vec<Value>> {
    m.iter().map(|(&k, &(a, b))| row(k, a, b)).collect()
}

fn apply(w: &mut WriteTxn, m: &mut Model, op: &Op) {
    match *op {
        Op::Insert(k, a, b) => {
            let r = w.insert("t", &row(k, a, b));
            if m.contains_key(&k) {
                assert!(matches!(r, Err(Error::DuplicateKey { .. })), "{r:?}");
            } else if !unique_ok(m, k, a, None) {
                assert!(matches!(r, Err(Error::UniqueViolation { .. })), "{r:?}");
            } else {
                r.unwrap();
                m.insert(k, (a, b));
            }
        }
        Op::Put(k, a, b) => {
            let r = w.put("t", &row(k, a, b));
            if unique_ok(m, k, a, None) {
                r.unwrap();
                m.insert(k, (a, b));
            } else {
                assert!(matches!(r, Err(Error::UniqueViolation { .. })), "{r:?}");
            }
        }
        Op::Update(k, new_k, a, b) => {
            let r = w.update("t", &[Value::Integer(k)], &row(new_k, a, b));
            if !m.contains_key(&k) {
                assert!(!r.unwrap());
            } else if new_k != k && m.contains_key(&new_k) {
                assert!(matches!(r, Err(Error::DuplicateKey { .. })), "{r:?}");
            } else if !unique_ok(m, new_k, a, Some(k)) {
                assert!(matches!(r, Err(Error::UniqueViolation { .. })), "{r:?}");
            } else {
                assert!(r.unwrap());
                m.remove(&k);
                m.insert(new_k, (a, b));
            }
        }
        Op::Delete(k) => {
            assert_eq!(
                w.delete("t", &[Value::Integer(k)]).unwrap(),
                m.remove(&k).is_some()
            );
        }
        _ => unreachable!("handled by the caller"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn core_matches_model_and_log_replays(ops in proptest::collection::vec(op(), 1..60)) {
        let db = Database::open_in_memory().unwrap();
        create(&db);
        let mut committed = Model::new();
        let mut working = committed.clone();
        let mut w = Some(db.begin_write().unwrap());
        let mut savepoints: Vec<(heliosdb_core::Savepoint, Model)> = Vec::new();
        for op in &ops {
            match op {
                Op::Savepoint => {
                    let sp = w.as_mut().unwrap().savepoint();
                    savepoints.push((sp, working.clone()));
                }
                Op::RollbackTo => {
                    if let Some((sp, model)) = savepoints.last() {
                        w.as_mut().unwrap().rollback_to(sp).unwrap();
                        working = model.clone();
                    }
                }
                Op::Release => {
                    if let Some((sp, _)) = savepoints.pop() {
                        w.as_mut().unwrap().release(sp);
                    }
                }
                Op::Commit => {
                    savepoints.clear();
                    w.take().unwrap().commit().unwrap();
                    committed = working.clone();
                    prop_assert_eq!(contents(&db), model_rows(&committed));
                    w = Some(db.begin_write().unwrap());
                }
                Op::Rollback => {
                    savepoints.clear();
                    w.take().unwrap().rollback().unwrap();
                    working = committed.clone();
                    w = Some(db.begin_write().unwrap());
                }
                op => {
                    let txn = w.as_mut().unwrap();
                    apply(txn, &mut working, op);
                    // Reads inside the transaction see its own writes.
                    let seen: Vec<Vec<Value>> =
                        txn.scan("t", ..).unwrap().map(|r| r.unwrap().values).collect();
                    prop_assert_eq!(seen, model_rows(&working));
                }
            }
        }
        w.take().unwrap().commit().unwrap();
        prop_assert_eq!(contents(&db), model_rows(&working));

        // The index agrees with the rows.
        let r = db.begin_read().unwrap();
        for (&k, &(a, _)) in &working {
            if let Some(a) = a {
                let hits: Vec<_> = r
                    .index_scan("t", "t_a", vec![Value::Text(format!("a{a}"))]..=vec![Value::Text(format!("a{a}"))])
                    .unwrap()
                    .map(|row| row.unwrap().key().unwrap())
                    .collect();
                prop_assert_eq!(hits, vec![vec![Value::Integer(k)]]);
            }
        }
        // Rows with a NULL `a` are indexed too (for IS NULL lookups).
        prop_assert_eq!(r.index_scan("t", "t_a", ..).unwrap().count(), working.len());

        // Replaying the whole log into an empty database reproduces the data.
        let log = r.changes_since(0, usize::MAX).unwrap();
        let replica = Database::open_in_memory().unwrap();
        let mut w = replica.begin_write().unwrap();
        for record in &log {
            w.apply_change(record).unwrap();
        }
        w.commit().unwrap();
        prop_assert_eq!(contents(&replica), model_rows(&working));
    }
}
