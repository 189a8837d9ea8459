//! The exact GELU, x·Φ(x), computed on the host for the CPU backends. Burn's CPU kernels
//! evaluate `erf` one element at a time through libm, which took a third of MiniLM's
//! embedding time on flex once its matrix products used AVX-512; this version is
//! branch-free arithmetic that the compiler vectorises (AVX-512 or AVX2 chosen at run time),
//! with an absolute error under 3e-7 against the exact function.

use burn::tensor::{Tensor, TensorData};

const LOG2_E: f32 = std::f32::consts::LOG2_E;
// ln 2 split in two (Cody–Waite), so that k·ln 2 is exact to f32 precision for |k| ≤ 128.
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
/// Adding and subtracting 1.5·2²³ rounds an f32 of magnitude below 2²² to an integer.
const ROUND: f32 = 12_582_912.0;

/// e^v for v ≤ 0 (clamped at −87, where e^v is still a normal f32): v = k·ln 2 + r with
/// |r| ≤ ln 2 / 2, e^r by its Taylor series to r⁶ (relative error below 1.3e-7), 2^k
/// through the exponent bits.
#[inline(always)]
fn exp_non_positive(v: f32) -> f32 {
    let v = v.max(-87.0);
    let k = (v * LOG2_E + ROUND) - ROUND;
    let r = v - k * LN2_HI - k * LN2_LO;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    p * f32::from_bits(((k as i32 + 127) << 23) as u32)
}

/// GELU(x) = x·Φ(x) with Φ(x) = erfc(−x/√2)/2. erfc(z) for z ≥ 0 by Abramowitz and Stegun
/// 7.1.26 (absolute error ≤ 1.5e-7): the negative half uses erfc directly, so there is no
/// cancellation in 1 + erf(x/√2) for large negative x.
#[inline(always)]
fn gelu_one(x: f32) -> f32 {
    let z = x.abs() * std::f32::consts::FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152 + t * 1.061_405_4))));
    let half_erfc = 0.5 * poly * exp_non_positive(-z * z);
    let phi = if x >= 0.0 { 1.0 - half_erfc } else { half_erfc };
    x * phi
}

#[inline(always)]
fn gelu_slice(values: &mut [f32]) {
    for v in values {
        *v = gelu_one(*v);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn gelu_avx512(values: &mut [f32]) {
    gelu_slice(values);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gelu_avx2(values: &mut [f32]) {
    gelu_slice(values);
}

/// GELU of every value, in place, with the widest vector unit this CPU has.
pub fn gelu_in_place(values: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            unsafe { gelu_avx512(values) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX2 and FMA, checked just above.
            unsafe { gelu_avx2(values) };
            return;
        }
    }
    gelu_slice(values);
}

/// GELU of a tensor through host memory: for the CPU backends, where the tensor already
/// lives in host memory and the copy costs far less than Burn's element-wise `erf`.
pub fn gelu_on_host<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let (shape, device) = (x.shape(), x.device());
    let data = x.into_data();
    match data.try_to_vec::<f32>() {
        Ok(mut values) => {
            gelu_in_place(&mut values);
            Tensor::from_data(TensorData::new(values, shape), &device)
        }
        // Not f32 (a model loaded in another precision): Burn's own kernel.
        Err(_) => burn::tensor::activation::gelu(Tensor::from_data(data, &device)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf by its Maclaurin series in f64 (|x| ≤ 3) or its continued fraction (beyond):
    /// an exact reference independent of the approximation above.
    fn erf64(x: f64) -> f64 {
        if x.abs() <= 3.0 {
            let (mut sum, mut term, mut n) = (x, x, 0.0);
            while term.abs() > 1e-17 * sum.abs().max(1e-300) {
                n += 1.0;
                term *= -x * x / n;
                sum += term / (2.0 * n + 1.0);
            }
            return sum * 2.0 / std::f64::consts::PI.sqrt();
        }
        // erfc(z) = e^(−z²)/√π · 1/(z + 1/2/(z + 1/(z + 3/2/(z + …)))), evaluated bottom up.
        let z = x.abs();
        let mut f = z;
        for k in (1..60).rev() {
            f = z + f64::from(k) / 2.0 / f;
        }
        let erfc = (-z * z).exp() / std::f64::consts::PI.sqrt() / f;
        (1.0 - erfc).copysign(x)
    }

    fn gelu64(x: f64) -> f64 {
        0.5 * x * (1.0 + erf64(x / std::f64::consts::SQRT_2))
    }

    #[test]
    fn reference_erf_is_right() {
        // Values from tables of the error function.
        assert!((erf64(0.5) - 0.520_499_877_813_046_5).abs() < 1e-15);
        assert!((erf64(1.0) - 0.842_700_792_949_714_9).abs() < 1e-15);
        assert!((erf64(2.0) - 0.995_322_265_018_952_7).abs() < 1e-15);
        assert!((erf64(3.5) - 0.999_999_256_901_627_7).abs() < 1e-14);
    }

    #[test]
    fn matches_the_exact_gelu_everywhere() {
        let xs: Vec<f32> = (-200_000..=200_000).map(|i| i as f32 * 1e-4).chain([-1e4, -90.0, 90.0, 1e4]).collect();
        let mut ys = xs.clone();
        gelu_in_place(&mut ys);
        let mut scalar = xs.clone();
        gelu_slice(&mut scalar);
        for ((&x, &y), &s) in xs.iter().zip(&ys).zip(&scalar) {
            let want = gelu64(f64::from(x));
            assert!((f64::from(y) - want).abs() <= 3e-7 + 2e-7 * want.abs(), "gelu({x}) = {y}, want {want}");
            assert_eq!(y.to_bits(), s.to_bits(), "vector and scalar paths agree at {x}");
        }
        assert_eq!(gelu_one(0.0), 0.0);
        assert!(gelu_one(-1e4).abs() < 1e-30);
        assert_eq!(gelu_one(1e4), 1e4);
    }
}
