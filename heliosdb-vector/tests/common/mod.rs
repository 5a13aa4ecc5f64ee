//! Test data shared by the unit and integration tests: the real MiniLM dataset when it is
//! present, else a generated clustered set; ground truth by exact inner product.
#![allow(dead_code)]

use std::path::PathBuf;

/// A base set, queries and exact top-100 ground truth (by inner product, ties to the
/// lower id).
pub struct Data {
    pub dim: usize,
    pub base: Vec<f32>,
    pub queries: Vec<f32>,
    pub truth: Vec<Vec<u32>>,
    pub real: bool,
}

impl Data {
    pub fn n(&self) -> usize {
        self.base.len() / self.dim
    }
    pub fn query(&self, i: usize) -> &[f32] {
        &self.queries[i * self.dim..(i + 1) * self.dim]
    }
    pub fn nq(&self) -> usize {
        self.queries.len() / self.dim
    }
    pub fn row(&self, i: usize) -> &[f32] {
        &self.base[i * self.dim..(i + 1) * self.dim]
    }
}

fn read_f32(path: &PathBuf) -> Option<Vec<f32>> {
    let bytes = std::fs::read(path).ok()?;
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

fn read_u32(path: &PathBuf) -> Option<Vec<u32>> {
    let bytes = std::fs::read(path).ok()?;
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

fn lcg(seed: &mut u64) -> f32 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

fn normalize(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// Exact ground truth by inner product over `base`.
pub fn ground_truth(base: &[f32], dim: usize, queries: &[f32], k: usize) -> Vec<Vec<u32>> {
    queries
        .chunks_exact(dim)
        .map(|q| {
            heliosdb_vector::brute_force(heliosdb_vector::Metric::InnerProduct, base, dim, q, k)
                .into_iter()
                .map(|(i, _)| i)
                .collect()
        })
        .collect()
}

/// Loads up to `max_base` base vectors and `max_queries` queries of the real dataset, or
/// generates a clustered set of that size when the files are absent. Ground truth comes
/// from the file when the full base set is used, else from brute force.
pub fn load(max_base: usize, max_queries: usize) -> Data {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors");
    let dim = 384usize;
    if let (Some(base), Some(queries), Some(gt)) = (
        read_f32(&dir.join("base.f32")),
        read_f32(&dir.join("queries.f32")),
        read_u32(&dir.join("groundtruth.u32")),
    ) && base.len() == 20_000 * dim
        && queries.len() == 1_000 * dim
        && gt.len() == 1_000 * 100
    {
        let nb = max_base.min(20_000);
        let nq = max_queries.min(1_000);
        let base = base[..nb * dim].to_vec();
        let queries = queries[..nq * dim].to_vec();
        let truth = if nb == 20_000 {
            gt.chunks_exact(100).take(nq).map(<[u32]>::to_vec).collect()
        } else {
            ground_truth(&base, dim, &queries, 100)
        };
        return Data {
            dim,
            base,
            queries,
            truth,
            real: true,
        };
    }
    // Generated: 64-d, 50 clusters, unit vectors.
    let dim = 64usize;
    let nb = max_base.min(5_000);
    let nq = max_queries.min(200);
    let mut seed = 42u64;
    let centers: Vec<f32> = (0..50 * dim).map(|_| lcg(&mut seed)).collect();
    let gen_point = |seed: &mut u64| {
        let c = ((lcg(seed) + 1.0) * 25.0) as usize % 50;
        let mut v: Vec<f32> = (0..dim)
            .map(|j| centers[c * dim + j] + 0.35 * lcg(seed))
            .collect();
        normalize(&mut v);
        v
    };
    let base: Vec<f32> = (0..nb).flat_map(|_| gen_point(&mut seed)).collect();
    let queries: Vec<f32> = (0..nq).flat_map(|_| gen_point(&mut seed)).collect();
    let truth = ground_truth(&base, dim, &queries, 100);
    Data {
        dim,
        base,
        queries,
        truth,
        real: false,
    }
}

/// recall@k of `got` (ids) against the first k of `truth`.
pub fn recall(got: &[u32], truth: &[u32], k: usize) -> f64 {
    let t = &truth[..k.min(truth.len())];
    let hits = got.iter().take(k).filter(|id| t.contains(id)).count();
    hits as f64 / k as f64
}

/// Full size in release, a subset in debug so `cargo test` stays fast.
pub fn default_size() -> (usize, usize) {
    if cfg!(debug_assertions) {
        (5_000, 200)
    } else {
        (20_000, 1_000)
    }
}
