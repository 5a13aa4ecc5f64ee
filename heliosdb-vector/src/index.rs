//! The index of one vector column: immutable segments plus an exact buffer.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use crate::distance::{Metric, cmp_dist, distance, dot};
use crate::error::{Error, Result};
use crate::key::Key;
use crate::segment::{Scratch, Segment};

/// The index of one column: immutable segments (oldest first), an exact buffer of vectors
/// written since the newest segment was built, and the keys whose segment copies are dead
/// (deleted, or updated later).
///
/// Every key has at most one live copy: in the buffer, or in the newest segment holding it
/// unless that copy was superseded. Cloning copies the buffer's map of `Arc`s and the dead
/// map, never vectors or segments.
#[derive(Clone)]
pub struct VectorIndex<K: Key> {
    metric: Metric,
    dim: u32,
    segments: Vec<Arc<Segment<K>>>,
    buffer: HashMap<K, Arc<[f32]>>,
    /// `dead[key] = d`: the copies of `key` in `segments[..d]` are dead.
    dead: HashMap<K, u32>,
    /// Number of dead segment copies.
    dead_copies: usize,
    /// Total vectors over all segments, dead or alive.
    segment_vectors: usize,
}

impl<K: Key> std::fmt::Debug for VectorIndex<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorIndex")
            .field("metric", &self.metric)
            .field("dim", &self.dim)
            .field("segments", &self.segments.len())
            .field("buffer", &self.buffer.len())
            .field("dead", &self.dead_copies)
            .finish()
    }
}

/// A result candidate ordered by distance (NaN last), then by the key's encoding, so that
/// the merged order does not depend on hash-map iteration order.
struct Ranked<'a, K: Key> {
    dist: f32,
    key: &'a K,
}

impl<K: Key> Ranked<'_, K> {
    fn encoded(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.key.encode(&mut v);
        v
    }
}
impl<K: Key> PartialEq for Ranked<'_, K> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<K: Key> Eq for Ranked<'_, K> {}
impl<K: Key> PartialOrd for Ranked<'_, K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<K: Key> Ord for Ranked<'_, K> {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_dist(self.dist, other.dist).then_with(|| {
            if self.key == other.key {
                Ordering::Equal
            } else {
                self.encoded().cmp(&other.encoded())
            }
        })
    }
}

/// Keeps the best `k` candidates in a bounded max-heap; NaN distances are dropped.
fn offer<'a, K: Key>(heap: &mut BinaryHeap<Ranked<'a, K>>, k: usize, r: Ranked<'a, K>) {
    if r.dist.is_nan() {
        return;
    }
    if heap.len() < k {
        heap.push(r);
    } else if let Some(mut top) = heap.peek_mut()
        && r < *top
    {
        *top = r;
    }
}

fn check_vector(dim: u32, v: &[f32]) -> Result<()> {
    if v.len() != dim as usize {
        return Err(Error::Dimension {
            expected: dim,
            actual: v.len(),
        });
    }
    if let Some(index) = v.iter().position(|x| !x.is_finite()) {
        return Err(Error::NonFinite { index });
    }
    Ok(())
}

impl<K: Key> VectorIndex<K> {
    /// An index over `segments` (oldest first) with an empty buffer. A key present in a
    /// newer segment makes its copies in older segments dead.
    ///
    /// Errors: `dim == 0`, or a segment with another dimension or metric.
    pub fn new(metric: Metric, dim: u32, segments: Vec<Arc<Segment<K>>>) -> Result<Self> {
        if dim == 0 {
            return Err(Error::InvalidParameter(
                "vector dimension must be at least 1".into(),
            ));
        }
        for s in &segments {
            if s.dim() != dim {
                return Err(Error::Dimension {
                    expected: dim,
                    actual: s.dim() as usize,
                });
            }
            if s.metric() != metric {
                return Err(Error::MetricMismatch {
                    expected: metric.name(),
                    actual: s.metric().name(),
                });
            }
        }
        let mut dead = HashMap::new();
        let mut dead_copies = 0usize;
        if segments.len() > 1 {
            let mut newest: HashMap<&K, u32> = HashMap::new();
            for (j, s) in segments.iter().enumerate().rev() {
                for key in s.keys() {
                    match newest.get(key) {
                        None => {
                            newest.insert(key, j as u32);
                        }
                        Some(&jj) => {
                            dead.insert(key.clone(), jj);
                            dead_copies += 1;
                        }
                    }
                }
            }
        }
        let segment_vectors = segments.iter().map(|s| s.len()).sum();
        Ok(VectorIndex {
            metric,
            dim,
            segments,
            buffer: HashMap::new(),
            dead,
            dead_copies,
            segment_vectors,
        })
    }

    /// The metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// The vector dimension.
    pub fn dim(&self) -> u32 {
        self.dim
    }

    /// Makes every segment copy of `key` dead.
    fn kill(&mut self, key: &K) {
        let to = self.segments.len() as u32;
        let from = self.dead.get(key).copied().unwrap_or(0);
        if from >= to {
            return;
        }
        let count = self.segments[from as usize..]
            .iter()
            .filter(|s| s.contains(key))
            .count();
        if count > 0 {
            self.dead.insert(key.clone(), to);
            self.dead_copies += count;
        }
    }

    /// The row with this key now has this vector (insert or update): it is buffered
    /// exactly and any segment copy becomes dead. Errors on a wrong dimension or a
    /// non-finite component (the index is unchanged then).
    pub fn upsert(&mut self, key: K, vector: &[f32]) -> Result<()> {
        check_vector(self.dim, vector)?;
        self.kill(&key);
        self.buffer.insert(key, Arc::from(vector));
        Ok(())
    }

    /// The row was deleted (or its vector set to NULL): it leaves the buffer and its
    /// segment copies become dead. Unknown keys are ignored.
    pub fn remove(&mut self, key: &K) {
        self.buffer.remove(key);
        self.kill(key);
    }

    /// Whether `key` has a live vector.
    pub fn contains(&self, key: &K) -> bool {
        self.buffer.contains_key(key) || self.live_segment(key).is_some()
    }

    /// The index of the segment holding `key`'s live copy, if the live copy is in a segment.
    fn live_segment(&self, key: &K) -> Option<usize> {
        if self.buffer.contains_key(key) {
            return None;
        }
        let from = self.dead.get(key).copied().unwrap_or(0) as usize;
        (from..self.segments.len())
            .rev()
            .find(|&i| self.segments[i].contains(key))
    }

    /// Top `k` by the metric's pgvector distance over the segments (beam width `ef` per
    /// segment, at least `k`) and the buffer (exact). Dead keys are never returned, each
    /// key at most once, ascending; ties are ordered by the keys' encodings. NaN distances
    /// are not returned.
    ///
    /// Errors: a query whose length is not the dimension, or with a non-finite component.
    /// `k == 0`, an empty index, or a cosine query of norm 0 give an empty result.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        scratch: &mut Scratch,
    ) -> Result<Vec<(K, f32)>> {
        check_vector(self.dim, query)?;
        if k == 0 || (self.metric == Metric::Cosine && dot(query, query) == 0.0) {
            return Ok(Vec::new());
        }
        let mut from_segments: Vec<(K, f32)> = Vec::new();
        for (i, seg) in self.segments.iter().enumerate() {
            let i = i as u32;
            let dead = &self.dead;
            if dead.is_empty() {
                seg.search_into(query, k, ef, scratch, &|_| false, &mut from_segments);
            } else {
                let skip = |key: &K| dead.get(key).is_some_and(|&d| i < d);
                seg.search_into(query, k, ef, scratch, &skip, &mut from_segments);
            }
        }
        let mut heap: BinaryHeap<Ranked<'_, K>> =
            BinaryHeap::with_capacity(k.min(self.len()).saturating_add(1));
        for (key, v) in &self.buffer {
            offer(
                &mut heap,
                k,
                Ranked {
                    dist: distance(self.metric, query, v),
                    key,
                },
            );
        }
        for (key, dist) in &from_segments {
            offer(&mut heap, k, Ranked { dist: *dist, key });
        }
        Ok(heap
            .into_sorted_vec()
            .into_iter()
            .map(|r| (r.key.clone(), r.dist))
            .collect())
    }

    /// The segments, oldest first.
    pub fn segments(&self) -> &[Arc<Segment<K>>] {
        &self.segments
    }

    /// Number of vectors in the buffer.
    pub fn buffer_len(&self) -> usize {
        self.buffer.len()
    }

    /// Number of dead segment copies (what a rebuild would drop). A key dead in two
    /// segments counts twice.
    pub fn dead_len(&self) -> usize {
        self.dead_copies
    }

    /// Number of live vectors.
    pub fn len(&self) -> usize {
        self.segment_vectors - self.dead_copies + self.buffer.len()
    }

    /// Whether there is no live vector.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The live vectors in the buffer, for building a new segment from them.
    pub fn buffered(&self) -> impl Iterator<Item = (&K, &[f32])> {
        self.buffer.iter().map(|(k, v)| (k, &**v))
    }

    /// All live `(key, vector)` pairs across segments and buffer, for a full rebuild.
    /// Cosine segments hold unit-length copies, which is fine for rebuilding a cosine
    /// index.
    pub fn live(&self) -> impl Iterator<Item = (&K, &[f32])> {
        let dead = &self.dead;
        let buffer = &self.buffer;
        self.segments
            .iter()
            .enumerate()
            .flat_map(move |(i, s)| {
                s.iter().filter(move |(k, _)| {
                    !buffer.contains_key(*k) && dead.get(*k).is_none_or(|&d| (i as u32) >= d)
                })
            })
            .chain(self.buffered())
    }
}
