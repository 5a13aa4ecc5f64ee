//! FSST string compression (Boncz, Neumann, Leis, "FSST: Fast Random Access String
//! Compression", VLDB 2020).
//!
//! A [`SymbolTable`] holds up to 255 symbols of 1 to 8 bytes; a string is encoded as one
//! code byte per symbol, code 255 ([`ESCAPE`]) followed by a literal byte for bytes no
//! symbol covers. Every string is encoded on its own (no state carries over between
//! strings), so any value of a column decodes without its neighbours, and equal strings
//! encode to equal codes: the encoder is a deterministic greedy longest match.
//!
//! Training is the paper's: five generations over a sample of at most
//! [`SAMPLE_BYTES`], each compressing the sample with the previous generation's table,
//! counting single symbols and pairs of adjacent symbols, and keeping the 255 candidates
//! of highest gain (`count × length`).
//!
//! # Table layout
//! ```text
//! u8 codec (FsstTable) | u8 version | u8 n | n × u8 length (1..=8) | symbol bytes
//! ```
//! Symbol `k` has code `k`.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use crate::{Codec, Error, Reader, Result, expect_header, write_header};

/// The code that says "the next byte is a literal".
pub const ESCAPE: u8 = 255;
/// At most this many symbols: codes `0..255`, 255 being [`ESCAPE`].
pub const SYMBOLS_MAX: usize = 255;
/// The longest symbol, in bytes.
pub const SYMBOL_LEN_MAX: usize = 8;
/// Training looks at this much of the input (the paper's 16 KiB sample).
pub const SAMPLE_BYTES: usize = 16 * 1024;
/// Training generations, as in the paper.
const GENERATIONS: usize = 5;
/// Sampled pieces of long strings are at most this long (libfsst's 512-byte chunks).
const SAMPLE_CHUNK: usize = 512;

/// A trained FSST symbol table: encodes and decodes single strings.
pub struct SymbolTable {
    n: usize,
    /// Symbol `k` as a little-endian `u64`, zero-padded; zero for codes `>= n`.
    values: [u64; 256],
    /// Length of symbol `k`; zero for codes `>= n` (including [`ESCAPE`]).
    lens: [u8; 256],
    /// The encoder's lookup structure, built on first use (decoders never need it).
    index: OnceLock<Box<EncodeIndex>>,
}

impl Clone for SymbolTable {
    /// Copies the symbols; the clone builds its own encoder index when it first encodes.
    fn clone(&self) -> Self {
        SymbolTable {
            n: self.n,
            values: self.values,
            lens: self.lens,
            index: OnceLock::new(),
        }
    }
}

impl PartialEq for SymbolTable {
    fn eq(&self, other: &Self) -> bool {
        self.n == other.n
            && self.values[..self.n] == other.values[..other.n]
            && self.lens[..self.n] == other.lens[..other.n]
    }
}

impl Eq for SymbolTable {}

impl fmt::Debug for SymbolTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let symbols: Vec<String> = (0..self.n)
            .map(|k| self.symbol(k).escape_ascii().to_string())
            .collect();
        f.debug_struct("SymbolTable")
            .field("symbols", &symbols)
            .finish()
    }
}

impl SymbolTable {
    fn from_symbols(symbols: &[(u64, u8)]) -> SymbolTable {
        debug_assert!(symbols.len() <= SYMBOLS_MAX);
        let mut values = [0u64; 256];
        let mut lens = [0u8; 256];
        for (k, &(value, len)) in symbols.iter().enumerate() {
            debug_assert!((1..=SYMBOL_LEN_MAX as u8).contains(&len));
            values[k] = value & mask(len as usize);
            lens[k] = len;
        }
        SymbolTable {
            n: symbols.len(),
            values,
            lens,
            index: OnceLock::new(),
        }
    }

    /// Trains a table on `samples` (typically the values of one column). Looks at no more
    /// than [`SAMPLE_BYTES`] of them, picked deterministically, so equal inputs give equal
    /// tables.
    pub fn train<'a>(samples: impl IntoIterator<Item = &'a [u8]>) -> SymbolTable {
        let sample = pick_sample(samples.into_iter().collect());
        let mut table = SymbolTable::from_symbols(&[]);
        let mut counters = Counters::new();
        let mut best: Option<(i64, SymbolTable)> = None;
        // libfsst's schedule: generation g compresses a growing fraction of the sample
        // (8/128, 38/128, ... 128/128), keeps the table that saved the most bytes, and the
        // final table is made from that one's counts without new pairs.
        for generation in 0..GENERATIONS {
            let fraction = 8 + 30 * generation as u64;
            counters.clear();
            let mut gain = 0i64;
            for (i, piece) in sample.iter().enumerate() {
                if fraction < 128 && spread(i as u64) % 128 >= fraction {
                    continue;
                }
                gain += counters.count(&table, piece, fraction < 128);
            }
            if best
                .as_ref()
                .is_none_or(|(best_gain, _)| gain >= *best_gain)
            {
                best = Some((gain, table.clone()));
            }
            if generation + 1 < GENERATIONS {
                table = counters.make_table(&table, true);
            }
        }
        let (_, best) = best.expect("at least one generation");
        counters.clear();
        for piece in &sample {
            counters.count(&best, piece, false);
        }
        counters.make_table(&best, false)
    }

    /// The number of symbols (codes `0..symbols()`).
    pub fn symbols(&self) -> usize {
        self.n
    }

    /// The bytes of symbol `code`.
    fn symbol(&self, code: usize) -> Vec<u8> {
        self.values[code].to_le_bytes()[..self.lens[code] as usize].to_vec()
    }

    /// Appends the codes of `s` to `out`: no header, no length.
    pub fn encode(&self, s: &[u8], out: &mut Vec<u8>) {
        let index = self.index();
        out.reserve(s.len() + s.len() / 4);
        let mut rest = s;
        while !rest.is_empty() {
            let (code, len) = index.find(rest);
            match code {
                Some(code) => out.push(code),
                None => out.extend_from_slice(&[ESCAPE, rest[0]]),
            }
            rest = &rest[len..];
        }
    }

    /// Appends the string of `codes` (written by [`encode`](Self::encode)) to `out`; at
    /// most `8 × codes.len()` bytes. An escape without its byte or a code without a symbol
    /// is [`Error::Corrupt`]; on error `out` is left as it was.
    pub fn decode(&self, codes: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        let room = codes
            .len()
            .checked_mul(SYMBOL_LEN_MAX)
            .and_then(|n| n.checked_add(SYMBOL_LEN_MAX))
            .ok_or(Error::Corrupt("fsst codes too long"))?;
        out.resize(start + room, 0);
        match self.decode_into(codes, &mut out[start..]) {
            Ok(written) => {
                out.truncate(start + written);
                Ok(())
            }
            Err(err) => {
                out.truncate(start);
                Err(err)
            }
        }
    }

    /// Decodes into `buf`, which has room for `8 × codes.len() + 8` bytes: every symbol is
    /// written as a whole `u64` and the position advances by its length.
    fn decode_into(&self, codes: &[u8], buf: &mut [u8]) -> Result<usize> {
        let mut pos = 0usize;
        let mut unknown = false;
        let mut i = 0usize;
        // Fast path: four codes without an escape, one bounds check for 32 bytes.
        while let (Some(four), Some(dst)) = (codes.get(i..i + 4), buf.get_mut(pos..pos + 32)) {
            let word = u32::from_le_bytes([four[0], four[1], four[2], four[3]]);
            // Some byte is 0xff iff some byte of !word is zero.
            let inverted = !word;
            if inverted.wrapping_sub(0x0101_0101) & !inverted & 0x8080_8080 != 0 {
                break;
            }
            let mut at = 0usize;
            for &code in four {
                let len = self.lens[code as usize];
                unknown |= len == 0;
                dst[at..at + 8].copy_from_slice(&self.values[code as usize].to_le_bytes());
                at += len as usize;
            }
            pos += at;
            i += 4;
        }
        while i < codes.len() {
            let code = codes[i];
            i += 1;
            if code != ESCAPE {
                let len = self.lens[code as usize];
                unknown |= len == 0;
                let Some(dst) = buf.get_mut(pos..pos + SYMBOL_LEN_MAX) else {
                    return Err(Error::Corrupt("fsst output overflow"));
                };
                dst.copy_from_slice(&self.values[code as usize].to_le_bytes());
                pos += len as usize;
            } else {
                let (Some(&byte), Some(dst)) = (codes.get(i), buf.get_mut(pos)) else {
                    return Err(Error::Corrupt("fsst escape without its byte"));
                };
                *dst = byte;
                pos += 1;
                i += 1;
            }
        }
        if unknown {
            return Err(Error::Corrupt("fsst code without a symbol"));
        }
        Ok(pos)
    }

    /// `header(FsstTable) | u8 n | n × u8 length | symbol bytes`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(3 + self.n * 9);
        write_header(Codec::FsstTable, &mut out);
        self.write_body(&mut out);
        out
    }

    /// Reads a table written by [`to_bytes`](Self::to_bytes), which must be all of `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<SymbolTable> {
        let (_, payload) = expect_header(bytes, &[Codec::FsstTable])?;
        let mut reader = Reader::new(payload);
        let table = SymbolTable::read_body(&mut reader)?;
        reader.finish()?;
        Ok(table)
    }

    /// The table without its header: `u8 n | n × u8 length | symbol bytes`.
    pub(crate) fn write_body(&self, out: &mut Vec<u8>) {
        out.push(self.n as u8);
        out.extend_from_slice(&self.lens[..self.n]);
        for k in 0..self.n {
            out.extend_from_slice(&self.values[k].to_le_bytes()[..self.lens[k] as usize]);
        }
    }

    /// Reads what [`write_body`](Self::write_body) wrote, validating every length.
    pub(crate) fn read_body(reader: &mut Reader<'_>) -> Result<SymbolTable> {
        let n = reader.u8()? as usize;
        if n > SYMBOLS_MAX {
            return Err(Error::Corrupt("fsst table with more than 255 symbols"));
        }
        let lens = reader.take(n)?;
        let mut symbols = Vec::with_capacity(n);
        for &len in lens {
            if !(1..=SYMBOL_LEN_MAX as u8).contains(&len) {
                return Err(Error::Corrupt("fsst symbol length outside 1..=8"));
            }
            let bytes = reader.take(len as usize)?;
            symbols.push((load(bytes), len));
        }
        Ok(SymbolTable::from_symbols(&symbols))
    }

    /// FNV-1a 64 of [`to_bytes`](Self::to_bytes): a content-addressed id, stable across
    /// builds and platforms.
    pub fn fingerprint(&self) -> u64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in self.to_bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash
    }

    fn index(&self) -> &EncodeIndex {
        self.index.get_or_init(|| Box::new(EncodeIndex::new(self)))
    }
}

/// The low `len` bytes set.
fn mask(len: usize) -> u64 {
    if len >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * len)) - 1
    }
}

/// The first (up to) 8 bytes of `bytes` as a little-endian `u64`, zero-padded.
fn load(bytes: &[u8]) -> u64 {
    match bytes.first_chunk::<8>() {
        Some(word) => u64::from_le_bytes(*word),
        None => {
            let mut word = [0u8; 8];
            word[..bytes.len()].copy_from_slice(bytes);
            u64::from_le_bytes(word)
        }
    }
}

/// Picks at most about [`SAMPLE_BYTES`] of `strings`: all of them if they fit, otherwise
/// pieces of randomly chosen strings (a fixed-seed generator, so training is deterministic).
fn pick_sample(strings: Vec<&[u8]>) -> Vec<&[u8]> {
    let total: usize = strings.iter().map(|s| s.len()).sum();
    if total <= SAMPLE_BYTES {
        return strings;
    }
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        // xorshift64*
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut sample = Vec::new();
    let mut taken = 0;
    // Bounded: empty strings add nothing, so stop after a fixed number of draws.
    for _ in 0..strings.len().saturating_mul(4).max(4096) {
        if taken >= SAMPLE_BYTES {
            break;
        }
        let s = strings[(next() % strings.len() as u64) as usize];
        let piece = if s.len() <= SAMPLE_CHUNK {
            s
        } else {
            let at = (next() % (s.len() - SAMPLE_CHUNK + 1) as u64) as usize;
            &s[at..at + SAMPLE_CHUNK]
        };
        taken += piece.len();
        sample.push(piece);
    }
    sample
}

/// A fixed pseudo-random function of `i`, to pick the part of the sample a generation uses.
fn spread(i: u64) -> u64 {
    let mut x = i.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 29;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^ (x >> 32)
}

/// Codes of the training counters: `0..256` a single byte (as if escaped), `256 + k`
/// symbol `k` of the current table.
const COUNTER_CODES: usize = 256 + SYMBOLS_MAX;

struct Counters {
    single: Vec<u32>,
    /// `pair[a * COUNTER_CODES + b]`: code `a` directly followed by code `b`.
    pair: Vec<u32>,
    /// The indices of `pair` that are not zero, so clearing and scanning cost what the
    /// sample does, not the 511 × 511 matrix.
    touched: Vec<u32>,
}

impl Counters {
    fn new() -> Counters {
        Counters {
            single: vec![0; COUNTER_CODES],
            pair: vec![0; COUNTER_CODES * COUNTER_CODES],
            touched: Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.single.fill(0);
        for &at in &self.touched {
            self.pair[at as usize] = 0;
        }
        self.touched.clear();
    }

    fn count_pair(&mut self, a: usize, b: usize) {
        let at = a * COUNTER_CODES + b;
        if self.pair[at] == 0 {
            self.touched.push(at as u32);
        }
        self.pair[at] += 1;
    }

    /// Compresses `s` with `table`, counting the codes and (if `pairs`) adjacent pairs.
    /// Returns the bytes saved (negative when escapes cost more than symbols save).
    fn count(&mut self, table: &SymbolTable, s: &[u8], pairs: bool) -> i64 {
        let index = table.index();
        let mut rest = s;
        let mut previous: Option<usize> = None;
        let mut gain = 0i64;
        while !rest.is_empty() {
            let (code, len) = index.find(rest);
            gain += len as i64 - if code.is_some() { 1 } else { 2 };
            let first = rest[0] as usize;
            let current = code.map_or(first, |code| 256 + code as usize);
            self.single[current] += 1;
            if len > 1 {
                // Let the first byte alone compete too, so useful bytes survive.
                self.single[first] += 1;
            }
            if let (true, Some(previous)) = (pairs, previous) {
                self.count_pair(previous, current);
                if len > 1 {
                    // The previous symbol extended by one byte only.
                    self.count_pair(previous, first);
                }
            }
            previous = Some(current);
            rest = &rest[len..];
        }
        gain
    }

    /// The next generation: the [`SYMBOLS_MAX`] candidates of highest gain, where the
    /// candidates are the counted symbols and (if `pairs`) the concatenations of counted
    /// pairs, cut to 8 bytes, when `pairs`. (libfsst also drops candidates counted fewer
    /// than `5 × fraction / 128` times; on our 16 KiB sample that cost URLs 5% of their
    /// ratio and gained nothing elsewhere, so every candidate competes.)
    fn make_table(&self, table: &SymbolTable, pairs: bool) -> SymbolTable {
        let mut gains: HashMap<(u64, u8), u64> = HashMap::new();
        let mut add = |value: u64, len: usize, count: u64| {
            *gains.entry((value, len as u8)).or_default() += len as u64 * count;
        };
        let symbol = |code: usize| -> (u64, usize) {
            if code < 256 {
                (code as u64, 1)
            } else {
                let k = code - 256;
                (table.values[k], table.lens[k] as usize)
            }
        };
        let live = 256 + table.n;
        for (a, &count) in self.single[..live].iter().enumerate() {
            if count == 0 {
                continue;
            }
            let (value, len) = symbol(a);
            // libfsst's heuristic: boosting single bytes lowers the escape rate.
            let boost = if len == 1 { 8 } else { 1 };
            add(value, len, boost * u64::from(count));
        }
        if pairs {
            for &at in &self.touched {
                let (a, b) = (at as usize / COUNTER_CODES, at as usize % COUNTER_CODES);
                let (value, len) = symbol(a);
                if len == SYMBOL_LEN_MAX {
                    continue;
                }
                let (next, next_len) = symbol(b);
                let joined_len = (len + next_len).min(SYMBOL_LEN_MAX);
                let joined = (value | next << (8 * len)) & mask(joined_len);
                add(joined, joined_len, u64::from(self.pair[at as usize]));
            }
        }
        let mut candidates: Vec<((u64, u8), u64)> = gains.into_iter().collect();
        // Highest gain first; ties broken by the symbol itself, so training is deterministic.
        candidates.sort_unstable_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
        candidates.truncate(SYMBOLS_MAX);
        let symbols: Vec<(u64, u8)> = candidates.into_iter().map(|(s, _)| s).collect();
        SymbolTable::from_symbols(&symbols)
    }
}

/// The encoder's lookup structure (the paper's): symbols of 3+ bytes in a hash table on
/// their first 3 bytes, the best 1- or 2-byte symbol for every 2-byte prefix in a direct
/// table, the 1-byte symbol of every byte in another.
struct EncodeIndex {
    /// Indexed by the first two bytes (little-endian): `len << 8 | code`, len 0 = escape.
    short: Vec<u16>,
    /// Indexed by a byte: `len << 8 | code`, len 0 = escape.
    byte: [u16; 256],
    /// Open addressing on the 3-byte prefix; `slot.end == 0` is empty.
    slots: Vec<Slot>,
    /// Symbols of 3+ bytes grouped by prefix, longest first within a group.
    long: Vec<Long>,
}

#[derive(Clone, Copy, Default)]
struct Slot {
    prefix: u32,
    start: u16,
    end: u16,
}

#[derive(Clone, Copy)]
struct Long {
    value: u64,
    mask: u64,
    len: u8,
    code: u8,
}

const SLOT_BITS: u32 = 10;

fn slot_of(prefix: u32) -> usize {
    (prefix.wrapping_mul(0x9e37_79b1) >> (32 - SLOT_BITS)) as usize
}

impl EncodeIndex {
    fn new(table: &SymbolTable) -> EncodeIndex {
        // Among duplicate symbols the lowest code wins: iterate codes in reverse so it is
        // written last, and sort stably.
        let mut byte = [0u16; 256];
        for k in (0..table.n).rev() {
            if table.lens[k] == 1 {
                byte[table.values[k] as usize] = 1 << 8 | k as u16;
            }
        }
        let mut short: Vec<u16> = (0..65536usize).map(|i| byte[i & 0xff]).collect();
        for k in (0..table.n).rev() {
            if table.lens[k] == 2 {
                short[table.values[k] as usize] = 2 << 8 | k as u16;
            }
        }
        let mut long: Vec<Long> = (0..table.n)
            .filter(|&k| table.lens[k] >= 3)
            .map(|k| Long {
                value: table.values[k],
                mask: mask(table.lens[k] as usize),
                len: table.lens[k],
                code: k as u8,
            })
            .collect();
        long.sort_by_key(|l| (l.value & 0xff_ffff, std::cmp::Reverse(l.len)));
        let mut slots = vec![Slot::default(); 1 << SLOT_BITS];
        let mut start = 0;
        while start < long.len() {
            let prefix = (long[start].value & 0xff_ffff) as u32;
            let mut end = start;
            while end < long.len() && (long[end].value & 0xff_ffff) as u32 == prefix {
                end += 1;
            }
            // At most 255 groups in 1024 slots: a free slot is always found.
            let mut slot = slot_of(prefix);
            while slots[slot].end != 0 {
                slot = (slot + 1) & ((1 << SLOT_BITS) - 1);
            }
            slots[slot] = Slot {
                prefix,
                start: start as u16,
                end: end as u16,
            };
            start = end;
        }
        EncodeIndex {
            short,
            byte,
            slots,
            long,
        }
    }

    /// The longest symbol that `rest` (not empty) starts with: its code and length, or
    /// `None` and 1 for an escaped byte.
    #[inline]
    fn find(&self, rest: &[u8]) -> (Option<u8>, usize) {
        let word = load(rest);
        if rest.len() >= 3 {
            let prefix = (word & 0xff_ffff) as u32;
            let mut slot = slot_of(prefix);
            loop {
                let s = self.slots[slot];
                if s.end == 0 {
                    break;
                }
                if s.prefix == prefix {
                    for l in &self.long[s.start as usize..s.end as usize] {
                        if (word & l.mask) == l.value && l.len as usize <= rest.len() {
                            return (Some(l.code), l.len as usize);
                        }
                    }
                    break;
                }
                slot = (slot + 1) & ((1 << SLOT_BITS) - 1);
            }
        }
        let entry = if rest.len() >= 2 {
            self.short[(word & 0xffff) as usize]
        } else {
            self.byte[rest[0] as usize]
        };
        match (entry >> 8) as usize {
            0 => (None, 1),
            len => (Some(entry as u8), len),
        }
    }
}
