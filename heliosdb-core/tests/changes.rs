//! The change log read back in bounded batches, and commit subscriptions.
use std::time::Duration;

use heliosdb_core::{
    Change, ColumnSpec, DataType, Database, LogPosition, SchemaChange, TableSpec, Value,
};

#[test]
fn changes_page_through_in_bounded_batches_and_carry_deltas() {
    let db = Database::open_in_memory().unwrap();
    let mut w = db.begin_write().unwrap();
    w.create_table(
        &TableSpec::new("kv")
            .column(ColumnSpec::new("k", DataType::Text))
            .column(ColumnSpec::new("v", DataType::Integer))
            .column(ColumnSpec::new("note", DataType::Text))
            .primary_key(["k"]),
    )
    .unwrap();
    w.commit().unwrap();
    for i in 0..10 {
        let mut w = db.begin_write().unwrap();
        w.insert("kv", &[format!("k{i}").into(), i.into(), "n".into()])
            .unwrap();
        w.commit().unwrap();
    }
    let mut w = db.begin_write().unwrap();
    w.put("kv", &["k3".into(), 33.into(), "n".into()]).unwrap();
    w.delete("kv", &["k4".into()]).unwrap();
    let last = w.commit().unwrap();
    assert_eq!(last.commit_seq, 12);

    let r = db.begin_read().unwrap();
    assert_eq!(r.last_commit_seq().unwrap(), 12);
    let mut all = Vec::new();
    let mut at = LogPosition::default();
    loop {
        let batch = r.changes_after(at, 4).unwrap();
        assert!(batch.len() <= 4);
        let Some(last) = batch.last() else { break };
        at = last.position;
        all.extend(batch);
    }
    assert_eq!(all.len(), 13);
    assert!(matches!(
        all[0].change,
        Change::Schema(SchemaChange::CreateTable(_))
    ));
    assert!(all.windows(2).all(|w| w[0].position < w[1].position));
    assert!(all.windows(2).all(|w| w[0].commit_ts <= w[1].commit_ts));
    assert!(
        all.iter()
            .all(|c| c.origin == db.node_id() && c.table == "kv")
    );
    // An update carries only the changed column, not the whole row.
    assert_eq!(
        all[11].change,
        Change::Update {
            key: vec!["k3".into()],
            columns: vec![(1, Value::Integer(33))]
        }
    );
    assert_eq!(
        all[12].change,
        Change::Delete {
            key: vec!["k4".into()]
        }
    );
    assert_eq!(
        all[11].position,
        LogPosition {
            commit_seq: 12,
            index: 1
        }
    );
    // "Since commit 11" is exactly the last commit's records.
    assert_eq!(r.changes_since(11, 100).unwrap(), all[11..].to_vec());
}

#[test]
fn subscribers_are_woken_on_commit_and_not_on_rollback() {
    let db = Database::open_in_memory().unwrap();
    let notices = db.subscribe();
    let writer = {
        let db = db.clone();
        std::thread::spawn(move || {
            let mut w = db.begin_write().unwrap();
            w.create_table(&TableSpec::new("t").column(ColumnSpec::new("x", DataType::Integer)))
                .unwrap();
            w.commit().unwrap();
            let mut w = db.begin_write().unwrap();
            w.insert("t", &[1.into()]).unwrap();
            w.rollback().unwrap();
            let mut w = db.begin_write().unwrap();
            w.insert("t", &[2.into()]).unwrap();
            w.insert("t", &[3.into()]).unwrap();
            w.commit().unwrap()
        })
    };
    let first = notices.recv_timeout(Duration::from_secs(10)).unwrap();
    let second = notices.recv_timeout(Duration::from_secs(10)).unwrap();
    let info = writer.join().unwrap();
    assert_eq!((first.commit_seq, first.changes), (1, 1));
    assert_eq!(
        (second.commit_seq, second.changes, second.commit_ts),
        (2, 2, info.commit_ts)
    );
    assert!(notices.try_recv().is_err(), "a rollback must not notify");
    // Tables without a primary key got rowids 1 and 2 (the rolled-back 1 was reused).
    let r = db.begin_read().unwrap();
    let keys: Vec<_> = r
        .scan("t", ..)
        .unwrap()
        .map(|row| row.unwrap().key().unwrap())
        .collect();
    assert_eq!(keys, vec![vec![Value::Integer(1)], vec![Value::Integer(2)]]);
}

#[test]
fn node_id_and_counters_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.db");
    let (id, ts) = {
        let db = Database::open(&path).unwrap();
        let mut w = db.begin_write().unwrap();
        w.create_table(&TableSpec::new("t").column(ColumnSpec::new("x", DataType::Integer)))
            .unwrap();
        let info = w.commit().unwrap();
        (db.node_id(), info.commit_ts)
    };
    let db = Database::open(&path).unwrap();
    assert_eq!(db.node_id(), id);
    let mut w = db.begin_write().unwrap();
    w.insert("t", &[1.into()]).unwrap();
    let info = w.commit().unwrap();
    assert_eq!(
        info.commit_seq, 2,
        "the commit counter must not reset on reopen"
    );
    assert!(info.commit_ts > ts);
}

#[test]
fn a_large_commit_spans_chunks_and_resumes_anywhere() {
    let db = Database::open_in_memory().unwrap();
    let mut w = db.begin_write().unwrap();
    w.create_table(
        &TableSpec::new("big")
            .column(ColumnSpec::new("id", DataType::Integer))
            .column(ColumnSpec::new("body", DataType::Text))
            .primary_key(["id"]),
    )
    .unwrap();
    w.commit().unwrap();
    let mut w = db.begin_write().unwrap();
    for i in 0..3000i64 {
        w.insert("big", &[i.into(), format!("{i:0>100}").into()])
            .unwrap();
    }
    assert_eq!(w.commit().unwrap().changes, 3000);
    let r = db.begin_read().unwrap();
    // Every record, once, in order, whatever the batch size and wherever a batch ends.
    for limit in [1, 7, 250, 4096] {
        let mut seen = Vec::new();
        let mut at = LogPosition::end_of_commit(1);
        loop {
            let batch = r.changes_after(at, limit).unwrap();
            assert!(batch.len() <= limit);
            let Some(last) = batch.last() else { break };
            at = last.position;
            seen.extend(batch);
        }
        assert_eq!(seen.len(), 3000, "limit {limit}");
        for (i, c) in seen.iter().enumerate() {
            assert_eq!(
                c.position,
                LogPosition {
                    commit_seq: 2,
                    index: i as u32 + 1
                }
            );
            assert_eq!(
                c.change,
                Change::Insert {
                    key: vec![Value::Integer(i as i64)],
                    columns: vec![(1, Value::Text(format!("{i:0>100}")))],
                }
            );
        }
    }
    // A resume point in the middle of a later chunk.
    let tail = r
        .changes_after(
            LogPosition {
                commit_seq: 2,
                index: 2500,
            },
            10,
        )
        .unwrap();
    assert_eq!(tail[0].position.index, 2501);
    assert!(
        tail.iter()
            .all(|c| c.commit_ts == tail[0].commit_ts && c.origin == db.node_id())
    );
}

#[test]
fn table_extensions_persist_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    {
        let db = Database::open(&path).unwrap();
        let mut w = db.begin_write().unwrap();
        w.create_table(&TableSpec::new("t").column(ColumnSpec::new("x", DataType::Integer)))
            .unwrap();
        w.set_table_extension("t", "sql", Some(vec![1, 2, 3]))
            .unwrap();
        w.commit().unwrap();
    }
    let db = Database::open(&path).unwrap();
    let r = db.begin_read().unwrap();
    assert_eq!(
        r.table("t").unwrap().extensions.get("sql"),
        Some(&vec![1, 2, 3])
    );
    let log = r.changes_since(0, 100).unwrap();
    assert!(matches!(
        &log[1].change,
        Change::Schema(SchemaChange::SetExtension { key, value: Some(v) }) if key == "sql" && v == &vec![1, 2, 3]
    ));
    let replica = Database::open_in_memory().unwrap();
    let mut w = replica.begin_write().unwrap();
    for record in &log {
        w.apply_change(record).unwrap();
    }
    w.set_table_extension("t", "sql", None).unwrap();
    w.commit().unwrap();
    assert!(
        replica
            .begin_read()
            .unwrap()
            .table("t")
            .unwrap()
            .extensions
            .is_empty()
    );
}
