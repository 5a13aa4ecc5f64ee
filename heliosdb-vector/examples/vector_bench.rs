//! Quick single-machine benchmark on the MiniLM dataset (or a path given as argument):
//! exact-scan QPS, build time with 1 and 2 threads, encoded size, and search QPS/recall.
//!
//! `cargo run -p heliosdb-vector --release --example vector_bench [DIR]`

use std::time::Instant;

use heliosdb_vector::{HnswParams, Metric, Scratch, Segment, brute_force, kernel_name};

fn read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors")
        });
    let f32s = |b: Vec<u8>| -> Vec<f32> {
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let dim = 384usize;
    let base = f32s(read(&dir.join("base.f32")));
    let queries = f32s(read(&dir.join("queries.f32")));
    let gt: Vec<u32> = read(&dir.join("groundtruth.u32"))
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let n = base.len() / dim;
    let nq = queries.len() / dim;
    println!("kernels: {}, n {n}, queries {nq}", kernel_name());

    for metric in [Metric::InnerProduct, Metric::L2, Metric::Cosine] {
        let t = Instant::now();
        let mut hits = 0usize;
        for (qi, q) in queries.chunks_exact(dim).enumerate() {
            let res = brute_force(metric, &base, dim, q, 10);
            hits += res
                .iter()
                .filter(|r| gt[qi * 100..qi * 100 + 10].contains(&r.0))
                .count();
        }
        println!(
            "brute_force {:<13} {:>7.0} qps (recall@10 {:.4})",
            metric.name(),
            nq as f64 / t.elapsed().as_secs_f64(),
            hits as f64 / (nq * 10) as f64
        );
    }

    let items: Vec<(u64, Vec<f32>)> = base
        .chunks_exact(dim)
        .enumerate()
        .map(|(i, v)| (i as u64, v.to_vec()))
        .collect();
    let mut seg = None;
    for threads in [1usize, 2] {
        let params = HnswParams {
            threads,
            ..HnswParams::default()
        };
        let t = Instant::now();
        let s = Segment::build(Metric::Cosine, dim as u32, &params, items.clone()).unwrap();
        println!(
            "build cosine, {threads} thread(s): {:.2}s",
            t.elapsed().as_secs_f64()
        );
        seg = Some(s);
    }
    let seg = seg.unwrap();
    let t = Instant::now();
    let bytes = seg.encode();
    let enc = t.elapsed();
    let t = Instant::now();
    let back = Segment::<u64>::decode(&bytes).unwrap();
    println!(
        "encoded {} bytes ({:.2} MB), encode {:.1} ms, decode {:.1} ms, memory_bytes {}",
        bytes.len(),
        bytes.len() as f64 / 1e6,
        enc.as_secs_f64() * 1e3,
        t.elapsed().as_secs_f64() * 1e3,
        back.memory_bytes()
    );
    let mut scratch = Scratch::new();
    for ef in [10usize, 16, 20, 40, 64, 100] {
        let t = Instant::now();
        let mut hits = 0usize;
        for (qi, q) in queries.chunks_exact(dim).enumerate() {
            let res = back.search(q, 10, ef, &mut scratch, &|_| false);
            hits += res
                .iter()
                .filter(|r| gt[qi * 100..qi * 100 + 10].contains(&(r.0 as u32)))
                .count();
        }
        println!(
            "hnsw ef {ef:>3}: recall@10 {:.4}, {:>7.0} qps",
            hits as f64 / (nq * 10) as f64,
            nq as f64 / t.elapsed().as_secs_f64()
        );
    }
}
