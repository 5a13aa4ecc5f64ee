//! The row merge is a join: commutative, associative and idempotent over states built from
//! random concurrent histories; replicas that sync in any pattern end with the same state
//! and read the same row under every resolver; compaction never changes a read.
use std::collections::BTreeMap;

use heliosdb_core::{Hlc, NodeId, Value};
use heliosdb_sync::row::{ConflictResolver, LastWriterWins, PerColumn, RowState, Write};
use heliosdb_sync::{Dot, Stamp, VersionVector};
use proptest::prelude::*;

/// One step of a script over `n` replicas of one row.
#[derive(Debug, Clone)]
enum Step {
    /// Replica `node` writes: `Some(columns)` an upsert of those columns, `None` a delete.
    /// Its clock moves by `skew` ms (clocks drift apart).
    Write {
        node: usize,
        columns: Option<Vec<(u32, i64)>>,
        skew: u64,
    },
    /// Replica `to` receives everything replica `from` holds.
    Sync { from: usize, to: usize },
}

fn step(n: usize) -> impl Strategy<Value = Step> {
    let columns = prop::collection::btree_map(0u32..4, -3i64..4, 1..4)
        .prop_map(|m| m.into_iter().collect::<Vec<_>>());
    prop_oneof![
        4 => (0..n, prop::option::weighted(0.85, columns), 0u64..3)
            .prop_map(|(node, columns, skew)| Step::Write { node, columns, skew }),
        3 => (0..n, 0..n).prop_map(|(from, to)| Step::Sync { from, to }),
    ]
}

/// A replica: its row state, its commit counter and its clock.
#[derive(Clone)]
struct Replica {
    id: NodeId,
    row: RowState,
    seq: u64,
    clock: u64,
}

impl Replica {
    fn observe(&mut self, row: &RowState) {
        for (_, w) in row.latest() {
            self.clock = self.clock.max(w.stamp.hlc.0);
        }
        for column in row.columns() {
            for cell in row.cells(column) {
                self.clock = self.clock.max(cell.stamp.hlc.0);
            }
        }
    }
}

fn node(i: usize) -> NodeId {
    NodeId([i as u8 + 1; 16])
}

/// Runs a script; returns the replicas and every state any replica held along the way.
fn run(n: usize, steps: &[Step], compact: bool) -> (Vec<Replica>, Vec<RowState>) {
    let mut replicas: Vec<Replica> = (0..n)
        .map(|i| Replica {
            id: node(i),
            row: RowState::new(),
            seq: 0,
            clock: 0,
        })
        .collect();
    let mut states = Vec::new();
    for s in steps {
        match s {
            Step::Write {
                node,
                columns,
                skew,
            } => {
                let r = &mut replicas[*node];
                r.seq += 1;
                r.clock += 1 + skew;
                let dot = Dot {
                    node: r.id,
                    seq: r.seq,
                };
                let write = Write {
                    stamp: Stamp {
                        hlc: Hlc(r.clock),
                        node: r.id,
                    },
                    context: r.row.seen(),
                    delete: columns.is_none(),
                };
                let values = columns
                    .iter()
                    .flatten()
                    .map(|&(c, v)| (c, Value::Integer(v)));
                let w = RowState::of_write(dot, write, values);
                r.row.merge(&w);
                states.push(r.row.clone());
            }
            Step::Sync { from, to } => {
                let incoming = replicas[*from].row.clone();
                let r = &mut replicas[*to];
                r.observe(&incoming);
                r.row.merge(&incoming);
                states.push(r.row.clone());
            }
        }
        if compact {
            // Stable: what every replica has seen (what acknowledged frontiers would say).
            let mut stable: Option<VersionVector> = None;
            for r in &replicas {
                let seen = r.row.seen();
                stable = Some(match stable {
                    None => seen,
                    Some(s) => s.iter().map(|(n, q)| (n, q.min(seen.get(&n)))).collect(),
                });
            }
            let stable = stable.unwrap_or_default();
            for r in &mut replicas {
                r.row.compact(&stable);
            }
        }
    }
    (replicas, states)
}

fn full_sync(replicas: &mut [Replica]) {
    let mut all = RowState::new();
    for r in replicas.iter() {
        all.merge(&r.row);
    }
    for r in replicas.iter_mut() {
        r.row.merge(&all);
    }
}

type Read = Option<BTreeMap<u32, Value>>;

fn reads(row: &RowState) -> (Read, Read) {
    (LastWriterWins.resolve(row), PerColumn.resolve(row))
}

fn merged(a: &RowState, b: &RowState) -> RowState {
    let mut m = a.clone();
    m.merge(b);
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn merge_is_commutative_associative_and_idempotent(
        n in 2usize..5,
        steps in prop::collection::vec(step(4), 1..40),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 3),
    ) {
        let steps: Vec<Step> = steps.into_iter().filter(|s| match s {
            Step::Write { node, .. } => *node < n,
            Step::Sync { from, to } => *from < n && *to < n,
        }).collect();
        let (_, states) = run(n, &steps, false);
        prop_assume!(!states.is_empty());
        let a = &states[picks[0].index(states.len())];
        let b = &states[picks[1].index(states.len())];
        let c = &states[picks[2].index(states.len())];
        prop_assert_eq!(merged(a, b), merged(b, a));
        prop_assert_eq!(merged(&merged(a, b), c), merged(a, &merged(b, c)));
        prop_assert_eq!(&merged(a, a), a);
        prop_assert_eq!(&merged(&merged(a, b), b), &merged(a, b));
    }

    #[test]
    fn replicas_converge_after_a_full_sync(
        n in 2usize..6,
        steps in prop::collection::vec(step(5), 1..60),
    ) {
        let steps: Vec<Step> = steps.into_iter().filter(|s| match s {
            Step::Write { node, .. } => *node < n,
            Step::Sync { from, to } => *from < n && *to < n,
        }).collect();
        let (mut plain, _) = run(n, &steps, false);
        full_sync(&mut plain);
        for r in &plain[1..] {
            prop_assert_eq!(&r.row, &plain[0].row);
        }
        let expected = reads(&plain[0].row);
        // Compacting along the way (with what every replica had seen) changes no read.
        let (mut compacted, _) = run(n, &steps, true);
        full_sync(&mut compacted);
        for r in &compacted {
            prop_assert_eq!(reads(&r.row), expected.clone());
        }
        // Nor does compacting after everything is everywhere. Then a value another kept
        // value replaced is kept only for a latest write that saw it but not its
        // replacement.
        let mut all = plain[0].row.clone();
        all.compact(&all.seen());
        prop_assert_eq!(reads(&all), expected);
        let saw = |x: Dot, y: Dot| x == y || all.writes_context(x).is_some_and(|c| c.contains(y));
        for column in all.columns() {
            let kept: Vec<Dot> = all.cells(column).map(|c| c.dot).collect();
            for &old in &kept {
                for &new in kept.iter().filter(|&&d| d != old && saw(d, old)) {
                    let needed = all
                        .latest()
                        .any(|(d, w)| !w.delete && saw(d, old) && !saw(d, new));
                    prop_assert!(needed, "{old:?} kept though {new:?} replaced it");
                }
            }
        }
    }
}
