//! FSST and string columns: byte-exact round trips, random access, determinism, and
//! corrupt input that must fail (or decode to something) without panicking.

use heliosdb_compress::fsst::{ESCAPE, SymbolTable};
use heliosdb_compress::strings::{StringColumn, encode_strings, encode_strings_with};
use heliosdb_compress::{Codec, Error, peek_codec};
use proptest::prelude::*;

const STRING_CODECS: [Codec; 3] = [Codec::DictStrings, Codec::FsstStrings, Codec::PlainStrings];

fn english() -> Vec<Vec<u8>> {
    let words = [
        "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "database",
    ];
    (0..500)
        .map(|i| {
            (0..(3 + i % 7))
                .map(|j| words[(i * 7 + j * 3) % words.len()])
                .collect::<Vec<_>>()
                .join(" ")
                .into_bytes()
        })
        .collect()
}

/// Encodes `values` (auto and every forced codec) and checks every decode path.
fn check(values: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
    let mut encodings = Vec::new();
    let mut auto = vec![0xEE];
    let codec = encode_strings(&refs, &mut auto);
    assert_eq!(auto[0], 0xEE, "encode_strings appends");
    auto.remove(0);
    assert_eq!(peek_codec(&auto).unwrap(), codec);
    encodings.push((codec, auto));
    for codec in STRING_CODECS {
        let mut forced = Vec::new();
        encode_strings_with(&refs, codec, &mut forced);
        assert_eq!(peek_codec(&forced).unwrap(), codec);
        encodings.push((codec, forced));
    }
    for (codec, bytes) in &encodings {
        let column = StringColumn::parse(bytes).unwrap();
        assert_eq!(column.codec(), *codec);
        assert_eq!(column.len(), values.len());
        assert_eq!(column.is_empty(), values.is_empty());
        // Any value decodes alone, in any order, appended to what `out` holds.
        for i in (0..values.len()).rev() {
            let mut out = b"x".to_vec();
            column.get(i, &mut out).unwrap();
            assert_eq!(&out[1..], values[i].as_slice(), "{codec:?} value {i}");
        }
        assert!(matches!(
            column.get(values.len(), &mut Vec::new()),
            Err(Error::Corrupt(_))
        ));
        let mut seen = Vec::new();
        column
            .for_each(|i, v| {
                assert_eq!(i, seen.len());
                seen.push(v.to_vec());
            })
            .unwrap();
        assert_eq!(seen, values);
    }
    encodings.into_iter().map(|(_, bytes)| bytes).collect()
}

#[test]
fn empty_column_and_single_values() {
    check(&[]);
    check(&[Vec::new()]);
    check(&[b"one".to_vec()]);
    check(&[Vec::new(), Vec::new(), b"".to_vec()]);
    check(&[vec![ESCAPE], vec![ESCAPE, ESCAPE], vec![0], vec![0xFF; 9]]);
}

#[test]
fn huge_strings() {
    let big: Vec<u8> = (0..1u32 << 20).map(|i| (i % 253) as u8).collect();
    let text = english().concat();
    check(&[big.clone(), Vec::new(), text.repeat(20), big]);
}

#[test]
fn codec_choice_follows_the_data() {
    let mut out = Vec::new();
    let few: Vec<&[u8]> = (0..1000)
        .map(|i| [&b"red"[..], b"green", b"blue"][i % 3])
        .collect();
    assert_eq!(encode_strings(&few, &mut out), Codec::DictStrings);
    let text = english();
    let mut unique: Vec<Vec<u8>> = text.clone();
    for (i, v) in unique.iter_mut().enumerate() {
        v.extend_from_slice(format!(" {i}").as_bytes());
    }
    let refs: Vec<&[u8]> = unique.iter().map(Vec::as_slice).collect();
    out.clear();
    assert_eq!(encode_strings(&refs, &mut out), Codec::FsstStrings);
    let plain_size: usize = refs.iter().map(|v| v.len() + 4).sum();
    assert!(out.len() * 2 < plain_size, "{} vs {plain_size}", out.len());
    // Random bytes do not compress.
    let mut x = 1u64;
    let noise: Vec<Vec<u8>> = (0..300)
        .map(|_| {
            (0..40)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        })
        .collect();
    let refs: Vec<&[u8]> = noise.iter().map(Vec::as_slice).collect();
    out.clear();
    assert_eq!(encode_strings(&refs, &mut out), Codec::PlainStrings);
}

#[test]
fn wrong_codec_family_writes_plain() {
    let mut out = Vec::new();
    encode_strings_with(&[b"a".as_slice()], Codec::Lz4, &mut out);
    assert_eq!(peek_codec(&out).unwrap(), Codec::PlainStrings);
    assert!(matches!(
        StringColumn::parse(&[Codec::Lz4 as u8, 1, 0, 0, 0, 0]),
        Err(Error::WrongCodec { .. })
    ));
}

#[test]
fn fsst_compresses_text_and_is_deterministic() {
    let text = english();
    let refs: Vec<&[u8]> = text.iter().map(Vec::as_slice).collect();
    let table = SymbolTable::train(refs.iter().copied());
    assert_eq!(
        table,
        SymbolTable::train(refs.iter().copied()),
        "training is deterministic"
    );
    assert!(table.symbols() > 10 && table.symbols() <= 255);
    let (mut raw, mut coded) = (0, 0);
    for v in &refs {
        let mut codes = Vec::new();
        table.encode(v, &mut codes);
        let mut again = Vec::new();
        table.encode(v, &mut again);
        assert_eq!(codes, again);
        let mut out = Vec::new();
        table.decode(&codes, &mut out).unwrap();
        assert_eq!(&out, v);
        assert!(out.len() <= 8 * codes.len());
        raw += v.len();
        coded += codes.len();
    }
    assert!(raw >= 2 * coded, "ratio {raw}/{coded}");
}

#[test]
fn fsst_table_bytes() {
    let text = english();
    let table = SymbolTable::train(text.iter().map(Vec::as_slice));
    let bytes = table.to_bytes();
    assert_eq!(bytes[0], Codec::FsstTable as u8);
    assert_eq!(bytes[2] as usize, table.symbols());
    let back = SymbolTable::from_bytes(&bytes).unwrap();
    assert_eq!(back, table);
    assert_eq!(back.fingerprint(), table.fingerprint());
    assert_eq!(back.to_bytes(), bytes);
    // Stable across builds and platforms: FNV-1a 64 of the bytes.
    let empty = SymbolTable::train(std::iter::empty());
    assert_eq!(empty.symbols(), 0);
    assert_eq!(empty.to_bytes(), [Codec::FsstTable as u8, 1, 0]);
    assert_eq!(empty.fingerprint(), fnv1a(&[Codec::FsstTable as u8, 1, 0]));
    assert_ne!(empty.fingerprint(), table.fingerprint());
    // Invalid tables.
    for bad in [
        vec![Codec::FsstTable as u8, 1, 1, 0], // length 0
        vec![Codec::FsstTable as u8, 1, 1, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9], // length 9
        vec![Codec::FsstTable as u8, 1, 1, 2, b'a'], // truncated symbol
        vec![Codec::FsstTable as u8, 1, 1, 1, b'a', b'b'], // trailing byte
        vec![Codec::FsstTable as u8, 1, 255],  // 255 lengths missing
        vec![Codec::FsstTable as u8, 1],
    ] {
        assert!(SymbolTable::from_bytes(&bad).is_err(), "{bad:?}");
    }
    for cut in 0..bytes.len() {
        assert!(SymbolTable::from_bytes(&bytes[..cut]).is_err());
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

#[test]
fn fsst_decode_errors() {
    let table = SymbolTable::train([b"abcabcabc".as_slice()]);
    let mut out = b"keep".to_vec();
    assert!(matches!(
        table.decode(&[ESCAPE], &mut out),
        Err(Error::Corrupt(_))
    ));
    assert_eq!(out, b"keep", "out unchanged on error");
    // A code with no symbol.
    let unused = table.symbols() as u8;
    assert!(matches!(
        table.decode(&[0, unused, 0, 0, 0], &mut out),
        Err(Error::Corrupt(_))
    ));
    assert_eq!(out, b"keep");
    table
        .decode(&[ESCAPE, ESCAPE, ESCAPE, 0], &mut out)
        .unwrap();
    assert_eq!(out, b"keep\xff\x00");
    table.decode(&[], &mut out).unwrap();
    assert_eq!(out, b"keep\xff\x00");
}

#[test]
fn fsst_decodes_long_symbols_and_full_tables() {
    // Codes of 8-byte symbols expand past the decoder's first guess of room.
    let table = SymbolTable::train([b"abcdefgh".repeat(64).as_slice()]);
    for s in [
        b"abcdefgh".repeat(100),
        [
            b"abcdefgh".repeat(50),
            vec![0, 1, 2],
            b"abcdefgh".repeat(50),
        ]
        .concat(),
    ] {
        let mut codes = Vec::new();
        table.encode(&s, &mut codes);
        assert!(codes.len() * 4 < s.len(), "{} codes", codes.len());
        let mut out = b"keep".to_vec();
        table.decode(&codes, &mut out).unwrap();
        assert_eq!(&out[4..], s.as_slice());
    }
    // A table of 255 symbols: every code but the escape decodes.
    let mut x = 1u32;
    let words: Vec<Vec<u8>> = (0..4000)
        .map(|_| {
            (0..12)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    b"etaoinshrdlucmfwygpb "[(x >> 16) as usize % 21]
                })
                .collect()
        })
        .collect();
    let table = SymbolTable::train(words.iter().map(Vec::as_slice));
    assert_eq!(table.symbols(), 255, "{table:?}");
    let codes: Vec<u8> = (0..=254u8).chain(0..=254).collect();
    let mut out = Vec::new();
    table.decode(&codes, &mut out).unwrap();
    let mut again = Vec::new();
    table.encode(&out, &mut again);
    let mut back = Vec::new();
    table.decode(&again, &mut back).unwrap();
    assert_eq!(back, out);
    assert!(matches!(
        table.decode(&[1, 2, 3, 4, 5, ESCAPE], &mut out),
        Err(Error::Corrupt(_))
    ));
}

#[test]
fn every_truncation_and_bit_flip_of_small_encodings_is_safe() {
    let values: Vec<Vec<u8>> = vec![
        b"hello world".to_vec(),
        Vec::new(),
        b"hello there".to_vec(),
        vec![0xFF, 0, 0xFF],
        b"hello world".to_vec(),
    ];
    for bytes in check(&values) {
        for cut in 0..bytes.len() {
            // A strict prefix is never a valid column: the lengths must cover all bytes.
            assert!(StringColumn::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for at in 0..bytes.len() {
            for bit in 0..8 {
                let mut bad = bytes.clone();
                bad[at] ^= 1 << bit;
                decode_all_without_panic(&bad);
            }
        }
    }
}

fn decode_all_without_panic(bytes: &[u8]) {
    if let Ok(column) = StringColumn::parse(bytes) {
        let mut total = 0usize;
        let _ = column.for_each(|_, v| total += v.len());
        for i in 0..column.len() + 1 {
            let mut out = Vec::new();
            let _ = column.get(i, &mut out);
        }
        // No decoded value exceeds what the input can justify (FSST: 8 bytes per code).
        assert!(total <= 8 * bytes.len() * bytes.len().max(1));
    }
}

#[test]
fn hostile_counts_do_not_allocate() {
    // A plain column claiming 2^32 - 1 values in 6 bytes.
    let bad = [Codec::PlainStrings as u8, 1, 0xFF, 0xFF, 0xFF, 0xFF];
    assert!(matches!(StringColumn::parse(&bad), Err(Error::Truncated)));
    let bad = [
        Codec::DictStrings as u8,
        1,
        1,
        0,
        0,
        0,
        0,
        0xFF,
        0xFF,
        0xFF,
        0xFF,
    ];
    assert!(matches!(StringColumn::parse(&bad), Err(Error::Truncated)));
    // Dictionary code out of range.
    let bad = [
        Codec::DictStrings as u8,
        1,
        1,
        1,
        0,
        0,
        0,
        1,
        0,
        0,
        0,
        b'a',
        1,
        0,
        0,
        0,
        1,
    ];
    assert!(matches!(StringColumn::parse(&bad), Err(Error::Corrupt(_))));
    // Decreasing offsets.
    let bad = [
        Codec::PlainStrings as u8,
        1,
        2,
        0,
        0,
        0,
        2,
        0,
        0,
        0,
        1,
        0,
        0,
        0,
        b'a',
        b'b',
    ];
    assert!(matches!(StringColumn::parse(&bad), Err(Error::Corrupt(_))));
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40),
        prop::collection::vec(prop::sample::select(vec![0u8, 0xFF, b'a', b'b']), 0..40),
        "[a-z ]{0,60}".prop_map(String::into_bytes),
        "(https?://)?[a-z]{1,8}\\.(com|org)/[a-z0-9/]{0,20}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn columns_round_trip(values in prop::collection::vec(value(), 0..60)) {
        check(&values);
    }

    #[test]
    fn columns_with_repeats_round_trip(
        distinct in prop::collection::vec(value(), 1..6),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..200),
    ) {
        let values: Vec<Vec<u8>> = picks.iter().map(|i| i.get(&distinct).clone()).collect();
        check(&values);
    }

    #[test]
    fn fsst_round_trips_any_bytes_with_any_table(
        training in prop::collection::vec(value(), 0..30),
        inputs in prop::collection::vec(value(), 1..10),
    ) {
        let table = SymbolTable::train(training.iter().map(Vec::as_slice));
        for s in &inputs {
            let mut codes = Vec::new();
            table.encode(s, &mut codes);
            let mut again = Vec::new();
            table.encode(s, &mut again);
            prop_assert_eq!(&codes, &again);
            let mut out = Vec::new();
            table.decode(&codes, &mut out).unwrap();
            prop_assert_eq!(&out, s);
        }
        let back = SymbolTable::from_bytes(&table.to_bytes()).unwrap();
        prop_assert_eq!(back, table);
    }

    #[test]
    fn fsst_decode_of_any_codes_never_panics(
        training in prop::collection::vec(value(), 0..10),
        codes in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let table = SymbolTable::train(training.iter().map(Vec::as_slice));
        let mut out = Vec::new();
        if table.decode(&codes, &mut out).is_ok() {
            prop_assert!(out.len() <= 8 * codes.len());
        } else {
            prop_assert!(out.is_empty());
        }
    }

    #[test]
    fn corrupt_columns_never_panic(
        values in prop::collection::vec(value(), 0..12),
        codec in prop::sample::select(STRING_CODECS.to_vec()),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
        let mut bytes = Vec::new();
        encode_strings_with(&refs, codec, &mut bytes);
        for (at, byte) in flips {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        decode_all_without_panic(&bytes);
        let cut = cut.index(bytes.len() + 1);
        decode_all_without_panic(&bytes[..cut]);
    }
}
