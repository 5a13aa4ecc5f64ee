//! What sync knows about one row: the latest writes to it that no other write has seen,
//! and, per column, the latest values no other write of that column has seen.
//!
//! Every write is identified by its [`Dot`] (origin node, origin sequence) and carries the
//! row's causal *context* at the writer — the writes to this row it had seen — and its
//! [`Stamp`] (HLC, node id) for last-writer-wins. A [`RowState`] keeps the row's *maximal*
//! writes (a write is dropped once a kept write has seen it) and every column value
//! written, until [`RowState::compact`] drops the values no read can return. Merging two
//! states is the union of their writes with the dominated ones dropped: a join over a
//! fixed partial order, so merge is commutative, associative and idempotent, and replicas
//! that have received the same writes hold the same state, whatever order, grouping or
//! duplication the writes came in.
//!
//! Concurrent writes both stay in the state; a [`ConflictResolver`] decides what the row
//! reads as. Because a resolver is a deterministic function of the state (it keeps nothing
//! and decides nothing elsewhere), every replica resolves the same state the same way, and
//! a resolver cannot break convergence. Two are built in: [`LastWriterWins`] (the row as
//! its latest writer saw it) and [`PerColumn`] (each column's latest value, so concurrent
//! edits of different columns both survive).
//!
//! A write that ships only its changed columns (a delta) is enough for both: a column the
//! winning write did not change reads as the value that write had seen, which is still in
//! the state because nothing that saw it replaced it.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use heliosdb_core::{ColumnId, Hlc, NodeId, Value, key};
use serde::{Deserialize, Serialize};

use crate::vv::{Causality, Dot, VersionVector};

/// The order of writes for last-writer-wins: the HLC of the commit, then the writing
/// node's id as the tie break, so no two writes of different nodes compare equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stamp {
    pub hlc: Hlc,
    pub node: NodeId,
}

/// One write to a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Write {
    pub stamp: Stamp,
    /// The writes to this row the writer had seen (its own dot not included).
    pub context: VersionVector,
    /// A delete (else an insert or update).
    pub delete: bool,
}

/// A column's value as one write set it.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell<'s> {
    pub dot: Dot,
    pub stamp: Stamp,
    pub value: &'s Value,
}

/// The maximal writes to one row, and per column the maximal values. See the module doc.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RowState {
    /// Every write that `latest` or a cell refers to.
    writes: BTreeMap<Dot, Write>,
    /// The writes to the row that no other kept write has seen.
    latest: BTreeSet<Dot>,
    /// Per column, the values written, by their write (until compaction drops old ones).
    cells: BTreeMap<ColumnId, BTreeMap<Dot, Value>>,
}

/// What applying a write to a row found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// The row had seen the write already (a duplicate or a stale write): nothing changed.
    Seen,
    /// The write had seen everything the row had: it simply moves the row forward.
    FastForward,
    /// The write and some of the row's writes had not seen each other: a conflict, which
    /// the table's resolver decides.
    Concurrent,
}

impl RowState {
    pub fn new() -> Self {
        Self::default()
    }

    /// The state holding just one write: `columns` are the columns it set (for an insert
    /// every column, for an update the changed ones, for a delete none).
    pub fn of_write(
        dot: Dot,
        write: Write,
        columns: impl IntoIterator<Item = (ColumnId, Value)>,
    ) -> Self {
        let mut state = RowState::new();
        if !write.delete {
            for (column, value) in columns {
                state.cells.entry(column).or_default().insert(dot, value);
            }
        }
        state.writes.insert(dot, write);
        state.latest.insert(dot);
        state
    }

    /// Every write this state has seen: its writes and everything they had seen. A new
    /// local write's context.
    pub fn seen(&self) -> VersionVector {
        let mut seen = VersionVector::new();
        for (dot, write) in &self.writes {
            seen.merge(&write.context);
            seen.raise(dot.node, dot.seq);
        }
        seen
    }

    /// How a write with `dot` and `context` relates to this row, before it is merged.
    pub fn arrival(&self, dot: Dot, context: &VersionVector) -> Arrival {
        let seen = self.seen();
        if seen.contains(dot) {
            return Arrival::Seen;
        }
        match context.compare(&seen) {
            Causality::Equal | Causality::After => Arrival::FastForward,
            Causality::Before | Causality::Concurrent if self.writes.is_empty() => {
                Arrival::FastForward
            }
            Causality::Before | Causality::Concurrent => Arrival::Concurrent,
        }
    }

    /// Merges `other` into this state (the join: see the module doc).
    pub fn merge(&mut self, other: &RowState) {
        for (dot, write) in &other.writes {
            match self.writes.get_mut(dot) {
                None => {
                    self.writes.insert(*dot, write.clone());
                }
                // One dot is one write, so the two agree unless a peer is broken or
                // hostile; keep the greater so that merge stays commutative regardless.
                Some(mine) if write_order(write, mine) == Ordering::Greater => {
                    *mine = write.clone();
                }
                Some(_) => {}
            }
        }
        self.latest.extend(other.latest.iter().copied());
        for (column, values) in &other.cells {
            let mine = self.cells.entry(*column).or_default();
            for (dot, value) in values {
                match mine.get_mut(dot) {
                    None => {
                        mine.insert(*dot, value.clone());
                    }
                    Some(v) if value_order(value, v) == Ordering::Greater => *v = value.clone(),
                    Some(_) => {}
                }
            }
        }
        self.prune();
    }

    /// Drops the row's writes that a kept write has seen, then writes nothing refers to.
    /// Column values are kept (see [`RowState::compact`]).
    fn prune(&mut self) {
        let writes = &self.writes;
        let latest = self.latest.clone();
        self.latest.retain(|dot| {
            !latest.iter().any(|other| {
                other != dot && writes.get(other).is_some_and(|w| w.context.contains(*dot))
            })
        });
        self.collect_unreferenced();
    }

    fn collect_unreferenced(&mut self) {
        let referenced: BTreeSet<Dot> = self
            .latest
            .iter()
            .chain(self.cells.values().flat_map(|v| v.keys()))
            .copied()
            .collect();
        self.writes.retain(|dot, _| referenced.contains(dot));
    }

    /// Drops column values that no read can return any more. A value replaced by a newer
    /// value of the same column is still needed while some write might not have seen the
    /// replacement: a concurrent write that wins under last-writer-wins reads the column as
    /// *it* saw it. So a value goes only once its replacement is `stable` (every known
    /// peer has applied it, so every future write has seen it) and no latest insert or
    /// update of the row saw the value without its replacement. Compaction depends on what this node knows of its peers,
    /// so two replicas may hold different states; they still read the same rows.
    pub fn compact(&mut self, stable: &VersionVector) {
        let writes = &self.writes;
        let latest: Vec<(Dot, &Write)> = self
            .latest
            .iter()
            .filter_map(|d| writes.get(d).map(|w| (*d, w)))
            .collect();
        // Whether `replaced` may go, given that `replacement` saw it: no latest insert or
        // update saw the one but not the other (a latest delete reads as no row at all).
        let settled = |replaced: Dot, replacement: Dot| {
            stable.contains(replacement)
                && latest.iter().all(|(d, w)| {
                    let saw = |x: Dot| *d == x || w.context.contains(x);
                    w.delete || !saw(replaced) || saw(replacement)
                })
        };
        for values in self.cells.values_mut() {
            let dots: Vec<Dot> = values.keys().copied().collect();
            values.retain(|dot, _| {
                !dots.iter().any(|other| {
                    other != dot
                        && writes.get(other).is_some_and(|w| w.context.contains(*dot))
                        && settled(*dot, *other)
                })
            });
        }
        self.cells.retain(|_, values| !values.is_empty());
        self.collect_unreferenced();
    }

    /// The latest writes to the row, none of which has seen another: one unless writes
    /// were concurrent.
    pub fn latest(&self) -> impl Iterator<Item = (Dot, &Write)> + '_ {
        self.latest
            .iter()
            .filter_map(|dot| self.writes.get(dot).map(|w| (*dot, w)))
    }

    /// The values of `column` still kept, each with the write that set it.
    pub fn cells(&self, column: ColumnId) -> impl Iterator<Item = Cell<'_>> + '_ {
        self.cells
            .get(&column)
            .into_iter()
            .flatten()
            .filter_map(|(dot, value)| {
                let write = self.writes.get(dot)?;
                Some(Cell {
                    dot: *dot,
                    stamp: write.stamp,
                    value,
                })
            })
    }

    /// The context of the kept write `dot`: what it had seen of the row.
    pub fn writes_context(&self, dot: Dot) -> Option<&VersionVector> {
        self.writes.get(&dot).map(|w| &w.context)
    }

    /// The columns that have a value.
    pub fn columns(&self) -> impl Iterator<Item = ColumnId> + '_ {
        self.cells.keys().copied()
    }

    /// Whether the row's latest writes are concurrent (a conflict a resolver decides).
    pub fn has_concurrent_writes(&self) -> bool {
        self.latest.len() > 1
    }

    /// Whether some column holds values none of which replaced the others (concurrent
    /// writes of it), whatever the row's latest writes are.
    pub fn has_concurrent_values(&self) -> bool {
        self.cells.values().any(|values| {
            let replaced = |dot: &Dot| {
                values.keys().any(|other| {
                    other != dot
                        && self
                            .writes
                            .get(other)
                            .is_some_and(|w| w.context.contains(*dot))
                })
            };
            values.len() > 1 && values.keys().filter(|d| !replaced(d)).count() > 1
        })
    }

    /// Whether the row is a tombstone nobody needs: its latest writes are all deletes and
    /// all `stable`, so no write that has not seen them can still arrive.
    pub fn is_collectable(&self, stable: &VersionVector) -> bool {
        !self.latest.is_empty()
            && self
                .latest()
                .all(|(dot, w)| w.delete && stable.contains(dot))
    }

    /// The latest write (by stamp) among the row's latest writes.
    pub fn winner(&self) -> Option<(Dot, &Write)> {
        self.latest().max_by_key(|(_, w)| w.stamp)
    }

    /// The value of `column` as a reader that saw the writes `visible` accepts reads it:
    /// among the values it saw, those no other value it saw replaced, the latest by stamp.
    /// (A replacement wins even if a skewed clock gave it the earlier stamp.)
    pub fn value_seen_by(&self, column: ColumnId, visible: impl Fn(Dot) -> bool) -> Option<&Value> {
        let seen: Vec<Cell<'_>> = self.cells(column).filter(|c| visible(c.dot)).collect();
        let replaced = |cell: &Cell<'_>| {
            seen.iter().any(|other| {
                other.dot != cell.dot
                    && self
                        .writes
                        .get(&other.dot)
                        .is_some_and(|w| w.context.contains(cell.dot))
            })
        };
        seen.iter()
            .filter(|c| !replaced(c))
            .max_by_key(|c| c.stamp)
            .map(|c| c.value)
    }
}

/// A total order on writes with the same dot, only for breaking ties deterministically.
fn write_order(a: &Write, b: &Write) -> Ordering {
    a.stamp
        .cmp(&b.stamp)
        .then(a.delete.cmp(&b.delete))
        .then_with(|| a.context.iter().cmp(b.context.iter()))
}

/// A total order on values, only for breaking ties deterministically.
fn value_order(a: &Value, b: &Value) -> Ordering {
    key::encode(std::slice::from_ref(a)).cmp(&key::encode(std::slice::from_ref(b)))
}

/// How a table's rows read when writes to them were concurrent. It must be a deterministic
/// function of the state it is given (no clock, no randomness, no outside state): that is
/// what makes every replica read the same row. A row without concurrent writes (one latest
/// write, one unreplaced value per column) must read as those values, as both built-in
/// resolvers do: sync relies on it to skip resolving rows nobody wrote concurrently.
pub trait ConflictResolver: Send + Sync {
    /// The rule's name, recorded with each conflict it resolves.
    fn name(&self) -> &str;

    /// The row's columns and values, or `None` if the row reads as deleted.
    fn resolve(&self, row: &RowState) -> Option<BTreeMap<ColumnId, Value>>;
}

/// The default: the row as its latest write (by HLC, then node id) left it. Concurrent
/// writes that lost leave no trace in the row, only in the conflict log.
#[derive(Debug, Clone, Copy, Default)]
pub struct LastWriterWins;

impl ConflictResolver for LastWriterWins {
    fn name(&self) -> &str {
        "last-writer-wins"
    }

    fn resolve(&self, row: &RowState) -> Option<BTreeMap<ColumnId, Value>> {
        let (winner_dot, winner) = row.winner()?;
        if winner.delete {
            return None;
        }
        // Each column as the winner saw it: its own value, else the latest value it had
        // seen. Values the winner had not seen lost with their writes.
        let saw = |dot: Dot| dot == winner_dot || winner.context.contains(dot);
        let mut out = BTreeMap::new();
        for column in row.columns() {
            if let Some(value) = row.value_seen_by(column, saw) {
                out.insert(column, value.clone());
            }
        }
        Some(out)
    }
}

/// Concurrent edits of different columns both survive: each column takes its latest value
/// (by HLC, then node id). Whether the row exists is decided by its latest write, as with
/// last-writer-wins.
#[derive(Debug, Clone, Copy, Default)]
pub struct PerColumn;

impl ConflictResolver for PerColumn {
    fn name(&self) -> &str {
        "per-column"
    }

    fn resolve(&self, row: &RowState) -> Option<BTreeMap<ColumnId, Value>> {
        let (_, winner) = row.winner()?;
        if winner.delete {
            return None;
        }
        let mut out = BTreeMap::new();
        for column in row.columns() {
            if let Some(value) = row.value_seen_by(column, |_| true) {
                out.insert(column, value.clone());
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: u8) -> NodeId {
        NodeId([n; 16])
    }

    fn dot(n: u8, seq: u64) -> Dot {
        Dot { node: node(n), seq }
    }

    fn write(n: u8, seq: u64, hlc: u64, context: &[(u8, u64)], delete: bool) -> (Dot, Write) {
        (
            dot(n, seq),
            Write {
                stamp: Stamp {
                    hlc: Hlc(hlc),
                    node: node(n),
                },
                context: context.iter().map(|&(n, s)| (node(n), s)).collect(),
                delete,
            },
        )
    }

    fn upsert(n: u8, seq: u64, hlc: u64, context: &[(u8, u64)], cols: &[(u32, i64)]) -> RowState {
        let (d, w) = write(n, seq, hlc, context, false);
        RowState::of_write(d, w, cols.iter().map(|&(c, v)| (c, Value::Integer(v))))
    }

    fn delete(n: u8, seq: u64, hlc: u64, context: &[(u8, u64)]) -> RowState {
        let (d, w) = write(n, seq, hlc, context, true);
        RowState::of_write(d, w, [])
    }

    fn read(r: &dyn ConflictResolver, s: &RowState) -> Option<Vec<(u32, i64)>> {
        r.resolve(s).map(|m| {
            m.into_iter()
                .map(|(c, v)| match v {
                    Value::Integer(i) => (c, i),
                    other => panic!("{other:?}"),
                })
                .collect()
        })
    }

    #[test]
    fn a_later_write_that_saw_the_row_replaces_it() {
        let mut row = upsert(1, 1, 10, &[], &[(1, 100), (2, 200)]);
        let update = upsert(2, 1, 20, &[(1, 1)], &[(2, 201)]);
        assert_eq!(
            row.arrival(dot(2, 1), &[(node(1), 1)].into_iter().collect()),
            Arrival::FastForward
        );
        row.merge(&update);
        assert!(!row.has_concurrent_writes());
        assert_eq!(read(&LastWriterWins, &row), Some(vec![(1, 100), (2, 201)]));
        assert_eq!(row.arrival(dot(2, 1), &VersionVector::new()), Arrival::Seen);
        assert_eq!(row.arrival(dot(1, 1), &VersionVector::new()), Arrival::Seen);
    }

    #[test]
    fn concurrent_updates_of_different_columns() {
        let base = upsert(1, 1, 10, &[], &[(1, 100), (2, 200)]);
        let mut a = base.clone();
        a.merge(&upsert(1, 2, 20, &[(1, 1)], &[(1, 101)]));
        let b_write = upsert(2, 1, 30, &[(1, 1)], &[(2, 202)]);
        assert_eq!(
            a.arrival(dot(2, 1), &[(node(1), 1)].into_iter().collect()),
            Arrival::Concurrent
        );
        a.merge(&b_write);
        assert!(a.has_concurrent_writes());
        // B is later: the row as B saw it, so A's edit of column 1 is lost...
        assert_eq!(read(&LastWriterWins, &a), Some(vec![(1, 100), (2, 202)]));
        // ...unless the table merges per column.
        assert_eq!(read(&PerColumn, &a), Some(vec![(1, 101), (2, 202)]));
    }

    #[test]
    fn update_against_concurrent_delete() {
        let base = upsert(1, 1, 10, &[], &[(1, 100)]);
        let del = delete(1, 2, 20, &[(1, 1)]);
        let upd = upsert(2, 1, 30, &[(1, 1)], &[(1, 150)]);
        let mut x = base.clone();
        x.merge(&del);
        x.merge(&upd);
        // The update is later and did not see the delete: the row is back, updated.
        assert_eq!(read(&LastWriterWins, &x), Some(vec![(1, 150)]));
        // The other way round: a later delete wins.
        let mut y = base.clone();
        y.merge(&upsert(2, 1, 15, &[(1, 1)], &[(1, 150)]));
        y.merge(&del);
        assert_eq!(read(&LastWriterWins, &y), None);
        assert_eq!(read(&PerColumn, &y), None);
    }

    #[test]
    fn insert_insert_on_one_key() {
        let mut a = upsert(1, 1, 10, &[], &[(1, 1), (2, 1)]);
        let b = upsert(2, 1, 10, &[], &[(1, 2), (2, 2)]);
        a.merge(&b);
        // Equal HLCs: the node id breaks the tie, the same way on every replica.
        assert_eq!(read(&LastWriterWins, &a), Some(vec![(1, 2), (2, 2)]));
        // A write that saw both settles the conflict.
        let settle = upsert(1, 2, 40, &[(1, 1), (2, 1)], &[(1, 9)]);
        a.merge(&settle);
        assert!(!a.has_concurrent_writes());
        assert_eq!(read(&LastWriterWins, &a), Some(vec![(1, 9), (2, 2)]));
    }

    /// A value replaced by a write that lost still reads under last-writer-wins, for the
    /// winner that never saw the replacement; compaction keeps it while that can happen.
    #[test]
    fn a_winner_reads_the_values_it_saw() {
        let mut row = upsert(1, 1, 10, &[], &[(1, 100), (2, 200)]);
        // Node 2 replaces column 1; node 3, not having seen that, edits column 2 later.
        row.merge(&upsert(2, 1, 20, &[(1, 1)], &[(1, 101)]));
        row.merge(&upsert(3, 1, 30, &[(1, 1)], &[(2, 203)]));
        row.compact(
            &[(node(1), 1), (node(2), 1), (node(3), 1)]
                .into_iter()
                .collect(),
        );
        assert_eq!(read(&LastWriterWins, &row), Some(vec![(1, 100), (2, 203)]));
        assert_eq!(read(&PerColumn, &row), Some(vec![(1, 101), (2, 203)]));
        // A write that saw both settles it; then the old value can go.
        row.merge(&upsert(1, 2, 40, &[(1, 1), (2, 1), (3, 1)], &[(2, 204)]));
        assert_eq!(read(&LastWriterWins, &row), Some(vec![(1, 101), (2, 204)]));
        row.compact(
            &[(node(1), 2), (node(2), 1), (node(3), 1)]
                .into_iter()
                .collect(),
        );
        assert_eq!(row.cells(1).count(), 1);
        assert_eq!(read(&LastWriterWins, &row), Some(vec![(1, 101), (2, 204)]));
    }

    #[test]
    fn writes_nothing_refers_to_are_dropped() {
        let mut row = upsert(1, 1, 10, &[], &[(1, 100)]);
        for seq in 2..50 {
            row.merge(&upsert(
                1,
                seq,
                10 + seq,
                &[(1, seq - 1)],
                &[(1, seq as i64)],
            ));
        }
        // Until compaction, every value is kept; once the last write is stable, one is.
        assert_eq!(row.writes.len(), 49);
        row.compact(&[(node(1), 49)].into_iter().collect());
        assert_eq!(row.writes.len(), 1);
        assert_eq!(read(&PerColumn, &row), Some(vec![(1, 49)]));
        assert_eq!(row.seen().get(&node(1)), 49);
    }
}
