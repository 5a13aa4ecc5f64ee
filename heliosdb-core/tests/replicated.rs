//! Replicated commits (another node's commits written under their origin, several in one
//! transaction) and the local records of the layers above core.
use heliosdb_core::{
    ColumnSpec, DataType, Database, Hlc, NodeId, ReplicatedOrigin, TableSpec, Value,
};

fn kv(db: &Database) {
    let mut w = db.begin_write().unwrap();
    w.create_table(
        &TableSpec::new("kv")
            .column(ColumnSpec::new("k", DataType::Integer))
            .column(ColumnSpec::new("v", DataType::Text))
            .primary_key(["k"]),
    )
    .unwrap();
    w.commit().unwrap();
}

#[test]
fn replicated_commits_keep_their_origin_and_leave_the_local_counter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let (b, c) = (NodeId([0xB; 16]), NodeId([0xC; 16]));
    let local;
    let far_future;
    {
        let db = Database::open(&path).unwrap();
        local = db.node_id();
        kv(&db); // local commit 1 (origin seq 1)
        let mut w = db.begin_write().unwrap();
        w.insert("kv", &[1.into(), "mine".into()]).unwrap(); // local, origin seq 2
        far_future = Hlc::at_unix_ms(db.now().physical_ms() + 60_000);
        w.begin_replicated_commit(ReplicatedOrigin {
            origin: b,
            origin_seq: 7,
            commit_ts: far_future,
        })
        .unwrap();
        w.insert("kv", &[2.into(), "from b".into()]).unwrap();
        w.insert("kv", &[3.into(), "from b too".into()]).unwrap();
        // A replicated commit that changes nothing logs nothing.
        w.begin_replicated_commit(ReplicatedOrigin {
            origin: c,
            origin_seq: 1,
            commit_ts: Hlc::at_unix_ms(1),
        })
        .unwrap();
        w.begin_replicated_commit(ReplicatedOrigin {
            origin: c,
            origin_seq: 2,
            commit_ts: Hlc::at_unix_ms(2),
        })
        .unwrap();
        w.update("kv", &[1.into()], &[1.into(), "changed by c".into()])
            .unwrap();
        let info = w.commit().unwrap();
        assert_eq!(info.commit_seq, 4, "three logical commits after the first");
        assert_eq!(info.changes, 4);
        // The clock moved to the origin's timestamp: later local commits come after it.
        assert!(db.now() >= far_future);
        let w = db.begin_write().unwrap();
        assert!(w.commit_ts() > far_future);
        w.rollback().unwrap();
    }
    let db = Database::open(&path).unwrap();
    // After a restart too, the clock starts above the replicated commit's timestamp.
    let w = db.begin_write().unwrap();
    assert!(w.commit_ts() > far_future);
    w.rollback().unwrap();
    let r = db.begin_read().unwrap();
    let log = r.changes_since(0, 100).unwrap();
    let shape: Vec<(u64, NodeId, u64)> = log
        .iter()
        .map(|c| (c.position.commit_seq, c.origin, c.origin_seq))
        .collect();
    assert_eq!(
        shape,
        vec![
            (1, local, 1),
            (2, local, 2),
            (3, b, 7),
            (3, b, 7),
            (4, c, 2),
        ]
    );
    drop(r);
    // The next local commit continues the local counter, after the reopen too.
    let mut w = db.begin_write().unwrap();
    w.insert("kv", &[4.into(), "mine again".into()]).unwrap();
    assert_eq!(w.commit().unwrap().commit_seq, 5);
    let r = db.begin_read().unwrap();
    let last = r.changes_since(4, 10).unwrap();
    assert_eq!((last[0].origin, last[0].origin_seq), (local, 3));
    assert_eq!(
        r.get("kv", &[1.into()]).unwrap().unwrap().values().unwrap()[1],
        Value::from("changed by c")
    );
}

#[test]
fn replicated_commits_are_refused_where_they_would_mislead() {
    let db = Database::open_in_memory().unwrap();
    kv(&db);
    let mut w = db.begin_write().unwrap();
    let own = ReplicatedOrigin {
        origin: db.node_id(),
        origin_seq: 1,
        commit_ts: Hlc::at_unix_ms(1),
    };
    assert!(w.begin_replicated_commit(own).is_err());
    let sp = w.savepoint();
    let other = ReplicatedOrigin {
        origin: NodeId([9; 16]),
        ..own
    };
    assert!(w.begin_replicated_commit(other).is_err());
    w.release(sp);
    w.begin_replicated_commit(other).unwrap();
    w.rollback().unwrap();
    assert_eq!(db.begin_read().unwrap().last_commit_seq().unwrap(), 1);
}

#[test]
fn local_records_commit_and_roll_back_with_the_transaction_and_are_not_logged() {
    let db = Database::open_in_memory().unwrap();
    let mut w = db.begin_write().unwrap();
    w.aux_put(b"sync/frontier", b"v1").unwrap();
    assert_eq!(
        w.aux_get(b"sync/frontier").unwrap().as_deref(),
        Some(&b"v1"[..])
    );
    w.commit().unwrap();
    let r = db.begin_read().unwrap();
    assert_eq!(
        r.aux_get(b"sync/frontier").unwrap().as_deref(),
        Some(&b"v1"[..])
    );
    assert!(r.aux_get(b"other").unwrap().is_none());
    assert!(
        r.changes_since(0, 10).unwrap().is_empty(),
        "not in the change log"
    );
    drop(r);

    let mut w = db.begin_write().unwrap();
    w.aux_put(b"sync/frontier", b"v2").unwrap();
    w.aux_delete(b"sync/frontier").unwrap();
    assert!(w.aux_get(b"sync/frontier").unwrap().is_none());
    w.rollback().unwrap();
    let r = db.begin_read().unwrap();
    assert_eq!(
        r.aux_get(b"sync/frontier").unwrap().as_deref(),
        Some(&b"v1"[..])
    );
    // Core's own meta records are out of reach.
    assert!(r.aux_get(b"counters").unwrap().is_none());
    let huge = vec![0u8; heliosdb_core::AUX_KEY_BYTES_MAX + 1];
    assert!(r.aux_get(&huge).is_err());
}
