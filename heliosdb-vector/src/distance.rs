//! Metrics, distance functions with pgvector's semantics, and exact top-k.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};

use crate::simd;

/// A distance metric, as pgvector defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Metric {
    /// Euclidean distance (`<->`): `sqrt(sum((a - b)^2))`.
    L2,
    /// Cosine distance (`<=>`): `1 - dot(a, b) / (|a| |b|)`, NaN when a norm is 0.
    Cosine,
    /// Negative inner product (`<#>`): `-dot(a, b)`.
    InnerProduct,
}

impl Metric {
    /// The stable lower-case name: `"l2"`, `"cosine"`, `"inner_product"`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::L2 => "l2",
            Metric::Cosine => "cosine",
            Metric::InnerProduct => "inner_product",
        }
    }

    /// The stable code used in encodings: 1 = L2, 2 = Cosine, 3 = InnerProduct.
    pub fn code(self) -> u8 {
        match self {
            Metric::L2 => 1,
            Metric::Cosine => 2,
            Metric::InnerProduct => 3,
        }
    }

    /// The metric with this encoding code, if any.
    pub fn from_code(code: u8) -> Option<Metric> {
        match code {
            1 => Some(Metric::L2),
            2 => Some(Metric::Cosine),
            3 => Some(Metric::InnerProduct),
            _ => None,
        }
    }

    /// The metric with this [`Metric::name`], if any.
    pub fn from_name(name: &str) -> Option<Metric> {
        match name {
            "l2" => Some(Metric::L2),
            "cosine" => Some(Metric::Cosine),
            "inner_product" => Some(Metric::InnerProduct),
            _ => None,
        }
    }
}

/// Dot product. On a length mismatch only the first `min(a.len(), b.len())` components are
/// used (callers check dimensions; this never panics).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    simd::dot(a, b)
}

/// Squared Euclidean distance. On a length mismatch only the first
/// `min(a.len(), b.len())` components are used.
#[inline]
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    simd::l2_squared(a, b)
}

/// Euclidean norm `sqrt(dot(a, a))`.
#[inline]
pub fn norm(a: &[f32]) -> f32 {
    simd::dot(a, a).sqrt()
}

/// The name of the distance kernels selected for this CPU (`"avx2+fma"` or `"portable"`).
pub fn kernel_name() -> &'static str {
    simd::kernel_name()
}

/// Cosine distance from a dot product and the two squared norms, as pgvector computes it:
/// the similarity is clamped to [-1, 1]; NaN when a norm is 0.
#[inline]
pub(crate) fn cosine_from_parts(dot: f32, norm2_a: f32, norm2_b: f32) -> f32 {
    let denom = (f64::from(norm2_a) * f64::from(norm2_b)).sqrt();
    if denom == 0.0 || denom.is_nan() {
        return f32::NAN;
    }
    let sim = (f64::from(dot) / denom).clamp(-1.0, 1.0);
    (1.0 - sim) as f32
}

/// The metric's pgvector distance between `a` and `b`. L2: `sqrt(l2_squared)`; Cosine:
/// `1 - dot / (|a| |b|)` with the similarity clamped to [-1, 1], NaN when a norm is 0;
/// InnerProduct: `-dot`. On a length mismatch the shorter length is used.
#[inline]
pub fn distance(metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    match metric {
        Metric::L2 => l2_squared(a, b).sqrt(),
        Metric::Cosine => {
            let (ab, aa, bb) = simd::cos_parts(a, b);
            cosine_from_parts(ab, aa, bb)
        }
        Metric::InnerProduct => -dot(a, b),
    }
}

/// A distance as a totally ordered key: NaN (any sign) sorts after +inf and -0.0 equals 0.0.
#[inline]
pub(crate) fn order_key(d: f32) -> f32 {
    if d.is_nan() { f32::NAN } else { d + 0.0 }
}

/// Ascending order of two distances with NaN last.
#[inline]
pub(crate) fn cmp_dist(a: f32, b: f32) -> Ordering {
    order_key(a).total_cmp(&order_key(b))
}

/// A (distance, id) pair ordered by distance (NaN last), then id.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scored {
    pub(crate) dist: f32,
    pub(crate) id: u32,
}

impl PartialEq for Scored {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Scored {}
impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_dist(self.dist, other.dist).then(self.id.cmp(&other.id))
    }
}

/// One row's distance from the query as brute force ranks it (L2 squared; the root is
/// taken of the k survivors only). `q_norm2` is [`simd::norm2`] of the query (cosine).
#[inline]
fn ranking_distance(metric: Metric, q: &[f32], q_norm2: f32, row: &[f32]) -> f32 {
    match metric {
        Metric::L2 => l2_squared(q, row),
        Metric::Cosine => {
            let (d, row_norm2) = simd::dot_norm(q, row);
            cosine_from_parts(d, q_norm2, row_norm2)
        }
        Metric::InnerProduct => -dot(q, row),
    }
}

/// The `k` best `(distance, row)` pairs offered, ties to the row offered first.
struct Best {
    k: usize,
    heap: BinaryHeap<Scored>,
}

impl Best {
    fn new(k: usize, rows: usize) -> Best {
        Best {
            k,
            heap: BinaryHeap::with_capacity(k.min(rows) + 1),
        }
    }

    #[inline]
    fn offer(&mut self, dist: f32, id: u32) {
        let cand = Scored { dist, id };
        if self.heap.len() < self.k {
            self.heap.push(cand);
        } else if let Some(mut top) = self.heap.peek_mut()
            && cand < *top
        {
            *top = cand;
        }
    }

    fn finish(self, metric: Metric) -> Vec<(u32, f32)> {
        let mut out = self.heap.into_sorted_vec();
        if metric == Metric::L2 {
            for s in &mut out {
                s.dist = s.dist.sqrt();
            }
        }
        out.into_iter().map(|s| (s.id, s.dist)).collect()
    }
}

/// Exact top-k over a flat row-major `n × dim` array: `(row index, distance)` in ascending
/// distance, ties to the lower index, NaN distances last. A trailing partial row (when
/// `data.len()` is not a multiple of `dim`) is ignored; `dim == 0` or `k == 0` gives an empty
/// result; a query whose length differs from `dim` is compared on the shorter length.
///
/// Cosine reads each row once (its dot with the query and its norm in one pass). The
/// distances are bit-identical to [`distance`]'s.
pub fn brute_force(
    metric: Metric,
    data: &[f32],
    dim: usize,
    query: &[f32],
    k: usize,
) -> Vec<(u32, f32)> {
    if dim == 0 || k == 0 {
        return Vec::new();
    }
    let rows = data.chunks_exact(dim);
    let mut best = Best::new(k, rows.len());
    let q = &query[..query.len().min(dim)];
    let q_norm2 = simd::norm2(q);
    for (i, row) in rows.enumerate().take(u32::MAX as usize) {
        best.offer(ranking_distance(metric, q, q_norm2, row), i as u32);
    }
    best.finish(metric)
}

/// Bytes of rows a batch keeps hot while every query of the batch passes over them
/// (well inside a core's L2 cache).
const BATCH_BLOCK_BYTES: usize = 128 * 1024;

/// [`brute_force`] for many queries at once: `queries` is a flat row-major `nq × dim`
/// array (a trailing partial query is ignored) and the result holds, per query in order,
/// exactly what `brute_force(metric, data, dim, query, k)` returns for it.
///
/// A throughput API: the data is read from memory once per batch instead of once per
/// query (each block of rows is compared with every query while it is in cache), and
/// cosine computes each row's norm once per batch. A single query gains nothing from it.
/// `dim == 0` gives no results; `k == 0` an empty result per query.
pub fn brute_force_batch(
    metric: Metric,
    data: &[f32],
    dim: usize,
    queries: &[f32],
    k: usize,
) -> Vec<Vec<(u32, f32)>> {
    if dim == 0 {
        return Vec::new();
    }
    let queries: Vec<&[f32]> = queries.chunks_exact(dim).collect();
    if k == 0 {
        return vec![Vec::new(); queries.len()];
    }
    let n = (data.len() / dim).min(u32::MAX as usize);
    let data = &data[..n * dim];
    let mut best: Vec<Best> = queries.iter().map(|_| Best::new(k, n)).collect();
    let q_norm2: Vec<f32> = match metric {
        Metric::Cosine => queries.iter().map(|q| simd::norm2(q)).collect(),
        _ => Vec::new(),
    };
    let block_rows = (BATCH_BLOCK_BYTES / (dim * 4)).max(1);
    let mut row_norm2 = Vec::with_capacity(block_rows);
    for (b, block) in data.chunks(block_rows * dim).enumerate() {
        let first = b * block_rows;
        if metric == Metric::Cosine {
            row_norm2.clear();
            row_norm2.extend(block.chunks_exact(dim).map(simd::norm2));
        }
        for (qi, q) in queries.iter().enumerate() {
            let best = &mut best[qi];
            for (j, row) in block.chunks_exact(dim).enumerate() {
                let d = match metric {
                    Metric::L2 => l2_squared(q, row),
                    Metric::Cosine => {
                        cosine_from_parts(simd::cos_dot(q, row), q_norm2[qi], row_norm2[j])
                    }
                    Metric::InnerProduct => -dot(q, row),
                };
                best.offer(d, (first + j) as u32);
            }
        }
    }
    best.into_iter().map(|b| b.finish(metric)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive_dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum()
    }
    fn naive_l2(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| {
                let d = f64::from(*x) - f64::from(*y);
                d * d
            })
            .sum()
    }
    fn close(got: f32, want: f64, scale: f64) -> bool {
        (f64::from(got) - want).abs() <= 1e-4 * scale.max(1.0)
    }

    fn pair() -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
        (0usize..1000).prop_flat_map(|n| {
            (
                proptest::collection::vec(-10.0f32..10.0, n),
                proptest::collection::vec(-10.0f32..10.0, n),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn kernels_match_f64((a, b) in pair()) {
            let scale: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(x.abs()) * f64::from(y.abs())).sum();
            prop_assert!(close(dot(&a, &b), naive_dot(&a, &b), scale));
            prop_assert!(close(simd::portable::dot(&a, &b), naive_dot(&a, &b), scale));
            let l2 = naive_l2(&a, &b);
            prop_assert!(close(l2_squared(&a, &b), l2, l2));
            prop_assert!(close(simd::portable::l2_squared(&a, &b), l2, l2));
            let na = naive_dot(&a, &a).sqrt();
            prop_assert!(close(norm(&a), na, na));
        }

        #[test]
        fn mismatched_lengths_use_shorter(a in proptest::collection::vec(-1.0f32..1.0, 0..100),
                                          b in proptest::collection::vec(-1.0f32..1.0, 0..100)) {
            let n = a.len().min(b.len());
            prop_assert!(close(dot(&a, &b), naive_dot(&a[..n], &b[..n]), n as f64));
            prop_assert!(close(l2_squared(&a, &b), naive_l2(&a[..n], &b[..n]), 4.0 * n as f64));
            for m in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
                let _ = distance(m, &a, &b);
            }
        }
    }

    #[test]
    fn pgvector_semantics() {
        let a = [1.0f32, 0.0];
        let b = [0.0f32, 2.0];
        assert!((distance(Metric::L2, &a, &b) - 5.0f32.sqrt()).abs() < 1e-6);
        assert!((distance(Metric::Cosine, &a, &b) - 1.0).abs() < 1e-6);
        assert_eq!(distance(Metric::Cosine, &a, &a), 0.0);
        assert!(distance(Metric::Cosine, &a, &[0.0, 0.0]).is_nan());
        assert_eq!(
            distance(Metric::InnerProduct, &[1.0, 2.0], &[3.0, 4.0]),
            -11.0
        );
        for m in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
            assert_eq!(Metric::from_code(m.code()), Some(m));
            assert_eq!(Metric::from_name(m.name()), Some(m));
        }
        assert_eq!(Metric::from_code(0), None);
    }

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    #[test]
    fn batch_equals_single_queries() {
        let mut seed = 11u64;
        for &(n, dim, nq) in &[
            (0usize, 4usize, 3usize),
            (1, 1, 1),
            (97, 7, 5),
            (700, 96, 9),
            (300, 384, 4),
        ] {
            let mut data: Vec<f32> = (0..n * dim).map(|_| lcg(&mut seed)).collect();
            if n > 10 {
                // A duplicate (ties) and a zero row (NaN cosine).
                let (head, tail) = data.split_at_mut(5 * dim);
                tail[..dim].copy_from_slice(&head[..dim]);
                for x in &mut data[3 * dim..4 * dim] {
                    *x = 0.0;
                }
            }
            let mut queries: Vec<f32> = (0..nq * dim).map(|_| lcg(&mut seed)).collect();
            // A query equal to a row, a zero query, and a trailing partial query (ignored).
            if n > 10 && nq > 2 {
                queries[..dim].copy_from_slice(&data[7 * dim..8 * dim]);
                for x in &mut queries[dim..2 * dim] {
                    *x = 0.0;
                }
            }
            queries.extend(std::iter::repeat_n(0.5, dim / 2));
            for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
                for k in [0usize, 1, 10, n + 2] {
                    let batch = brute_force_batch(metric, &data, dim, &queries, k);
                    assert_eq!(batch.len(), nq);
                    for (qi, got) in batch.iter().enumerate() {
                        let q = &queries[qi * dim..(qi + 1) * dim];
                        let want = brute_force(metric, &data, dim, q, k);
                        assert_eq!(got.len(), want.len());
                        for (g, w) in got.iter().zip(&want) {
                            assert_eq!(g.0, w.0, "{metric:?} n {n} dim {dim} q {qi} k {k}");
                            assert!(g.1.to_bits() == w.1.to_bits() || g.1.is_nan() && w.1.is_nan());
                        }
                    }
                }
            }
        }
        assert!(brute_force_batch(Metric::L2, &[1.0], 0, &[1.0], 3).is_empty());
    }

    #[test]
    fn brute_force_equals_naive_sort() {
        let mut seed = 7u64;
        for &(n, dim) in &[(0usize, 3usize), (1, 1), (50, 7), (300, 33), (500, 128)] {
            let mut data: Vec<f32> = (0..n * dim).map(|_| lcg(&mut seed)).collect();
            // Exact duplicates and a zero row exercise ties and NaN (cosine).
            if n > 10 {
                let (head, tail) = data.split_at_mut(5 * dim);
                tail[..dim].copy_from_slice(&head[..dim]);
                for x in &mut data[3 * dim..4 * dim] {
                    *x = 0.0;
                }
            }
            let query: Vec<f32> = (0..dim).map(|_| lcg(&mut seed)).collect();
            for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
                for k in [0usize, 1, 5, 10, n, n + 3] {
                    let got = brute_force(metric, &data, dim, &query, k);
                    let mut want: Vec<(u32, f32)> = data
                        .chunks_exact(dim)
                        .enumerate()
                        .map(|(i, r)| (i as u32, distance(metric, &query, r)))
                        .collect();
                    want.sort_by(|a, b| cmp_dist(a.1, b.1).then(a.0.cmp(&b.0)));
                    want.truncate(k);
                    assert_eq!(got.len(), want.len());
                    for (g, w) in got.iter().zip(&want) {
                        assert_eq!(g.0, w.0, "{metric:?} n {n} k {k}");
                        assert!(
                            (g.1.is_nan() && w.1.is_nan()) || (g.1 - w.1).abs() <= 1e-5,
                            "{g:?} {w:?}"
                        );
                        if metric != Metric::L2 {
                            // Cosine and inner product: the very same bits as `distance`.
                            assert!(g.1.is_nan() && w.1.is_nan() || g.1.to_bits() == w.1.to_bits());
                        }
                    }
                }
            }
        }
    }
}
