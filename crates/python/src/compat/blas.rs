//! Sums in the order numpy adds them, where scikit-learn's k-means decides by the last bit.
//!
//! numpy hands `v @ w` to OpenBLAS; with unit weights the products are exact, so only the
//! order of the additions matters. These follow OpenBLAS 0.3's x86-64 kernels for Haswell and
//! Zen (`ddot_microk_haswell-2.c`, `dgemv_t_4.c` with `dgemv_t_microk_haswell-4.c`), the
//! kernels numpy's wheels run on AVX2 machines. `pairwise_sum` is numpy's own reduction for a
//! contiguous `np.sum` / `np.mean`, `row_norm_sq` its einsum. `tests/test_differential.py` compares each with numpy
//! itself through [`openblas_sums`].

use pyo3::prelude::*;

/// Whether numpy's OpenBLAS runs its SkylakeX kernels here (an Intel CPU with AVX-512, as
/// OpenBLAS's run-time dispatch picks them); otherwise its Haswell ones (AVX2 and AMD Zen).
fn skylakex() -> bool {
    static SKYLAKEX: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SKYLAKEX.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        let avx512 = std::arch::is_x86_feature_detected!("avx512f");
        #[cfg(not(target_arch = "x86_64"))]
        let avx512 = false;
        avx512 && std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|info| info.contains("GenuineIntel"))
    })
}

/// Whether this CPU has AVX2 and fused multiply-add (every x86-64 CPU of the last decade;
/// checked once). Without them `f64::mul_add` is a call into libm per element, a third of a
/// selection step's time at N = 500; with them it is one instruction.
pub(crate) fn has_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static FMA: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *FMA.get_or_init(|| std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// A kernel compiled twice: for AVX2 with fused multiply-add, chosen where [`has_fma`], and
/// for the baseline. A fused multiply-add rounds once either way, so both give the same bits.
macro_rules! fused_kernel {
    ($(#[$doc:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)? $body:block) => {
        $(#[$doc])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn kernel($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn fast($($arg: $ty),*) $(-> $ret)? {
                    kernel($($arg),*)
                }
                if $crate::compat::blas::has_fma() {
                    // SAFETY: `has_fma` found both features on this CPU.
                    return unsafe { fast($($arg),*) };
                }
            }
            kernel($($arg),*)
        }
    };
}
pub(crate) use fused_kernel;

/// `np.dot(a, b)` for two vectors of one length: OpenBLAS's `ddot` on this CPU's kernel.
/// - Haswell/Zen: sixteen fused multiply-add lanes over the largest multiple of 16 elements,
///   folded as the four registers fold (high half onto low, 4+5, 6+7, their sum, across),
///   then the rest one product at a time, rounded before it is added (the C tail is not
///   contracted there).
/// - SkylakeX: blocks of 32 in 32 fused lanes, reduced, then the rest one fused
///   multiply-add at a time (read on an AVX-512 Xeon; the lanes' reduction of long vectors
///   is a best reading of the kernel).
pub fn ddot(a: &[f64], b: &[f64]) -> f64 {
    if skylakex() { ddot_skylakex(a, b) } else { ddot_haswell(a, b) }
}

fused_kernel! {
    fn ddot_haswell(a: &[f64], b: &[f64]) -> f64 {
        let body = a.len() & !15;
        let mut dot = 0.0;
        if body > 0 {
            let mut lanes = [0.0f64; 16];
            for (x, y) in a[..body].chunks_exact(16).zip(b[..body].chunks_exact(16)) {
                for l in 0..16 {
                    lanes[l] = x[l].mul_add(y[l], lanes[l]);
                }
            }
            let half = |r: usize| [lanes[4 * r] + lanes[4 * r + 2], lanes[4 * r + 1] + lanes[4 * r + 3]];
            let (r4, r5, r6, r7) = (half(0), half(1), half(2), half(3));
            let r45 = [r4[0] + r5[0], r4[1] + r5[1]];
            let r67 = [r6[0] + r7[0], r6[1] + r7[1]];
            dot = (r45[0] + r67[0]) + (r45[1] + r67[1]);
        }
        a[body..].iter().zip(&b[body..]).fold(dot, |acc, (x, y)| acc + x * y)
    }
}

fused_kernel! {
    fn ddot_skylakex(a: &[f64], b: &[f64]) -> f64 {
        let blocks = a.len() / 32 * 32;
        let mut dot = 0.0;
        if blocks > 0 {
            let mut acc = [0.0f64; 32];
            for (x, y) in a[..blocks].chunks_exact(32).zip(b[..blocks].chunks_exact(32)) {
                for l in 0..32 {
                    acc[l] = x[l].mul_add(y[l], acc[l]);
                }
            }
            let v: [f64; 8] = std::array::from_fn(|l| ((acc[l] + acc[l + 8]) + acc[l + 16]) + acc[l + 24]);
            let h: [f64; 4] = std::array::from_fn(|l| v[l] + v[l + 4]);
            dot = (h[0] + h[1]) + (h[2] + h[3]);
        }
        a[blocks..].iter().zip(&b[blocks..]).fold(dot, |acc, (x, y)| x.mul_add(*y, acc))
    }
}

/// `v @ ones` (unit sample weights): [`ddot`] with exact products.
pub fn ddot_sum(v: &[f64]) -> f64 {
    ddot(v, &vec![1.0; v.len()])
}

/// Rows of `dgemv_t`'s kernels per block.
const GEMV_BLOCK: usize = 2048;

/// `rows @ ones((len, 1))` for a C-ordered `[rows, len]` matrix: numpy takes one row as a
/// dot product (`ddot`), more as `dgemv` transposed, one column of OpenBLAS's matrix per row. Each block of up to 2048 elements (a multiple of
/// four) is summed per row by the kernel its column falls to: four columns at a time and a
/// last odd one in four lanes, a pair in two lanes. The last `len % 4` elements follow.
pub fn gemv_t_sums(rows: &[Vec<f64>]) -> Vec<f64> {
    if let [row] = rows {
        return vec![ddot_sum(row)];
    }
    let t = rows.len();
    let len = rows.first().map_or(0, Vec::len);
    let body = len & !3;
    let in_fours = t & !3;
    let mut y = vec![0.0; t];
    for start in (0..body).step_by(GEMV_BLOCK) {
        let end = (start + GEMV_BLOCK).min(body);
        for (j, row) in rows.iter().enumerate() {
            let four_lanes = j < in_fours || (t % 2 == 1 && j == t - 1);
            let block = &row[start..end];
            y[j] += if four_lanes {
                let mut l = [0.0f64; 4];
                block.iter().enumerate().for_each(|(i, x)| l[i % 4] += x);
                (l[0] + l[2]) + (l[1] + l[3])
            } else {
                let mut l = [0.0f64; 2];
                block.iter().enumerate().for_each(|(i, x)| l[i % 2] += x);
                l[0] + l[1]
            };
        }
    }
    if body < len {
        for (j, row) in rows.iter().enumerate() {
            let tail = row[body + 1..].iter().fold(row[body], |a, x| a + x);
            y[j] += tail;
        }
    }
    y
}

/// `‖row‖²` as scikit-learn's `row_norms` takes it: `np.einsum("ij,ij->i", X, X)`, numpy's
/// two-lane loop (its SSE baseline; products rounded before they are added): blocks of eight
/// elements last pair first, then pairs, the two lanes added at the end.
pub fn row_norm_sq(row: &[f64]) -> f64 {
    let mut lanes = [0.0f64; 2];
    let blocks = row.len() / 8 * 8;
    for block in row[..blocks].chunks_exact(8) {
        for pair in block.chunks_exact(2).rev() {
            lanes[0] += pair[0] * pair[0];
            lanes[1] += pair[1] * pair[1];
        }
    }
    for pair in row[blocks..].chunks(2) {
        lanes[0] += pair[0] * pair[0];
        lanes[1] += pair.get(1).map_or(0.0, |x| x * x);
    }
    lanes[0] + lanes[1]
}

/// numpy's pairwise summation of a contiguous array (eight accumulators per block of up to
/// 128, halves above that).
pub fn pairwise_sum(v: &[f64]) -> f64 {
    let n = v.len();
    if n < 8 {
        return v.iter().fold(0.0, |a, x| a + x);
    }
    if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&v[..8]);
        let body = n - n % 8;
        for chunk in v[8..body].chunks_exact(8) {
            r.iter_mut().zip(chunk).for_each(|(a, x)| *a += x);
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for x in &v[body..] {
            res += x;
        }
        return res;
    }
    let mut half = n / 2;
    half -= half % 8;
    pairwise_sum(&v[..half]) + pairwise_sum(&v[half..])
}

/// What [`openblas_sums`] returns, in its order.
type Sums = (f64, Vec<f64>, f64, Vec<f64>, f64);

/// `(ddot_sum(rows[0]), gemv_t_sums(rows), pairwise_sum(rows[0]), row_norm_sq of each row,
/// ddot(rows[0], rows[last]))`, for the test suite to compare with numpy
/// (`autobranch._native._openblas_sums`; not part of the API).
#[pyfunction]
#[pyo3(name = "_openblas_sums")]
pub fn openblas_sums(rows: Vec<Vec<f64>>) -> PyResult<Sums> {
    let first = rows.first().ok_or_else(|| pyo3::exceptions::PyValueError::new_err("rows: at least one row"))?;
    if rows.iter().any(|r| r.len() != first.len()) {
        return Err(pyo3::exceptions::PyValueError::new_err("rows: all of one length"));
    }
    let norms = rows.iter().map(|r| row_norm_sq(r)).collect();
    let last = &rows[rows.len() - 1];
    Ok((ddot_sum(first), gemv_t_sums(&rows), pairwise_sum(first), norms, ddot(first, last)))
}
