//! FSST string compression (Boncz, Neumann, Leis, "FSST: Fast Random Access String
//! Compression", VLDB 2020).
//!
//! A [`SymbolTable`] holds up to 255 symbols of 1 to 8 bytes; a string is encoded as one
//! code byte per symbol, code 255 ([`ESCAPE`]) followed by a literal byte for bytes no
//! symbol covers. Every string is encoded on its own (no state carries over between
//! strings), so any value of a column decodes without its neighbours, and equal strings
//! encode to equal codes: the encoder is a deterministic greedy longest match.
//!
//! The table format, the codes and the encoder are the paper's; training is the paper's
//! and another, keeping whichever table compresses the sample better. The paper's
//! (libfsst's `buildSymbolTable`) is bottom-up: five generations over a 16 KiB sample, each
//! keeping the 255 single symbols and concatenations of adjacent pairs of highest
//! `count × length`. On English sentences it stops at 1.80× (1.87× tuned: a larger sample,
//! more generations), because the gain `count × length` rates a symbol by the bytes it
//! covers, not by the codes it saves over the symbols already there. The other is
//! top-down, like a unigram tokenizer's: it starts from the bytes of a sample of about
//! [`SAMPLE_BYTES`] and its [`SEED_SYMBOLS`] most frequent substrings of 2 to 8 bytes
//! (by `count × (length − 1)`), and prunes them: each round compresses the sample with the
//! encoder's greedy longest match and drops the symbols whose removal would cost the
//! fewest code bytes, until 255 remain. It wins on most text (English sentences 1.92×,
//! generated URLs and e-mail addresses 30–50% better); the paper's still wins on rigid
//! templates such as JSON records with few distinct keys.
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
/// Training looks at about this much of the input.
pub const SAMPLE_BYTES: usize = 32 * 1024;
/// The paper's sample size, for its training.
const PAPER_SAMPLE_BYTES: usize = 16 * 1024;
/// Generations of the paper's training.
const GENERATIONS: usize = 5;
/// Multi-byte candidates training starts from.
const SEED_SYMBOLS: usize = 4096;
/// A candidate occurs at least this often in the sample.
const SEED_COUNT_MIN: u64 = 2;
/// Each pruning round keeps this percentage of the vocabulary.
const KEEP_PERCENT: usize = 80;
/// A single-byte symbol saves one byte per use over an escape, but pruning counts two:
/// escapes also slow decoding down (libfsst boosts single bytes for the same reason), and
/// on text this keeps about half of the escapes away at no cost in ratio.
const BYTE_WEIGHT: u64 = 2;
/// Sampled pieces of long strings are at most this long (libfsst's 512-byte chunks).
const SAMPLE_CHUNK: usize = 512;

/// The decoder's fast path writes four symbols into a window of this many bytes.
const FAST_WINDOW: usize = 64;

/// Where a decode stopped: codes read, bytes written.
#[derive(Clone, Copy, Default)]
struct Position {
    read: usize,
    written: usize,
}

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
        let top_down = SymbolTable::from_symbols(&prune(&sample, seed_symbols(&sample)));
        // The paper's training on the paper's 16 KiB (the start of the sample).
        let mut taken = 0;
        let paper_sample = sample
            .iter()
            .position(|piece| {
                taken += piece.len();
                taken >= PAPER_SAMPLE_BYTES
            })
            .map_or(&sample[..], |last| &sample[..=last]);
        let bottom_up = train_bottom_up(paper_sample);
        let size = |table: &SymbolTable| -> usize {
            sample.iter().map(|piece| table.encoded_len(piece)).sum()
        };
        if size(&bottom_up) < size(&top_down) {
            bottom_up
        } else {
            top_down
        }
    }

    /// The length of [`encode`](Self::encode)'s output for `s`.
    fn encoded_len(&self, s: &[u8]) -> usize {
        let index = self.index();
        let mut rest = s;
        let mut len = 0;
        while !rest.is_empty() {
            let (code, taken) = index.find(rest);
            len += if code.is_some() { 1 } else { 2 };
            rest = &rest[taken..];
        }
        len
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
        // Every code writes 8 bytes and advances by at most 8: room for 8 per code and 8
        // more is always enough. Most strings take far less, so start with room for 3 per
        // code and the fast path's window (less to zero) and grow to the bound only when
        // that runs out.
        let bound = codes
            .len()
            .checked_mul(SYMBOL_LEN_MAX)
            .and_then(|n| n.checked_add(SYMBOL_LEN_MAX))
            .ok_or(Error::Corrupt("fsst codes too long"))?;
        let mut room = bound.min(codes.len() * 3 + FAST_WINDOW);
        let mut at = Position::default();
        loop {
            out.resize(start + room, 0);
            match self.decode_into(codes, &mut out[start..], &mut at) {
                Ok(true) => {
                    out.truncate(start + at.written);
                    return Ok(());
                }
                Ok(false) if room < bound => room = bound,
                result => {
                    out.truncate(start);
                    return Err(result
                        .err()
                        .unwrap_or(Error::Corrupt("fsst output overflow")));
                }
            }
        }
    }

    /// Decodes `codes` from `at` on into `buf` from `at` on: every symbol is written as a
    /// whole `u64` and the position advances by its length. `Ok(true)` when all codes are
    /// decoded, `Ok(false)` when `buf` has no room for the next symbol (`at` says where to
    /// go on); room for `8 × codes.len() + 8` bytes is always enough.
    fn decode_into(&self, codes: &[u8], buf: &mut [u8], at: &mut Position) -> Result<bool> {
        // With 255 symbols every code but the escape has one: no need to check each.
        if self.n == SYMBOLS_MAX {
            self.decode_codes::<false>(codes, buf, at)
        } else {
            self.decode_codes::<true>(codes, buf, at)
        }
    }

    /// [`decode_into`](Self::decode_into), checking every code for a symbol if `CHECK`.
    #[inline(always)]
    fn decode_codes<const CHECK: bool>(
        &self,
        codes: &[u8],
        buf: &mut [u8],
        at: &mut Position,
    ) -> Result<bool> {
        let (mut i, mut pos) = (at.read, at.written);
        let mut unknown = false;
        let done = loop {
            // Fast path: four codes without an escape, one bounds check for all of them.
            while let (Some(four), Some(dst)) = (
                codes.get(i..i + 4),
                buf.get_mut(pos..)
                    .and_then(|b| b.first_chunk_mut::<FAST_WINDOW>()),
            ) {
                let word = u32::from_le_bytes([four[0], four[1], four[2], four[3]]);
                // Some byte is 0xff iff some byte of !word is zero.
                let inverted = !word;
                if inverted.wrapping_sub(0x0101_0101) & !inverted & 0x8080_8080 != 0 {
                    break;
                }
                let mut written = 0usize;
                for &code in four {
                    // Lengths are at most 8; the mask shows the compiler that three
                    // lengths and a symbol fit in the window, so it checks no bounds.
                    let len = self.lens[code as usize] & 15;
                    if CHECK {
                        unknown |= len == 0;
                    }
                    dst[written..written + 8]
                        .copy_from_slice(&self.values[code as usize].to_le_bytes());
                    written += len as usize;
                }
                pos += written;
                i += 4;
            }
            // One code (an escape, or one of the last three), then the fast path again.
            let Some(&code) = codes.get(i) else {
                break true;
            };
            let Some(dst) = buf.get_mut(pos..pos + SYMBOL_LEN_MAX) else {
                break false;
            };
            if code != ESCAPE {
                let len = self.lens[code as usize];
                unknown |= len == 0;
                dst.copy_from_slice(&self.values[code as usize].to_le_bytes());
                pos += len as usize;
                i += 1;
            } else {
                let Some(&byte) = codes.get(i + 1) else {
                    return Err(Error::Corrupt("fsst escape without its byte"));
                };
                dst[0] = byte;
                pos += 1;
                i += 2;
            }
        };
        if unknown {
            return Err(Error::Corrupt("fsst code without a symbol"));
        }
        *at = Position {
            read: i,
            written: pos,
        };
        Ok(done)
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

/// A candidate symbol during training: its bytes as a little-endian `u64` (zero-padded)
/// and its length.
type Candidate = (u64, u8);

/// The seed vocabulary: every byte that occurs in `sample`, and the [`SEED_SYMBOLS`]
/// substrings of 2 to 8 bytes that occur at least [`SEED_COUNT_MIN`] times with the
/// highest `count × (length − 1)` (the codes they would save if each occurrence became one
/// code).
///
/// Substrings are counted by sorting every position's next 8 bytes: the positions that
/// share an `n`-byte prefix are then adjacent, and a prefix's count is the length of its
/// run.
fn seed_symbols(sample: &[&[u8]]) -> Vec<Candidate> {
    let mut seen = [false; 256];
    let total: usize = sample.iter().map(|piece| piece.len()).sum();
    // (next 8 bytes as a big-endian u64, so that integer order is byte order; how many of
    // them are in the piece).
    let mut positions: Vec<(u64, u8)> = Vec::with_capacity(total);
    for piece in sample {
        for i in 0..piece.len() {
            seen[piece[i] as usize] = true;
            let avail = (piece.len() - i).min(SYMBOL_LEN_MAX);
            positions.push((load(&piece[i..]).swap_bytes(), avail as u8));
        }
    }
    positions.sort_unstable();
    // common[k]: the bytes positions k - 1 and k share (at most what both have).
    let common: Vec<u8> = std::iter::once(0)
        .chain(positions.windows(2).map(|w| {
            let same = ((w[0].0 ^ w[1].0).leading_zeros() / 8) as u8;
            same.min(w[0].1).min(w[1].1)
        }))
        .collect();
    let mut candidates: Vec<(u64, Candidate)> = Vec::new();
    for len in 2..=SYMBOL_LEN_MAX as u8 {
        let mut start = 0;
        // A run ends where fewer than `len` bytes are shared, and after the last position.
        let ends = common.iter().copied().enumerate().skip(1);
        for (k, shared) in ends.chain(std::iter::once((positions.len(), 0))) {
            if shared >= len {
                continue;
            }
            let count = (k - start) as u64;
            // A run of two or more shares `len` bytes, so all of them have `len` bytes.
            if count >= SEED_COUNT_MIN {
                let value = positions[start].0.swap_bytes() & mask(len as usize);
                candidates.push((count * u64::from(len - 1), (value, len)));
            }
            start = k;
        }
    }
    let by_score = |x: &(u64, Candidate), y: &(u64, Candidate)| y.0.cmp(&x.0).then(x.1.cmp(&y.1));
    if candidates.len() > SEED_SYMBOLS {
        candidates.select_nth_unstable_by(SEED_SYMBOLS - 1, by_score);
        candidates.truncate(SEED_SYMBOLS);
    }
    candidates.sort_unstable_by(by_score);
    let mut vocab: Vec<Candidate> = (0..=255u8)
        .filter(|&b| seen[b as usize])
        .map(|b| (u64::from(b), 1))
        .collect();
    vocab.extend(candidates.into_iter().map(|(_, c)| c));
    vocab
}

/// Prunes `vocab` to at most [`SYMBOLS_MAX`] symbols. Each round compresses the sample
/// with the current vocabulary the way [`SymbolTable::encode`] does (greedy longest
/// match), scores every symbol by the bytes its removal would cost (its uses × (the codes
/// its own bytes take without it − 1); for a single byte, uses × [`BYTE_WEIGHT`]) and
/// keeps the best [`KEEP_PERCENT`] percent, until [`SYMBOLS_MAX`] remain. Symbols the last
/// round did not use are dropped.
fn prune(sample: &[&[u8]], mut vocab: Vec<Candidate>) -> Vec<Candidate> {
    loop {
        let index = TrainIndex::new(&vocab);
        let mut uses = vec![0u32; vocab.len()];
        for piece in sample {
            let mut rest = *piece;
            while !rest.is_empty() {
                match index.longest(rest, rest.len()) {
                    Some((id, len)) => {
                        uses[id as usize] += 1;
                        rest = &rest[len..];
                    }
                    None => rest = &rest[1..],
                }
            }
        }
        // While the vocabulary is large, longer symbols cover most bytes and single bytes
        // look useless; they are kept until the end is near.
        let keep_bytes = vocab.len() > 2 * SYMBOLS_MAX;
        let mut scored: Vec<(u64, Candidate)> = vocab
            .iter()
            .zip(&uses)
            .filter_map(|(&(value, len), &uses)| match (len, uses) {
                (1, _) if keep_bytes => Some((u64::MAX, (value, len))),
                (_, 0) => None,
                _ => {
                    let saved = match len {
                        1 => BYTE_WEIGHT,
                        _ => index.cost_without(value, len) - 1,
                    };
                    Some((u64::from(uses) * saved, (value, len)))
                }
            })
            .collect();
        let keep = (vocab.len() * KEEP_PERCENT / 100).max(SYMBOLS_MAX);
        // Highest loss first; ties by the symbol itself, so training is deterministic.
        scored.sort_unstable_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
        scored.truncate(keep);
        vocab = scored.into_iter().map(|(_, candidate)| candidate).collect();
        if keep == SYMBOLS_MAX {
            return vocab;
        }
    }
}

/// Training's lookup structure: like [`EncodeIndex`], for any number of symbols (`u16`
/// ids) and with a bound on the match length.
struct TrainIndex {
    /// Indexed by a byte: id + 1 of its 1-byte symbol, 0 for none.
    byte: [u16; 256],
    /// Indexed by two bytes (little-endian): id + 1 of the 2-byte symbol, 0 for none.
    short: Vec<u16>,
    /// Open addressing on the 3-byte prefix; `end == 0` is empty.
    slots: Vec<Slot>,
    slot_bits: u32,
    /// Symbols of 3+ bytes grouped by prefix, longest first within a group.
    long: Vec<Long16>,
}

#[derive(Clone, Copy)]
struct Long16 {
    value: u64,
    mask: u64,
    len: u8,
    id: u16,
}

impl TrainIndex {
    fn new(vocab: &[Candidate]) -> TrainIndex {
        debug_assert!(vocab.len() < u16::MAX as usize);
        let mut byte = [0u16; 256];
        let mut short = vec![0u16; 1 << 16];
        let mut long = Vec::new();
        for (id, &(value, len)) in vocab.iter().enumerate() {
            match len {
                1 => byte[value as usize] = id as u16 + 1,
                2 => short[value as usize] = id as u16 + 1,
                _ => long.push(Long16 {
                    value,
                    mask: mask(len as usize),
                    len,
                    id: id as u16,
                }),
            }
        }
        long.sort_unstable_by_key(|l| (l.value & 0xff_ffff, std::cmp::Reverse(l.len), l.id));
        let slot_bits = (long.len() * 2)
            .max(16)
            .next_power_of_two()
            .trailing_zeros();
        let mut slots = vec![Slot::default(); 1 << slot_bits];
        let mut start = 0;
        while start < long.len() {
            let prefix = (long[start].value & 0xff_ffff) as u32;
            let mut end = start;
            while end < long.len() && (long[end].value & 0xff_ffff) as u32 == prefix {
                end += 1;
            }
            let mut slot = slot_in(prefix, slot_bits);
            while slots[slot].end != 0 {
                slot = (slot + 1) & ((1 << slot_bits) - 1);
            }
            slots[slot] = Slot {
                prefix,
                start: start as u16,
                end: end as u16,
            };
            start = end;
        }
        TrainIndex {
            byte,
            short,
            slots,
            slot_bits,
            long,
        }
    }

    /// The longest symbol of at most `max` bytes that `rest` (not empty) starts with: its
    /// id and length.
    #[inline]
    fn longest(&self, rest: &[u8], max: usize) -> Option<(u16, usize)> {
        let word = load(rest);
        let max = max.min(rest.len());
        if max >= 3 {
            let prefix = (word & 0xff_ffff) as u32;
            let mut slot = slot_in(prefix, self.slot_bits);
            loop {
                let s = self.slots[slot];
                if s.end == 0 {
                    break;
                }
                if s.prefix == prefix {
                    for l in &self.long[s.start as usize..s.end as usize] {
                        if (word & l.mask) == l.value && l.len as usize <= max {
                            return Some((l.id, l.len as usize));
                        }
                    }
                    break;
                }
                slot = (slot + 1) & ((1 << self.slot_bits) - 1);
            }
        }
        if max >= 2 {
            let id = self.short[(word & 0xffff) as usize];
            if id != 0 {
                return Some((id - 1, 2));
            }
        }
        match self.byte[rest[0] as usize] {
            id if id != 0 && max >= 1 => Some((id - 1, 1)),
            _ => None,
        }
    }

    /// The code bytes that the greedy encoding of symbol `(value, len)`'s own bytes takes
    /// without that symbol (an escape costs 2).
    fn cost_without(&self, value: u64, len: u8) -> u64 {
        let bytes = value.to_le_bytes();
        let mut rest = &bytes[..len as usize];
        // The first match must be shorter than the symbol; later ones are anyway.
        let mut max = len as usize - 1;
        let mut cost = 0;
        while !rest.is_empty() {
            match self.longest(rest, max) {
                Some((_, l)) => {
                    cost += 1;
                    rest = &rest[l..];
                }
                None => {
                    cost += 2;
                    rest = &rest[1..];
                }
            }
            max = SYMBOL_LEN_MAX;
        }
        cost
    }
}

fn slot_in(prefix: u32, bits: u32) -> usize {
    (prefix.wrapping_mul(0x9e37_79b1) >> (32 - bits)) as usize
}

/// The paper's training (libfsst's `buildSymbolTable`): five generations, each compressing
/// a growing part of the sample (8/128, 38/128, ... 128/128) with the previous generation's
/// table, counting single symbols and pairs of adjacent symbols, and keeping the 255
/// candidates of highest gain (`count × length`, single bytes boosted); the final table is
/// made from the counts of the generation that saved the most, without new pairs.
fn train_bottom_up(sample: &[&[u8]]) -> SymbolTable {
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
    for piece in sample {
        counters.count(&best, piece, false);
    }
    counters.make_table(&best, false)
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
