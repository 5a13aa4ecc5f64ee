//! ALP / ALP-RD / plain float codecs: bit-exact round trips and hostile input.

use heliosdb_compress::{Codec, Error, alp, peek_codec};
use proptest::prelude::*;

const F64_CODECS: [Codec; 3] = [Codec::AlpF64, Codec::AlpRdF64, Codec::PlainF64];
const F32_CODECS: [Codec; 3] = [Codec::AlpF32, Codec::AlpRdF32, Codec::PlainF32];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn bits64(values: &[f64]) -> Vec<u64> {
    values.iter().map(|v| v.to_bits()).collect()
}

fn bits32(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// Round-trips `values` through the automatic choice and every forced codec; returns the
/// automatic choice.
fn check_f64(values: &[f64]) -> Codec {
    let mut bytes = Vec::new();
    let chosen = alp::encode_f64(values, &mut bytes);
    assert_eq!(peek_codec(&bytes), Ok(chosen));
    let mut back = vec![1.0];
    alp::decode_f64(&bytes, &mut back).unwrap();
    assert_eq!(bits64(&back), bits64(values), "auto {chosen:?}");
    for codec in F64_CODECS {
        bytes.clear();
        alp::encode_f64_with(values, codec, &mut bytes);
        assert_eq!(peek_codec(&bytes), Ok(codec));
        alp::decode_f64(&bytes, &mut back).unwrap();
        assert_eq!(bits64(&back), bits64(values), "forced {codec:?}");
    }
    chosen
}

fn check_f32(values: &[f32]) -> Codec {
    let mut bytes = Vec::new();
    let chosen = alp::encode_f32(values, &mut bytes);
    assert_eq!(peek_codec(&bytes), Ok(chosen));
    let mut back = vec![1.0];
    alp::decode_f32(&bytes, &mut back).unwrap();
    assert_eq!(bits32(&back), bits32(values), "auto {chosen:?}");
    for codec in F32_CODECS {
        bytes.clear();
        alp::encode_f32_with(values, codec, &mut bytes);
        assert_eq!(peek_codec(&bytes), Ok(codec));
        alp::decode_f32(&bytes, &mut back).unwrap();
        assert_eq!(bits32(&back), bits32(values), "forced {codec:?}");
    }
    chosen
}

fn specials64() -> Vec<f64> {
    vec![
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        f64::from_bits(0x7FF0_0000_DEAD_BEEF),
        f64::from_bits(0xFFF8_0000_0000_0001),
        f64::MIN_POSITIVE,
        f64::from_bits(1),
        -f64::from_bits(12345),
        f64::MAX,
        f64::MIN,
        1e300,
        -1e-300,
        9.007_199_254_740_993e15,
    ]
}

fn decimal64(decimals: u32) -> impl Strategy<Value = f64> {
    (-1_000_000_000i64..1_000_000_000).prop_map(move |n| n as f64 / 10f64.powi(decimals as i32))
}

fn mixed64() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => decimal64(2),
        1 => any::<u64>().prop_map(f64::from_bits),
        1 => proptest::sample::select(specials64()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn f64_random_bits_round_trip(bits in prop::collection::vec(any::<u64>(), 0..2500)) {
        let values: Vec<f64> = bits.into_iter().map(f64::from_bits).collect();
        check_f64(&values);
    }

    #[test]
    fn f64_decimals_with_exceptions_round_trip(values in prop::collection::vec(mixed64(), 0..3000)) {
        check_f64(&values);
    }

    #[test]
    fn f64_decimals_round_trip(decimals in 0u32..8, ns in prop::collection::vec(-100_000_000i64..100_000_000, 1..2100)) {
        let values: Vec<f64> = ns.iter().map(|&n| n as f64 / 10f64.powi(decimals as i32)).collect();
        check_f64(&values);
    }

    #[test]
    fn f32_random_bits_round_trip(bits in prop::collection::vec(any::<u32>(), 0..2500)) {
        let values: Vec<f32> = bits.into_iter().map(f32::from_bits).collect();
        check_f32(&values);
    }

    #[test]
    fn f32_decimals_round_trip(decimals in 0u32..5, ns in prop::collection::vec(-1_000_000i32..1_000_000, 0..2100), special in any::<u32>()) {
        let mut values: Vec<f32> = ns.iter().map(|&n| n as f32 / 10f32.powi(decimals as i32)).collect();
        values.extend([-0.0, f32::NAN, f32::INFINITY, f32::from_bits(special), f32::from_bits(3)]);
        check_f32(&values);
    }
}

#[test]
fn specials_empty_and_single_values() {
    check_f64(&[]);
    check_f32(&[]);
    for v in specials64() {
        check_f64(&[v]);
        check_f32(&[v as f32]);
    }
    check_f64(&specials64());
    check_f64(&[1.5]);
    let many: Vec<f64> = (0..3)
        .flat_map(|_| specials64())
        .cycle()
        .take(5000)
        .collect();
    check_f64(&many);
}

fn prices(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng(seed);
    let mut price = 100.0f64;
    (0..n)
        .map(|_| {
            price = ((price + (rng.unit() - 0.5) * 0.2).max(1.0) * 100.0).round() / 100.0;
            price
        })
        .collect()
}

#[test]
fn two_decimal_prices_choose_alp_and_compress() {
    for n in [1023, 1025, 5000, 250_000] {
        let values = prices(n, 0x1234_5678 + n as u64);
        assert_eq!(check_f64(&values), Codec::AlpF64, "n = {n}");
        let mut bytes = Vec::new();
        alp::encode_f64(&values, &mut bytes);
        let ratio = (n * 8) as f64 / bytes.len() as f64;
        assert!(ratio >= 3.0, "ratio {ratio} for n = {n}");
    }
    let temps: Vec<f64> = prices(10_000, 9)
        .iter()
        .map(|p| (p * 10.0).round() / 10.0)
        .collect();
    assert_eq!(check_f64(&temps), Codec::AlpF64);
    let as_f32: Vec<f32> = (0..5000).map(|i| (i % 700) as f32 / 10.0).collect();
    assert_eq!(check_f32(&as_f32), Codec::AlpF32);
}

#[test]
fn full_precision_doubles_choose_alp_rd() {
    let mut rng = Rng(42);
    for n in [3000, 100_000] {
        let values: Vec<f64> = (0..n).map(|_| rng.unit() * 1000.0 - 500.0).collect();
        assert_eq!(check_f64(&values), Codec::AlpRdF64, "n = {n}");
        let mut bytes = Vec::new();
        alp::encode_f64(&values, &mut bytes);
        assert!(bytes.len() < n * 8, "ALP-RD must beat plain");
    }
}

#[test]
fn wrong_family_codec_falls_back_to_plain() {
    let values = [1.25, -3.5];
    let mut bytes = Vec::new();
    alp::encode_f64_with(&values, Codec::AlpF32, &mut bytes);
    assert_eq!(peek_codec(&bytes), Ok(Codec::PlainF64));
    bytes.clear();
    alp::encode_f32_with(&[1.25f32], Codec::DeltaInt, &mut bytes);
    assert_eq!(peek_codec(&bytes), Ok(Codec::PlainF32));
    let mut back = Vec::new();
    assert!(matches!(
        alp::decode_f64(&bytes, &mut back),
        Err(Error::WrongCodec { .. })
    ));
}

/// Encodings of a small mixed column under every codec, for the hostile-input tests.
fn small_encodings() -> Vec<(Vec<u8>, usize, bool)> {
    let mut values = prices(1500, 77);
    values[3] = f64::NAN;
    values[700] = -0.0;
    values[1400] = 1.0 / 3.0;
    let f32s: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    let mut out = Vec::new();
    for codec in F64_CODECS {
        let mut bytes = Vec::new();
        alp::encode_f64_with(&values, codec, &mut bytes);
        out.push((bytes, values.len(), true));
    }
    for codec in F32_CODECS {
        let mut bytes = Vec::new();
        alp::encode_f32_with(&f32s, codec, &mut bytes);
        out.push((bytes, f32s.len(), false));
    }
    out
}

fn decode_len(bytes: &[u8], is_f64: bool) -> Result<usize, Error> {
    if is_f64 {
        let mut out = Vec::new();
        alp::decode_f64(bytes, &mut out).map(|()| out.len())
    } else {
        let mut out = Vec::new();
        alp::decode_f32(bytes, &mut out).map(|()| out.len())
    }
}

#[test]
fn every_truncation_is_an_error() {
    for (bytes, len, is_f64) in small_encodings() {
        assert_eq!(decode_len(&bytes, is_f64), Ok(len));
        for cut in 0..bytes.len() {
            assert!(
                decode_len(&bytes[..cut], is_f64).is_err(),
                "cut at {cut} of {}",
                bytes.len()
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            decode_len(&longer, is_f64),
            Err(Error::Corrupt("trailing bytes"))
        );
    }
}

#[test]
fn flipped_bytes_never_panic_or_change_the_length() {
    let mut rng = Rng(0xF00D);
    for (bytes, len, is_f64) in small_encodings() {
        for _ in 0..1500 {
            let mut corrupt = bytes.clone();
            for _ in 0..=(rng.next() % 3) {
                let at = (rng.next() % corrupt.len() as u64) as usize;
                if rng.next() & 1 == 0 {
                    corrupt[at] ^= 1 << (rng.next() % 8);
                } else {
                    corrupt[at] = rng.next() as u8;
                }
            }
            if let Ok(n) = decode_len(&corrupt, is_f64) {
                assert_eq!(n, len);
            }
        }
    }
}

#[test]
fn hostile_counts_are_refused_before_allocating() {
    for codec in [Codec::AlpF64, Codec::AlpRdF64, Codec::PlainF64] {
        let mut bytes = vec![codec as u8, 1, 0xFF, 0xFF, 0xFF, 0xFF];
        bytes.extend([0u8; 64]);
        bytes[6] = 52; // a plausible right width for ALP-RD
        bytes[7] = 1;
        let mut out = Vec::new();
        assert_eq!(
            alp::decode_f64(&bytes, &mut out),
            Err(Error::Truncated),
            "{codec:?}"
        );
        assert!(out.capacity() < 1 << 20);
    }
}

#[test]
fn corrupt_vector_headers_are_refused() {
    let mut bytes = Vec::new();
    alp::encode_f64_with(&[1.5, 2.25], Codec::AlpF64, &mut bytes);
    let mut out = Vec::new();
    let mut bad = bytes.clone();
    bad[6] = 19; // exponent past 18
    assert!(matches!(
        alp::decode_f64(&bad, &mut out),
        Err(Error::Corrupt(_))
    ));
    let mut bad = bytes.clone();
    bad[8] = 65; // bit width past 64
    assert!(matches!(
        alp::decode_f64(&bad, &mut out),
        Err(Error::Corrupt(_))
    ));
    assert!(out.is_empty());
}
