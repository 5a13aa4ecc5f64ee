//! Sync between real databases (in memory), messages passed by hand: changes flow both
//! ways, duplicates and reorderings change nothing, conflicts resolve the same way on every
//! node and are recorded, relays keep origins, and random scripts over 2–4 nodes with
//! random partial syncs converge.
use std::sync::Arc;

use heliosdb_core::{ColumnSpec, DataType, Database, IndexSpec, TableSpec, Value};
use heliosdb_sync::wire::{self, Message};
use heliosdb_sync::{PerColumn, SyncNode};
use proptest::prelude::*;

fn node() -> SyncNode {
    let db = Database::open_in_memory().unwrap();
    let mut w = db.begin_write().unwrap();
    for name in ["kv", "merged"] {
        w.create_table(
            &TableSpec::new(name)
                .column(ColumnSpec::new("k", DataType::Integer))
                .column(ColumnSpec::new("a", DataType::Text))
                .column(ColumnSpec::new("b", DataType::Integer))
                .primary_key(["k"]),
        )
        .unwrap();
    }
    // Rows of `uniq` clash on `a` across keys.
    w.create_table(
        &TableSpec::new("uniq")
            .column(ColumnSpec::new("k", DataType::Integer))
            .column(ColumnSpec::new("a", DataType::Text))
            .column(ColumnSpec::new("b", DataType::Integer))
            .primary_key(["k"]),
    )
    .unwrap();
    w.create_index("uniq", &IndexSpec::new("uniq_a", ["a"]).unique())
        .unwrap();
    w.commit().unwrap();
    let mut n = SyncNode::new(db);
    n.set_resolver("merged", Arc::new(PerColumn));
    n
}

/// Commits `values` into `table` unless a unique index refuses them.
fn put_if_unique(n: &SyncNode, table: &str, values: &[Value]) {
    let mut w = n.database().begin_write().unwrap();
    match w.put(table, values) {
        Ok(()) | Err(heliosdb_core::Error::UniqueViolation { .. }) => {}
        Err(e) => panic!("{e}"),
    }
    w.commit().unwrap();
}

/// Sends what `to` lacks from `from`, through the wire format, in batches of `batch`.
fn sync(from: &SyncNode, to: &SyncNode, batch: usize) {
    loop {
        let changes = from.changes_for(&to.frontier().unwrap(), batch).unwrap();
        if changes.commits.is_empty() {
            return;
        }
        let frame = wire::encode(&Message::Changes(changes)).unwrap();
        let Message::Changes(received) = wire::decode(&frame).unwrap() else {
            panic!("not a Changes message");
        };
        let report = to.apply(&received).unwrap();
        assert!(
            report.applied > 0,
            "a non-empty batch moves the frontier: {report:?}"
        );
    }
}

fn rows(n: &SyncNode, table: &str) -> Vec<Vec<Value>> {
    let r = n.database().begin_read().unwrap();
    r.scan(table, ..)
        .unwrap()
        .map(|row| row.unwrap().values().unwrap())
        .collect()
}

fn put(n: &SyncNode, table: &str, k: i64, a: &str, b: i64) {
    let mut w = n.database().begin_write().unwrap();
    w.put(table, &[k.into(), a.into(), b.into()]).unwrap();
    w.commit().unwrap();
}

fn set(n: &SyncNode, table: &str, k: i64, column: usize, v: Value) {
    let mut w = n.database().begin_write().unwrap();
    let mut row = w.get(table, &[k.into()]).unwrap().unwrap();
    row[column] = v;
    w.update(table, &[k.into()], &row).unwrap();
    w.commit().unwrap();
}

#[test]
fn changes_flow_both_ways_and_duplicates_change_nothing() {
    let (a, b) = (node(), node());
    put(&a, "kv", 1, "from a", 10);
    put(&b, "kv", 2, "from b", 20);
    sync(&a, &b, 100);
    sync(&b, &a, 100);
    assert_eq!(rows(&a, "kv"), rows(&b, "kv"));
    assert_eq!(rows(&a, "kv").len(), 2);
    assert_eq!(a.frontier().unwrap(), b.frontier().unwrap());

    // Re-sending everything: every commit is a duplicate.
    let again = a.changes_for(&Default::default(), 1000).unwrap();
    let report = b.apply(&again).unwrap();
    assert_eq!((report.applied, report.conflicts), (0, 0));
    assert!(report.duplicates > 0);
    assert_eq!(rows(&a, "kv"), rows(&b, "kv"));

    // A later commit sent before an earlier one waits for it (a gap), then applies.
    put(&a, "kv", 3, "x", 30);
    put(&a, "kv", 3, "y", 31);
    let batch = a.changes_for(&b.frontier().unwrap(), 10).unwrap();
    assert_eq!(batch.commits.len(), 2);
    let mut reversed = batch.clone();
    reversed.commits.reverse();
    let report = b.apply(&reversed).unwrap();
    assert_eq!((report.applied, report.gaps), (1, 1));
    sync(&a, &b, 10);
    assert_eq!(rows(&a, "kv"), rows(&b, "kv"));
}

#[test]
fn concurrent_updates_resolve_alike_and_are_recorded() {
    let (a, b) = (node(), node());
    put(&a, "kv", 1, "base", 0);
    put(&a, "merged", 1, "base", 0);
    sync(&a, &b, 100);
    // Concurrent edits of different columns on both tables; b writes later.
    set(&a, "kv", 1, 1, "a's text".into());
    set(&a, "merged", 1, 1, "a's text".into());
    std::thread::sleep(std::time::Duration::from_millis(2));
    set(&b, "kv", 1, 2, 99.into());
    set(&b, "merged", 1, 2, 99.into());
    sync(&a, &b, 100);
    sync(&b, &a, 100);
    for table in ["kv", "merged"] {
        assert_eq!(rows(&a, table), rows(&b, table), "{table}");
    }
    // Last writer wins: b's row as b saw it. Per column: both edits.
    assert_eq!(
        rows(&a, "kv"),
        vec![vec![1.into(), "base".into(), 99.into()]]
    );
    assert_eq!(
        rows(&a, "merged"),
        vec![vec![1.into(), "a's text".into(), 99.into()]]
    );
    let (ca, cb) = (a.conflicts().unwrap(), b.conflicts().unwrap());
    assert_eq!(ca.len(), 2);
    assert_eq!(cb.len(), 2);
    for (x, y) in ca.iter().zip(&cb) {
        assert_eq!(
            x.after, y.after,
            "both nodes resolved {} the same way",
            x.table
        );
    }
    assert_eq!(ca[0].rule, "last-writer-wins");
    assert_eq!(ca[1].rule, "per-column");
}

#[test]
fn update_and_concurrent_delete() {
    let (a, b) = (node(), node());
    put(&a, "kv", 1, "base", 0);
    sync(&a, &b, 100);
    {
        let mut w = a.database().begin_write().unwrap();
        w.delete("kv", &[1.into()]).unwrap();
        w.commit().unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(2));
    set(&b, "kv", 1, 2, 5.into());
    sync(&a, &b, 100);
    sync(&b, &a, 100);
    // The update is later and never saw the delete: the row is back on both.
    assert_eq!(rows(&a, "kv"), rows(&b, "kv"));
    assert_eq!(
        rows(&a, "kv"),
        vec![vec![1.into(), "base".into(), 5.into()]]
    );
}

#[test]
fn relays_keep_origins_and_nothing_echoes() {
    let (a, b, c) = (node(), node(), node());
    put(&a, "kv", 1, "from a", 1);
    sync(&a, &b, 100);
    sync(&b, &c, 100);
    assert_eq!(rows(&c, "kv"), rows(&a, "kv"));
    let fc = c.frontier().unwrap();
    assert_eq!(
        fc.get(&a.node_id()),
        a.frontier().unwrap().get(&a.node_id())
    );
    // Back to a: none of a's own commits comes back (only b's and c's CREATE TABLE
    // commits, which a lacks).
    let back = c.changes_for(&a.frontier().unwrap(), 100).unwrap();
    assert!(!back.commits.is_empty());
    assert!(
        back.commits
            .iter()
            .all(|commit| commit.dot.node != a.node_id())
    );
    a.apply(&back).unwrap();
    assert!(
        c.changes_for(&a.frontier().unwrap(), 100)
            .unwrap()
            .commits
            .is_empty()
    );
    // The offline queue: a's commits b lacks.
    put(&a, "kv", 2, "more", 2);
    put(&a, "kv", 3, "more", 3);
    let (len, oldest) = a.pending_for(&b.frontier().unwrap()).unwrap();
    assert_eq!(len, 2);
    assert!(oldest.is_some());
    sync(&a, &b, 1);
    assert_eq!(a.pending_for(&b.frontier().unwrap()).unwrap(), (0, None));
}

/// Once both nodes acknowledge, replaced values and a deleted row's tombstone go.
#[test]
fn acknowledged_history_is_collected() {
    let (a, b) = (node(), node());
    put(&a, "kv", 1, "first", 1);
    for v in 2..6 {
        set(&a, "kv", 1, 2, v.into());
    }
    sync(&a, &b, 100);
    sync(&b, &a, 100);
    // Nothing acknowledged yet: every value written is kept.
    a.frontier().unwrap();
    let kept = a.row_state("kv", &[1.into()]).unwrap().unwrap();
    assert_eq!(kept.cells(2).count(), 5);
    a.record_ack(b.node_id(), &b.frontier().unwrap()).unwrap();
    b.record_ack(a.node_id(), &a.frontier().unwrap()).unwrap();
    set(&a, "kv", 1, 2, 6.into());
    a.frontier().unwrap();
    let compacted = a.row_state("kv", &[1.into()]).unwrap().unwrap();
    // Values replaced by acknowledged ones went; the newest replacement is not yet
    // acknowledged, so the value it replaced stays too.
    assert_eq!(compacted.cells(2).count(), 2);
    // A delete everyone has seen leaves no tombstone behind once its row is next touched.
    {
        let mut w = a.database().begin_write().unwrap();
        w.delete("kv", &[1.into()]).unwrap();
        w.commit().unwrap();
    }
    sync(&a, &b, 100);
    a.record_ack(b.node_id(), &b.frontier().unwrap()).unwrap();
    b.record_ack(a.node_id(), &a.frontier().unwrap()).unwrap();
    assert!(
        a.row_state("kv", &[1.into()]).unwrap().is_some(),
        "not yet stable when written"
    );
    // Touch the row again on b through a delete of nothing: b's catch-up sees it stable.
    sync(&b, &a, 100);
    put(&a, "kv", 1, "again", 7);
    sync(&a, &b, 100);
    sync(&b, &a, 100);
    assert_eq!(rows(&a, "kv"), rows(&b, "kv"));
    assert_eq!(
        rows(&a, "kv"),
        vec![vec![1.into(), "again".into(), 7.into()]]
    );
    // Forgetting a peer: what it never acknowledged no longer holds collection back.
    let c = node();
    put(&c, "kv", 9, "from c", 9);
    sync(&c, &a, 100);
    a.forget_peer(c.node_id()).unwrap();
}

#[derive(Debug, Clone)]
enum Op {
    Put {
        node: usize,
        k: i64,
        a: u8,
        b: i64,
    },
    Set {
        node: usize,
        k: i64,
        b: i64,
    },
    Delete {
        node: usize,
        k: i64,
    },
    Sync {
        from: usize,
        to: usize,
        batch: usize,
    },
}

fn op(n: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..n, 0i64..4, 0u8..3, 0i64..9).prop_map(|(node, k, a, b)| Op::Put { node, k, a, b }),
        2 => (0..n, 0i64..4, 0i64..9).prop_map(|(node, k, b)| Op::Set { node, k, b }),
        1 => (0..n, 0i64..4).prop_map(|(node, k)| Op::Delete { node, k }),
        3 => (0..n, 0..n, 1usize..4).prop_map(|(from, to, batch)| Op::Sync { from, to, batch }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_scripts_converge(n in 2usize..5, ops in prop::collection::vec(op(4), 1..30)) {
        let nodes: Vec<SyncNode> = (0..n).map(|_| node()).collect();
        for o in ops {
            match o {
                Op::Put { node, k, a, b } if node < n => {
                    for table in ["kv", "merged"] {
                        put(&nodes[node], table, k, &format!("v{a}"), b);
                    }
                    put_if_unique(&nodes[node], "uniq", &[k.into(), format!("v{a}").into(), b.into()]);
                }
                Op::Set { node, k, b } if node < n => {
                    for table in ["kv", "merged", "uniq"] {
                        let db = nodes[node].database();
                        let mut w = db.begin_write().unwrap();
                        if let Some(mut row) = w.get(table, &[k.into()]).unwrap() {
                            row[2] = b.into();
                            w.update(table, &[k.into()], &row).unwrap();
                        }
                        w.commit().unwrap();
                    }
                }
                Op::Delete { node, k } if node < n => {
                    for table in ["kv", "merged", "uniq"] {
                        let mut w = nodes[node].database().begin_write().unwrap();
                        w.delete(table, &[k.into()]).unwrap();
                        w.commit().unwrap();
                    }
                }
                Op::Sync { from, to, batch } if from < n && to < n && from != to => {
                    // A partial sync: one batch only.
                    let changes = nodes[from].changes_for(&nodes[to].frontier().unwrap(), batch).unwrap();
                    nodes[to].apply(&changes).unwrap();
                    // The receiver acknowledges, so the sender collects what all have.
                    nodes[from].record_ack(nodes[to].node_id(), &nodes[to].frontier().unwrap()).unwrap();
                }
                _ => {}
            }
        }
        // Heal: a chain both ways, twice, reaches everyone.
        for _ in 0..2 {
            for i in 1..n {
                sync(&nodes[i - 1], &nodes[i], 7);
            }
            for i in (1..n).rev() {
                sync(&nodes[i], &nodes[i - 1], 7);
            }
        }
        let f0 = nodes[0].frontier().unwrap();
        for x in &nodes[1..] {
            prop_assert_eq!(x.frontier().unwrap(), f0.clone());
            for table in ["kv", "merged", "uniq"] {
                prop_assert_eq!(rows(x, table), rows(&nodes[0], table), "{}", table);
            }
        }
    }
}

/// Schema changes travel with the data: a node without the table gets it, then ADD
/// COLUMN (one record, not one per row) and CREATE INDEX; the same DDL run on both nodes
/// is not applied twice; a contradicting schema is refused and changes nothing.
#[test]
fn schema_changes_replicate() {
    let a = node();
    let bare = SyncNode::new(Database::open_in_memory().unwrap());
    {
        let mut w = a.database().begin_write().unwrap();
        w.create_table(
            &TableSpec::new("notes")
                .column(ColumnSpec::new("id", DataType::Integer))
                .column(ColumnSpec::new("body", DataType::Text))
                .primary_key(["id"]),
        )
        .unwrap();
        for i in 0..500i64 {
            w.insert("notes", &[i.into(), format!("note {i}").into()])
                .unwrap();
        }
        w.commit().unwrap();
    }
    sync(&a, &bare, 100);
    assert_eq!(rows(&bare, "notes").len(), 500);
    // ADD COLUMN to 500 rows is one change record.
    let mut w = a.database().begin_write().unwrap();
    w.add_column("notes", &ColumnSpec::new("stars", DataType::Integer))
        .unwrap();
    w.create_index(
        "notes",
        &heliosdb_core::IndexSpec::new("notes_body", ["body"]),
    )
    .unwrap();
    w.commit().unwrap();
    let batch = a.changes_for(&bare.frontier().unwrap(), 100).unwrap();
    let records: usize = batch.commits.iter().map(|c| c.changes.len()).sum();
    assert_eq!(records, 2, "ADD COLUMN and CREATE INDEX, nothing per row");
    bare.apply(&batch).unwrap();
    set(&a, "notes", 7, 2, 5.into());
    sync(&a, &bare, 100);
    assert_eq!(rows(&bare, "notes"), rows(&a, "notes"));
    let r = bare.database().begin_read().unwrap();
    assert!(r.table("notes").unwrap().index("notes_body").is_some());
    drop(r);

    // A node whose own "notes" table has other columns refuses, and applies nothing.
    let other = SyncNode::new(Database::open_in_memory().unwrap());
    let mut w = other.database().begin_write().unwrap();
    w.create_table(
        &TableSpec::new("notes")
            .column(ColumnSpec::new("id", DataType::Integer))
            .column(ColumnSpec::new("title", DataType::Text))
            .primary_key(["id"]),
    )
    .unwrap();
    w.commit().unwrap();
    let before = other.frontier().unwrap();
    let batch = a.changes_for(&before, 100).unwrap();
    let err = other.apply(&batch).unwrap_err();
    assert!(err.to_string().contains("diverged"), "{err}");
    assert_eq!(other.frontier().unwrap(), before);
    assert!(rows(&other, "notes").is_empty());
}

/// A peer whose clock runs far ahead is refused before it can drag this node's clock along.
#[test]
fn a_far_future_commit_is_refused() {
    let (a, b) = (node(), node());
    put(&a, "kv", 1, "x", 1);
    let mut batch = a.changes_for(&b.frontier().unwrap(), 100).unwrap();
    let now = b.database().now();
    let future = heliosdb_core::Hlc::at_unix_ms(now.physical_ms() + 2 * 3600 * 1000);
    batch.commits.last_mut().unwrap().hlc = future;
    let before = b.frontier().unwrap();
    let err = b.apply(&batch).unwrap_err();
    assert!(
        err.to_string().contains("ahead of this node's clock"),
        "{err}"
    );
    assert_eq!(b.frontier().unwrap(), before);
    assert!(b.database().now() < future, "the clock did not move");
}

/// Several statements changing one row in one transaction ship as one write that ends as
/// the transaction left the row.
#[test]
fn one_transaction_writing_a_row_twice() {
    let (a, b) = (node(), node());
    put(&a, "kv", 1, "base", 5);
    put(&a, "kv", 2, "gone", 0);
    sync(&a, &b, 100);
    {
        let mut w = a.database().begin_write().unwrap();
        w.update("kv", &[1.into()], &[1.into(), "base".into(), 4.into()])
            .unwrap();
        w.update("kv", &[1.into()], &[1.into(), "base".into(), 3.into()])
            .unwrap();
        w.delete("kv", &[2.into()]).unwrap();
        w.insert("kv", &[2.into(), "back".into(), 7.into()])
            .unwrap();
        w.insert("kv", &[3.into(), "short-lived".into(), 1.into()])
            .unwrap();
        w.delete("kv", &[3.into()]).unwrap();
        w.commit().unwrap();
    }
    sync(&a, &b, 100);
    assert_eq!(rows(&b, "kv"), rows(&a, "kv"));
    assert_eq!(
        rows(&a, "kv"),
        vec![
            vec![1.into(), "base".into(), 3.into()],
            vec![2.into(), "back".into(), 7.into()],
        ]
    );
    // A later remote write to the row reads from the right state on the origin too.
    set(&b, "kv", 1, 1, "edited on b".into());
    sync(&b, &a, 100);
    assert_eq!(rows(&a, "kv"), rows(&b, "kv"));
    assert_eq!(
        rows(&a, "kv")[0],
        vec![1.into(), "edited on b".into(), 3.into()]
    );
}

/// Without acknowledgements from every node it knows, a node collects nothing: a peer's
/// late write that saw only old values still reads them (found in review).
#[test]
fn nothing_is_collected_before_every_known_node_acknowledged() {
    let (a, b) = (node(), node());
    put(&a, "kv", 1, "x", 1);
    sync(&a, &b, 100);
    set(&a, "kv", 1, 1, "y".into());
    set(&a, "kv", 1, 2, 2.into());
    a.frontier().unwrap(); // catch-up, which would compact if anything were stable
    std::thread::sleep(std::time::Duration::from_millis(2));
    set(&b, "kv", 1, 2, 5.into()); // offline, later, saw only a's first version
    sync(&b, &a, 100);
    sync(&a, &b, 100);
    assert_eq!(rows(&a, "kv"), rows(&b, "kv"));
    assert_eq!(rows(&a, "kv"), vec![vec![1.into(), "x".into(), 5.into()]]);
}

/// A renamed table keeps its rows' sync state, so later partial updates still reach peers
/// whole (found in review).
#[test]
fn a_renamed_table_keeps_its_rows_sync_state() {
    let (a, b) = (node(), node());
    put(&a, "kv", 1, "x", 1);
    sync(&a, &b, 100);
    {
        let mut w = a.database().begin_write().unwrap();
        w.rename_table("kv", "kv2").unwrap();
        w.commit().unwrap();
    }
    set(&a, "kv2", 1, 2, 2.into());
    sync(&a, &b, 100);
    assert_eq!(rows(&b, "kv2"), rows(&a, "kv2"));
    assert_eq!(rows(&b, "kv2"), vec![vec![1.into(), "x".into(), 2.into()]]);
    assert!(a.row_state("kv", &[1.into()]).unwrap().is_none());
    assert!(a.row_state("kv2", &[1.into()]).unwrap().is_some());
}

/// Rows for a table another origin creates wait until that origin's commit arrives,
/// whatever order a relay sends the origins in, instead of stalling the batch.
#[test]
fn rows_wait_for_their_table_from_another_origin() {
    let (y, x) = (node(), node());
    let z = SyncNode::new(Database::open_in_memory().unwrap());
    {
        let mut w = y.database().begin_write().unwrap();
        w.create_table(
            &TableSpec::new("late")
                .column(ColumnSpec::new("id", DataType::Integer))
                .primary_key(["id"]),
        )
        .unwrap();
        w.commit().unwrap();
    }
    sync(&y, &x, 100);
    {
        let mut w = x.database().begin_write().unwrap();
        w.insert("late", &[1.into()]).unwrap();
        w.commit().unwrap();
    }
    // A batch from x with x's commits first and y's last.
    let mut batch = x.changes_for(&z.frontier().unwrap(), 100).unwrap();
    batch
        .commits
        .sort_by_key(|c| (c.dot.node != x.node_id(), c.dot.seq));
    let report = z.apply(&batch).unwrap();
    assert!(
        report.waiting_for_schema.contains(&"late".to_owned()),
        "{report:?}"
    );
    assert!(report.applied > 0);
    // The next round brings it in.
    sync(&x, &z, 100);
    assert_eq!(rows(&z, "late"), vec![vec![Value::Integer(1)]]);
}

/// Two nodes insert different keys with the same value of a unique column: after syncing
/// (in either order) both keep the row written later, the other is deleted on both, and
/// each node records the clash with the version that lost.
#[test]
fn unique_clash_between_different_keys() {
    for a_first in [true, false] {
        let (a, b) = (node(), node());
        put_if_unique(&a, "uniq", &[1.into(), "same".into(), 10.into()]);
        std::thread::sleep(std::time::Duration::from_millis(2));
        put_if_unique(&b, "uniq", &[2.into(), "same".into(), 20.into()]);
        if a_first {
            sync(&a, &b, 100);
            sync(&b, &a, 100);
        } else {
            sync(&b, &a, 100);
            sync(&a, &b, 100);
        }
        // The deletes each node wrote travel too.
        sync(&a, &b, 100);
        sync(&b, &a, 100);
        let expected: Vec<Vec<Value>> = vec![vec![2.into(), "same".into(), 20.into()]];
        assert_eq!(rows(&a, "uniq"), expected, "a, a_first={a_first}");
        assert_eq!(rows(&b, "uniq"), expected, "b, a_first={a_first}");
        assert_eq!(a.frontier().unwrap(), b.frontier().unwrap());
        for n in [&a, &b] {
            let clash: Vec<_> = n
                .conflicts()
                .unwrap()
                .into_iter()
                .filter(|c| c.table == "uniq")
                .collect();
            assert_eq!(clash.len(), 1, "{clash:?}");
            assert_eq!(clash[0].key, vec![Value::from(1)]);
            assert!(clash[0].after.is_none());
            assert!(clash[0].rule.contains("unique"), "{}", clash[0].rule);
        }
    }
}

/// The background collection pass removes a tombstone every node has, though its row is
/// never written again, and compacts replaced values; in bounded steps that resume.
#[test]
fn collection_pass_removes_tombstones_of_rows_never_written_again() {
    let (a, b) = (node(), node());
    for k in 0..10 {
        put(&a, "kv", k, "x", k);
    }
    sync(&a, &b, 100);
    {
        let mut w = a.database().begin_write().unwrap();
        for k in 0..10 {
            w.delete("kv", &[k.into()]).unwrap();
        }
        w.commit().unwrap();
    }
    sync(&a, &b, 100);
    // Before anyone acknowledged: nothing is stable, nothing goes.
    let early = a.collect(100).unwrap();
    assert_eq!(early.removed, 0);
    assert!(a.row_state("kv", &[3.into()]).unwrap().is_some());
    // (b's own commits, its CREATE TABLEs, must reach a too: a must have all b has.)
    sync(&b, &a, 100);
    a.record_ack(b.node_id(), &b.frontier().unwrap()).unwrap();
    b.record_ack(a.node_id(), &a.frontier().unwrap()).unwrap();
    let mut removed = 0;
    let mut steps = 0;
    loop {
        let step = a.collect(3).unwrap();
        assert!(step.examined <= 3);
        removed += step.removed;
        steps += 1;
        if step.finished {
            break;
        }
    }
    assert_eq!(removed, 10, "every tombstone is stable");
    assert!(steps >= 4, "bounded steps: {steps}");
    for k in 0..10 {
        assert!(a.row_state("kv", &[k.into()]).unwrap().is_none());
    }
    assert!(rows(&a, "kv").is_empty() && rows(&b, "kv").is_empty());
    // Collection changed no reading: a later write still syncs both ways.
    put(&b, "kv", 3, "back", 33);
    sync(&b, &a, 100);
    assert_eq!(rows(&a, "kv"), rows(&b, "kv"));
    assert_eq!(rows(&a, "kv").len(), 1);
}

/// A table dropped on one node while another still writes it: the writes reach the node
/// that dropped it and are discarded (the drop wins) instead of stalling their origin,
/// and the drop reaches the writer. A primary key of 100 KiB syncs like any other.
#[test]
fn writes_to_a_dropped_table_do_not_stall_their_origin() {
    let (a, b) = (node(), node());
    sync(&a, &b, 100);
    sync(&b, &a, 100);
    {
        let mut w = a.database().begin_write().unwrap();
        w.drop_table("merged").unwrap();
        w.commit().unwrap();
    }
    put(&b, "merged", 1, "written after a dropped it", 1);
    put(&b, "kv", 2, "another table, same commit stream", 2);
    sync(&b, &a, 100);
    sync(&a, &b, 100);
    assert_eq!(a.frontier().unwrap(), b.frontier().unwrap());
    for n in [&a, &b] {
        assert!(n.database().begin_read().unwrap().table("merged").is_err());
        assert_eq!(
            rows(n, "kv"),
            vec![vec![
                2.into(),
                "another table, same commit stream".into(),
                2.into()
            ]]
        );
    }
    // A table created again under the name syncs afresh.
    let long = "k".repeat(100 * 1024);
    {
        let mut w = a.database().begin_write().unwrap();
        w.create_table(
            &TableSpec::new("merged")
                .column(ColumnSpec::new("k", DataType::Text))
                .column(ColumnSpec::new("v", DataType::Integer))
                .primary_key(["k"]),
        )
        .unwrap();
        w.insert("merged", &[long.as_str().into(), 7.into()])
            .unwrap();
        w.commit().unwrap();
    }
    sync(&a, &b, 100);
    assert_eq!(
        rows(&b, "merged"),
        vec![vec![long.as_str().into(), 7.into()]]
    );
    assert!(
        b.row_state("merged", &[long.as_str().into()])
            .unwrap()
            .is_some()
    );
}
