//! Integer codecs: exact round trips, the smallest-size choice, and hostile input.

use heliosdb_compress::{Codec, Error, int, peek_codec};
use proptest::prelude::*;

const CODECS: [Codec; 4] = [
    Codec::DeltaInt,
    Codec::ForInt,
    Codec::RleInt,
    Codec::PlainInt,
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Round-trips through the automatic choice and every forced codec; checks the choice is
/// no larger than any forced encoding and returns it.
fn check(values: &[i64]) -> Codec {
    let mut bytes = Vec::new();
    let chosen = int::encode_i64(values, &mut bytes);
    assert_eq!(peek_codec(&bytes), Ok(chosen));
    let mut back = vec![9];
    int::decode_i64(&bytes, &mut back).unwrap();
    assert_eq!(back, values, "auto {chosen:?}");
    for codec in CODECS {
        let mut forced = Vec::new();
        int::encode_i64_with(values, codec, &mut forced);
        assert_eq!(peek_codec(&forced), Ok(codec));
        int::decode_i64(&forced, &mut back).unwrap();
        assert_eq!(back, values, "forced {codec:?}");
        assert!(
            bytes.len() <= forced.len(),
            "{chosen:?} is {} bytes, {codec:?} {}",
            bytes.len(),
            forced.len()
        );
    }
    chosen
}

fn extreme() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => any::<i64>(),
        2 => -1000i64..1000,
        1 => proptest::sample::select(vec![i64::MIN, i64::MAX, i64::MIN + 1, i64::MAX - 1, 0, -1]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_values_round_trip(values in prop::collection::vec(extreme(), 0..2600)) {
        check(&values);
    }

    #[test]
    fn runs_round_trip(runs in prop::collection::vec((extreme(), 1usize..300), 0..40)) {
        let values: Vec<i64> = runs.iter().flat_map(|&(v, n)| std::iter::repeat_n(v, n)).collect();
        check(&values);
    }

    #[test]
    fn walks_round_trip(start in any::<i64>(), steps in prop::collection::vec(-50i64..5000, 0..3000)) {
        let mut v = start;
        let values: Vec<i64> = steps.iter().map(|&d| { v = v.wrapping_add(d); v }).collect();
        check(&values);
    }
}

#[test]
fn extremes_and_small_inputs() {
    check(&[]);
    check(&[i64::MIN]);
    check(&[i64::MAX]);
    check(&[i64::MIN, i64::MAX, i64::MIN, 0, i64::MAX, -1]);
    let alternating: Vec<i64> = (0..3000)
        .map(|i| if i & 1 == 0 { i64::MIN } else { i64::MAX })
        .collect();
    check(&alternating);
}

#[test]
fn choices_fit_the_data() {
    let mut rng = Rng(5);
    let mut ts = 1_700_000_000_000i64;
    let timestamps: Vec<i64> = (0..10_000)
        .map(|_| {
            ts += 1000 + (rng.next() % 7) as i64;
            ts
        })
        .collect();
    assert_eq!(check(&timestamps), Codec::DeltaInt);
    let ids: Vec<i64> = (0..10_000)
        .map(|_| (rng.next() % 5000) as i64 - 77)
        .collect();
    assert_eq!(check(&ids), Codec::ForInt);
    let status: Vec<i64> = (0..10_000).map(|i| i / 2500).collect();
    assert_eq!(check(&status), Codec::RleInt);
    let noise: Vec<i64> = (0..3000).map(|_| rng.next() as i64).collect();
    assert_eq!(check(&noise), Codec::PlainInt);
}

#[test]
fn long_runs_stay_within_the_decoder_cap() {
    // 2^22 equal values: one run would be 22 bytes, under the 1,024 values-per-byte cap,
    // so the encoder must split the run and the decoder must accept the result.
    let values = vec![42i64; 1 << 22];
    let mut bytes = Vec::new();
    int::encode_i64_with(&values, Codec::RleInt, &mut bytes);
    assert!(bytes.len() * int::RLE_VALUES_PER_BYTE_MAX >= values.len());
    let mut back = Vec::new();
    int::decode_i64(&bytes, &mut back).unwrap();
    assert_eq!(back.len(), values.len());
    assert!(back.iter().all(|&v| v == 42));
    assert_eq!(check(&values[..100_000]), Codec::RleInt);
}

fn rle_buffer(count: u32, runs: &[(i64, u32)]) -> Vec<u8> {
    let mut bytes = vec![Codec::RleInt as u8, 1];
    bytes.extend(count.to_le_bytes());
    bytes.extend((runs.len() as u32).to_le_bytes());
    for &(v, n) in runs {
        bytes.extend(v.to_le_bytes());
        bytes.extend(n.to_le_bytes());
    }
    bytes
}

#[test]
fn hostile_rle_totals_are_refused() {
    let mut out = Vec::new();
    // Over 1,024 values per input byte.
    let bytes = rle_buffer(100_000, &[(1, 100_000)]);
    assert!(matches!(
        int::decode_i64(&bytes, &mut out),
        Err(Error::Corrupt(_))
    ));
    // Over 2^28 values, whatever the input length.
    let count = (int::RLE_VALUES_MAX + 1) as u32;
    let mut runs = vec![(1, 12_000); count as usize / 12_000];
    runs.push((2, count % 12_000));
    let bytes = rle_buffer(count, &runs);
    assert!(bytes.len() * int::RLE_VALUES_PER_BYTE_MAX > count as usize);
    assert!(matches!(
        int::decode_i64(&bytes, &mut out),
        Err(Error::Corrupt(_))
    ));
    assert!(out.capacity() < 1 << 20);
    // Runs that do not sum to the count.
    let bytes = rle_buffer(10, &[(1, 4), (2, 5)]);
    assert!(matches!(
        int::decode_i64(&bytes, &mut out),
        Err(Error::Corrupt(_))
    ));
    let bytes = rle_buffer(10, &[(1, 4), (2, 7)]);
    assert!(matches!(
        int::decode_i64(&bytes, &mut out),
        Err(Error::Corrupt(_))
    ));
    let bytes = rle_buffer(3, &[(1, 0), (2, 3)]);
    assert!(matches!(
        int::decode_i64(&bytes, &mut out),
        Err(Error::Corrupt(_))
    ));
    let bytes = rle_buffer(10, &[(1, 4), (2, 6)]);
    int::decode_i64(&bytes, &mut out).unwrap();
    assert_eq!(out, [1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
}

#[test]
fn hostile_counts_are_refused_before_allocating() {
    for codec in CODECS {
        let mut bytes = vec![codec as u8, 1, 0xFF, 0xFF, 0xFF, 0xFF];
        bytes.extend([0u8; 32]);
        let mut out = Vec::new();
        assert!(int::decode_i64(&bytes, &mut out).is_err(), "{codec:?}");
        assert!(out.capacity() < 1 << 20, "{codec:?}");
    }
}

#[test]
fn wrong_family_codec_falls_back_to_plain() {
    let mut bytes = Vec::new();
    int::encode_i64_with(&[1, 2, 3], Codec::AlpF64, &mut bytes);
    assert_eq!(peek_codec(&bytes), Ok(Codec::PlainInt));
    let mut out = Vec::new();
    int::decode_i64(&bytes, &mut out).unwrap();
    assert_eq!(out, [1, 2, 3]);
}

fn small_encodings() -> Vec<(Vec<u8>, usize)> {
    let mut rng = Rng(11);
    let mut values: Vec<i64> = (0..1300)
        .map(|i| (i / 40) * 1000 + (rng.next() % 9) as i64)
        .collect();
    values[5] = i64::MIN;
    values[900] = i64::MAX;
    CODECS
        .iter()
        .map(|&codec| {
            let mut bytes = Vec::new();
            int::encode_i64_with(&values, codec, &mut bytes);
            (bytes, values.len())
        })
        .collect()
}

#[test]
fn every_truncation_is_an_error() {
    for (bytes, len) in small_encodings() {
        let mut out = Vec::new();
        int::decode_i64(&bytes, &mut out).unwrap();
        assert_eq!(out.len(), len);
        for cut in 0..bytes.len() {
            assert!(
                int::decode_i64(&bytes[..cut], &mut out).is_err(),
                "cut {cut}"
            );
            assert!(out.is_empty());
        }
    }
}

#[test]
fn flipped_bytes_never_panic_or_change_the_length() {
    let mut rng = Rng(0xBEEF);
    let mut out = Vec::new();
    for (bytes, len) in small_encodings() {
        for _ in 0..2000 {
            let mut corrupt = bytes.clone();
            for _ in 0..=(rng.next() % 3) {
                let at = (rng.next() % corrupt.len() as u64) as usize;
                if rng.next() & 1 == 0 {
                    corrupt[at] ^= 1 << (rng.next() % 8);
                } else {
                    corrupt[at] = rng.next() as u8;
                }
            }
            if int::decode_i64(&corrupt, &mut out).is_ok() {
                assert_eq!(out.len(), len);
            }
        }
    }
}
