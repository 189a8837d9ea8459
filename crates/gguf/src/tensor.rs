//! ggml tensor types and their dequantisation to f32, block for block as llama.cpp's
//! reference `dequantize_row_*` functions do (checked against llama.cpp's `gguf` Python
//! package in `tests/dequant.rs`).

use half::{bf16, f16};

/// A ggml tensor type id, as stored in a GGUF tensor table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GgmlType(pub u32);

/// (name, bytes per block, elements per block) by type id.
const TYPES: &[(u32, &str, u64, u64)] = &[
    (0, "F32", 4, 1),
    (1, "F16", 2, 1),
    (2, "Q4_0", 18, 32),
    (3, "Q4_1", 20, 32),
    (6, "Q5_0", 22, 32),
    (7, "Q5_1", 24, 32),
    (8, "Q8_0", 34, 32),
    (9, "Q8_1", 36, 32),
    (10, "Q2_K", 84, 256),
    (11, "Q3_K", 110, 256),
    (12, "Q4_K", 144, 256),
    (13, "Q5_K", 176, 256),
    (14, "Q6_K", 210, 256),
    (15, "Q8_K", 292, 256),
    (16, "IQ2_XXS", 66, 256),
    (17, "IQ2_XS", 74, 256),
    (18, "IQ3_XXS", 98, 256),
    (19, "IQ1_S", 50, 256),
    (20, "IQ4_NL", 18, 32),
    (21, "IQ3_S", 110, 256),
    (22, "IQ2_S", 82, 256),
    (23, "IQ4_XS", 136, 256),
    (24, "I8", 1, 1),
    (25, "I16", 2, 1),
    (26, "I32", 4, 1),
    (27, "I64", 8, 1),
    (28, "F64", 8, 1),
    (29, "IQ1_M", 56, 256),
    (30, "BF16", 2, 1),
    (34, "TQ1_0", 54, 256),
    (35, "TQ2_0", 66, 256),
    (39, "MXFP4", 17, 32),
];

/// The types [`dequantize`] reads.
pub const DEQUANTIZABLE: [GgmlType; 11] = [
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
];

#[allow(missing_docs)]
impl GgmlType {
    pub const F32: Self = Self(0);
    pub const F16: Self = Self(1);
    pub const Q4_0: Self = Self(2);
    pub const Q4_1: Self = Self(3);
    pub const Q5_0: Self = Self(6);
    pub const Q5_1: Self = Self(7);
    pub const Q8_0: Self = Self(8);
    pub const Q4_K: Self = Self(12);
    pub const Q5_K: Self = Self(13);
    pub const Q6_K: Self = Self(14);
    pub const BF16: Self = Self(30);
}

impl GgmlType {
    fn entry(self) -> Option<&'static (u32, &'static str, u64, u64)> {
        TYPES.iter().find(|t| t.0 == self.0)
    }

    /// ggml's name for the type (`Q4_1`, `F16`…), or `type N` for an id this crate does not know.
    pub fn name(self) -> String {
        self.entry().map_or_else(|| format!("type {}", self.0), |t| t.1.to_owned())
    }

    /// Looks a type up by ggml's name.
    pub fn from_name(name: &str) -> Option<Self> {
        TYPES.iter().find(|t| t.1 == name).map(|t| Self(t.0))
    }

    /// (bytes per block, elements per block), for the types whose layout is known.
    pub fn layout(self) -> Option<(u64, u64)> {
        self.entry().map(|t| (t.2, t.3))
    }

    /// Bytes that `elements` values of this type take, if the layout is known and
    /// `elements` fills whole blocks.
    pub fn bytes_for(self, elements: u64) -> Option<u64> {
        let (block_bytes, block_elems) = self.layout()?;
        elements.is_multiple_of(block_elems).then(|| elements / block_elems * block_bytes)
    }

    /// Whether [`dequantize`] reads this type.
    pub fn is_dequantizable(self) -> bool {
        DEQUANTIZABLE.contains(&self)
    }
}

impl std::fmt::Display for GgmlType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// Why bytes could not be dequantised.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DequantError {
    /// A type [`dequantize`] does not read.
    #[error("tensor type {0} is not supported; supported: {list}", list = supported_names())]
    Unsupported(GgmlType),
    /// The byte count does not match the element count.
    #[error("{elements} values of {ty} take {expected}, got {actual} bytes")]
    Length { ty: GgmlType, elements: u64, expected: String, actual: usize },
}

fn supported_names() -> String {
    DEQUANTIZABLE.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ")
}

fn f16_at(b: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

/// Dequantises `elements` values of type `ty` stored in `bytes`.
pub fn dequantize(ty: GgmlType, bytes: &[u8], elements: u64) -> Result<Vec<f32>, DequantError> {
    if !ty.is_dequantizable() {
        return Err(DequantError::Unsupported(ty));
    }
    let expected = ty.bytes_for(elements);
    if expected != Some(bytes.len() as u64) {
        let (_, block) = ty.layout().unwrap_or((1, 1));
        let expected = expected.map_or_else(|| format!("whole blocks of {block} values"), |e| format!("{e} bytes"));
        return Err(DequantError::Length { ty, elements, expected, actual: bytes.len() });
    }
    let mut out = vec![0f32; elements as usize];
    let (block_bytes, block_elems) = ty.layout().expect("known layout");
    let blocks = bytes.chunks_exact(block_bytes as usize).zip(out.chunks_exact_mut(block_elems as usize));
    match ty {
        GgmlType::F32 => blocks.for_each(|(b, y)| y[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        GgmlType::F16 => blocks.for_each(|(b, y)| y[0] = f16_at(b, 0)),
        GgmlType::BF16 => blocks.for_each(|(b, y)| y[0] = bf16::from_le_bytes([b[0], b[1]]).to_f32()),
        GgmlType::Q4_0 => blocks.for_each(|(b, y)| q4(f16_at(b, 0), -8.0 * f16_at(b, 0), &b[2..], y)),
        GgmlType::Q4_1 => blocks.for_each(|(b, y)| q4(f16_at(b, 0), f16_at(b, 2), &b[4..], y)),
        GgmlType::Q5_0 => blocks.for_each(|(b, y)| q5(f16_at(b, 0), -16.0 * f16_at(b, 0), &b[2..], y)),
        GgmlType::Q5_1 => blocks.for_each(|(b, y)| q5(f16_at(b, 0), f16_at(b, 2), &b[4..], y)),
        GgmlType::Q8_0 => blocks.for_each(|(b, y)| {
            let d = f16_at(b, 0);
            y.iter_mut().zip(&b[2..]).for_each(|(y, &q)| *y = d * f32::from(q as i8));
        }),
        GgmlType::Q4_K => blocks.for_each(|(b, y)| q4_k(b, y)),
        GgmlType::Q5_K => blocks.for_each(|(b, y)| q5_k(b, y)),
        GgmlType::Q6_K => blocks.for_each(|(b, y)| q6_k(b, y)),
        _ => unreachable!("checked by is_dequantizable"),
    }
    Ok(out)
}

/// 32 four-bit values: low nibbles are elements 0..16, high nibbles 16..32; y = q·d + m.
fn q4(d: f32, m: f32, qs: &[u8], y: &mut [f32]) {
    for (j, &q) in qs[..16].iter().enumerate() {
        y[j] = f32::from(q & 0x0f) * d + m;
        y[j + 16] = f32::from(q >> 4) * d + m;
    }
}

/// 32 five-bit values: four bytes of fifth bits (little-endian u32), then nibbles as in [`q4`].
fn q5(d: f32, m: f32, b: &[u8], y: &mut [f32]) {
    let qh = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    for (j, &q) in b[4..20].iter().enumerate() {
        let h0 = ((qh >> j) << 4) & 0x10;
        let h1 = (qh >> (j + 12)) & 0x10;
        y[j] = (u32::from(q & 0x0f) | h0) as f32 * d + m;
        y[j + 16] = (u32::from(q >> 4) | h1) as f32 * d + m;
    }
}

/// The 6-bit scale and min of sub-block `j` of a Q4_K/Q5_K block's 12 packed scale bytes.
fn scale_min_k4(j: usize, s: &[u8]) -> (f32, f32) {
    let (sc, m) = if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        ((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4))
    };
    (f32::from(sc), f32::from(m))
}

/// 256 values: d, dmin, 12 scale bytes, 128 bytes of nibbles (64 values per 32 bytes).
fn q4_k(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
    let (scales, qs) = (&b[4..16], &b[16..144]);
    for (n, (q, y)) in qs.chunks_exact(32).zip(y.chunks_exact_mut(64)).enumerate() {
        let (s1, m1) = scale_min_k4(2 * n, scales);
        let (s2, m2) = scale_min_k4(2 * n + 1, scales);
        for l in 0..32 {
            y[l] = d * s1 * f32::from(q[l] & 0x0f) - dmin * m1;
            y[l + 32] = d * s2 * f32::from(q[l] >> 4) - dmin * m2;
        }
    }
}

/// 256 values: as Q4_K plus 32 bytes of fifth bits, two bit planes per 64 values.
fn q5_k(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
    let (scales, qh, qs) = (&b[4..16], &b[16..48], &b[48..176]);
    for (n, (q, y)) in qs.chunks_exact(32).zip(y.chunks_exact_mut(64)).enumerate() {
        let (s1, m1) = scale_min_k4(2 * n, scales);
        let (s2, m2) = scale_min_k4(2 * n + 1, scales);
        let (u1, u2) = (1u8 << (2 * n), 2u8 << (2 * n));
        for l in 0..32 {
            let h1 = if qh[l] & u1 != 0 { 16.0 } else { 0.0 };
            let h2 = if qh[l] & u2 != 0 { 16.0 } else { 0.0 };
            y[l] = d * s1 * (f32::from(q[l] & 0x0f) + h1) - dmin * m1;
            y[l + 32] = d * s2 * (f32::from(q[l] >> 4) + h2) - dmin * m2;
        }
    }
}

/// 256 values: 128 bytes of low nibbles, 64 of high bit pairs, 16 signed scales, d.
fn q6_k(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 208);
    for (n, y) in y.chunks_exact_mut(128).enumerate() {
        let ql = &b[64 * n..64 * n + 64];
        let qh = &b[128 + 32 * n..128 + 32 * n + 32];
        let sc = &b[192 + 8 * n..192 + 8 * n + 8];
        let scale = |i: usize| d * f32::from(sc[i] as i8);
        for l in 0..32 {
            let is = l / 16;
            let q1 = i32::from((ql[l] & 0x0f) | ((qh[l] & 3) << 4)) - 32;
            let q2 = i32::from((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
            let q3 = i32::from((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            let q4 = i32::from((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = scale(is) * q1 as f32;
            y[l + 32] = scale(is + 2) * q2 as f32;
            y[l + 64] = scale(is + 4) * q3 as f32;
            y[l + 96] = scale(is + 6) * q4 as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_layouts() {
        assert_eq!(GgmlType::Q4_1.name(), "Q4_1");
        assert_eq!(GgmlType(99).name(), "type 99");
        assert_eq!(GgmlType::from_name("Q6_K"), Some(GgmlType::Q6_K));
        assert_eq!(GgmlType::Q8_0.bytes_for(64), Some(68));
        assert_eq!(GgmlType::Q8_0.bytes_for(33), None);
    }

    #[test]
    fn unsupported_types_and_wrong_lengths_are_named() {
        let err = dequantize(GgmlType::from_name("IQ2_XS").unwrap(), &[0; 74], 256).unwrap_err();
        assert!(err.to_string().starts_with("tensor type IQ2_XS is not supported; supported: F32, F16"), "{err}");
        let err = dequantize(GgmlType::Q4_1, &[0; 19], 32).unwrap_err();
        assert_eq!(err.to_string(), "32 values of Q4_1 take 20 bytes, got 19 bytes");
        let err = dequantize(GgmlType::Q4_1, &[0; 20], 31).unwrap_err();
        assert_eq!(err.to_string(), "31 values of Q4_1 take whole blocks of 32 values, got 20 bytes");
    }
}
