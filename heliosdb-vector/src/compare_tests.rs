//! Our search versus instant-distance's own search on the same built graph.

use std::collections::HashMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::distance::{Metric, dot};
use crate::segment::{HnswParams, Scratch, Segment, UPPER_LINKS, ZERO_LINKS, build_graph};

#[path = "../tests/common/mod.rs"]
mod common;

/// An owned point for a reconstituted instant-distance graph (cosine on unit vectors).
#[derive(Clone, Serialize, Deserialize)]
struct OwnedPoint(u32, Vec<f32>);

impl instant_distance::Point for OwnedPoint {
    fn distance(&self, other: &Self) -> f32 {
        1.0 - dot(&self.1, &other.1)
    }
}

#[derive(Serialize)]
struct ZeroSer(#[serde(with = "serde_big_array::BigArray")] [u32; ZERO_LINKS]);
#[derive(Serialize)]
struct UpperSer([u32; UPPER_LINKS]);
#[derive(Serialize)]
struct HnswSer {
    ef_search: usize,
    points: Vec<OwnedPoint>,
    zero: Vec<ZeroSer>,
    layers: Vec<Vec<UpperSer>>,
}

/// instant-distance's `Hnsw` over our segment's graph, with the given `ef_search`.
fn reference(seg: &Segment<u32>, ef: usize) -> instant_distance::Hnsw<OwnedPoint> {
    let ser = HnswSer {
        ef_search: ef,
        points: seg
            .iter()
            .map(|(k, v)| OwnedPoint(*k, v.to_vec()))
            .collect(),
        zero: seg
            .zero
            .chunks_exact(ZERO_LINKS)
            .map(|c| {
                let mut a = [0u32; ZERO_LINKS];
                a.copy_from_slice(c);
                ZeroSer(a)
            })
            .collect(),
        layers: seg
            .upper
            .iter()
            .map(|l| {
                l.chunks_exact(UPPER_LINKS)
                    .map(|c| {
                        let mut a = [0u32; UPPER_LINKS];
                        a.copy_from_slice(c);
                        UpperSer(a)
                    })
                    .collect()
            })
            .collect(),
    };
    let bytes = postcard::to_allocvec(&ser).unwrap();
    postcard::from_bytes(&bytes).unwrap()
}

#[test]
fn our_search_matches_or_beats_instant_distance() {
    let (nb, nq) = common::default_size();
    let data = common::load(nb, nq);
    let dim = data.dim;
    let n = data.n();
    let params = HnswParams {
        threads: 1,
        ef_construction: 200,
        ef_search: 40,
        ..HnswParams::default()
    };
    let t = Instant::now();
    let (graph, hnsw) = build_graph(Metric::Cosine, &data.base, dim, &params).unwrap();
    let build_s = t.elapsed().as_secs_f64();
    let keys: Vec<u32> = (0..n as u32).collect();
    let index: HashMap<u32, u32> = keys.iter().map(|&k| (k, k)).collect();
    let seg = Segment::from_graph(
        Metric::Cosine,
        dim as u32,
        &data.base,
        keys,
        index,
        graph,
        Vec::new(),
    )
    .unwrap();
    println!(
        "dataset real={} n={n} nq={} dim={dim}, build 1 thread {build_s:.2}s, layers {}",
        data.real,
        data.nq(),
        seg.layers()
    );

    // The reconstituted graph is the built one: instant-distance gives identical results.
    let re40 = reference(&seg, 40);
    let mut s1 = instant_distance::Search::default();
    let mut s2 = instant_distance::Search::default();
    for qi in 0..data.nq().min(50) {
        let q = OwnedPoint(u32::MAX, data.query(qi).to_vec());
        let qb = crate::segment::BuildPoint {
            id: u32::MAX,
            v: data.query(qi),
            metric: Metric::Cosine,
        };
        let a: Vec<u32> = hnsw.search(&qb, &mut s1).map(|it| it.point.id).collect();
        let b: Vec<u32> = re40.search(&q, &mut s2).map(|it| it.point.0).collect();
        assert_eq!(a, b, "reconstituted graph differs for query {qi}");
    }
    drop(hnsw);

    let mut scratch = Scratch::new();
    for ef in [10usize, 16, 20, 40, 64, 100] {
        let mut ours = 0.0;
        let t = Instant::now();
        for qi in 0..data.nq() {
            let res = seg.search(data.query(qi), 10, ef, &mut scratch, &|_| false);
            let ids: Vec<u32> = res.iter().map(|r| r.0).collect();
            ours += common::recall(&ids, &data.truth[qi], 10);
        }
        let ours_s = t.elapsed().as_secs_f64();
        ours /= data.nq() as f64;

        let re = reference(&seg, ef.max(10));
        let mut search = instant_distance::Search::default();
        let queries: Vec<OwnedPoint> = (0..data.nq())
            .map(|qi| OwnedPoint(u32::MAX, data.query(qi).to_vec()))
            .collect();
        let mut theirs = 0.0;
        let t = Instant::now();
        for (qi, q) in queries.iter().enumerate() {
            let ids: Vec<u32> = re
                .search(q, &mut search)
                .take(10)
                .map(|it| it.point.0)
                .collect();
            theirs += common::recall(&ids, &data.truth[qi], 10);
        }
        let theirs_s = t.elapsed().as_secs_f64();
        theirs /= data.nq() as f64;
        println!(
            "ef {ef:>3}: ours recall@10 {ours:.4} {:>8.0} qps | instant-distance recall@10 {theirs:.4} {:>8.0} qps",
            data.nq() as f64 / ours_s,
            data.nq() as f64 / theirs_s
        );
        assert!(
            ours >= theirs - 0.01,
            "ef {ef}: our recall {ours} < instant-distance {theirs}"
        );
        if ef == 40 {
            assert!(ours >= 0.95, "recall@10 at ef 40 is {ours}");
        }
    }
}
