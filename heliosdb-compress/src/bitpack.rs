//! Bit-packing of unsigned integers at a fixed width of 0..=64 bits.
//!
//! # Layout
//! `n` values of `width` bits take [`packed_len`]`(n, width)` = ⌈n × width / 8⌉ bytes.
//! Value `i` is bits `i × width .. (i + 1) × width` of a little-endian bit stream (stream
//! bit `k` is bit `k % 8` of byte `k / 8`), least significant bit first. Equivalently, each
//! group of 64 values is `width` little-endian `u64` words, and the last, partial group is
//! cut to the bytes its values need. Width 0 takes no bytes: every value is 0.
//!
//! The loops work on whole groups of 64 values with a kernel specialized per width, so
//! the inner loop has constant shifts and no bounds checks.

use crate::{Error, Result};

/// Values per kernel step: 64 values of `w` bits are exactly `w` u64 words.
const GROUP: usize = 64;

/// The number of bits needed to hold `max` (0 for 0, 64 for values ≥ 2^63).
pub fn width_for(max: u64) -> u8 {
    (64 - max.leading_zeros()) as u8
}

/// Bytes that `n` values of `width` bits take (saturating at `usize::MAX`, which no input
/// can back, for absurd `n`).
pub fn packed_len(n: usize, width: u8) -> usize {
    let bits = n as u128 * u128::from(width);
    usize::try_from(bits.div_ceil(8)).unwrap_or(usize::MAX)
}

/// Appends `values` packed at `width` bits. Bits of a value above `width` are dropped;
/// a `width` over 64 is taken as 64.
pub fn pack(values: &[u64], width: u8, out: &mut Vec<u8>) {
    let width = width.min(64);
    let w = usize::from(width);
    if w == 0 {
        return;
    }
    let start = out.len();
    out.resize(start + packed_len(values.len(), width), 0);
    let kernel = PACK[w];
    let full = values.len() / GROUP;
    let (dst_full, dst_tail) = out[start..].split_at_mut(full * 8 * w);
    let (src_full, src_tail) = values.split_at(full * GROUP);
    for (group, bytes) in src_full
        .chunks_exact(GROUP)
        .zip(dst_full.chunks_exact_mut(8 * w))
    {
        if let Ok(group) = <&[u64; GROUP]>::try_from(group) {
            kernel(group, bytes);
        }
    }
    if !src_tail.is_empty() {
        let mut group = [0u64; GROUP];
        group[..src_tail.len()].copy_from_slice(src_tail);
        let mut buf = [0u8; 8 * 64];
        kernel(&group, &mut buf[..8 * w]);
        dst_tail.copy_from_slice(&buf[..dst_tail.len()]);
    }
}

/// Appends `n` values of `width` bits read from the front of `bytes` (extra bytes are
/// ignored). `Err(Truncated)` if `bytes` is shorter than [`packed_len`]`(n, width)`,
/// `Err(Corrupt)` for a width over 64; `out` is unchanged on error.
pub fn unpack(bytes: &[u8], n: usize, width: u8, out: &mut Vec<u64>) -> Result<()> {
    if width > 64 {
        return Err(Error::Corrupt("bit width over 64"));
    }
    if packed_len(n, width) > bytes.len() {
        return Err(Error::Truncated);
    }
    let start = out.len();
    out.resize(start + n, 0);
    unpack_into(bytes, width, &mut out[start..])
}

/// Fills `out` with `out.len()` values of `width` bits read from the front of `bytes`.
pub(crate) fn unpack_into(bytes: &[u8], width: u8, out: &mut [u64]) -> Result<()> {
    if width > 64 {
        return Err(Error::Corrupt("bit width over 64"));
    }
    let bytes = bytes
        .get(..packed_len(out.len(), width))
        .ok_or(Error::Truncated)?;
    let w = usize::from(width);
    if w == 0 {
        out.fill(0);
        return Ok(());
    }
    let kernel = UNPACK[w];
    let full = out.len() / GROUP;
    let (dst_full, tail) = out.split_at_mut(full * GROUP);
    let (src_full, packed) = bytes.split_at(full * 8 * w);
    for (group, src) in dst_full
        .chunks_exact_mut(GROUP)
        .zip(src_full.chunks_exact(8 * w))
    {
        if let Ok(group) = <&mut [u64; GROUP]>::try_from(group) {
            kernel(src, group);
        }
    }
    if !tail.is_empty() {
        let mut buf = [0u8; 8 * 64];
        buf[..packed.len()].copy_from_slice(packed);
        let mut group = [0u64; GROUP];
        kernel(&buf[..8 * w], &mut group);
        tail.copy_from_slice(&group[..tail.len()]);
    }
    Ok(())
}

const fn mask(w: usize) -> u64 {
    if w == 0 { 0 } else { u64::MAX >> (64 - w) }
}

/// Packs 64 values into `out` (`8 × W` bytes).
fn pack_group<const W: usize>(values: &[u64; GROUP], out: &mut [u8]) {
    let mut words = [0u64; 64];
    for (i, &v) in values.iter().enumerate() {
        let v = v & mask(W);
        let bit = i * W;
        let (word, shift) = (bit / 64, bit % 64);
        words[word] |= v << shift;
        if shift + W > 64 {
            words[word + 1] |= v >> (64 - shift);
        }
    }
    for (bytes, word) in out.chunks_exact_mut(8).zip(&words[..W]) {
        bytes.copy_from_slice(&word.to_le_bytes());
    }
}

/// Unpacks 64 values from `src` (`8 × W` bytes).
fn unpack_group<const W: usize>(src: &[u8], out: &mut [u64; GROUP]) {
    let mut words = [0u64; 65];
    for (word, bytes) in words.iter_mut().zip(src.chunks_exact(8)) {
        let mut a = [0u8; 8];
        a.copy_from_slice(bytes);
        *word = u64::from_le_bytes(a);
    }
    for (i, o) in out.iter_mut().enumerate() {
        let bit = i * W;
        let (word, shift) = (bit / 64, bit % 64);
        let mut v = words[word] >> shift;
        if shift + W > 64 {
            v |= words[word + 1] << (64 - shift);
        }
        *o = v & mask(W);
    }
}

macro_rules! kernels {
    ($f:ident: $($w:literal)*) => { [$($f::<$w>),*] };
}

type PackKernel = fn(&[u64; GROUP], &mut [u8]);
type UnpackKernel = fn(&[u8], &mut [u64; GROUP]);

const PACK: [PackKernel; 65] = kernels!(pack_group: 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16
    17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46
    47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64);
const UNPACK: [UnpackKernel; 65] = kernels!(unpack_group: 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14
    15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44
    45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_width_and_tail() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for width in 0..=64u8 {
            for n in [0usize, 1, 5, 63, 64, 65, 130, 1000] {
                let values: Vec<u64> = (0..n)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        seed & mask(usize::from(width))
                    })
                    .collect();
                let mut bytes = vec![0xAB];
                pack(&values, width, &mut bytes);
                assert_eq!(bytes.len(), 1 + packed_len(n, width));
                let mut back = vec![7];
                unpack(&bytes[1..], n, width, &mut back).unwrap();
                assert_eq!(&back[1..], &values[..], "width {width} n {n}");
                if packed_len(n, width) > 0 {
                    let short = &bytes[1..bytes.len() - 1];
                    assert_eq!(unpack(short, n, width, &mut back), Err(Error::Truncated));
                }
            }
        }
    }

    #[test]
    fn layout_is_lsb_first() {
        let mut bytes = Vec::new();
        pack(&[1, 2, 3], 4, &mut bytes);
        assert_eq!(bytes, [0x21, 0x03]);
        assert_eq!(width_for(0), 0);
        assert_eq!(width_for(1), 1);
        assert_eq!(width_for(255), 8);
        assert_eq!(width_for(u64::MAX), 64);
    }
}
