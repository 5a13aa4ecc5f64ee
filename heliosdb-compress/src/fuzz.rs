//! Fuzz targets: one per decoder that reads untrusted bytes.
//!
//! Each [`Target`] decodes arbitrary bytes and, when they decode, checks an invariant:
//! re-encoding the decoded values and decoding again gives the same values, bit for bit.
//! A target panics only when a decoder panics (a bug: decoders return errors) or when an
//! invariant fails. `cargo xtask fuzz` mutates the [`Target::seeds`] and runs the targets
//! in-process on stable Rust; `heliosdb-compress/fuzz` wraps the same targets for
//! cargo-fuzz (libFuzzer) where a nightly toolchain is available.
//!
//! ```
//! for target in heliosdb_compress::fuzz::targets() {
//!     for seed in (target.seeds)() {
//!         (target.run)(&seed);
//!         (target.run)(&seed[..seed.len() / 2]);
//!     }
//! }
//! ```

use std::cell::Cell;
use std::sync::OnceLock;

use crate::fsst::SymbolTable;
use crate::strings::{self, StringColumn};
use crate::{Codec, Reader, alp, int, lz4};

/// A decoder under fuzzing.
pub struct Target {
    /// A short name (`cargo xtask fuzz --target NAME`).
    pub name: &'static str,
    /// Decodes `input`; panics only on a bug (a decoder panic or a failed invariant).
    pub run: fn(&[u8]),
    /// Valid encodings of varied inputs: the starting corpus.
    pub seeds: fn() -> Vec<Vec<u8>>,
}

thread_local! {
    static DECODED: Cell<bool> = const { Cell::new(false) };
}

/// Whether the last [`Target::run`] on this thread decoded its input (rather than
/// rejecting it); resets to `false`. Fuzzers keep such inputs in their corpus: they reach
/// past the decoders' validation.
pub fn take_decoded() -> bool {
    DECODED.with(|d| d.replace(false))
}

fn decoded() {
    DECODED.with(|d| d.set(true));
}

/// Every fuzz target.
pub fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "lz4",
            run: run_lz4,
            seeds: seeds_lz4,
        },
        Target {
            name: "fsst_table",
            run: run_fsst_table,
            seeds: seeds_fsst_table,
        },
        Target {
            name: "fsst_codes",
            run: run_fsst_codes,
            seeds: seeds_fsst_codes,
        },
        Target {
            name: "strings",
            run: run_strings,
            seeds: seeds_strings,
        },
        Target {
            name: "alp_f64",
            run: run_alp_f64,
            seeds: seeds_alp_f64,
        },
        Target {
            name: "alp_f32",
            run: run_alp_f32,
            seeds: seeds_alp_f32,
        },
        Target {
            name: "int",
            run: run_int,
            seeds: seeds_int,
        },
    ]
}

fn run_alp_f64(input: &[u8]) {
    let mut values = Vec::new();
    if alp::decode_f64(input, &mut values).is_err() {
        return;
    }
    decoded();
    // The input's own bytes back every value it declares.
    assert!(
        values.len() <= input.len().saturating_mul(128),
        "alp f64 output unbounded"
    );
    for codec in [
        None,
        Some(Codec::AlpF64),
        Some(Codec::AlpRdF64),
        Some(Codec::PlainF64),
    ] {
        let mut again = Vec::new();
        match codec {
            None => {
                alp::encode_f64(&values, &mut again);
            }
            Some(c) => alp::encode_f64_with(&values, c, &mut again),
        }
        let mut back = Vec::new();
        alp::decode_f64(&again, &mut back).expect("alp f64 re-encoding decodes");
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&values), "alp f64 round trip ({codec:?})");
    }
}

fn run_alp_f32(input: &[u8]) {
    let mut values = Vec::new();
    if alp::decode_f32(input, &mut values).is_err() {
        return;
    }
    decoded();
    assert!(
        values.len() <= input.len().saturating_mul(128),
        "alp f32 output unbounded"
    );
    for codec in [
        None,
        Some(Codec::AlpF32),
        Some(Codec::AlpRdF32),
        Some(Codec::PlainF32),
    ] {
        let mut again = Vec::new();
        match codec {
            None => {
                alp::encode_f32(&values, &mut again);
            }
            Some(c) => alp::encode_f32_with(&values, c, &mut again),
        }
        let mut back = Vec::new();
        alp::decode_f32(&again, &mut back).expect("alp f32 re-encoding decodes");
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&values), "alp f32 round trip ({codec:?})");
    }
}

fn run_int(input: &[u8]) {
    let mut values = Vec::new();
    if int::decode_i64(input, &mut values).is_err() {
        return;
    }
    decoded();
    assert!(
        values.len() as u64
            <= (input.len() as u64).saturating_mul(int::RLE_VALUES_PER_BYTE_MAX as u64),
        "int output unbounded"
    );
    for codec in [
        None,
        Some(Codec::DeltaInt),
        Some(Codec::ForInt),
        Some(Codec::RleInt),
        Some(Codec::PlainInt),
    ] {
        let mut again = Vec::new();
        match codec {
            None => {
                int::encode_i64(&values, &mut again);
            }
            Some(c) => int::encode_i64_with(&values, c, &mut again),
        }
        let mut back = Vec::new();
        int::decode_i64(&again, &mut back).expect("int re-encoding decodes");
        assert_eq!(back, values, "int round trip ({codec:?})");
    }
}

/// A deterministic stream of numbers for seeds.
fn seed_rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

fn float_inputs() -> Vec<Vec<f64>> {
    let mut next = seed_rng(0x5eed_f10a7);
    let prices: Vec<f64> = (0..1500)
        .map(|i| (10_000 + (i * 37) % 900) as f64 / 100.0)
        .collect();
    let random: Vec<f64> = (0..1100)
        .map(|_| (next() >> 11) as f64 / (1u64 << 53) as f64)
        .collect();
    let bits: Vec<f64> = (0..300).map(|_| f64::from_bits(next())).collect();
    vec![
        Vec::new(),
        vec![1.5],
        vec![
            f64::NAN,
            -0.0,
            0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE / 2.0,
        ],
        prices,
        random,
        bits,
    ]
}

fn seeds_alp_f64() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for values in float_inputs() {
        for codec in [Codec::AlpF64, Codec::AlpRdF64, Codec::PlainF64] {
            let mut bytes = Vec::new();
            alp::encode_f64_with(&values, codec, &mut bytes);
            out.push(bytes);
        }
    }
    out
}

fn seeds_alp_f32() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for values in float_inputs() {
        let values: Vec<f32> = values.iter().map(|&x| x as f32).collect();
        for codec in [Codec::AlpF32, Codec::AlpRdF32, Codec::PlainF32] {
            let mut bytes = Vec::new();
            alp::encode_f32_with(&values, codec, &mut bytes);
            out.push(bytes);
        }
    }
    out
}

fn seeds_int() -> Vec<Vec<u8>> {
    let mut next = seed_rng(0x1e64);
    let inputs: Vec<Vec<i64>> = vec![
        Vec::new(),
        vec![42],
        vec![i64::MIN, i64::MAX, 0, -1, i64::MIN],
        (0..3000)
            .map(|i| 1_700_000_000_000_000 + i * 1_000_000 + (i % 7))
            .collect(),
        (0..2000).map(|i| i % 5).collect(),
        (0..1500).map(|i| (i / 300) as i64).collect(),
        (0..500).map(|_| next() as i64).collect(),
    ];
    let mut out = Vec::new();
    for values in inputs {
        for codec in [
            Codec::DeltaInt,
            Codec::ForInt,
            Codec::RleInt,
            Codec::PlainInt,
        ] {
            let mut bytes = Vec::new();
            int::encode_i64_with(&values, codec, &mut bytes);
            out.push(bytes);
        }
    }
    out
}

/// The decoded-size limit the lz4 target passes (large enough for every seed).
const LZ4_MAX_LEN: usize = 1 << 20;

fn run_lz4(input: &[u8]) {
    let mut out = vec![7u8; 3];
    match lz4::decompress(input, LZ4_MAX_LEN, &mut out) {
        Ok(()) => {
            decoded();
            assert_eq!(&out[..3], &[7, 7, 7], "lz4 decompress overwrote the prefix");
            let data = &out[3..];
            assert!(data.len() <= LZ4_MAX_LEN);
            assert!(data.len() as u64 <= 255 * input.len() as u64 + 16);
            let mut again = Vec::new();
            lz4::compress(data, &mut again);
            let mut back = Vec::new();
            lz4::decompress(&again, LZ4_MAX_LEN, &mut back).expect("lz4 re-encoding decodes");
            assert_eq!(back, data, "lz4 round trip");
        }
        Err(_) => assert_eq!(out, [7, 7, 7], "lz4 decompress changed out on error"),
    }
}

fn run_fsst_table(input: &[u8]) {
    let Ok(table) = SymbolTable::from_bytes(input) else {
        return;
    };
    decoded();
    assert_eq!(table.to_bytes(), input, "fsst table layout is canonical");
    assert!(table.symbols() <= 255);
    assert_eq!(
        SymbolTable::from_bytes(&table.to_bytes()).as_ref(),
        Ok(&table)
    );
    check_fsst_round_trip(&table, input);
    check_fsst_round_trip(&table, b"the quick brown fox\xff\x00 jumps");
}

/// `decode(encode(s)) == s`, and equal strings give equal codes.
fn check_fsst_round_trip(table: &SymbolTable, s: &[u8]) {
    let mut codes = Vec::new();
    table.encode(s, &mut codes);
    let mut again = Vec::new();
    table.encode(s, &mut again);
    assert_eq!(codes, again, "fsst encoding is deterministic");
    let mut back = Vec::new();
    table
        .decode(&codes, &mut back)
        .expect("fsst encoding decodes");
    assert_eq!(back, s, "fsst round trip");
}

/// Fixed tables trained on the seed texts, chosen by the first input byte.
fn fixed_tables() -> &'static [SymbolTable] {
    static TABLES: OnceLock<Vec<SymbolTable>> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut tables = vec![SymbolTable::train(std::iter::empty())];
        for texts in sample_texts() {
            tables.push(SymbolTable::train(texts.iter().map(Vec::as_slice)));
        }
        tables
    })
}

/// `u8 selector | codes`: a selector below 0x80 picks one of the fixed tables; otherwise a
/// table body (`u8 n | lengths | symbols`) follows it, then the codes.
fn run_fsst_codes(input: &[u8]) {
    let Some((&selector, rest)) = input.split_first() else {
        return;
    };
    let (table, codes) = if selector < 0x80 {
        let tables = fixed_tables();
        (tables[selector as usize % tables.len()].clone(), rest)
    } else {
        let mut reader = Reader::new(rest);
        let Ok(table) = SymbolTable::read_body(&mut reader) else {
            return;
        };
        (table, reader.rest())
    };
    let mut out = vec![1u8];
    match table.decode(codes, &mut out) {
        Ok(()) => {
            decoded();
            let text = &out[1..];
            assert_eq!(out[0], 1, "fsst decode overwrote the prefix");
            assert!(text.len() <= 8 * codes.len(), "fsst output over 8 × codes");
            check_fsst_round_trip(&table, text);
        }
        Err(_) => assert_eq!(out, [1], "fsst decode changed out on error"),
    }
}

fn run_strings(input: &[u8]) {
    let Ok(column) = StringColumn::parse(input) else {
        return;
    };
    let mut values: Vec<Vec<u8>> = Vec::new();
    if column
        .for_each(|i, v| {
            assert_eq!(i, values.len());
            values.push(v.to_vec());
        })
        .is_err()
    {
        return;
    }
    decoded();
    assert_eq!(values.len(), column.len());
    for (i, v) in values.iter().enumerate() {
        let mut one = Vec::new();
        column.get(i, &mut one).expect("get agrees with for_each");
        assert_eq!(&one, v, "get agrees with for_each");
    }
    assert!(column.get(column.len(), &mut Vec::new()).is_err());
    let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
    let mut forced = Vec::new();
    strings::encode_strings_with(&refs, column.codec(), &mut forced);
    let mut chosen = Vec::new();
    strings::encode_strings(&refs, &mut chosen);
    for bytes in [forced, chosen] {
        let again = StringColumn::parse(&bytes).expect("re-encoded column parses");
        let mut back = Vec::new();
        again
            .for_each(|_, v| back.push(v.to_vec()))
            .expect("re-encoded column decodes");
        assert_eq!(back, values, "string column round trip");
    }
}

/// A small deterministic generator for seeds (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Seed texts of different kinds: English, URLs, few distinct values, binary.
fn sample_texts() -> Vec<Vec<Vec<u8>>> {
    let mut rng = Rng(0x5eed);
    let words = [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "lazy",
        "dog",
        "and",
        "of",
        "data",
        "file",
        "is",
        "a",
        "to",
        "in",
        "compression",
        "string",
    ];
    let english: Vec<Vec<u8>> = (0..60)
        .map(|_| {
            let n = 3 + rng.below(10);
            let line: Vec<&str> = (0..n).map(|_| words[rng.below(words.len())]).collect();
            line.join(" ").into_bytes()
        })
        .collect();
    let urls: Vec<Vec<u8>> = (0..40)
        .map(|i| format!("https://www.example{}.com/path/{}?id={}", i % 5, i * 7, i).into_bytes())
        .collect();
    let few: Vec<Vec<u8>> = (0..50)
        .map(|i| ["red", "green", "blue", ""][i % 4].as_bytes().to_vec())
        .collect();
    let binary: Vec<Vec<u8>> = (0..20)
        .map(|_| {
            let n = rng.below(40);
            (0..n)
                .map(|_| [0u8, 0xff, 0x80, 0x7f, rng.next() as u8][rng.below(5)])
                .collect()
        })
        .collect();
    vec![english, urls, few, binary]
}

fn seeds_lz4() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    let mut inputs: Vec<Vec<u8>> = vec![Vec::new(), vec![0; 1000], b"abcabcabcabc".to_vec()];
    for texts in sample_texts() {
        inputs.push(texts.concat());
    }
    for input in inputs {
        let mut out = Vec::new();
        lz4::compress(&input, &mut out);
        seeds.push(out);
    }
    seeds
}

fn seeds_fsst_table() -> Vec<Vec<u8>> {
    fixed_tables().iter().map(SymbolTable::to_bytes).collect()
}

fn seeds_fsst_codes() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    let tables = fixed_tables();
    for (k, texts) in sample_texts().iter().enumerate() {
        // Fixed table k + 1 was trained on texts k.
        for text in texts.iter().take(3) {
            let mut seed = vec![(k + 1) as u8];
            tables[k + 1].encode(text, &mut seed);
            seeds.push(seed);
            let mut seed = vec![0x80];
            tables[k + 1].write_body(&mut seed);
            tables[k + 1].encode(text, &mut seed);
            seeds.push(seed);
        }
    }
    seeds
}

fn seeds_strings() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    let mut columns = sample_texts();
    columns.push(Vec::new());
    columns.push(vec![Vec::new()]);
    for values in &columns {
        let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
        for codec in [Codec::DictStrings, Codec::FsstStrings, Codec::PlainStrings] {
            let mut out = Vec::new();
            strings::encode_strings_with(&refs, codec, &mut out);
            seeds.push(out);
        }
    }
    seeds
}

#[cfg(test)]
mod tests {
    #[test]
    fn seeds_decode_and_pass_their_invariants() {
        for target in super::targets() {
            let seeds = (target.seeds)();
            assert!(!seeds.is_empty(), "{} has seeds", target.name);
            for seed in seeds {
                (target.run)(&seed);
                for cut in 0..seed.len().min(64) {
                    (target.run)(&seed[..cut]);
                }
            }
        }
    }
}
