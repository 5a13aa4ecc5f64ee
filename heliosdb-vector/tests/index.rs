//! VectorIndex: segments + buffer + dead keys, against brute force over the live set.

use std::collections::HashMap;
use std::sync::Arc;

use heliosdb_vector::{Error, HnswParams, Metric, Scratch, Segment, VectorIndex, distance};

fn lcg(seed: &mut u64) -> f32 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

fn vecs(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut s = seed;
    (0..n)
        .map(|_| (0..dim).map(|_| lcg(&mut s)).collect())
        .collect()
}

fn params() -> HnswParams {
    HnswParams {
        threads: 1,
        ef_construction: 64,
        ..HnswParams::default()
    }
}

/// Exact top-k over a model of the live set, same metric, NaN dropped.
fn exact(metric: Metric, live: &HashMap<i64, Vec<f32>>, q: &[f32], k: usize) -> Vec<(i64, f32)> {
    let mut all: Vec<(i64, f32)> = live
        .iter()
        .map(|(k, v)| (*k, distance(metric, q, v)))
        .filter(|(_, d)| !d.is_nan())
        .collect();
    all.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    all.truncate(k);
    all
}

#[test]
fn buffer_only_is_exact() {
    for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
        let mut idx = VectorIndex::<i64>::new(metric, 8, vec![]).unwrap();
        let mut model = HashMap::new();
        for (i, v) in vecs(300, 8, 1).into_iter().enumerate() {
            idx.upsert(i as i64, &v).unwrap();
            model.insert(i as i64, v);
        }
        for i in (0..300).step_by(3) {
            idx.remove(&i);
            model.remove(&i);
        }
        assert_eq!(idx.len(), model.len());
        let mut sc = Scratch::new();
        for q in vecs(20, 8, 2) {
            let got = idx.search(&q, 10, 10, &mut sc).unwrap();
            let want = exact(metric, &model, &q, 10);
            let gk: Vec<i64> = got.iter().map(|r| r.0).collect();
            let wk: Vec<i64> = want.iter().map(|r| r.0).collect();
            assert_eq!(gk, wk, "{metric:?}");
            for (g, w) in got.iter().zip(&want) {
                assert!((g.1 - w.1).abs() < 1e-5);
            }
        }
    }
}

#[test]
fn segments_buffer_and_dead_keys_merge() {
    let dim = 16;
    let metric = Metric::L2;
    let base = vecs(1_500, dim, 3);
    let mut model: HashMap<i64, Vec<f32>> = HashMap::new();
    // Segment 0: keys 0..1000. Segment 1: keys 800..1500 (800..1000 supersede segment 0).
    let s0: Vec<(i64, Vec<f32>)> = (0..1000).map(|i| (i as i64, base[i].clone())).collect();
    let shifted = vecs(1_500, dim, 4);
    let s1: Vec<(i64, Vec<f32>)> = (800..1500)
        .map(|i| (i as i64, shifted[i].clone()))
        .collect();
    for (k, v) in s0.iter().chain(&s1) {
        model.insert(*k, v.clone());
    }
    let seg0 = Arc::new(Segment::build(metric, dim as u32, &params(), s0).unwrap());
    let seg1 = Arc::new(Segment::build(metric, dim as u32, &params(), s1).unwrap());
    let mut idx = VectorIndex::new(metric, dim as u32, vec![seg0, seg1]).unwrap();
    assert_eq!(idx.dead_len(), 200);
    assert_eq!(idx.len(), 1500);
    assert_eq!(idx.live().count(), 1500);

    // Deletes in both segments, updates of segment rows, and new rows.
    let extra = vecs(400, dim, 5);
    for i in (0..1500).step_by(7) {
        idx.remove(&(i as i64));
        model.remove(&(i as i64));
    }
    for (j, i) in (1..1500).step_by(11).enumerate() {
        idx.upsert(i as i64, &extra[j % 400]).unwrap();
        model.insert(i as i64, extra[j % 400].clone());
    }
    for (j, v) in extra.iter().take(200).enumerate() {
        let k = 10_000 + j as i64;
        idx.upsert(k, v).unwrap();
        model.insert(k, v.clone());
    }
    assert_eq!(idx.len(), model.len());
    assert_eq!(idx.live().count(), model.len());
    let live: HashMap<i64, Vec<f32>> = idx.live().map(|(k, v)| (*k, v.to_vec())).collect();
    assert_eq!(live, model);

    let clone = idx.clone();
    let mut sc = Scratch::new();
    let mut hits = 0usize;
    let queries = vecs(40, dim, 6);
    for q in &queries {
        let got = idx.search(q, 10, 200, &mut sc).unwrap();
        assert_eq!(got, clone.search(q, 10, 200, &mut sc).unwrap());
        assert!(got.len() <= 10);
        let mut seen = std::collections::HashSet::new();
        for (k, d) in &got {
            assert!(seen.insert(*k), "key {k} returned twice");
            let v = model
                .get(k)
                .unwrap_or_else(|| panic!("dead key {k} returned"));
            assert!(
                (distance(metric, q, v) - d).abs() < 1e-4,
                "key {k} at a stale distance"
            );
        }
        assert!(got.windows(2).all(|w| w[0].1 <= w[1].1));
        let want = exact(metric, &model, q, 10);
        hits += want
            .iter()
            .filter(|w| got.iter().any(|g| g.0 == w.0))
            .count();
    }
    assert!(
        hits as f64 / (10.0 * queries.len() as f64) >= 0.97,
        "recall {hits}"
    );
}

#[test]
fn updated_key_appears_once_at_its_new_distance() {
    let dim = 4;
    let items: Vec<(i64, Vec<f32>)> = vecs(200, dim, 7)
        .into_iter()
        .enumerate()
        .map(|(i, v)| (i as i64, v))
        .collect();
    let seg = Arc::new(Segment::build(Metric::L2, dim as u32, &params(), items.clone()).unwrap());
    let mut idx = VectorIndex::new(Metric::L2, dim as u32, vec![seg]).unwrap();
    let q = items[5].1.clone();
    let mut sc = Scratch::new();
    let before = idx.search(&q, 3, 40, &mut sc).unwrap();
    assert_eq!(before[0].0, 5);
    let moved: Vec<f32> = q.iter().map(|x| x + 10.0).collect();
    idx.upsert(5, &moved).unwrap();
    idx.upsert(5, &moved).unwrap();
    assert_eq!(idx.dead_len(), 1);
    assert_eq!(idx.len(), 200);
    let all = idx.search(&q, 200, 400, &mut sc).unwrap();
    assert_eq!(all.iter().filter(|r| r.0 == 5).count(), 1);
    let d = all.iter().find(|r| r.0 == 5).unwrap().1;
    assert!((d - 20.0).abs() < 1e-3, "{d}");
    assert_ne!(idx.search(&q, 1, 40, &mut sc).unwrap()[0].0, 5);
    idx.remove(&5);
    assert_eq!(idx.len(), 199);
    assert!(!idx.contains(&5));
    assert!(
        idx.search(&q, 200, 400, &mut sc)
            .unwrap()
            .iter()
            .all(|r| r.0 != 5)
    );
    // Removing unknown keys changes nothing.
    idx.remove(&12_345);
    assert_eq!(idx.len(), 199);
    assert_eq!(idx.buffer_len(), 0);
}

#[test]
fn bad_input_is_typed_or_empty() {
    let mut idx = VectorIndex::<Vec<u8>>::new(Metric::Cosine, 3, vec![]).unwrap();
    let mut sc = Scratch::new();
    assert!(
        idx.search(&[1.0, 0.0, 0.0], 5, 10, &mut sc)
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        idx.upsert(b"a".to_vec(), &[1.0, 2.0]),
        Err(Error::Dimension {
            expected: 3,
            actual: 2
        })
    ));
    assert!(matches!(
        idx.upsert(b"a".to_vec(), &[1.0, f32::NAN, 0.0]),
        Err(Error::NonFinite { index: 1 })
    ));
    assert_eq!(idx.len(), 0);
    idx.upsert(b"a".to_vec(), &[1.0, 2.0, 3.0]).unwrap();
    idx.upsert(b"zero".to_vec(), &[0.0, 0.0, 0.0]).unwrap();
    assert!(matches!(
        idx.search(&[1.0], 5, 10, &mut sc),
        Err(Error::Dimension {
            expected: 3,
            actual: 1
        })
    ));
    assert!(matches!(
        idx.search(&[f32::INFINITY, 0.0, 0.0], 5, 10, &mut sc),
        Err(Error::NonFinite { index: 0 })
    ));
    assert!(
        idx.search(&[1.0, 2.0, 3.0], 0, 10, &mut sc)
            .unwrap()
            .is_empty()
    );
    assert!(
        idx.search(&[0.0, 0.0, 0.0], 5, 10, &mut sc)
            .unwrap()
            .is_empty()
    );
    let res = idx.search(&[1.0, 2.0, 3.0], 5, 0, &mut sc).unwrap();
    assert_eq!(res.len(), 1, "the zero vector has no cosine distance");
    assert_eq!(res[0].0, b"a".to_vec());

    let seg = Arc::new(
        Segment::build(
            Metric::L2,
            3,
            &params(),
            vec![(b"x".to_vec(), vec![1.0, 1.0, 1.0])],
        )
        .unwrap(),
    );
    assert!(matches!(
        VectorIndex::new(Metric::Cosine, 3, vec![seg.clone()]),
        Err(Error::MetricMismatch { .. })
    ));
    assert!(matches!(
        VectorIndex::new(Metric::L2, 4, vec![seg]),
        Err(Error::Dimension {
            expected: 4,
            actual: 3
        })
    ));
}

#[test]
fn buffered_feeds_a_new_segment() {
    let mut idx = VectorIndex::<u64>::new(Metric::InnerProduct, 6, vec![]).unwrap();
    for (i, v) in vecs(120, 6, 9).into_iter().enumerate() {
        idx.upsert(i as u64, &v).unwrap();
    }
    let items: Vec<(u64, Vec<f32>)> = idx.buffered().map(|(k, v)| (*k, v.to_vec())).collect();
    let seg = Arc::new(Segment::build(Metric::InnerProduct, 6, &params(), items).unwrap());
    let rebuilt = VectorIndex::new(Metric::InnerProduct, 6, vec![seg]).unwrap();
    assert_eq!(rebuilt.len(), 120);
    let mut sc = Scratch::new();
    let q = [0.5f32, -0.2, 0.1, 0.9, 0.0, 0.3];
    let a = idx.search(&q, 5, 10, &mut sc).unwrap();
    let b = rebuilt.search(&q, 5, 120, &mut sc).unwrap();
    assert_eq!(
        a.iter().map(|r| r.0).collect::<Vec<_>>(),
        b.iter().map(|r| r.0).collect::<Vec<_>>()
    );
}

#[test]
fn huge_k_and_ef_do_not_panic() {
    let mut idx = VectorIndex::<u64>::new(Metric::L2, 2, vec![]).unwrap();
    idx.upsert(1, &[1.0, 0.0]).unwrap();
    let seg = Arc::new(
        Segment::build(
            Metric::L2,
            2,
            &params(),
            vec![(2u64, vec![0.0, 1.0]), (3, vec![1.0, 1.0])],
        )
        .unwrap(),
    );
    let idx2 = VectorIndex::new(Metric::L2, 2, vec![seg]).unwrap();
    let mut sc = Scratch::new();
    assert_eq!(
        idx.search(&[0.0, 0.0], usize::MAX, usize::MAX, &mut sc)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        idx2.search(&[0.0, 0.0], usize::MAX, usize::MAX, &mut sc)
            .unwrap()
            .len(),
        2
    );
}
