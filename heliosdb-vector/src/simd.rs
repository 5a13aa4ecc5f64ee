//! Distance kernels: an AVX2+FMA path on x86_64 chosen once at run time, and a portable
//! path with several independent accumulators for every other CPU.
//!
//! This is the only module that may use `unsafe`: the AVX2 functions need the CPU feature
//! to be present (checked by [`has_avx2_fma`]) and load through raw pointers whose bounds
//! are derived from the slice lengths.
#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

/// Dot product over the first `min(a.len(), b.len())` components.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked at run time just above), and the
        // slices have equal length.
        return unsafe { x86::dot(a, b) };
    }
    portable::dot(a, b)
}

/// Squared Euclidean distance over the first `min(a.len(), b.len())` components.
#[inline]
pub(crate) fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked at run time just above), and the
        // slices have equal length.
        return unsafe { x86::l2_squared(a, b) };
    }
    portable::l2_squared(a, b)
}

/// The sums cosine needs, in one pass: `(dot(a, b), dot(a, a), dot(b, b))` over the first
/// `min(a.len(), b.len())` components. [`dot_norm`] and [`norm2`] add up in exactly the same
/// order, so their results are bit-identical to the matching parts of this one (the cosine
/// distance of two vectors is the same whichever of these computed it).
#[inline]
pub(crate) fn cos_parts(a: &[f32], b: &[f32]) -> (f32, f32, f32) {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked at run time just above), and the
        // slices have equal length.
        let [ab, aa, bb] = unsafe { x86::sums::<true, true, true>(a, b) };
        return (ab, aa, bb);
    }
    (
        portable::dot(a, b),
        portable::dot(a, a),
        portable::dot(b, b),
    )
}

/// `(dot(a, b), dot(b, b))` of [`cos_parts`], in one pass (a query against a row).
#[inline]
pub(crate) fn dot_norm(a: &[f32], b: &[f32]) -> (f32, f32) {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: as in `cos_parts`.
        let [ab, _, bb] = unsafe { x86::sums::<true, false, true>(a, b) };
        return (ab, bb);
    }
    (portable::dot(a, b), portable::dot(b, b))
}

/// `dot(a, a)` as [`cos_parts`] adds it up.
#[inline]
pub(crate) fn norm2(a: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: as in `cos_parts` (both slices are `a`).
        return unsafe { x86::sums::<false, true, false>(a, a) }[1];
    }
    portable::dot(a, a)
}

/// `dot(a, b)` as [`cos_parts`] adds it up (for a batch of queries against rows whose
/// [`norm2`] is known).
#[inline]
pub(crate) fn cos_dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: as in `cos_parts`.
        return unsafe { x86::sums::<true, false, false>(a, b) }[0];
    }
    portable::dot(a, b)
}

/// Whether the AVX2+FMA kernels can run on this CPU (detected once, then cached).
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn has_avx2_fma() -> bool {
    use std::sync::OnceLock;
    static DETECTED: OnceLock<bool> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    })
}

/// The name of the kernel set in use, for benchmarks and reports.
pub(crate) fn kernel_name() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        return "avx2+fma";
    }
    "portable"
}

/// Kernels for any CPU: 16 independent lanes that the compiler vectorizes with the
/// baseline instruction set (SSE2 on x86_64, NEON on aarch64).
pub(crate) mod portable {
    const LANES: usize = 16;

    /// Dot product; `a` and `b` must have equal length (extra elements are ignored).
    #[inline]
    pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
        let mut acc = [0.0f32; LANES];
        let ca = a.chunks_exact(LANES);
        let cb = b.chunks_exact(LANES);
        let (ra, rb) = (ca.remainder(), cb.remainder());
        for (x, y) in ca.zip(cb) {
            for i in 0..LANES {
                acc[i] += x[i] * y[i];
            }
        }
        let mut tail = 0.0f32;
        for (x, y) in ra.iter().zip(rb) {
            tail += x * y;
        }
        reduce(&acc) + tail
    }

    /// Squared L2 distance; `a` and `b` must have equal length (extra elements are ignored).
    #[inline]
    pub(crate) fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
        let mut acc = [0.0f32; LANES];
        let ca = a.chunks_exact(LANES);
        let cb = b.chunks_exact(LANES);
        let (ra, rb) = (ca.remainder(), cb.remainder());
        for (x, y) in ca.zip(cb) {
            for i in 0..LANES {
                let d = x[i] - y[i];
                acc[i] += d * d;
            }
        }
        let mut tail = 0.0f32;
        for (x, y) in ra.iter().zip(rb) {
            let d = x - y;
            tail += d * d;
        }
        reduce(&acc) + tail
    }

    #[inline]
    fn reduce(acc: &[f32; LANES]) -> f32 {
        let mut half = [0.0f32; LANES / 2];
        for i in 0..LANES / 2 {
            half[i] = acc[i] + acc[i + LANES / 2];
        }
        let mut quarter = [0.0f32; LANES / 4];
        for i in 0..LANES / 4 {
            quarter[i] = half[i] + half[i + LANES / 4];
        }
        (quarter[0] + quarter[2]) + (quarter[1] + quarter[3])
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::{
        __m256, _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_movehl_ps, _mm_shuffle_ps,
        _mm256_add_ps, _mm256_castps256_ps128, _mm256_extractf128_ps, _mm256_fmadd_ps,
        _mm256_loadu_ps, _mm256_setzero_ps, _mm256_sub_ps,
    };

    /// Horizontal sum of the 8 lanes.
    #[target_feature(enable = "avx2,fma")]
    fn hsum(v: __m256) -> f32 {
        let lo = _mm256_castps256_ps128(v);
        let hi = _mm256_extractf128_ps::<1>(v);
        let s = _mm_add_ps(lo, hi);
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
        _mm_cvtss_f32(s)
    }

    /// Dot product with four 8-lane FMA accumulators (32 floats per iteration).
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA, and `a.len() == b.len()`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        debug_assert_eq!(a.len(), b.len());
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 8];
        let mut i = 0usize;
        while i + 64 <= n {
            for (j, slot) in acc.iter_mut().enumerate() {
                // SAFETY: i + 64 <= n and j < 8, so the 8-float loads at i + 8 * j are in
                // bounds of both slices; loadu has no alignment requirement.
                unsafe {
                    *slot = _mm256_fmadd_ps(
                        _mm256_loadu_ps(pa.add(i + 8 * j)),
                        _mm256_loadu_ps(pb.add(i + 8 * j)),
                        *slot,
                    );
                }
            }
            i += 64;
        }
        let mut j = 0usize;
        while i + 8 <= n {
            // SAFETY: i + 8 <= n, so the 8-float loads at i are in bounds of both slices.
            unsafe {
                acc[j] = _mm256_fmadd_ps(
                    _mm256_loadu_ps(pa.add(i)),
                    _mm256_loadu_ps(pb.add(i)),
                    acc[j],
                );
            }
            j = (j + 1) & 7;
            i += 8;
        }
        let s0 = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let s1 = _mm256_add_ps(_mm256_add_ps(acc[4], acc[5]), _mm256_add_ps(acc[6], acc[7]));
        let mut sum = hsum(_mm256_add_ps(s0, s1));
        for j in i..n {
            sum += a[j] * b[j];
        }
        sum
    }

    /// The sum of four accumulators' lanes, `(v0 + v1) + (v2 + v3)` first.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn reduce4(v: [__m256; 4]) -> f32 {
        hsum(_mm256_add_ps(
            _mm256_add_ps(v[0], v[1]),
            _mm256_add_ps(v[2], v[3]),
        ))
    }

    /// `[dot(a, b), dot(a, a), dot(b, b)]`, each only if asked for (the others are 0), in
    /// one pass with four 8-lane FMA accumulators per sum (32 floats per iteration; then
    /// 8 at a time round-robin, a scalar tail). Every sum is added up in the same order
    /// whichever others are computed with it.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA, and `a.len() == b.len()`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(super) unsafe fn sums<const AB: bool, const AA: bool, const BB: bool>(
        a: &[f32],
        b: &[f32],
    ) -> [f32; 3] {
        debug_assert_eq!(a.len(), b.len());
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let zero = _mm256_setzero_ps();
        let (mut ab, mut aa, mut bb) = ([zero; 4], [zero; 4], [zero; 4]);
        let mut i = 0usize;
        while i + 32 <= n {
            for j in 0..4 {
                // SAFETY: i + 32 <= n and j < 4, so the 8-float loads at i + 8 * j are in
                // bounds of both slices; loadu has no alignment requirement.
                let (x, y) = unsafe {
                    (
                        _mm256_loadu_ps(pa.add(i + 8 * j)),
                        _mm256_loadu_ps(pb.add(i + 8 * j)),
                    )
                };
                if AB {
                    ab[j] = _mm256_fmadd_ps(x, y, ab[j]);
                }
                if AA {
                    aa[j] = _mm256_fmadd_ps(x, x, aa[j]);
                }
                if BB {
                    bb[j] = _mm256_fmadd_ps(y, y, bb[j]);
                }
            }
            i += 32;
        }
        let mut j = 0usize;
        while i + 8 <= n {
            // SAFETY: i + 8 <= n, so the 8-float loads at i are in bounds of both slices.
            let (x, y) = unsafe { (_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i))) };
            if AB {
                ab[j] = _mm256_fmadd_ps(x, y, ab[j]);
            }
            if AA {
                aa[j] = _mm256_fmadd_ps(x, x, aa[j]);
            }
            if BB {
                bb[j] = _mm256_fmadd_ps(y, y, bb[j]);
            }
            j = (j + 1) & 3;
            i += 8;
        }
        let mut out = [0.0f32; 3];
        if AB {
            out[0] = reduce4(ab);
        }
        if AA {
            out[1] = reduce4(aa);
        }
        if BB {
            out[2] = reduce4(bb);
        }
        for t in i..n {
            if AB {
                out[0] += a[t] * b[t];
            }
            if AA {
                out[1] += a[t] * a[t];
            }
            if BB {
                out[2] += b[t] * b[t];
            }
        }
        out
    }

    /// Squared L2 distance with four 8-lane FMA accumulators (32 floats per iteration).
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA, and `a.len() == b.len()`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
        debug_assert_eq!(a.len(), b.len());
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc0 = _mm256_setzero_ps();
        let mut acc1 = _mm256_setzero_ps();
        let mut acc2 = _mm256_setzero_ps();
        let mut acc3 = _mm256_setzero_ps();
        let mut i = 0usize;
        while i + 32 <= n {
            // SAFETY: i + 32 <= n, so the four 8-float loads at i, i+8, i+16, i+24 are in
            // bounds of both slices; loadu has no alignment requirement.
            unsafe {
                let d0 = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
                let d1 = _mm256_sub_ps(
                    _mm256_loadu_ps(pa.add(i + 8)),
                    _mm256_loadu_ps(pb.add(i + 8)),
                );
                let d2 = _mm256_sub_ps(
                    _mm256_loadu_ps(pa.add(i + 16)),
                    _mm256_loadu_ps(pb.add(i + 16)),
                );
                let d3 = _mm256_sub_ps(
                    _mm256_loadu_ps(pa.add(i + 24)),
                    _mm256_loadu_ps(pb.add(i + 24)),
                );
                acc0 = _mm256_fmadd_ps(d0, d0, acc0);
                acc1 = _mm256_fmadd_ps(d1, d1, acc1);
                acc2 = _mm256_fmadd_ps(d2, d2, acc2);
                acc3 = _mm256_fmadd_ps(d3, d3, acc3);
            }
            i += 32;
        }
        while i + 8 <= n {
            // SAFETY: i + 8 <= n, so the 8-float loads at i are in bounds of both slices.
            unsafe {
                let d = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
                acc0 = _mm256_fmadd_ps(d, d, acc0);
            }
            i += 8;
        }
        let acc = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
        let mut sum = hsum(acc);
        for j in i..n {
            let d = a[j] - b[j];
            sum += d * d;
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_matches_dispatch() {
        let a: Vec<f32> = (0..77).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..77).map(|i| (i as f32 * 0.11).cos()).collect();
        assert!((dot(&a, &b) - portable::dot(&a, &b)).abs() < 1e-4);
        assert!((l2_squared(&a, &b) - portable::l2_squared(&a, &b)).abs() < 1e-4);
        assert!(!kernel_name().is_empty());
    }

    #[test]
    fn cosine_sums_agree_bitwise() {
        for n in [0usize, 1, 7, 8, 31, 32, 33, 77, 384, 391] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let (ab, aa, bb) = cos_parts(&a, &b);
            let (ba, bb2, aa2) = cos_parts(&b, &a);
            assert_eq!(ab.to_bits(), ba.to_bits());
            assert_eq!(aa.to_bits(), aa2.to_bits());
            assert_eq!(bb.to_bits(), bb2.to_bits());
            assert_eq!(dot_norm(&a, &b), (ab, bb));
            assert_eq!(norm2(&a).to_bits(), aa.to_bits());
            assert_eq!(cos_dot(&a, &b).to_bits(), ab.to_bits());
            let scale = 1e-4 * (n as f32).max(1.0);
            assert!((ab - portable::dot(&a, &b)).abs() <= scale);
            assert!((aa - portable::dot(&a, &a)).abs() <= scale);
            assert!((bb - portable::dot(&b, &b)).abs() <= scale);
        }
    }
}
