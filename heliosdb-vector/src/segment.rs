//! Immutable HNSW segments: built with instant-distance, searched with our own code over a
//! flat vector array, persisted in our own versioned, checksummed format.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use serde::{Deserialize, Serialize};

use crate::distance::{Metric, Scored, cmp_dist, dot, l2_squared};
use crate::error::{Error, Result};
use crate::key::{Key, take, take_array};

/// Links per node on layer 0 (instant-distance's `2 * M`).
pub const ZERO_LINKS: usize = 64;
/// Links per node on the upper layers (instant-distance's `M`).
pub const UPPER_LINKS: usize = 32;
/// The "no neighbour" marker in adjacency arrays.
pub const INVALID: u32 = u32::MAX;

/// Magic bytes at the start of an encoded segment.
pub const MAGIC: [u8; 4] = *b"HVSG";
/// The segment format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;

/// The seed used by [`HnswParams::default`], so that builds are reproducible by default.
pub const DEFAULT_SEED: u64 = 0x4845_4c49_4f53_4442; // "HELIOSDB"

/// Parameters of an HNSW build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HnswParams {
    /// The requested number of links per node (pgvector's `m`). Recorded only:
    /// instant-distance's degree is a compile-time constant (32 links on upper layers,
    /// 64 on layer 0), so this value does not change the graph.
    pub m: u16,
    /// Candidate list size while inserting (pgvector's `ef_construction`).
    pub ef_construction: u32,
    /// The default search beam width for callers that have no per-query value.
    pub ef_search: u32,
    /// Seed of the layer assignment. With `threads == 1` the same seed and input give the
    /// same graph.
    pub seed: u64,
    /// Construction threads. 0 means rayon's default (one per core). Use 1 for a
    /// deterministic graph.
    pub threads: usize,
}

impl Default for HnswParams {
    /// m 16, ef_construction 200, ef_search 40, [`DEFAULT_SEED`], one thread per core.
    fn default() -> Self {
        HnswParams {
            m: 16,
            ef_construction: 200,
            ef_search: 40,
            seed: DEFAULT_SEED,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// An immutable HNSW graph over vectors, each labelled with a key of type `K`.
///
/// Points are stored in graph order (instant-distance's `PointId` order): point 0 is the
/// entry point on the top layer; upper layer `l` (1-based) holds points `0..len_l`.
pub struct Segment<K> {
    metric: Metric,
    dim: u32,
    /// `n × dim`, row-major, in point order. Cosine segments hold unit-length copies.
    vectors: Vec<f32>,
    /// `n × ZERO_LINKS` neighbour ids; a row ends at the first [`INVALID`].
    pub(crate) zero: Vec<u32>,
    /// Layer 1 first: `len_l × UPPER_LINKS` each, lengths non-increasing, all ≥ 1.
    pub(crate) upper: Vec<Vec<u32>>,
    keys: Vec<K>,
    index: HashMap<K, u32>,
    skipped: Vec<K>,
}

impl<K> std::fmt::Debug for Segment<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("metric", &self.metric)
            .field("dim", &self.dim)
            .field("len", &self.keys.len())
            .field("layers", &(self.upper.len() + 1))
            .finish()
    }
}

/// Reusable per-thread search state: a visited set with generation stamps, the two heaps
/// of the beam search and a query buffer. A query allocates nothing once these have grown
/// to the largest segment and `ef` used.
#[derive(Debug, Default)]
pub struct Scratch {
    visited: Vec<u32>,
    generation: u32,
    candidates: BinaryHeap<Reverse<Scored>>,
    results: BinaryHeap<Scored>,
    query: Vec<f32>,
}

impl Scratch {
    /// Empty state; it grows on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a new visited generation covering `n` points.
    fn reset(&mut self, n: usize) {
        if self.visited.len() < n {
            self.visited.resize(n, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.visited.fill(0);
            self.generation = 1;
        }
        self.candidates.clear();
        self.results.clear();
    }

    /// Marks `id` visited; false if it already was.
    #[inline]
    fn visit(&mut self, id: u32) -> bool {
        match self.visited.get_mut(id as usize) {
            Some(slot) if *slot != self.generation => {
                *slot = self.generation;
                true
            }
            _ => false,
        }
    }
}

/// The distance the graph is built and searched with: squared L2, `1 - dot` on unit
/// vectors, or `-dot`.
#[inline]
fn graph_distance(metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    match metric {
        Metric::L2 => l2_squared(a, b),
        Metric::Cosine => 1.0 - dot(a, b),
        Metric::InnerProduct => -dot(a, b),
    }
}

/// Converts a graph distance into the metric's pgvector distance.
#[inline]
fn report_distance(metric: Metric, d: f32) -> f32 {
    match metric {
        Metric::L2 => d.max(0.0).sqrt(),
        Metric::Cosine => d.clamp(0.0, 2.0),
        Metric::InnerProduct => d,
    }
}

/// First non-finite component of `v`, if any.
fn first_non_finite(v: &[f32]) -> Option<usize> {
    v.iter().position(|x| !x.is_finite())
}

/// A point handed to instant-distance: a borrowed vector and its input position. It
/// serializes as its position only, so that the built graph can be read back without
/// copying vectors.
#[derive(Clone, Copy)]
pub(crate) struct BuildPoint<'a> {
    pub(crate) id: u32,
    pub(crate) v: &'a [f32],
    pub(crate) metric: Metric,
}

impl instant_distance::Point for BuildPoint<'_> {
    fn distance(&self, other: &Self) -> f32 {
        graph_distance(self.metric, self.v, other.v)
    }
}

impl Serialize for BuildPoint<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_u32(self.id)
    }
}

/// Mirror of instant-distance 0.6.1's serde form of `Hnsw<P>` (field order matters for
/// postcard): `ef_search: usize, points: Vec<P>, zero: Vec<ZeroNode>,
/// layers: Vec<Vec<UpperNode>>`, with `PointId(u32)` newtypes.
#[derive(Deserialize)]
struct HnswMirror {
    #[allow(dead_code)]
    ef_search: usize,
    points: Vec<u32>,
    zero: Vec<ZeroMirror>,
    layers: Vec<Vec<UpperMirror>>,
}

#[derive(Deserialize)]
struct ZeroMirror(#[serde(with = "serde_big_array::BigArray")] [u32; ZERO_LINKS]);

#[derive(Deserialize)]
struct UpperMirror([u32; UPPER_LINKS]);

/// The graph of a build, in point order.
pub(crate) struct Graph {
    /// `order[pid]` = input position of point `pid`.
    pub(crate) order: Vec<u32>,
    pub(crate) zero: Vec<u32>,
    pub(crate) upper: Vec<Vec<u32>>,
}

/// Builds a graph over the flat `vectors` (`n × dim`, already normalized for cosine) and
/// returns our layout plus instant-distance's own `Hnsw` (for comparison tests).
pub(crate) fn build_graph<'a>(
    metric: Metric,
    vectors: &'a [f32],
    dim: usize,
    params: &HnswParams,
) -> Result<(Graph, instant_distance::Hnsw<BuildPoint<'a>>)> {
    let n = vectors.len().checked_div(dim).unwrap_or(0);
    if n >= u32::MAX as usize {
        return Err(Error::InvalidParameter(format!(
            "{n} vectors in one segment; split them into segments of fewer than 2^32 - 1"
        )));
    }
    let points: Vec<BuildPoint<'a>> = vectors
        .chunks_exact(dim.max(1))
        .enumerate()
        .map(|(i, v)| BuildPoint {
            id: i as u32,
            v,
            metric,
        })
        .collect();
    let builder = instant_distance::Builder::default()
        .ef_construction(params.ef_construction.max(1) as usize)
        .ef_search(params.ef_search.max(1) as usize)
        .seed(params.seed);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(params.threads)
        .build()
        .map_err(|e| Error::Build(format!("cannot create the build thread pool: {e}")))?;
    let (hnsw, _ids) = pool.install(|| builder.build_hnsw(points));
    let bytes = postcard::to_allocvec(&hnsw)
        .map_err(|e| Error::Build(format!("cannot serialize the built graph: {e}")))?;
    let mirror: HnswMirror = postcard::from_bytes(&bytes)
        .map_err(|e| Error::Build(format!("cannot read the built graph back: {e}")))?;
    drop(bytes);
    if mirror.points.len() != n || mirror.zero.len() != n {
        return Err(Error::Build(format!(
            "built graph has {} points and {} nodes for {n} vectors",
            mirror.points.len(),
            mirror.zero.len()
        )));
    }
    let mut zero = Vec::with_capacity(n * ZERO_LINKS);
    for node in &mirror.zero {
        zero.extend_from_slice(&node.0);
    }
    let upper: Vec<Vec<u32>> = mirror
        .layers
        .iter()
        .map(|layer| {
            let mut flat = Vec::with_capacity(layer.len() * UPPER_LINKS);
            for node in layer {
                flat.extend_from_slice(&node.0);
            }
            flat
        })
        .collect();
    let mut seen = vec![false; n];
    for &p in &mirror.points {
        match seen.get_mut(p as usize) {
            Some(s) if !*s => *s = true,
            _ => {
                return Err(Error::Build(
                    "built graph's point order is not a permutation".into(),
                ));
            }
        }
    }
    validate_graph(n, &zero, &upper).map_err(Error::Build)?;
    Ok((
        Graph {
            order: mirror.points,
            zero,
            upper,
        },
        hnsw,
    ))
}

/// Checks adjacency sizes and that every neighbour id is a point of its layer or INVALID.
fn validate_graph(n: usize, zero: &[u32], upper: &[Vec<u32>]) -> std::result::Result<(), String> {
    if zero.len() != n * ZERO_LINKS {
        return Err(format!("layer 0 has {} links for {n} points", zero.len()));
    }
    if n == 0 && !upper.is_empty() {
        return Err("an empty segment has upper layers".into());
    }
    if let Some(&bad) = zero.iter().find(|&&x| x != INVALID && x as usize >= n) {
        return Err(format!("layer 0 links to point {bad} of {n}"));
    }
    let mut below = n;
    for (l, layer) in upper.iter().enumerate() {
        if layer.len() % UPPER_LINKS != 0 {
            return Err(format!("layer {} has a partial node", l + 1));
        }
        let len = layer.len() / UPPER_LINKS;
        if len == 0 || len > below {
            return Err(format!(
                "layer {} has {len} points, the layer below {below}",
                l + 1
            ));
        }
        if let Some(&bad) = layer.iter().find(|&&x| x != INVALID && x as usize >= len) {
            return Err(format!("layer {} links to point {bad} of {len}", l + 1));
        }
        below = len;
    }
    Ok(())
}

impl<K: Key> Segment<K> {
    /// Builds a segment over `items`.
    ///
    /// Cosine: vectors are normalized once here (the segment stores unit-length copies,
    /// search normalizes the query) and the graph uses `1 - dot`; zero vectors cannot be
    /// compared by cosine and are left out (see [`Segment::skipped`]). L2: the graph uses
    /// squared L2 internally, results report the square root. InnerProduct: `-dot`.
    ///
    /// Errors: `dim == 0`, a vector whose length is not `dim`, a non-finite component,
    /// duplicate keys, more than `u32::MAX - 1` vectors, or a failed thread-pool setup.
    pub fn build(
        metric: Metric,
        dim: u32,
        params: &HnswParams,
        items: Vec<(K, Vec<f32>)>,
    ) -> Result<Self> {
        if dim == 0 {
            return Err(Error::InvalidParameter(
                "vector dimension must be at least 1".into(),
            ));
        }
        let d = dim as usize;
        let mut keys_in = Vec::with_capacity(items.len());
        let mut flat = Vec::with_capacity(items.len().saturating_mul(d));
        let mut skipped = Vec::new();
        for (key, v) in items {
            if v.len() != d {
                return Err(Error::Dimension {
                    expected: dim,
                    actual: v.len(),
                });
            }
            if let Some(index) = first_non_finite(&v) {
                return Err(Error::NonFinite { index });
            }
            if metric == Metric::Cosine {
                let norm = f64::from(dot(&v, &v)).sqrt();
                if norm == 0.0 || !norm.is_finite() {
                    skipped.push(key);
                    continue;
                }
                flat.extend(v.iter().map(|&x| (f64::from(x) / norm) as f32));
            } else {
                flat.extend_from_slice(&v);
            }
            keys_in.push(key);
        }
        let mut index = HashMap::with_capacity(keys_in.len());
        for (i, k) in keys_in.iter().enumerate() {
            if index.insert(k.clone(), i as u32).is_some() {
                return Err(Error::DuplicateKey);
            }
        }
        for k in &skipped {
            if index.contains_key(k) {
                return Err(Error::DuplicateKey);
            }
        }
        let (graph, hnsw) = build_graph(metric, &flat, d, params)?;
        drop(hnsw);
        Self::from_graph(metric, dim, &flat, keys_in, index, graph, skipped)
    }

    /// Assembles a segment from a built graph: vectors and keys reordered into point
    /// order. `index` maps each key to its input position and is rewritten to point ids.
    pub(crate) fn from_graph(
        metric: Metric,
        dim: u32,
        flat: &[f32],
        keys_in: Vec<K>,
        mut index: HashMap<K, u32>,
        graph: Graph,
        skipped: Vec<K>,
    ) -> Result<Self> {
        let d = dim as usize;
        let n = keys_in.len();
        if graph.order.len() != n || flat.len() != n * d {
            return Err(Error::Build("built graph does not match the input".into()));
        }
        let mut vectors = Vec::with_capacity(n * d);
        let mut slots: Vec<Option<K>> = keys_in.into_iter().map(Some).collect();
        let mut keys = Vec::with_capacity(n);
        for &src in &graph.order {
            let src = src as usize;
            match (
                slots.get_mut(src).and_then(Option::take),
                flat.get(src * d..(src + 1) * d),
            ) {
                (Some(k), Some(v)) => {
                    keys.push(k);
                    vectors.extend_from_slice(v);
                }
                _ => return Err(Error::Build("point order repeats an input".into())),
            }
        }
        for (pid, k) in keys.iter().enumerate() {
            index.insert(k.clone(), pid as u32);
        }
        Ok(Segment {
            metric,
            dim,
            vectors,
            zero: graph.zero,
            upper: graph.upper,
            keys,
            index,
            skipped,
        })
    }

    /// Number of vectors in the segment.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the segment holds no vectors.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The vector dimension.
    pub fn dim(&self) -> u32 {
        self.dim
    }

    /// The metric the graph was built for.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Number of layers including layer 0 (0 for an empty segment).
    pub fn layers(&self) -> usize {
        if self.is_empty() {
            0
        } else {
            self.upper.len() + 1
        }
    }

    /// Whether the segment holds a vector for `key` (O(1)).
    pub fn contains(&self, key: &K) -> bool {
        self.index.contains_key(key)
    }

    /// The keys, in point order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.keys.iter()
    }

    /// The stored vector of `key` (unit length for cosine segments).
    pub fn get(&self, key: &K) -> Option<&[f32]> {
        self.index.get(key).map(|&pid| self.vector(pid))
    }

    /// All `(key, stored vector)` pairs in point order (cosine segments hold unit-length
    /// copies).
    pub fn iter(&self) -> impl Iterator<Item = (&K, &[f32])> {
        self.keys
            .iter()
            .zip(self.vectors.chunks_exact(self.dim as usize))
    }

    /// Keys that [`Segment::build`] left out: zero vectors of a cosine segment. Empty
    /// after [`Segment::decode`] (not persisted).
    pub fn skipped(&self) -> &[K] {
        &self.skipped
    }

    #[inline]
    fn vector(&self, pid: u32) -> &[f32] {
        let d = self.dim as usize;
        let start = pid as usize * d;
        self.vectors.get(start..start + d).unwrap_or(&[])
    }

    /// Prepares the query into `scratch.query`: false when it cannot be searched (wrong
    /// length, non-finite, or a zero cosine query).
    fn prepare_query(&self, query: &[f32], scratch: &mut Scratch) -> bool {
        if query.len() != self.dim as usize || first_non_finite(query).is_some() {
            return false;
        }
        scratch.query.clear();
        if self.metric == Metric::Cosine {
            let norm = f64::from(dot(query, query)).sqrt();
            if norm == 0.0 || !norm.is_finite() {
                return false;
            }
            scratch
                .query
                .extend(query.iter().map(|&x| (f64::from(x) / norm) as f32));
        } else {
            scratch.query.extend_from_slice(query);
        }
        true
    }

    /// HNSW search (Malkov & Yashunin, algorithms 2 and 5) for the prepared query in
    /// `scratch.query`: greedy descent through the upper layers, then a beam of width `ef`
    /// on layer 0. Leaves up to `ef` results (graph distances) in `scratch.results`.
    fn beam(&self, ef: usize, scratch: &mut Scratch) {
        let n = self.keys.len();
        scratch.reset(n);
        if n == 0 {
            return;
        }
        let q = std::mem::take(&mut scratch.query);
        let metric = self.metric;
        let mut ep = 0u32;
        let mut ep_dist = graph_distance(metric, &q, self.vector(0));
        for layer in self.upper.iter().rev() {
            loop {
                let mut moved = false;
                let start = ep as usize * UPPER_LINKS;
                let links = layer.get(start..start + UPPER_LINKS).unwrap_or(&[]);
                for &nb in links {
                    if nb == INVALID {
                        break;
                    }
                    let d = graph_distance(metric, &q, self.vector(nb));
                    if cmp_dist(d, ep_dist).is_lt() {
                        ep = nb;
                        ep_dist = d;
                        moved = true;
                    }
                }
                if !moved {
                    break;
                }
            }
        }
        let ef = ef.max(1);
        scratch.visit(ep);
        let first = Scored {
            dist: ep_dist,
            id: ep,
        };
        scratch.candidates.push(Reverse(first));
        scratch.results.push(first);
        while let Some(Reverse(c)) = scratch.candidates.pop() {
            if scratch.results.len() >= ef
                && let Some(worst) = scratch.results.peek()
                && cmp_dist(c.dist, worst.dist).is_gt()
            {
                break;
            }
            let start = c.id as usize * ZERO_LINKS;
            let links = self.zero.get(start..start + ZERO_LINKS).unwrap_or(&[]);
            for &nb in links {
                if nb == INVALID {
                    break;
                }
                if !scratch.visit(nb) {
                    continue;
                }
                let d = graph_distance(metric, &q, self.vector(nb));
                let cand = Scored { dist: d, id: nb };
                if scratch.results.len() < ef {
                    scratch.results.push(cand);
                    scratch.candidates.push(Reverse(cand));
                } else if let Some(mut worst) = scratch.results.peek_mut()
                    && cand < *worst
                {
                    *worst = cand;
                    drop(worst);
                    scratch.candidates.push(Reverse(cand));
                }
            }
        }
        scratch.query = q;
    }

    /// Up to `k` nearest points, ascending by the metric's pgvector distance (ties by point
    /// order), skipping keys for which `skip` is true (skipped points are still traversed,
    /// just not returned: the result is the best `k` of the `ef` beam that `skip` accepts).
    /// The beam width is `max(ef, k)`.
    ///
    /// Returns an empty result for a query of the wrong length, with a non-finite
    /// component, or (cosine) of norm 0; [`crate::VectorIndex::search`] reports those as
    /// errors. Points at a NaN distance are never returned.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        scratch: &mut Scratch,
        skip: &dyn Fn(&K) -> bool,
    ) -> Vec<(K, f32)> {
        let mut out = Vec::new();
        self.search_into(query, k, ef, scratch, skip, &mut out);
        out
    }

    /// Like [`Segment::search`], appending to `out` (which is not cleared).
    pub fn search_into(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        scratch: &mut Scratch,
        skip: &dyn Fn(&K) -> bool,
        out: &mut Vec<(K, f32)>,
    ) {
        if k == 0 || self.is_empty() || !self.prepare_query(query, scratch) {
            return;
        }
        self.beam(ef.max(k), scratch);
        let mut taken = 0usize;
        // into_sorted_vec would allocate; drain the max-heap from the worst instead.
        let first = out.len();
        let mut ranked: Vec<Scored> = std::mem::take(&mut scratch.results).into_vec();
        ranked.sort_unstable();
        for s in &ranked {
            if taken == k {
                break;
            }
            if s.dist.is_nan() {
                break;
            }
            let Some(key) = self.keys.get(s.id as usize) else {
                continue;
            };
            if skip(key) {
                continue;
            }
            out.push((key.clone(), report_distance(self.metric, s.dist)));
            taken += 1;
        }
        debug_assert!(out.len() - first <= k);
        ranked.clear();
        scratch.results = BinaryHeap::from(ranked);
    }

    /// Versioned, checksummed encoding, all integers little-endian:
    ///
    /// ```text
    /// magic b"HVSG" | u16 version (1) | u8 metric (1 l2, 2 cosine, 3 inner_product)
    /// | u32 dim | u32 n | u32 upper layer count U | U × u32 layer length (layer 1 first)
    /// | n × dim f32 vectors (point order) | n × 64 u32 layer-0 links
    /// | per upper layer: length × 32 u32 links | n keys (Key::encode)
    /// | u32 CRC32C of everything before it
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        let n = self.keys.len();
        let upper_links: usize = self.upper.iter().map(Vec::len).sum();
        let mut out = Vec::with_capacity(
            19 + 4 * self.upper.len()
                + 4 * (self.vectors.len() + self.zero.len() + upper_links)
                + 8 * n
                + 4,
        );
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.push(self.metric.code());
        out.extend_from_slice(&self.dim.to_le_bytes());
        out.extend_from_slice(&(n as u32).to_le_bytes());
        out.extend_from_slice(&(self.upper.len() as u32).to_le_bytes());
        for layer in &self.upper {
            out.extend_from_slice(&((layer.len() / UPPER_LINKS) as u32).to_le_bytes());
        }
        for x in &self.vectors {
            out.extend_from_slice(&x.to_le_bytes());
        }
        for x in &self.zero {
            out.extend_from_slice(&x.to_le_bytes());
        }
        for layer in &self.upper {
            for x in layer {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        for k in &self.keys {
            k.encode(&mut out);
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes [`Segment::encode`]'s output. Never panics and never allocates beyond what
    /// the byte length justifies. Verifies the magic, the version, the checksum, every
    /// neighbour id (a point of its layer, or INVALID), non-increasing non-empty layer
    /// sizes, finite vectors, `n` distinct keys and no trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < 4 || bytes[..4] != MAGIC {
            return Err(Error::Corrupt("not a vector segment (bad magic)".into()));
        }
        let mut cur = &bytes[4..];
        let version = u16::from_le_bytes(take_array::<2>(&mut cur, "format version")?);
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedFormat(version));
        }
        if bytes.len() < 4 + 2 + 4 {
            return Err(Error::Corrupt("truncated segment".into()));
        }
        let (body, crc_bytes) = bytes.split_at(bytes.len() - 4);
        let mut stored = [0u8; 4];
        stored.copy_from_slice(crc_bytes);
        if crc32c::crc32c(body) != u32::from_le_bytes(stored) {
            return Err(Error::Corrupt("checksum mismatch".into()));
        }
        let mut cur = &body[6..];
        let code = take_array::<1>(&mut cur, "metric")?[0];
        let metric = Metric::from_code(code)
            .ok_or_else(|| Error::Corrupt(format!("unknown metric code {code}")))?;
        let dim = u32::from_le_bytes(take_array::<4>(&mut cur, "dimension")?);
        if dim == 0 {
            return Err(Error::Corrupt("dimension 0".into()));
        }
        let n = u32::from_le_bytes(take_array::<4>(&mut cur, "point count")?) as usize;
        if n == INVALID as usize {
            return Err(Error::Corrupt("point count out of range".into()));
        }
        let layers = u32::from_le_bytes(take_array::<4>(&mut cur, "layer count")?) as usize;
        if layers.saturating_mul(4) > cur.len() {
            return Err(Error::Corrupt(
                "layer count exceeds the segment size".into(),
            ));
        }
        let mut lens = Vec::with_capacity(layers);
        for _ in 0..layers {
            lens.push(u32::from_le_bytes(take_array::<4>(&mut cur, "layer length")?) as usize);
        }
        let d = dim as usize;
        let vec_count = n
            .checked_mul(d)
            .ok_or_else(|| Error::Corrupt("vector array size overflows".into()))?;
        let vectors = read_f32s(&mut cur, vec_count, "vectors")?;
        if let Some(i) = first_non_finite(&vectors) {
            return Err(Error::Corrupt(format!(
                "vector component {i} is not finite"
            )));
        }
        let zero = read_u32s(&mut cur, n.saturating_mul(ZERO_LINKS), "layer 0 links")?;
        let mut upper = Vec::with_capacity(layers);
        for &len in &lens {
            upper.push(read_u32s(
                &mut cur,
                len.saturating_mul(UPPER_LINKS),
                "upper layer links",
            )?);
        }
        validate_graph(n, &zero, &upper).map_err(Error::Corrupt)?;
        // Every key takes at least one byte for any sane Key impl, but do not rely on it:
        // cap the pre-allocation by the remaining length.
        let mut keys = Vec::with_capacity(n.min(cur.len()));
        let mut index = HashMap::with_capacity(n.min(cur.len()));
        for pid in 0..n {
            let k = K::decode(&mut cur)?;
            if index.insert(k.clone(), pid as u32).is_some() {
                return Err(Error::Corrupt("duplicate key".into()));
            }
            keys.push(k);
        }
        if !cur.is_empty() {
            return Err(Error::Corrupt(format!(
                "{} trailing bytes after the keys",
                cur.len()
            )));
        }
        Ok(Segment {
            metric,
            dim,
            vectors,
            zero,
            upper,
            keys,
            index,
            skipped: Vec::new(),
        })
    }

    /// Approximate heap size in bytes (vectors, links, keys and the key index).
    pub fn memory_bytes(&self) -> usize {
        let key_bytes = std::mem::size_of::<K>() + std::mem::size_of::<u32>() + 8;
        4 * (self.vectors.capacity() + self.zero.capacity())
            + self.upper.iter().map(|l| 4 * l.capacity()).sum::<usize>()
            + self.keys.capacity() * std::mem::size_of::<K>()
            + self.index.capacity() * key_bytes
    }
}

fn read_u32s(cur: &mut &[u8], count: usize, what: &str) -> Result<Vec<u32>> {
    let bytes = take(
        cur,
        count
            .checked_mul(4)
            .ok_or_else(|| Error::Corrupt(format!("{what} size overflows")))?,
        what,
    )?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn read_f32s(cur: &mut &[u8], count: usize, what: &str) -> Result<Vec<f32>> {
    let bytes = take(
        cur,
        count
            .checked_mul(4)
            .ok_or_else(|| Error::Corrupt(format!("{what} size overflows")))?,
        what,
    )?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}
