//! Integers and timestamps (`i64`): delta, frame of reference, run-length or plain.
//!
//! [`encode_i64`] computes the exact encoded size of every codec (a few linear passes)
//! and writes the smallest. All arithmetic on values is wrapping `u64`/`i64`, so
//! `i64::MIN`/`i64::MAX` and deltas that overflow round-trip exactly.
//!
//! # Layout (format version 1; all integers little-endian)
//! Every buffer: `u8 codec | u8 version | u32 count`, then:
//! - [`Codec::PlainInt`]: `count × i64`.
//! - [`Codec::ForInt`]: blocks of 1,024 values (the last one shorter):
//!   `i64 min | u8 width | packed (v − min) as u64` ([`bitpack`] layout,
//!   `packed_len(len, width)` bytes).
//! - [`Codec::DeltaInt`]: if `count > 0`, `i64 first`, then the `count − 1` deltas
//!   `d = v[i] − v[i−1]` (wrapping) in blocks of 1,024 laid out exactly like `ForInt`'s:
//!   `i64 min_delta | u8 width | packed (d − min_delta) as u64`. The frame of reference is
//!   the block's signed minimum delta, which makes a zig-zag step unnecessary: after the
//!   minimum is subtracted every offset is already non-negative, and the width is that of
//!   the delta range (never wider than zig-zag + minimum would give).
//! - [`Codec::RleInt`]: `u32 run_count`, then `run_count × (i64 value | u32 length)`.
//!   Lengths are ≥ 1 and sum to `count`.
//!
//! # Limits on untrusted input
//! Counts are checked against the bytes that must back them before anything is
//! reserved: `PlainInt` needs `8 × count` bytes; `ForInt`/`DeltaInt` need a 9-byte block
//! header per 1,024 values. Run-length data can claim any total with few bytes, so the
//! decoder refuses an RLE total over [`RLE_VALUES_MAX`] (2^28) values or over 1,024 values
//! per byte of the whole encoded buffer. The encoder keeps to both: it splits runs (to at
//! most 12,288 values, 12 bytes each) when a column is too uniform for the ratio cap, and
//! never picks RLE — and [`encode_i64_with`] falls back from it to `ForInt` — for more
//! than 2^28 values.

use crate::bitpack::{self, packed_len, width_for};
use crate::{Codec, Error, Reader, Result, expect_header, write_header};

/// Values per bit-packed block of `ForInt` and `DeltaInt`.
pub const BLOCK_LEN: usize = 1024;
/// The most values an RLE buffer may decode to.
pub const RLE_VALUES_MAX: usize = 1 << 28;
/// An RLE buffer decodes to at most this many values per byte of input.
pub const RLE_VALUES_PER_BYTE_MAX: usize = 1024;

const HEADER_BYTES: usize = 2 + 4;
const BLOCK_HEADER_BYTES: usize = 8 + 1;
const RUN_BYTES: usize = 8 + 4;
/// A run this long costs exactly one byte per [`RLE_VALUES_PER_BYTE_MAX`] values.
const RUN_SPLIT_LEN: usize = RUN_BYTES * RLE_VALUES_PER_BYTE_MAX;

/// Encodes `values` with the codec that gives the fewest bytes and returns it.
///
/// # Panics
/// If `values.len()` exceeds `u32::MAX` (the format's count field).
pub fn encode_i64(values: &[i64], out: &mut Vec<u8>) -> Codec {
    let mut best = (Codec::PlainInt, HEADER_BYTES + 8 * values.len());
    let candidates = [
        (Codec::DeltaInt, Some(delta_size(values))),
        (Codec::ForInt, Some(for_size(values))),
        (
            Codec::RleInt,
            rle_plan(values).map(|(runs, _)| HEADER_BYTES + 4 + RUN_BYTES * runs),
        ),
    ];
    for (codec, size) in candidates {
        if let Some(size) = size.filter(|&size| size < best.1) {
            best = (codec, size);
        }
    }
    encode_i64_with(values, best.0, out);
    best.0
}

/// Encodes `values` with `codec`. A codec that is not an integer codec falls back to
/// `PlainInt`; `RleInt` for more than [`RLE_VALUES_MAX`] values falls back to `ForInt`.
///
/// # Panics
/// If `values.len()` exceeds `u32::MAX` (the format's count field).
pub fn encode_i64_with(values: &[i64], codec: Codec, out: &mut Vec<u8>) {
    let count =
        u32::try_from(values.len()).expect("an integer column holds at most u32::MAX values");
    let codec = match codec {
        Codec::RleInt if values.len() > RLE_VALUES_MAX => Codec::ForInt,
        Codec::DeltaInt | Codec::ForInt | Codec::RleInt => codec,
        _ => Codec::PlainInt,
    };
    write_header(codec, out);
    out.extend_from_slice(&count.to_le_bytes());
    match codec {
        Codec::DeltaInt => encode_delta(values, out),
        Codec::ForInt => values
            .chunks(BLOCK_LEN)
            .for_each(|block| encode_for_block(block, out)),
        Codec::RleInt => encode_rle(values, out),
        _ => values
            .iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
    }
}

/// Decodes a buffer of any integer codec. Clears `out`, then fills it; on error `out` is
/// left empty.
pub fn decode_i64(bytes: &[u8], out: &mut Vec<i64>) -> Result<()> {
    out.clear();
    let result = decode_into(bytes, out);
    if result.is_err() {
        out.clear();
    }
    result
}

fn decode_into(bytes: &[u8], out: &mut Vec<i64>) -> Result<()> {
    let codecs = [
        Codec::DeltaInt,
        Codec::ForInt,
        Codec::RleInt,
        Codec::PlainInt,
    ];
    let (codec, payload) = expect_header(bytes, &codecs)?;
    let mut r = Reader::new(payload);
    let count = r.u32()? as usize;
    match codec {
        Codec::DeltaInt => decode_delta(&mut r, count, out)?,
        Codec::ForInt => decode_for(&mut r, count, out)?,
        Codec::RleInt => decode_rle(&mut r, count, bytes.len(), out)?,
        _ => decode_plain(&mut r, count, out)?,
    }
    r.finish()
}

// ---- frame of reference ----

fn min_max(block: &[i64]) -> (i64, i64) {
    block
        .iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

fn block_width(block: &[i64]) -> u8 {
    let (lo, hi) = min_max(block);
    if block.is_empty() {
        0
    } else {
        width_for(hi.wrapping_sub(lo) as u64)
    }
}

fn blocks_size(values: &[i64]) -> usize {
    values
        .chunks(BLOCK_LEN)
        .map(|block| BLOCK_HEADER_BYTES + packed_len(block.len(), block_width(block)))
        .sum()
}

fn for_size(values: &[i64]) -> usize {
    HEADER_BYTES + blocks_size(values)
}

fn encode_for_block(block: &[i64], out: &mut Vec<u8>) {
    let (min, max) = min_max(block);
    let width = width_for(max.wrapping_sub(min) as u64);
    out.extend_from_slice(&min.to_le_bytes());
    out.push(width);
    let mut offsets = [0u64; BLOCK_LEN];
    for (o, &v) in offsets.iter_mut().zip(block) {
        *o = v.wrapping_sub(min) as u64;
    }
    bitpack::pack(&offsets[..block.len()], width, out);
}

/// Checks that `count` values in blocks can be backed by `r`, then reserves them.
fn reserve_blocks(r: &Reader, count: usize, out: &mut Vec<i64>) -> Result<()> {
    let need = count.div_ceil(BLOCK_LEN).saturating_mul(BLOCK_HEADER_BYTES);
    if need > r.remaining() {
        return Err(Error::Truncated);
    }
    out.reserve(count);
    Ok(())
}

/// Reads one block header and its packed offsets into `scratch[..len]`; returns the base.
fn read_block(r: &mut Reader, len: usize, scratch: &mut [u64; BLOCK_LEN]) -> Result<i64> {
    let base = r.i64()?;
    let width = r.u8()?;
    if width > 64 {
        return Err(Error::Corrupt("bit width over 64"));
    }
    let packed = r.take(packed_len(len, width))?;
    bitpack::unpack_into(packed, width, &mut scratch[..len])?;
    Ok(base)
}

fn decode_for(r: &mut Reader, count: usize, out: &mut Vec<i64>) -> Result<()> {
    reserve_blocks(r, count, out)?;
    let mut scratch = [0u64; BLOCK_LEN];
    let mut left = count;
    while left > 0 {
        let len = left.min(BLOCK_LEN);
        let base = read_block(r, len, &mut scratch)?;
        out.extend(scratch[..len].iter().map(|&u| base.wrapping_add(u as i64)));
        left -= len;
    }
    Ok(())
}

// ---- delta ----

fn deltas(values: &[i64], out: &mut Vec<i64>) {
    out.clear();
    out.extend(values.windows(2).map(|w| w[1].wrapping_sub(w[0])));
}

fn delta_size(values: &[i64]) -> usize {
    if values.is_empty() {
        return HEADER_BYTES;
    }
    let mut size = HEADER_BYTES + 8;
    // Delta block k covers values k×1024 ..= (k+1)×1024: blocks overlap by one value.
    let mut start = 0;
    while start + 1 < values.len() {
        let end = (start + BLOCK_LEN + 1).min(values.len());
        let (lo, hi) = values[start..end]
            .windows(2)
            .fold((i64::MAX, i64::MIN), |(lo, hi), w| {
                let d = w[1].wrapping_sub(w[0]);
                (lo.min(d), hi.max(d))
            });
        size +=
            BLOCK_HEADER_BYTES + packed_len(end - start - 1, width_for(hi.wrapping_sub(lo) as u64));
        start = end - 1;
    }
    size
}

fn encode_delta(values: &[i64], out: &mut Vec<u8>) {
    let Some(&first) = values.first() else { return };
    out.extend_from_slice(&first.to_le_bytes());
    let mut d = Vec::with_capacity(values.len().saturating_sub(1));
    deltas(values, &mut d);
    d.chunks(BLOCK_LEN)
        .for_each(|block| encode_for_block(block, out));
}

fn decode_delta(r: &mut Reader, count: usize, out: &mut Vec<i64>) -> Result<()> {
    if count == 0 {
        return Ok(());
    }
    let mut prev = r.i64()?;
    let left_total = count - 1;
    reserve_blocks(r, left_total, out)?;
    out.push(prev);
    let mut scratch = [0u64; BLOCK_LEN];
    let mut left = left_total;
    while left > 0 {
        let len = left.min(BLOCK_LEN);
        let base = read_block(r, len, &mut scratch)?;
        out.extend(scratch[..len].iter().map(|&u| {
            prev = prev.wrapping_add(base.wrapping_add(u as i64));
            prev
        }));
        left -= len;
    }
    Ok(())
}

// ---- run-length ----

/// The number of runs RLE would write and the longest run it may write, or `None` when
/// RLE cannot hold `values` (over [`RLE_VALUES_MAX`]).
fn rle_plan(values: &[i64]) -> Option<(usize, usize)> {
    if values.len() > RLE_VALUES_MAX {
        return None;
    }
    let plain_runs = count_runs(values, usize::MAX);
    let bytes = HEADER_BYTES + 4 + RUN_BYTES * plain_runs;
    if bytes.saturating_mul(RLE_VALUES_PER_BYTE_MAX) >= values.len() {
        Some((plain_runs, usize::MAX))
    } else {
        Some((count_runs(values, RUN_SPLIT_LEN), RUN_SPLIT_LEN))
    }
}

fn runs(values: &[i64], run_max: usize) -> impl Iterator<Item = (i64, usize)> + '_ {
    let mut rest = values;
    std::iter::from_fn(move || {
        let (&v, _) = rest.split_first()?;
        let limit = rest.len().min(run_max);
        let len = rest[..limit].iter().position(|&x| x != v).unwrap_or(limit);
        rest = &rest[len..];
        Some((v, len))
    })
}

fn count_runs(values: &[i64], run_max: usize) -> usize {
    runs(values, run_max).count()
}

fn encode_rle(values: &[i64], out: &mut Vec<u8>) {
    let (run_count, run_max) =
        rle_plan(values).unwrap_or((count_runs(values, usize::MAX), usize::MAX));
    let run_count = u32::try_from(run_count).unwrap_or(u32::MAX);
    out.extend_from_slice(&run_count.to_le_bytes());
    for (v, len) in runs(values, run_max) {
        out.extend_from_slice(&v.to_le_bytes());
        out.extend_from_slice(&(len as u32).to_le_bytes());
    }
}

fn decode_rle(r: &mut Reader, count: usize, input_len: usize, out: &mut Vec<i64>) -> Result<()> {
    if count > RLE_VALUES_MAX || count > input_len.saturating_mul(RLE_VALUES_PER_BYTE_MAX) {
        return Err(Error::Corrupt("run-length total over the decoder's limit"));
    }
    let run_count = r.count(RUN_BYTES)?;
    out.reserve(count);
    for _ in 0..run_count {
        let v = r.i64()?;
        let len = r.u32()? as usize;
        if len == 0 {
            return Err(Error::Corrupt("empty run"));
        }
        if len > count - out.len() {
            return Err(Error::Corrupt("runs longer than the count"));
        }
        out.extend(std::iter::repeat_n(v, len));
    }
    if out.len() != count {
        return Err(Error::Corrupt("runs shorter than the count"));
    }
    Ok(())
}

// ---- plain ----

fn decode_plain(r: &mut Reader, count: usize, out: &mut Vec<i64>) -> Result<()> {
    let bytes = r.take(count.checked_mul(8).ok_or(Error::Truncated)?)?;
    out.reserve(count);
    out.extend(bytes.chunks_exact(8).map(|b| {
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        i64::from_le_bytes(a)
    }));
    Ok(())
}
