//! Hostile GGUF files for tests (feature `test-support`): [`GgufBuilder`] writes a small
//! file from metadata and f32 tensors; [`set_metadata`] (or [`with_metadata`], which puts
//! the value back) and [`fill_tensor`] rewrite one value or one tensor of an existing file
//! (a copy of a real model) in place.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use crate::header::{Value, read_structure};
use crate::tensor::GgmlType;

/// The GGUF value type of a value as [`GgufBuilder`] writes it: unsigned integers as u32
/// (u64 when larger), signed as i32 (i64 when larger), floats as f32.
fn value_type(value: &Value) -> u32 {
    match value {
        Value::Uint(v) if *v <= u64::from(u32::MAX) => 4,
        Value::Uint(_) => 10,
        Value::Int(v) if i32::try_from(*v).is_ok() => 5,
        Value::Int(_) => 11,
        Value::Float(_) => 6,
        Value::Bool(_) => 7,
        Value::Str(_) => 8,
        Value::Array(_) => 9,
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// `value` encoded as GGUF type `ty`, or why it cannot be.
fn encode(value: &Value, ty: u32) -> Result<Vec<u8>, String> {
    let wrong = || format!("{value:?} cannot be stored as GGUF value type {ty}");
    let int = |v: &Value| -> Option<i128> {
        match *v {
            Value::Uint(u) => Some(i128::from(u)),
            Value::Int(i) => Some(i128::from(i)),
            _ => None,
        }
    };
    let fit = |bytes: Option<Vec<u8>>| bytes.ok_or_else(wrong);
    Ok(match ty {
        0 => fit(int(value).and_then(|v| u8::try_from(v).ok()).map(|v| vec![v]))?,
        1 => fit(int(value).and_then(|v| i8::try_from(v).ok()).map(|v| v.to_le_bytes().to_vec()))?,
        2 => fit(int(value).and_then(|v| u16::try_from(v).ok()).map(|v| v.to_le_bytes().to_vec()))?,
        3 => fit(int(value).and_then(|v| i16::try_from(v).ok()).map(|v| v.to_le_bytes().to_vec()))?,
        4 => fit(int(value).and_then(|v| u32::try_from(v).ok()).map(|v| v.to_le_bytes().to_vec()))?,
        5 => fit(int(value).and_then(|v| i32::try_from(v).ok()).map(|v| v.to_le_bytes().to_vec()))?,
        10 => fit(int(value).and_then(|v| u64::try_from(v).ok()).map(|v| v.to_le_bytes().to_vec()))?,
        11 => fit(int(value).and_then(|v| i64::try_from(v).ok()).map(|v| v.to_le_bytes().to_vec()))?,
        6 | 12 => {
            let Value::Float(v) = *value else { return Err(wrong()) };
            if ty == 6 { (v as f32).to_le_bytes().to_vec() } else { v.to_le_bytes().to_vec() }
        }
        7 => {
            let Value::Bool(b) = *value else { return Err(wrong()) };
            vec![u8::from(b)]
        }
        8 => {
            let Value::Str(s) = value else { return Err(wrong()) };
            let mut out = Vec::new();
            put_str(&mut out, s);
            out
        }
        9 => {
            let Value::Array(items) = value else { return Err(wrong()) };
            let item = items.first().map_or(4, value_type);
            let mut out = item.to_le_bytes().to_vec();
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for v in items {
                out.extend(encode(v, item)?);
            }
            out
        }
        _ => return Err(wrong()),
    })
}

/// Builds a GGUF (version 3, 32-byte alignment) of metadata and F32 tensors.
#[derive(Clone, Debug, Default)]
pub struct GgufBuilder {
    metadata: Vec<(String, Value)>,
    tensors: Vec<(String, Vec<u64>, Vec<f32>)>,
}

impl GgufBuilder {
    /// An empty file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) metadata `key`.
    pub fn meta(mut self, key: &str, value: Value) -> Self {
        self.metadata.retain(|(k, _)| k != key);
        self.metadata.push((key.to_owned(), value));
        self
    }

    /// Removes metadata `key`.
    pub fn without(mut self, key: &str) -> Self {
        self.metadata.retain(|(k, _)| k != key);
        self
    }

    /// Adds an F32 tensor; `dims` innermost first (GGUF's order), `data` their product long.
    pub fn tensor(mut self, name: &str, dims: &[u64], data: Vec<f32>) -> Self {
        assert_eq!(dims.iter().product::<u64>(), data.len() as u64, "tensor {name}: dims and data disagree");
        self.tensors.push((name.to_owned(), dims.to_vec(), data));
        self
    }

    /// The file's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        b.extend_from_slice(&(self.metadata.len() as u64).to_le_bytes());
        for (key, value) in &self.metadata {
            put_str(&mut b, key);
            let ty = value_type(value);
            b.extend_from_slice(&ty.to_le_bytes());
            b.extend(encode(value, ty).expect("a value encodes as its own type"));
        }
        let mut offset = 0u64;
        for (name, dims, data) in &self.tensors {
            put_str(&mut b, name);
            b.extend_from_slice(&(dims.len() as u32).to_le_bytes());
            dims.iter().for_each(|d| b.extend_from_slice(&d.to_le_bytes()));
            b.extend_from_slice(&GgmlType::F32.0.to_le_bytes());
            b.extend_from_slice(&offset.to_le_bytes());
            offset += (data.len() as u64 * 4).div_ceil(32) * 32;
        }
        for (_, _, data) in &self.tensors {
            b.resize(b.len().div_ceil(32) * 32, 0);
            data.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
        }
        b
    }

    /// Writes the file to `path`.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.bytes())
    }
}

/// Rewrites metadata `key` of the GGUF at `path` in place, encoded in the type the file
/// already stores it as (so the layout does not move; a string must keep its length).
pub fn set_metadata(path: &Path, key: &str, value: &Value) -> Result<(), String> {
    let (header, value_at) = read_structure(path).map_err(|e| e.to_string())?;
    let &(offset, ty) = value_at.get(key).ok_or_else(|| format!("{} has no metadata {key}", path.display()))?;
    let old = encode(&header.metadata[key], ty)?;
    let new = encode(value, ty)?;
    if new.len() != old.len() {
        return Err(format!("{key}: the new value takes {} bytes, the old {}", new.len(), old.len()));
    }
    write_at(path, offset, &new)
}

/// Runs `f` while metadata `key` of the GGUF at `path` holds `value` (see [`set_metadata`]),
/// then puts the original value back.
pub fn with_metadata<T>(path: &Path, key: &str, value: &Value, f: impl FnOnce() -> T) -> Result<T, String> {
    let (header, _) = read_structure(path).map_err(|e| e.to_string())?;
    let original = header.metadata.get(key).ok_or_else(|| format!("{} has no metadata {key}", path.display()))?;
    set_metadata(path, key, value)?;
    let out = f();
    set_metadata(path, key, original)?;
    Ok(out)
}

/// Sets every value of F32 tensor `name` in the GGUF at `path` to `value`, in place.
pub fn fill_tensor(path: &Path, name: &str, value: f32) -> Result<(), String> {
    let (header, _) = read_structure(path).map_err(|e| e.to_string())?;
    let t = header.tensor(name).ok_or_else(|| format!("{} has no tensor {name}", path.display()))?;
    if t.ggml_type != GgmlType::F32 {
        return Err(format!("tensor {name} is {}, not F32", t.ggml_type));
    }
    let n: u64 = t.dims.iter().product();
    let bytes: Vec<u8> = (0..n).flat_map(|_| value.to_le_bytes()).collect();
    write_at(path, header.data_offset + t.offset, &bytes)
}

fn write_at(path: &Path, offset: u64, bytes: &[u8]) -> Result<(), String> {
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut file = OpenOptions::new().write(true).open(path).map_err(io)?;
    file.seek(SeekFrom::Start(offset)).map_err(io)?;
    file.write_all(bytes).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::read_header;

    #[test]
    fn built_files_read_back_and_patch_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.gguf");
        GgufBuilder::new()
            .meta("general.architecture", Value::Str("test".into()))
            .meta("test.count", Value::Uint(7))
            .meta("x.eps", Value::Float(0.5))
            .meta("test.list", Value::Array(vec![Value::Str("a".into()), Value::Str("bc".into())]))
            .tensor("w", &[3, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
            .tensor("v", &[5], vec![0.0; 5])
            .write(&path)
            .unwrap();
        let h = read_header(&path).unwrap();
        assert_eq!(h.get_u64("test.count"), Some(7));
        assert_eq!(h.get_f64("x.eps"), Some(0.5));
        assert_eq!(h.tensor("v").unwrap().offset, 32);
        let seen =
            with_metadata(&path, "test.count", &Value::Uint(3), || read_header(&path).unwrap().get_u64("test.count"));
        assert_eq!(seen, Ok(Some(3)));
        assert_eq!(read_header(&path).unwrap().get_u64("test.count"), Some(7), "put back");
        set_metadata(&path, "test.count", &Value::Uint(9)).unwrap();
        set_metadata(&path, "x.eps", &Value::Float(f64::NAN)).unwrap();
        fill_tensor(&path, "v", 2.5).unwrap();
        let file = crate::GgufFile::open(&path).unwrap();
        assert_eq!(file.header().get_u64("test.count"), Some(9));
        assert!(file.header().get_f64("x.eps").unwrap().is_nan());
        assert_eq!(file.read_f32("v").unwrap().data, vec![2.5; 5]);
        assert_eq!(file.read_f32("w").unwrap().data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let err = set_metadata(&path, "test.count", &Value::Int(-1)).unwrap_err();
        assert!(err.contains("cannot be stored"), "{err}");
        assert!(set_metadata(&path, "general.architecture", &Value::Str("longer".into())).is_err());
    }
}
