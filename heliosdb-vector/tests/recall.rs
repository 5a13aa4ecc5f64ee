//! Recall of a cosine segment on the real MiniLM dataset (or a generated clustered set).

mod common;

use std::time::Instant;

use heliosdb_vector::{HnswParams, Metric, Scratch, Segment};

#[test]
fn cosine_recall_at_10() {
    let (nb, nq) = common::default_size();
    let data = common::load(nb, nq);
    let params = HnswParams {
        threads: 1,
        ef_construction: 200,
        seed: 7,
        ..HnswParams::default()
    };
    let items: Vec<(u64, Vec<f32>)> = (0..data.n())
        .map(|i| (i as u64, data.row(i).to_vec()))
        .collect();
    let t = Instant::now();
    let seg = Segment::build(Metric::Cosine, data.dim as u32, &params, items).unwrap();
    println!(
        "build {} x {}: {:.2}s",
        data.n(),
        data.dim,
        t.elapsed().as_secs_f64()
    );
    assert_eq!(seg.len(), data.n());
    let mut scratch = Scratch::new();
    for ef in [10usize, 16, 20, 40, 64, 100] {
        let t = Instant::now();
        let mut total = 0.0;
        for qi in 0..data.nq() {
            let res = seg.search(data.query(qi), 10, ef, &mut scratch, &|_| false);
            assert!(res.windows(2).all(|w| w[0].1 <= w[1].1));
            let ids: Vec<u32> = res.iter().map(|r| r.0 as u32).collect();
            total += common::recall(&ids, &data.truth[qi], 10);
        }
        let recall = total / data.nq() as f64;
        println!(
            "ef {ef:>3}: recall@10 {recall:.4}, {:.0} qps",
            data.nq() as f64 / t.elapsed().as_secs_f64()
        );
        if ef == 40 {
            assert!(recall >= 0.95, "recall@10 at ef 40 = {recall}");
        }
    }
}
