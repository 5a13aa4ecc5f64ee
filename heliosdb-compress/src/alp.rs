//! ALP and ALP-RD for `f64` and `f32` (Afroozeh, Kuffó, Boncz, "ALP: Adaptive Lossless
//! floating-Point Compression", SIGMOD 2024), with a plain fallback, chosen by sampling.
//!
//! **ALP** turns a decimal-looking double `v` into the integer
//! `n = round(v × 10^e × 10^-f)` (fast rounding: `(x + 2^52 + 2^51) − (2^52 + 2^51)`), and
//! keeps it only if `n × 10^f × 10^-e` gives back `v` bit for bit; every other value
//! (-0.0, NaN, ±inf, too many digits, out of range) is an exception stored verbatim. The
//! integers of a vector of 1,024 values are stored as a frame of reference (the vector's
//! minimum) and bit-packed offsets. The exponent `e` and factor `f` are searched in two
//! levels: per row group of 100 vectors, 8 equidistant sample vectors of 32 equidistant
//! values try every `(e, f)` and the 5 combinations that win most often are kept; each
//! vector then picks among those on 32 of its values.
//!
//! **ALP-RD**, for doubles without a short decimal form, cuts each value's bits into a
//! left part (the top 1..=16 bits) and a right part (the rest). The cut and a dictionary
//! of at most 8 left parts are chosen on a sample; left parts are stored as bit-packed
//! dictionary codes (0..=3 bits), right parts bit-packed, and a left part missing from
//! the dictionary is an exception (position + left part).
//!
//! [`encode_f64`] estimates the encoded size of ALP, ALP-RD and plain on the sample and
//! writes the smallest. `f32` works the same way with exponents up to 10 and f32
//! arithmetic.
//!
//! # Layout (format version 1; all integers little-endian)
//! Every buffer: `u8 codec | u8 version | u32 count`, then per codec. Values are split into
//! vectors of 1,024 (the last one shorter); a vector's length follows from `count`.
//! `FLOAT` is the value's bits (`u64` for f64, `u32` for f32). Packed data uses the
//! [`bitpack`] layout.
//! - `PlainF64`/`PlainF32`: `count × FLOAT`.
//! - `AlpF64`/`AlpF32`, per vector:
//!   `u8 e | u8 f | u8 width | u16 exception_count | i64 base |
//!   packed (n − base) as u64 (packed_len(len, width) bytes) |
//!   exception_count × u16 position | exception_count × FLOAT value`.
//!   `e ≤ 18` (f64) or `≤ 10` (f32), `f ≤ e`; positions are `< len`.
//! - `AlpRdF64`/`AlpRdF32`: `u8 right_width | u8 dict_len (1..=8) | dict_len × u16 left`,
//!   then per vector: `u16 exception_count | packed codes (code width =
//!   width_for(dict_len − 1)) | packed right parts (right_width bits) |
//!   exception_count × u16 position | exception_count × u16 left part`.
//!   The left width is `BITS − right_width`, 1..=16; a value is
//!   `dict[code] << right_width | right`, with exceptions' left parts patched in.
//!
//! # Untrusted input
//! A declared count is checked against the bytes its vectors need before anything is
//! reserved: ALP needs a 13-byte header per vector (so count ≤ 1,024 × remaining / 13),
//! ALP-RD needs `packed_len(count, right_width)` bytes of right parts (right_width ≥ 16),
//! plain needs every value. Dictionary codes past `dict_len` decode to left part 0 (a
//! wrong value of the right count, like any other flipped payload bit).

use crate::bitpack::{self, packed_len, width_for};
use crate::{Codec, Error, Reader, Result, expect_header, write_header};

/// Values per vector.
pub const VECTOR_LEN: usize = 1024;
const ROWGROUP_LEN: usize = 100 * VECTOR_LEN;
const SAMPLE_VECTORS: usize = 8;
const SAMPLE_VALUES: usize = 32;
const TOP_K: usize = 5;
const RD_LEFT_BITS_MAX: u32 = 16;
const RD_DICT_MAX: usize = 8;
const ALP_VECTOR_HEADER_BYTES: usize = 3 + 2 + 8;
const RD_EXCEPTION_BITS: u64 = 16 + 16;

/// The floating-point types ALP handles, with their constants.
trait Float: Copy {
    const ALP: Codec;
    const RD: Codec;
    const PLAIN: Codec;
    const BITS: u32;
    const BYTES: usize;
    const EXPONENT_MAX: u8;
    fn to_u64(self) -> u64;
    fn from_u64(bits: u64) -> Self;
    /// `10^i` and `10^-i`, for `i ≤ EXPONENT_MAX`.
    fn f10(i: u8) -> Self;
    fn if10(i: u8) -> Self;
    /// `round(self × f10e × if10f)` by the fast-rounding trick, saturated to i64.
    fn alp_encode(self, f10e: Self, if10f: Self) -> i64;
    /// `n × f10f × if10e`.
    fn alp_decode(n: i64, f10f: Self, if10e: Self) -> Self;
    fn write(self, out: &mut Vec<u8>);
}

const F10_64: [f64; 19] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18,
];
const IF10_64: [f64; 19] = [
    1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13, 1e-14,
    1e-15, 1e-16, 1e-17, 1e-18,
];
const F10_32: [f32; 11] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];
const IF10_32: [f32; 11] = [
    1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10,
];

impl Float for f64 {
    const ALP: Codec = Codec::AlpF64;
    const RD: Codec = Codec::AlpRdF64;
    const PLAIN: Codec = Codec::PlainF64;
    const BITS: u32 = 64;
    const BYTES: usize = 8;
    const EXPONENT_MAX: u8 = 18;
    fn to_u64(self) -> u64 {
        self.to_bits()
    }
    fn from_u64(bits: u64) -> Self {
        f64::from_bits(bits)
    }
    fn f10(i: u8) -> Self {
        F10_64[usize::from(i.min(Self::EXPONENT_MAX))]
    }
    fn if10(i: u8) -> Self {
        IF10_64[usize::from(i.min(Self::EXPONENT_MAX))]
    }
    #[inline(always)]
    fn alp_encode(self, f10e: Self, if10f: Self) -> i64 {
        const MAGIC: f64 = 6_755_399_441_055_744.0; // 2^52 + 2^51
        let x = self * f10e * if10f;
        ((x + MAGIC) - MAGIC) as i64
    }
    #[inline(always)]
    fn alp_decode(n: i64, f10f: Self, if10e: Self) -> Self {
        n as f64 * f10f * if10e
    }
    fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Float for f32 {
    const ALP: Codec = Codec::AlpF32;
    const RD: Codec = Codec::AlpRdF32;
    const PLAIN: Codec = Codec::PlainF32;
    const BITS: u32 = 32;
    const BYTES: usize = 4;
    const EXPONENT_MAX: u8 = 10;
    fn to_u64(self) -> u64 {
        u64::from(self.to_bits())
    }
    fn from_u64(bits: u64) -> Self {
        f32::from_bits(bits as u32)
    }
    fn f10(i: u8) -> Self {
        F10_32[usize::from(i.min(Self::EXPONENT_MAX))]
    }
    fn if10(i: u8) -> Self {
        IF10_32[usize::from(i.min(Self::EXPONENT_MAX))]
    }
    #[inline(always)]
    fn alp_encode(self, f10e: Self, if10f: Self) -> i64 {
        const MAGIC: f32 = 12_582_912.0; // 2^23 + 2^22
        let x = self * f10e * if10f;
        ((x + MAGIC) - MAGIC) as i64
    }
    #[inline(always)]
    fn alp_decode(n: i64, f10f: Self, if10e: Self) -> Self {
        n as f32 * f10f * if10e
    }
    fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

// ---- public API ----

/// Encodes `values` with whichever of ALP, ALP-RD and plain the sample estimates smallest,
/// and returns that codec.
///
/// # Panics
/// If `values.len()` exceeds `u32::MAX` (the format's count field).
pub fn encode_f64(values: &[f64], out: &mut Vec<u8>) -> Codec {
    encode_auto(values, out)
}

/// Encodes `values` with `codec` (`AlpF64`, `AlpRdF64` or `PlainF64`); any other codec
/// falls back to `PlainF64`.
///
/// # Panics
/// If `values.len()` exceeds `u32::MAX`.
pub fn encode_f64_with(values: &[f64], codec: Codec, out: &mut Vec<u8>) {
    encode_with(values, codec, out)
}

/// Decodes an `AlpF64`, `AlpRdF64` or `PlainF64` buffer. Clears `out`, then fills it; on
/// error `out` is left empty.
pub fn decode_f64(bytes: &[u8], out: &mut Vec<f64>) -> Result<()> {
    decode(bytes, out)
}

/// [`encode_f64`] for `f32`: `AlpF32`, `AlpRdF32` or `PlainF32`.
///
/// # Panics
/// If `values.len()` exceeds `u32::MAX`.
pub fn encode_f32(values: &[f32], out: &mut Vec<u8>) -> Codec {
    encode_auto(values, out)
}

/// [`encode_f64_with`] for `f32`; codecs other than `AlpF32`/`AlpRdF32`/`PlainF32` fall
/// back to `PlainF32`.
///
/// # Panics
/// If `values.len()` exceeds `u32::MAX`.
pub fn encode_f32_with(values: &[f32], codec: Codec, out: &mut Vec<u8>) {
    encode_with(values, codec, out)
}

/// [`decode_f64`] for `f32`.
pub fn decode_f32(bytes: &[u8], out: &mut Vec<f32>) -> Result<()> {
    decode(bytes, out)
}

// ---- sampling ----

/// Up to `k` equidistant indices of `0..len`.
fn equidistant(len: usize, k: usize) -> impl Iterator<Item = usize> {
    let k = k.min(len);
    (0..k).map(move |i| i * len / k)
}

/// Estimated bits of ALP-encoding `sample` with `(e, f)`.
fn alp_bits<T: Float>(sample: &[T], e: u8, f: u8) -> u64 {
    let (f10e, if10f, f10f, if10e) = (T::f10(e), T::if10(f), T::f10(f), T::if10(e));
    let (mut lo, mut hi, mut exceptions) = (i64::MAX, i64::MIN, 0u64);
    for &v in sample {
        let n = v.alp_encode(f10e, if10f);
        if T::alp_decode(n, f10f, if10e).to_u64() == v.to_u64() {
            lo = lo.min(n);
            hi = hi.max(n);
        } else {
            exceptions += 1;
        }
    }
    let width = if lo > hi {
        0
    } else {
        width_for(hi.wrapping_sub(lo) as u64)
    };
    sample.len() as u64 * u64::from(width) + exceptions * (16 + u64::from(T::BITS))
}

/// The `(e, f)` with the fewest estimated bits on `sample`, ties to the larger `e`, `f`.
fn best_combination<T: Float>(sample: &[T]) -> ((u8, u8), u64) {
    let mut best = ((0, 0), u64::MAX);
    for e in (0..=T::EXPONENT_MAX).rev() {
        for f in (0..=e).rev() {
            let bits = alp_bits(sample, e, f);
            if bits < best.1 {
                best = ((e, f), bits);
            }
        }
    }
    best
}

/// What sampling one row group found.
struct RowgroupPlan {
    /// The top-k `(e, f)`, most frequent first.
    combinations: Vec<(u8, u8)>,
    /// Estimated ALP bits of the sampled values with their vectors' best combination.
    sample_bits: u64,
    sample_len: u64,
}

/// First-level sampling of one row group.
fn plan_rowgroup<T: Float>(rowgroup: &[T], sample_out: &mut Vec<T>) -> RowgroupPlan {
    let vectors = rowgroup.len().div_ceil(VECTOR_LEN);
    let mut tally: Vec<((u8, u8), u32)> = Vec::new();
    let (mut sample_bits, mut sample_len) = (0, 0);
    let mut sample = Vec::with_capacity(SAMPLE_VALUES);
    for v in equidistant(vectors, SAMPLE_VECTORS) {
        let vector = &rowgroup[v * VECTOR_LEN..((v + 1) * VECTOR_LEN).min(rowgroup.len())];
        sample.clear();
        sample.extend(equidistant(vector.len(), SAMPLE_VALUES).map(|i| vector[i]));
        sample_out.extend_from_slice(&sample);
        let (combination, bits) = best_combination(&sample);
        sample_bits += bits;
        sample_len += sample.len() as u64;
        match tally.iter_mut().find(|(c, _)| *c == combination) {
            Some((_, count)) => *count += 1,
            None => tally.push((combination, 1)),
        }
    }
    tally.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    let mut combinations: Vec<(u8, u8)> = tally.iter().take(TOP_K).map(|&(c, _)| c).collect();
    if combinations.is_empty() {
        combinations.push((0, 0));
    }
    RowgroupPlan {
        combinations,
        sample_bits,
        sample_len,
    }
}

/// Second-level sampling: the best of the row group's combinations for one vector.
fn pick_combination<T: Float>(vector: &[T], combinations: &[(u8, u8)]) -> (u8, u8) {
    let [only] = combinations else {
        let sample: Vec<T> = equidistant(vector.len(), SAMPLE_VALUES)
            .map(|i| vector[i])
            .collect();
        let mut best = ((0, 0), u64::MAX);
        for &(e, f) in combinations {
            let bits = alp_bits(&sample, e, f);
            if bits < best.1 {
                best = ((e, f), bits);
            }
        }
        return best.0;
    };
    *only
}

/// The ALP-RD cut and dictionary chosen on a sample.
struct RdPlan {
    right_width: u32,
    dict: Vec<u16>,
    /// Estimated bits for the sample.
    bits: u64,
}

fn plan_rd<T: Float>(sample: &[T]) -> RdPlan {
    let mut best = RdPlan {
        right_width: T::BITS - 1,
        dict: vec![0],
        bits: u64::MAX,
    };
    let mut lefts: Vec<u16> = Vec::with_capacity(sample.len());
    let mut counts: Vec<(u32, u16)> = Vec::new();
    for left_width in 1..=RD_LEFT_BITS_MAX {
        let right_width = T::BITS - left_width;
        lefts.clear();
        lefts.extend(sample.iter().map(|v| (v.to_u64() >> right_width) as u16));
        lefts.sort_unstable();
        counts.clear();
        for chunk in lefts.chunk_by(|a, b| a == b) {
            counts.push((chunk.len() as u32, chunk[0]));
        }
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let mut covered = 0u64;
        for (d, &(count, _)) in counts.iter().take(RD_DICT_MAX).enumerate() {
            covered += u64::from(count);
            let code_width = u64::from(width_for(d as u64));
            let exceptions = sample.len() as u64 - covered;
            let bits = sample.len() as u64 * (code_width + u64::from(right_width))
                + exceptions * RD_EXCEPTION_BITS;
            if bits < best.bits {
                let dict = counts[..=d].iter().map(|&(_, left)| left).collect();
                best = RdPlan {
                    right_width,
                    dict,
                    bits,
                };
            }
        }
    }
    best
}

// ---- encoding ----

fn write_count(len: usize, out: &mut Vec<u8>) {
    let count = u32::try_from(len).expect("a float column holds at most u32::MAX values");
    out.extend_from_slice(&count.to_le_bytes());
}

fn encode_auto<T: Float>(values: &[T], out: &mut Vec<u8>) -> Codec {
    let mut sample = Vec::new();
    let plans: Vec<RowgroupPlan> = values
        .chunks(ROWGROUP_LEN)
        .map(|rg| plan_rowgroup(rg, &mut sample))
        .collect();
    let vectors = values.len().div_ceil(VECTOR_LEN) as u64;
    let n = values.len() as u64;
    let (bits, sampled) = plans
        .iter()
        .fold((0, 0), |(b, s), p| (b + p.sample_bits, s + p.sample_len));
    let scale = |bits: u64| {
        if sampled == 0 {
            0
        } else {
            (bits as u128 * n as u128 / sampled as u128) as u64
        }
    };
    let alp_bytes = scale(bits) / 8 + vectors * ALP_VECTOR_HEADER_BYTES as u64;
    let rd = plan_rd(&sample);
    let rd_bytes =
        scale(rd.bits.min(u64::MAX / 2)) / 8 + vectors * 2 + 2 + 2 * rd.dict.len() as u64;
    let plain_bytes = n * T::BYTES as u64;
    let codec = if alp_bytes <= rd_bytes && alp_bytes < plain_bytes {
        T::ALP
    } else if rd_bytes < plain_bytes {
        T::RD
    } else {
        T::PLAIN
    };
    write_header(codec, out);
    write_count(values.len(), out);
    if codec == T::ALP {
        encode_alp(values, &plans, out);
    } else if codec == T::RD {
        encode_rd(values, &rd, out);
    } else {
        values.iter().for_each(|v| v.write(out));
    }
    codec
}

fn encode_with<T: Float>(values: &[T], codec: Codec, out: &mut Vec<u8>) {
    let codec = if codec == T::ALP || codec == T::RD {
        codec
    } else {
        T::PLAIN
    };
    write_header(codec, out);
    write_count(values.len(), out);
    let mut sample = Vec::new();
    if codec == T::ALP {
        let plans: Vec<RowgroupPlan> = values
            .chunks(ROWGROUP_LEN)
            .map(|rg| plan_rowgroup(rg, &mut sample))
            .collect();
        encode_alp(values, &plans, out);
    } else if codec == T::RD {
        for rg in values.chunks(ROWGROUP_LEN) {
            plan_rowgroup(rg, &mut sample);
        }
        encode_rd(values, &plan_rd(&sample), out);
    } else {
        values.iter().for_each(|v| v.write(out));
    }
}

fn encode_alp<T: Float>(values: &[T], plans: &[RowgroupPlan], out: &mut Vec<u8>) {
    let mut ints = [0i64; VECTOR_LEN];
    let mut offsets = [0u64; VECTOR_LEN];
    let mut positions: Vec<u16> = Vec::with_capacity(VECTOR_LEN);
    for (rowgroup, plan) in values.chunks(ROWGROUP_LEN).zip(plans) {
        for vector in rowgroup.chunks(VECTOR_LEN) {
            let (e, f) = pick_combination(vector, &plan.combinations);
            let (f10e, if10f, f10f, if10e) = (T::f10(e), T::if10(f), T::f10(f), T::if10(e));
            positions.clear();
            let mut fill = None;
            for (i, (&v, n_out)) in vector.iter().zip(ints.iter_mut()).enumerate() {
                let n = v.alp_encode(f10e, if10f);
                *n_out = n;
                if T::alp_decode(n, f10f, if10e).to_u64() == v.to_u64() {
                    fill.get_or_insert(n);
                } else {
                    positions.push(i as u16);
                }
            }
            // Exceptions take the value of a non-exception so they do not widen the range.
            let fill = fill.unwrap_or(0);
            for &p in &positions {
                ints[usize::from(p)] = fill;
            }
            let ints = &ints[..vector.len()];
            let (lo, hi) = ints
                .iter()
                .fold((i64::MAX, i64::MIN), |(lo, hi), &n| (lo.min(n), hi.max(n)));
            let width = width_for(hi.wrapping_sub(lo) as u64);
            for (o, &n) in offsets.iter_mut().zip(ints) {
                *o = n.wrapping_sub(lo) as u64;
            }
            out.extend_from_slice(&[e, f, width]);
            out.extend_from_slice(&(positions.len() as u16).to_le_bytes());
            out.extend_from_slice(&lo.to_le_bytes());
            bitpack::pack(&offsets[..vector.len()], width, out);
            positions
                .iter()
                .for_each(|p| out.extend_from_slice(&p.to_le_bytes()));
            positions
                .iter()
                .for_each(|&p| vector[usize::from(p)].write(out));
        }
    }
}

fn encode_rd<T: Float>(values: &[T], plan: &RdPlan, out: &mut Vec<u8>) {
    let right_width = plan.right_width;
    let right_mask = u64::MAX >> (64 - right_width);
    let code_width = width_for(plan.dict.len() as u64 - 1);
    out.push(right_width as u8);
    out.push(plan.dict.len() as u8);
    plan.dict
        .iter()
        .for_each(|left| out.extend_from_slice(&left.to_le_bytes()));
    let mut codes = [0u64; VECTOR_LEN];
    let mut rights = [0u64; VECTOR_LEN];
    let mut exceptions: Vec<(u16, u16)> = Vec::with_capacity(VECTOR_LEN);
    for vector in values.chunks(VECTOR_LEN) {
        exceptions.clear();
        for (i, &v) in vector.iter().enumerate() {
            let bits = v.to_u64();
            let left = (bits >> right_width) as u16;
            rights[i] = bits & right_mask;
            codes[i] = match plan.dict.iter().position(|&l| l == left) {
                Some(code) => code as u64,
                None => {
                    exceptions.push((i as u16, left));
                    0
                }
            };
        }
        out.extend_from_slice(&(exceptions.len() as u16).to_le_bytes());
        bitpack::pack(&codes[..vector.len()], code_width, out);
        bitpack::pack(&rights[..vector.len()], right_width as u8, out);
        exceptions
            .iter()
            .for_each(|(p, _)| out.extend_from_slice(&p.to_le_bytes()));
        exceptions
            .iter()
            .for_each(|(_, l)| out.extend_from_slice(&l.to_le_bytes()));
    }
}

// ---- decoding ----

fn decode<T: Float>(bytes: &[u8], out: &mut Vec<T>) -> Result<()> {
    out.clear();
    let result = decode_into(bytes, out);
    if result.is_err() {
        out.clear();
    }
    result
}

fn decode_into<T: Float>(bytes: &[u8], out: &mut Vec<T>) -> Result<()> {
    let (codec, payload) = expect_header(bytes, &[T::ALP, T::RD, T::PLAIN])?;
    let mut r = Reader::new(payload);
    let count = r.u32()? as usize;
    if codec == T::ALP {
        decode_alp(&mut r, count, out)?;
    } else if codec == T::RD {
        decode_rd(&mut r, count, out)?;
    } else {
        let bytes = r.take(count.checked_mul(T::BYTES).ok_or(Error::Truncated)?)?;
        out.reserve(count);
        out.extend(
            bytes
                .chunks_exact(T::BYTES)
                .map(|b| T::from_u64(read_le(b))),
        );
    }
    r.finish()
}

/// A little-endian unsigned integer of up to 8 bytes.
fn read_le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

fn decode_alp<T: Float>(r: &mut Reader, count: usize, out: &mut Vec<T>) -> Result<()> {
    let vectors = count.div_ceil(VECTOR_LEN);
    if vectors.saturating_mul(ALP_VECTOR_HEADER_BYTES) > r.remaining() {
        return Err(Error::Truncated);
    }
    out.reserve(count);
    let mut scratch = [0u64; VECTOR_LEN];
    let mut left = count;
    while left > 0 {
        let len = left.min(VECTOR_LEN);
        left -= len;
        let (e, f, width) = (r.u8()?, r.u8()?, r.u8()?);
        let exceptions = usize::from(r.u16()?);
        let base = r.i64()?;
        if e > T::EXPONENT_MAX || f > e {
            return Err(Error::Corrupt("ALP exponent or factor out of range"));
        }
        if width > 64 {
            return Err(Error::Corrupt("bit width over 64"));
        }
        if exceptions > len {
            return Err(Error::Corrupt("more ALP exceptions than values"));
        }
        let packed = r.take(packed_len(len, width))?;
        bitpack::unpack_into(packed, width, &mut scratch[..len])?;
        let (f10f, if10e) = (T::f10(f), T::if10(e));
        let start = out.len();
        out.extend(
            scratch[..len]
                .iter()
                .map(|&u| T::alp_decode(base.wrapping_add(u as i64), f10f, if10e)),
        );
        let positions = r.take(2 * exceptions)?;
        let values = r.take(T::BYTES * exceptions)?;
        let vector = &mut out[start..];
        for (p, v) in positions.chunks_exact(2).zip(values.chunks_exact(T::BYTES)) {
            let slot = vector.get_mut(read_le(p) as usize);
            *slot.ok_or(Error::Corrupt("ALP exception position past the vector"))? =
                T::from_u64(read_le(v));
        }
    }
    Ok(())
}

fn decode_rd<T: Float>(r: &mut Reader, count: usize, out: &mut Vec<T>) -> Result<()> {
    let right_width = u32::from(r.u8()?);
    if right_width >= T::BITS || right_width < T::BITS - RD_LEFT_BITS_MAX {
        return Err(Error::Corrupt("ALP-RD cut out of range"));
    }
    let left_max = 1u64 << (T::BITS - right_width);
    let dict_len = usize::from(r.u8()?);
    if !(1..=RD_DICT_MAX).contains(&dict_len) {
        return Err(Error::Corrupt("ALP-RD dictionary size out of range"));
    }
    let mut dict = [0u64; RD_DICT_MAX];
    for entry in &mut dict[..dict_len] {
        let left = u64::from(r.u16()?);
        if left >= left_max {
            return Err(Error::Corrupt("ALP-RD dictionary entry wider than the cut"));
        }
        *entry = left << right_width;
    }
    let code_width = width_for(dict_len as u64 - 1);
    if packed_len(count, right_width as u8) > r.remaining() {
        return Err(Error::Truncated);
    }
    out.reserve(count);
    let right_mask = u64::MAX >> (64 - right_width);
    let mut codes = [0u64; VECTOR_LEN];
    let mut rights = [0u64; VECTOR_LEN];
    let mut left = count;
    while left > 0 {
        let len = left.min(VECTOR_LEN);
        left -= len;
        let exceptions = usize::from(r.u16()?);
        if exceptions > len {
            return Err(Error::Corrupt("more ALP-RD exceptions than values"));
        }
        bitpack::unpack_into(
            r.take(packed_len(len, code_width))?,
            code_width,
            &mut codes[..len],
        )?;
        let packed = r.take(packed_len(len, right_width as u8))?;
        bitpack::unpack_into(packed, right_width as u8, &mut rights[..len])?;
        let start = out.len();
        out.extend(
            codes[..len]
                .iter()
                .zip(&rights[..len])
                .map(|(&c, &right)| T::from_u64(dict[(c as usize) & (RD_DICT_MAX - 1)] | right)),
        );
        let positions = r.take(2 * exceptions)?;
        let lefts = r.take(2 * exceptions)?;
        let vector = &mut out[start..];
        for (p, l) in positions.chunks_exact(2).zip(lefts.chunks_exact(2)) {
            let l = read_le(l);
            if l >= left_max {
                return Err(Error::Corrupt("ALP-RD exception wider than the cut"));
            }
            let slot = vector.get_mut(read_le(p) as usize);
            let slot = slot.ok_or(Error::Corrupt("ALP-RD exception position past the vector"))?;
            *slot = T::from_u64((l << right_width) | (slot.to_u64() & right_mask));
        }
    }
    Ok(())
}
