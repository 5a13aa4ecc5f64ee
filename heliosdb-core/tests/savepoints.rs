//! Statement savepoints: everything after one can be undone, the transaction stays usable,
//! and the change log keeps only what was committed.
use heliosdb_core::{
    Change, ColumnSpec, DataType, Database, Error, IndexSpec, LogPosition, TableSpec, Value,
};

fn rows(db: &Database, table: &str) -> Vec<Vec<Value>> {
    let r = db.begin_read().unwrap();
    r.scan(table, ..)
        .unwrap()
        .map(|row| row.unwrap().values().unwrap())
        .collect()
}

#[test]
fn rollback_to_undoes_rows_schema_and_flushed_log_chunks() {
    let db = Database::open_in_memory().unwrap();
    let mut w = db.begin_write().unwrap();
    w.create_table(
        &TableSpec::new("t")
            .column(ColumnSpec::new("id", DataType::Integer))
            .column(ColumnSpec::new("body", DataType::Text))
            .primary_key(["id"]),
    )
    .unwrap();
    w.insert("t", &[1.into(), "one".into()]).unwrap();
    let sp = w.savepoint();
    // Enough to flush several log chunks, plus updates, deletes and schema changes.
    for i in 2..3000i64 {
        w.insert("t", &[i.into(), format!("{i:0>100}").into()])
            .unwrap();
    }
    w.put("t", &[1.into(), "changed".into()]).unwrap();
    w.delete("t", &[2.into()]).unwrap();
    w.create_index("t", &IndexSpec::new("t_body", ["body"]).unique())
        .unwrap();
    w.create_table(&TableSpec::new("extra").column(ColumnSpec::new("x", DataType::Integer)))
        .unwrap();
    w.insert("extra", &[5.into()]).unwrap();
    w.rollback_to(&sp).unwrap();

    assert_eq!(
        w.get("t", &[1.into()]).unwrap(),
        Some(vec![1.into(), "one".into()])
    );
    assert_eq!(w.scan("t", ..).unwrap().count(), 1);
    assert!(w.catalog().table("extra").is_err());
    assert!(w.catalog().table("t").unwrap().indexes.is_empty());
    // Still usable, and the savepoint can be used again.
    w.insert("t", &[2.into(), "two".into()]).unwrap();
    w.rollback_to(&sp).unwrap();
    w.insert("t", &[3.into(), "three".into()]).unwrap();
    w.release(sp);
    let info = w.commit().unwrap();
    assert_eq!(info.changes, 3, "create table, insert 1, insert 3");
    assert_eq!(
        rows(&db, "t"),
        vec![vec![1.into(), "one".into()], vec![3.into(), "three".into()]]
    );

    let r = db.begin_read().unwrap();
    let log = r.changes_since(0, usize::MAX).unwrap();
    let positions: Vec<LogPosition> = log.iter().map(|c| c.position).collect();
    assert_eq!(
        positions,
        (1..=3)
            .map(|index| LogPosition {
                commit_seq: 1,
                index
            })
            .collect::<Vec<_>>()
    );
    assert!(
        matches!(&log[2].change, Change::Insert { key, .. } if key == &vec![Value::Integer(3)])
    );
    // The log still replays to the data.
    let replica = Database::open_in_memory().unwrap();
    let mut w = replica.begin_write().unwrap();
    for record in &log {
        w.apply_change(record).unwrap();
    }
    w.commit().unwrap();
    assert_eq!(rows(&replica, "t"), rows(&db, "t"));
}

#[test]
fn a_failed_statement_rolled_back_to_its_savepoint_leaves_earlier_work() {
    let db = Database::open_in_memory().unwrap();
    let mut w = db.begin_write().unwrap();
    w.create_table(
        &TableSpec::new("u")
            .column(ColumnSpec::new("id", DataType::Integer))
            .primary_key(["id"]),
    )
    .unwrap();
    w.insert("u", &[1.into()]).unwrap();
    // A multi-row "statement" that fails half-way.
    let sp = w.savepoint();
    let result: Result<(), Error> = (|| {
        w.insert("u", &[2.into()])?;
        w.insert("u", &[3.into()])?;
        w.insert("u", &[1.into()])?; // duplicate
        Ok(())
    })();
    assert!(matches!(result, Err(Error::DuplicateKey { .. })));
    w.rollback_to(&sp).unwrap();
    w.release(sp);
    w.insert("u", &[4.into()]).unwrap();
    w.commit().unwrap();
    assert_eq!(rows(&db, "u"), vec![vec![1.into()], vec![4.into()]]);
}

#[test]
fn savepoints_of_another_transaction_are_refused() {
    let db = Database::open_in_memory().unwrap();
    let mut a = db.begin_write().unwrap();
    let sp = a.savepoint();
    a.commit().unwrap();
    let mut b = db.begin_write().unwrap();
    assert!(matches!(
        b.rollback_to(&sp),
        Err(Error::InvalidSavepoint(_))
    ));
    // Nested savepoints: the inner one rolls back less than the outer one.
    b.create_table(&TableSpec::new("n").column(ColumnSpec::new("x", DataType::Integer)))
        .unwrap();
    let outer = b.savepoint();
    b.insert("n", &[1.into()]).unwrap();
    let inner = b.savepoint();
    b.insert("n", &[2.into()]).unwrap();
    b.rollback_to(&inner).unwrap();
    assert_eq!(b.scan("n", ..).unwrap().count(), 1);
    b.release(inner);
    b.rollback_to(&outer).unwrap();
    assert_eq!(b.scan("n", ..).unwrap().count(), 0);
    b.release(outer);
    b.commit().unwrap();
}
