//! LZ4: byte-exact round trips, size limits checked before allocating, corrupt input.

use heliosdb_compress::{Codec, Error, FORMAT_VERSION, lz4};
use proptest::prelude::*;

fn round_trip(data: &[u8]) {
    let mut encoded = vec![0xAA]; // compress appends
    lz4::compress(data, &mut encoded);
    assert_eq!(encoded[0], 0xAA);
    let encoded = &encoded[1..];
    assert_eq!(encoded[0], Codec::Lz4 as u8);
    assert_eq!(encoded[1], FORMAT_VERSION);
    assert_eq!(encoded[2..6], (data.len() as u32).to_le_bytes());
    let mut out = b"prefix".to_vec(); // decompress appends
    lz4::decompress(encoded, data.len(), &mut out).unwrap();
    assert_eq!(&out[..6], b"prefix");
    assert_eq!(&out[6..], data);
}

#[test]
fn empty_and_small_and_large() {
    round_trip(b"");
    round_trip(b"a");
    round_trip(&[0xFF; 3]);
    round_trip(&vec![0u8; 1 << 20]);
    let text: Vec<u8> = (0..200_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect();
    round_trip(&text);
}

#[test]
fn highly_compressible_input_compresses() {
    let mut encoded = Vec::new();
    lz4::compress(&vec![7u8; 1 << 20], &mut encoded);
    assert!(encoded.len() < 10_000, "{} bytes", encoded.len());
}

fn header(len: u32) -> Vec<u8> {
    let mut b = vec![Codec::Lz4 as u8, FORMAT_VERSION];
    b.extend_from_slice(&len.to_le_bytes());
    b
}

#[test]
fn too_large_is_refused_before_allocating() {
    // A header claiming 4 GiB with a tiny block: refused by max_len before any allocation.
    let mut bytes = header(u32::MAX);
    bytes.extend_from_slice(&[0x10, b'a']);
    let mut out = Vec::new();
    let err = lz4::decompress(&bytes, usize::MAX >> 1, &mut out).unwrap_err();
    // With an unlimited max_len it is the ratio check that refuses.
    assert!(matches!(err, Error::Corrupt(_)), "{err:?}");
    assert_eq!(out.capacity(), 0, "nothing allocated");
    let err = lz4::decompress(&bytes, 1 << 20, &mut out).unwrap_err();
    assert_eq!(
        err,
        Error::TooLarge {
            len: u32::MAX as u64,
            max: 1 << 20
        }
    );
    assert_eq!(out.capacity(), 0, "nothing allocated");
}

#[test]
fn max_len_is_inclusive() {
    let mut encoded = Vec::new();
    lz4::compress(b"hello hello hello", &mut encoded);
    let mut out = Vec::new();
    lz4::decompress(&encoded, 17, &mut out).unwrap();
    assert_eq!(out, b"hello hello hello");
    out.clear();
    assert!(matches!(
        lz4::decompress(&encoded, 16, &mut out),
        Err(Error::TooLarge { len: 17, max: 16 })
    ));
}

#[test]
fn wrong_header_and_length_mismatch() {
    let mut encoded = Vec::new();
    lz4::compress(b"some bytes, some bytes", &mut encoded);
    let mut out = Vec::new();
    let mut wrong = encoded.clone();
    wrong[0] = Codec::PlainStrings as u8;
    assert!(matches!(
        lz4::decompress(&wrong, 1 << 20, &mut out),
        Err(Error::WrongCodec { .. })
    ));
    let mut newer = encoded.clone();
    newer[1] = FORMAT_VERSION + 1;
    assert!(matches!(
        lz4::decompress(&newer, 1 << 20, &mut out),
        Err(Error::UnsupportedVersion { .. })
    ));
    // Declared length one more or one less than the block holds.
    for delta in [1i64, -1] {
        let mut bad = encoded.clone();
        let len = u32::from_le_bytes(bad[2..6].try_into().unwrap()) as i64 + delta;
        bad[2..6].copy_from_slice(&(len as u32).to_le_bytes());
        assert!(matches!(
            lz4::decompress(&bad, 1 << 20, &mut out),
            Err(Error::Corrupt(_))
        ));
        assert!(out.is_empty(), "out unchanged on error");
    }
}

#[test]
fn every_truncation_fails_cleanly() {
    let data: Vec<u8> = b"abracadabra, abracadabra! ".repeat(20);
    let mut encoded = Vec::new();
    lz4::compress(&data, &mut encoded);
    for cut in 0..encoded.len() {
        let mut out = Vec::new();
        assert!(
            lz4::decompress(&encoded[..cut], 1 << 20, &mut out).is_err(),
            "cut at {cut}"
        );
        assert!(out.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trips(data in prop::collection::vec(any::<u8>(), 0..4096)) {
        round_trip(&data);
    }

    #[test]
    fn round_trips_repetitive(unit in prop::collection::vec(any::<u8>(), 1..16), times in 1usize..500) {
        round_trip(&unit.repeat(times));
    }

    #[test]
    fn bit_flips_never_panic(
        data in prop::collection::vec(0u8..4, 0..2048),
        flips in prop::collection::vec((any::<usize>(), 0u8..8), 1..8),
    ) {
        let mut encoded = Vec::new();
        lz4::compress(&data, &mut encoded);
        for (at, bit) in flips {
            let at = at % encoded.len();
            encoded[at] ^= 1 << bit;
        }
        let mut out = Vec::new();
        if lz4::decompress(&encoded, 1 << 16, &mut out).is_ok() {
            prop_assert!(out.len() <= 1 << 16);
        }
    }
}
