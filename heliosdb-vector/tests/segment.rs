//! Segment build, search, encode/decode and error handling.

use heliosdb_vector::{Error, HnswParams, Metric, Scratch, Segment, brute_force, distance};
use proptest::prelude::*;

fn lcg(seed: &mut u64) -> f32 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

fn random_items(n: usize, dim: usize, seed: u64) -> Vec<(u64, Vec<f32>)> {
    let mut s = seed;
    (0..n)
        .map(|i| (i as u64 * 3 + 1, (0..dim).map(|_| lcg(&mut s)).collect()))
        .collect()
}

fn params() -> HnswParams {
    HnswParams {
        threads: 1,
        ef_construction: 64,
        ..HnswParams::default()
    }
}

const METRICS: [Metric; 3] = [Metric::L2, Metric::Cosine, Metric::InnerProduct];

#[test]
fn small_segments_find_exact_neighbours() {
    let dim = 16;
    let items = random_items(400, dim, 1);
    let flat: Vec<f32> = items.iter().flat_map(|(_, v)| v.clone()).collect();
    for metric in METRICS {
        let seg = Segment::build(metric, dim as u32, &params(), items.clone()).unwrap();
        assert_eq!(seg.len(), 400);
        assert_eq!(seg.metric(), metric);
        let mut scratch = Scratch::new();
        let mut hits = 0usize;
        let mut s = 99u64;
        for _ in 0..50 {
            let q: Vec<f32> = (0..dim).map(|_| lcg(&mut s)).collect();
            let got = seg.search(&q, 10, 400, &mut scratch, &|_| false);
            let want = brute_force(metric, &flat, dim, &q, 10);
            assert_eq!(got.len(), 10);
            for (key, d) in &got {
                let v = &items[((key - 1) / 3) as usize].1;
                let exact = distance(metric, &q, v);
                assert!(
                    (exact - d).abs() < 1e-4,
                    "{metric:?}: reported {d}, exact {exact}"
                );
            }
            for (id, _) in &want {
                if got.iter().any(|(k, _)| *k == items[*id as usize].0) {
                    hits += 1;
                }
            }
        }
        // ef = n on 400 points: the beam covers nearly everything.
        assert!(hits >= 490, "{metric:?}: {hits}/500");
    }
}

#[test]
fn skip_filters_but_traverses() {
    let items = random_items(300, 8, 2);
    let seg = Segment::build(Metric::L2, 8, &params(), items.clone()).unwrap();
    let mut scratch = Scratch::new();
    let q = items[10].1.clone();
    let all = seg.search(&q, 5, 50, &mut scratch, &|_| false);
    assert_eq!(all[0].0, items[10].0);
    assert!(all[0].1.abs() < 1e-6);
    let even = seg.search(&q, 5, 50, &mut scratch, &|k| k % 2 == 0);
    assert!(even.iter().all(|(k, _)| k % 2 == 1));
    assert!(!even.is_empty());
    let none = seg.search(&q, 5, 50, &mut scratch, &|_| true);
    assert!(none.is_empty());
}

#[test]
fn deterministic_with_one_thread() {
    let items = random_items(500, 12, 3);
    let a = Segment::build(Metric::Cosine, 12, &params(), items.clone()).unwrap();
    let b = Segment::build(Metric::Cosine, 12, &params(), items).unwrap();
    assert_eq!(a.encode(), b.encode());
}

#[test]
fn round_trip_gives_identical_results() {
    for metric in METRICS {
        let items = random_items(700, 24, 4);
        let seg = Segment::build(metric, 24, &params(), items).unwrap();
        let bytes = seg.encode();
        let back = Segment::<u64>::decode(&bytes).unwrap();
        assert_eq!(back.encode(), bytes);
        assert_eq!(back.len(), seg.len());
        assert_eq!(back.layers(), seg.layers());
        assert!(back.contains(&1));
        let (mut s1, mut s2) = (Scratch::new(), Scratch::new());
        let mut s = 5u64;
        for _ in 0..20 {
            let q: Vec<f32> = (0..24).map(|_| lcg(&mut s)).collect();
            let a = seg.search(&q, 10, 40, &mut s1, &|_| false);
            let b = back.search(&q, 10, 40, &mut s2, &|_| false);
            assert_eq!(a, b);
        }
    }
}

#[test]
fn corruption_is_detected() {
    let seg = Segment::build(Metric::L2, 4, &params(), random_items(40, 4, 5)).unwrap();
    let bytes = seg.encode();
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x10;
        let err = Segment::<u64>::decode(&bad).unwrap_err();
        assert!(
            matches!(err, Error::Corrupt(_) | Error::UnsupportedFormat(_)),
            "byte {i}: {err:?}"
        );
    }
    for len in 0..bytes.len() {
        assert!(
            Segment::<u64>::decode(&bytes[..len]).is_err(),
            "truncated to {len}"
        );
    }
    let mut v2 = bytes.clone();
    v2[4] = 2;
    assert!(matches!(
        Segment::<u64>::decode(&v2),
        Err(Error::UnsupportedFormat(2))
    ));
}

/// Rewrites the checksum so that structural checks (not the CRC) must catch the damage.
fn reseal(mut body: Vec<u8>) -> Vec<u8> {
    let n = body.len() - 4;
    body.truncate(n);
    let crc = crc32c_of(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

fn crc32c_of(data: &[u8]) -> u32 {
    // Bitwise CRC32C (Castagnoli, reflected polynomial 0x82F63B78).
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn structural_checks_behind_a_valid_checksum() {
    let seg = Segment::build(Metric::L2, 4, &params(), random_items(40, 4, 6)).unwrap();
    let bytes = seg.encode();
    assert_eq!(reseal(bytes.clone()), bytes, "test CRC matches the crate's");
    let upper = u32::from_le_bytes(bytes[15..19].try_into().unwrap()) as usize;
    let vec_start = 19 + 4 * upper;
    let zero_start = vec_start + 40 * 4 * 4;
    // A neighbour id out of range.
    let mut bad = bytes.clone();
    bad[zero_start..zero_start + 4].copy_from_slice(&40u32.to_le_bytes());
    assert!(matches!(
        Segment::<u64>::decode(&reseal(bad)),
        Err(Error::Corrupt(_))
    ));
    // A NaN component.
    let mut bad = bytes.clone();
    bad[vec_start..vec_start + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    assert!(matches!(
        Segment::<u64>::decode(&reseal(bad)),
        Err(Error::Corrupt(_))
    ));
    // A huge point count must not allocate or panic.
    let mut bad = bytes.clone();
    bad[11..15].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    assert!(matches!(
        Segment::<u64>::decode(&reseal(bad)),
        Err(Error::Corrupt(_))
    ));
    // A duplicate key.
    let key_start = bytes.len() - 4 - 40 * 8;
    let mut bad = bytes.clone();
    let first: [u8; 8] = bad[key_start..key_start + 8].try_into().unwrap();
    bad[key_start + 8..key_start + 16].copy_from_slice(&first);
    assert!(matches!(
        Segment::<u64>::decode(&reseal(bad)),
        Err(Error::Corrupt(_))
    ));
    // Unknown metric code.
    let mut bad = bytes.clone();
    bad[6] = 9;
    assert!(matches!(
        Segment::<u64>::decode(&reseal(bad)),
        Err(Error::Corrupt(_))
    ));
    // Trailing garbage.
    let mut bad = bytes.clone();
    bad.insert(bytes.len() - 4, 0);
    assert!(matches!(
        Segment::<u64>::decode(&reseal(bad)),
        Err(Error::Corrupt(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Segment::<u64>::decode(&bytes);
        let _ = Segment::<Vec<u8>>::decode(&bytes);
        let mut with_header = b"HVSG\x01\x00".to_vec();
        with_header.extend_from_slice(&bytes);
        let _ = Segment::<Vec<u8>>::decode(&reseal_or_raw(with_header));
    }
}

fn reseal_or_raw(v: Vec<u8>) -> Vec<u8> {
    if v.len() >= 10 { reseal(v) } else { v }
}

#[test]
fn build_errors_are_typed() {
    let p = params();
    let e = Segment::<u64>::build(Metric::L2, 3, &p, vec![(1, vec![1.0, 2.0])]).unwrap_err();
    assert!(matches!(
        e,
        Error::Dimension {
            expected: 3,
            actual: 2
        }
    ));
    let e = Segment::<u64>::build(Metric::L2, 2, &p, vec![(1, vec![1.0, f32::NAN])]).unwrap_err();
    assert!(matches!(e, Error::NonFinite { index: 1 }));
    let e = Segment::<u64>::build(Metric::L2, 1, &p, vec![(1, vec![f32::INFINITY])]).unwrap_err();
    assert!(matches!(e, Error::NonFinite { index: 0 }));
    let e =
        Segment::<u64>::build(Metric::L2, 1, &p, vec![(1, vec![1.0]), (1, vec![2.0])]).unwrap_err();
    assert!(matches!(e, Error::DuplicateKey));
    let e = Segment::<u64>::build(Metric::L2, 0, &p, vec![]).unwrap_err();
    assert!(matches!(e, Error::InvalidParameter(_)));
    assert!(!e.to_string().is_empty());
}

#[test]
fn cosine_skips_zero_vectors_and_bad_queries_give_nothing() {
    let items = vec![
        (1u64, vec![0.0, 0.0]),
        (2, vec![1.0, 0.0]),
        (3, vec![0.0, 2.0]),
        (4, vec![-1.0, -1.0]),
    ];
    let seg = Segment::build(Metric::Cosine, 2, &params(), items).unwrap();
    assert_eq!(seg.len(), 3);
    assert_eq!(seg.skipped(), &[1]);
    assert!(!seg.contains(&1));
    let mut sc = Scratch::new();
    let res = seg.search(&[3.0, 0.0], 3, 10, &mut sc, &|_| false);
    assert_eq!(res.iter().map(|r| r.0).collect::<Vec<_>>(), vec![2, 3, 4]);
    assert!(res[0].1.abs() < 1e-6 && (res[1].1 - 1.0).abs() < 1e-6);
    assert!(
        seg.search(&[0.0, 0.0], 3, 10, &mut sc, &|_| false)
            .is_empty()
    );
    assert!(seg.search(&[1.0], 3, 10, &mut sc, &|_| false).is_empty());
    assert!(
        seg.search(&[f32::NAN, 1.0], 3, 10, &mut sc, &|_| false)
            .is_empty()
    );
    assert!(
        seg.search(&[1.0, 1.0], 0, 10, &mut sc, &|_| false)
            .is_empty()
    );
    // A cosine vector stored normalized.
    let v = seg.get(&3).unwrap();
    assert!((v[1] - 1.0).abs() < 1e-6);
}

#[test]
fn empty_and_tiny_segments() {
    for metric in METRICS {
        let empty = Segment::<Vec<u8>>::build(metric, 3, &params(), vec![]).unwrap();
        assert!(empty.is_empty());
        let mut sc = Scratch::new();
        assert!(
            empty
                .search(&[1.0, 2.0, 3.0], 5, 10, &mut sc, &|_| false)
                .is_empty()
        );
        let back = Segment::<Vec<u8>>::decode(&empty.encode()).unwrap();
        assert!(back.is_empty());
        let one = Segment::build(
            metric,
            3,
            &params(),
            vec![(b"a".to_vec(), vec![1.0, 2.0, 3.0])],
        )
        .unwrap();
        let res = one.search(&[1.0, 2.0, 3.0], 5, 10, &mut sc, &|_| false);
        assert_eq!(res.len(), 1);
        assert_eq!(res[0].0, b"a".to_vec());
        let back = Segment::<Vec<u8>>::decode(&one.encode()).unwrap();
        assert_eq!(
            back.search(&[1.0, 2.0, 3.0], 5, 10, &mut sc, &|_| false),
            res
        );
        assert!(one.memory_bytes() > 0);
    }
}

#[test]
fn multi_threaded_build_works() {
    let items = random_items(2_000, 16, 8);
    let p = HnswParams {
        threads: 2,
        ..params()
    };
    let seg = Segment::build(Metric::L2, 16, &p, items.clone()).unwrap();
    assert_eq!(seg.len(), 2_000);
    let mut sc = Scratch::new();
    let res = seg.search(&items[77].1, 1, 40, &mut sc, &|_| false);
    assert_eq!(res[0].0, items[77].0);
}
