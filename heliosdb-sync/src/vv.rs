//! Version vectors: for each origin node, the highest sequence number seen from it.
//!
//! A node's *frontier* is a version vector over the commits it has applied, each origin's
//! entry the highest *contiguous* sequence: commit `n` of an origin is applied only after
//! `1..n`, so "everything up to the entry" is exactly what the node holds. A row's causal
//! *context* is a version vector too: the writes to that row its current version has seen.
//! Comparing two contexts tells whether one write saw the other (and replaces it) or the two
//! were concurrent (a conflict).

use std::collections::BTreeMap;

use heliosdb_core::NodeId;
use serde::{Deserialize, Serialize};

/// One write: the `seq`-th commit of `node`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dot {
    pub node: NodeId,
    pub seq: u64,
}

/// How two version vectors relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Causality {
    /// The same history. Equal contexts are the same version, never a conflict.
    Equal,
    /// The left has seen strictly less than the right: the right replaces it.
    Before,
    /// The left has seen strictly more.
    After,
    /// Each has seen something the other has not.
    Concurrent,
}

/// Origin → highest sequence. Missing entries are 0; zero entries are never stored (a
/// decoded vector drops them too), so equal vectors have equal encodings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "BTreeMap<NodeId, u64>", into = "BTreeMap<NodeId, u64>")]
pub struct VersionVector {
    entries: BTreeMap<NodeId, u64>,
}

impl From<BTreeMap<NodeId, u64>> for VersionVector {
    fn from(mut entries: BTreeMap<NodeId, u64>) -> Self {
        entries.retain(|_, seq| *seq > 0);
        VersionVector { entries }
    }
}

impl From<VersionVector> for BTreeMap<NodeId, u64> {
    fn from(vv: VersionVector) -> Self {
        vv.entries
    }
}

impl VersionVector {
    pub fn new() -> Self {
        Self::default()
    }

    /// The entry for `node` (0 if none).
    pub fn get(&self, node: &NodeId) -> u64 {
        self.entries.get(node).copied().unwrap_or(0)
    }

    /// Whether the write `dot` is covered.
    pub fn contains(&self, dot: Dot) -> bool {
        dot.seq <= self.get(&dot.node)
    }

    /// Raises `node`'s entry to at least `seq` (a context absorbing a write).
    pub fn raise(&mut self, node: NodeId, seq: u64) {
        if seq > 0 {
            let entry = self.entries.entry(node).or_insert(0);
            *entry = (*entry).max(seq);
        }
    }

    /// Advances a frontier by one commit: `dot` must be the next of its origin. Returns
    /// whether it did; a duplicate (already covered) or a gap (an earlier commit missing)
    /// changes nothing.
    pub fn advance(&mut self, dot: Dot) -> bool {
        if dot.seq != self.get(&dot.node).wrapping_add(1) || dot.seq == 0 {
            return false;
        }
        self.entries.insert(dot.node, dot.seq);
        true
    }

    /// The pointwise maximum: what either has seen.
    pub fn merge(&mut self, other: &VersionVector) {
        for (&node, &seq) in &other.entries {
            self.raise(node, seq);
        }
    }

    /// Whether this has seen everything `other` has.
    pub fn dominates(&self, other: &VersionVector) -> bool {
        other
            .entries
            .iter()
            .all(|(node, &seq)| self.get(node) >= seq)
    }

    pub fn compare(&self, other: &VersionVector) -> Causality {
        match (self.dominates(other), other.dominates(self)) {
            (true, true) => Causality::Equal,
            (true, false) => Causality::After,
            (false, true) => Causality::Before,
            (false, false) => Causality::Concurrent,
        }
    }

    /// For each origin where `other` is ahead: the first sequence this lacks and the last
    /// one `other` has, in origin order. What a peer at `self` needs from a node at `other`.
    pub fn missing_from(&self, other: &VersionVector) -> Vec<(NodeId, u64, u64)> {
        other
            .entries
            .iter()
            .filter_map(|(&node, &seq)| {
                let have = self.get(&node);
                (seq > have).then_some((node, have + 1, seq))
            })
            .collect()
    }

    /// The entries, in origin order.
    pub fn iter(&self) -> impl Iterator<Item = (NodeId, u64)> + '_ {
        self.entries.iter().map(|(&n, &s)| (n, s))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many origins it names.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

impl FromIterator<(NodeId, u64)> for VersionVector {
    fn from_iter<I: IntoIterator<Item = (NodeId, u64)>>(iter: I) -> Self {
        let mut vv = VersionVector::new();
        for (node, seq) in iter {
            vv.raise(node, seq);
        }
        vv
    }
}
