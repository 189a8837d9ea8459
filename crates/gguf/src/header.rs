//! A GGUF header reader that validates a file before llama.cpp sees it: llama.cpp aborts
//! the process on some malformed files, so the magic, version, metadata, tensor table,
//! every tensor's byte range (inside the file, no two overlapping) and the hyperparameters
//! (see [`crate::hparams`]) are checked here first.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::tensor::{DequantError, GgmlType};

/// Why a file is not a usable GGUF.
#[derive(Debug, Error)]
pub enum GgufError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS's reason.
        reason: String,
    },
    /// The file does not start with the GGUF magic.
    #[error("{path} is not a GGUF file (it starts with {found:02x?}, a GGUF file starts with \"GGUF\")")]
    NotGguf {
        /// The file.
        path: PathBuf,
        /// Its first bytes.
        found: Vec<u8>,
    },
    /// A version this reader does not know.
    #[error("{path} is GGUF version {version}; supported: 2 and 3")]
    Version {
        /// The file.
        path: PathBuf,
        /// The version found.
        version: u32,
    },
    /// A tensor the model needs is not in the file.
    #[error("{path} has no tensor {name}")]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
    },
    /// A tensor's data cannot be read as f32.
    #[error("{path}: tensor {name}: {source}")]
    Tensor {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// Why.
        source: DequantError,
    },
    /// A hyperparameter in the metadata is out of the range a loader can use.
    #[error("{path}: {key} = {value} is out of range; allowed: {allowed}")]
    Hyperparameter {
        /// The file.
        path: PathBuf,
        /// The metadata key (with `[i]` for one element of a per-layer array).
        key: String,
        /// The value found.
        value: String,
        /// What the key may hold.
        allowed: String,
    },
    /// The structure is damaged or the file ends early.
    #[error("{path} is a damaged or truncated GGUF file: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// A metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Any unsigned integer type.
    Uint(u64),
    /// Any signed integer type.
    Int(i64),
    /// f32 or f64.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A string.
    Str(String),
    /// An array (long arrays of scalars are kept, e.g. token lists).
    Array(Vec<Value>),
}

impl Value {
    /// The value as a string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an unsigned integer, if it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Uint(v) => Some(v),
            Value::Int(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }
}

/// One tensor's entry in the table.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    /// Name.
    pub name: String,
    /// Dimensions, innermost first.
    pub dims: Vec<u64>,
    /// ggml type.
    pub ggml_type: GgmlType,
    /// Offset from the start of the data section.
    pub offset: u64,
}

/// What the header says.
#[derive(Clone, Debug, PartialEq)]
pub struct GgufHeader {
    /// Format version.
    pub version: u32,
    /// Metadata by key.
    pub metadata: BTreeMap<String, Value>,
    /// Tensor table.
    pub tensors: Vec<TensorInfo>,
    /// Absolute file offset of the data section.
    pub data_offset: u64,
    /// File size in bytes.
    pub file_size: u64,
}

impl GgufHeader {
    /// A string metadata value.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(Value::as_str)
    }

    /// An integer metadata value.
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.metadata.get(key).and_then(Value::as_u64)
    }

    /// A float metadata value (integers are accepted too).
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        match self.metadata.get(key)? {
            Value::Float(v) => Some(*v),
            Value::Uint(v) => Some(*v as f64),
            Value::Int(v) => Some(*v as f64),
            _ => None,
        }
    }

    /// A tensor's table entry.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// `general.architecture`.
    pub fn architecture(&self) -> Option<&str> {
        self.get_str("general.architecture")
    }
}

struct Reader<R> {
    inner: R,
    pos: u64,
    size: u64,
}

impl<R: Read> Reader<R> {
    fn bytes(&mut self, n: u64, what: &str) -> Result<Vec<u8>, String> {
        if n > self.size.saturating_sub(self.pos) {
            return Err(format!(
                "{what} of {n} bytes at offset {} runs past the end of the file ({} bytes)",
                self.pos, self.size
            ));
        }
        let mut buf = vec![0; n as usize];
        self.inner.read_exact(&mut buf).map_err(|e| format!("{what} at offset {}: {e}", self.pos))?;
        self.pos += n;
        Ok(buf)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        let v = self.bytes(N as u64, what)?;
        let mut out = [0; N];
        out.copy_from_slice(&v);
        Ok(out)
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        self.array::<4>(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &str) -> Result<u64, String> {
        self.array::<8>(what).map(u64::from_le_bytes)
    }

    fn string(&mut self, what: &str) -> Result<String, String> {
        let len = self.u64(what)?;
        let bytes = self.bytes(len, what)?;
        String::from_utf8(bytes).map_err(|_| format!("{what} is not UTF-8"))
    }

    fn value(&mut self, ty: u32, key: &str, depth: u8) -> Result<Value, String> {
        Ok(match ty {
            0 => Value::Uint(u64::from(self.array::<1>(key)?[0])),
            1 => Value::Int(i64::from(i8::from_le_bytes(self.array::<1>(key)?))),
            2 => Value::Uint(u64::from(u16::from_le_bytes(self.array::<2>(key)?))),
            3 => Value::Int(i64::from(i16::from_le_bytes(self.array::<2>(key)?))),
            4 => Value::Uint(u64::from(self.u32(key)?)),
            5 => Value::Int(i64::from(i32::from_le_bytes(self.array::<4>(key)?))),
            6 => Value::Float(f64::from(f32::from_le_bytes(self.array::<4>(key)?))),
            7 => Value::Bool(self.array::<1>(key)?[0] != 0),
            8 => Value::Str(self.string(key)?),
            9 if depth == 0 => {
                let item = self.u32(key)?;
                let count = self.u64(key)?;
                // Every item takes at least one byte: a count beyond the file is damage.
                if count > self.size.saturating_sub(self.pos) {
                    return Err(format!("array {key} claims {count} items, more than the file holds"));
                }
                (0..count).map(|_| self.value(item, key, depth + 1)).collect::<Result<_, _>>().map(Value::Array)?
            }
            10 => Value::Uint(self.u64(key)?),
            11 => Value::Int(i64::from_le_bytes(self.array::<8>(key)?)),
            12 => Value::Float(f64::from_le_bytes(self.array::<8>(key)?)),
            other => return Err(format!("metadata {key} has unknown value type {other}")),
        })
    }
}

/// Reads and validates the header of the GGUF file at `path`: its structure, that every
/// tensor's data lies inside the file with no two overlapping, and the hyperparameters.
pub fn read_header(path: &Path) -> Result<GgufHeader, GgufError> {
    let (header, _) = read_structure(path)?;
    crate::hparams::check(&header).map_err(|e| GgufError::Hyperparameter {
        path: path.to_owned(),
        key: e.key,
        value: e.value,
        allowed: e.allowed,
    })?;
    Ok(header)
}

/// Where a metadata value is stored: its absolute file offset and GGUF value type.
pub(crate) type ValueAt = BTreeMap<String, (u64, u32)>;

/// The header with its structure checked (not its hyperparameters), and where each
/// metadata value lies.
pub(crate) fn read_structure(path: &Path) -> Result<(GgufHeader, ValueAt), GgufError> {
    let io = |e: std::io::Error| GgufError::Io { path: path.to_owned(), reason: e.to_string() };
    let file = File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let corrupt = |reason: String| GgufError::Corrupt { path: path.to_owned(), reason };
    let mut r = Reader { inner: BufReader::with_capacity(1 << 16, file), pos: 0, size };
    let mut magic = [0u8; 4];
    let n = r.inner.read(&mut magic).map_err(io)?;
    if n < 4 || &magic != b"GGUF" {
        return Err(GgufError::NotGguf { path: path.to_owned(), found: magic[..n].to_vec() });
    }
    r.pos = 4;
    let version = r.u32("version").map_err(corrupt)?;
    if !(2..=3).contains(&version) {
        return Err(GgufError::Version { path: path.to_owned(), version });
    }
    let tensor_count = r.u64("tensor count").map_err(corrupt)?;
    let kv_count = r.u64("metadata count").map_err(corrupt)?;
    if tensor_count > size / 16 || kv_count > size / 16 {
        return Err(corrupt(format!(
            "{tensor_count} tensors and {kv_count} metadata entries cannot fit in {size} bytes"
        )));
    }
    let mut metadata = BTreeMap::new();
    let mut value_at = BTreeMap::new();
    for _ in 0..kv_count {
        let key = r.string("metadata key").map_err(corrupt)?;
        let ty = r.u32(&key).map_err(corrupt)?;
        value_at.insert(key.clone(), (r.pos, ty));
        let value = r.value(ty, &key, 0).map_err(corrupt)?;
        metadata.insert(key, value);
    }
    let mut tensors = Vec::with_capacity(tensor_count as usize);
    for _ in 0..tensor_count {
        let name = r.string("tensor name").map_err(corrupt)?;
        let n_dims = r.u32(&name).map_err(corrupt)?;
        if n_dims == 0 || n_dims > 4 {
            return Err(corrupt(format!("tensor {name} has {n_dims} dimensions; allowed: 1 to 4")));
        }
        let dims = (0..n_dims).map(|_| r.u64(&name)).collect::<Result<Vec<_>, _>>().map_err(corrupt)?;
        let ggml_type = r.u32(&name).map_err(corrupt)?;
        let offset = r.u64(&name).map_err(corrupt)?;
        tensors.push(TensorInfo { name, dims, ggml_type: GgmlType(ggml_type), offset });
    }
    let alignment = metadata.get("general.alignment").and_then(Value::as_u64).unwrap_or(32).max(1);
    let data_offset = r.pos.div_ceil(alignment) * alignment;
    // (start, end) of each tensor's bytes relative to the data section; the end is unknown
    // for types this crate does not know.
    let mut extents = Vec::with_capacity(tensors.len());
    for t in &tensors {
        let elements = t.dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
        let Some(elements) = elements else {
            return Err(corrupt(format!("tensor {} has dimensions {:?} whose product overflows", t.name, t.dims)));
        };
        // Unknown (newer) types are left to llama.cpp; known ones must fit in the file.
        let mut end = None;
        if let Some((block_bytes, block_elems)) = t.ggml_type.layout() {
            let bytes = elements.div_ceil(block_elems).saturating_mul(block_bytes);
            let file_end = data_offset.saturating_add(t.offset).saturating_add(bytes);
            if file_end > size {
                return Err(corrupt(format!(
                    "tensor {} needs bytes {}..{file_end} but the file has {size} bytes",
                    t.name,
                    data_offset.saturating_add(t.offset)
                )));
            }
            end = Some(t.offset + bytes);
        }
        extents.push((t.offset, end, t.name.as_str()));
    }
    // Two tensors sharing bytes would make one a view of the other's data.
    extents.sort_unstable_by_key(|e| e.0);
    for pair in extents.windows(2) {
        let ((start, end, name), (next, _, other)) = (pair[0], pair[1]);
        if let Some(end) = end.filter(|&end| end > next) {
            return Err(corrupt(format!(
                "tensors {name} (data bytes {start}..{end}) and {other} (from byte {next}) overlap"
            )));
        }
    }
    // The reader is buffered; make sure seeking is possible (a FIFO is not a model file).
    r.inner.seek(SeekFrom::Start(0)).map_err(io)?;
    Ok((GgufHeader { version, metadata, tensors, data_offset, file_size: size }, value_at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gguf_bytes(tensor_bytes: usize) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"GGUF");
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes()); // tensors
        b.extend_from_slice(&2u64.to_le_bytes()); // metadata
        let s = |b: &mut Vec<u8>, t: &str| {
            b.extend_from_slice(&(t.len() as u64).to_le_bytes());
            b.extend_from_slice(t.as_bytes());
        };
        s(&mut b, "general.architecture");
        b.extend_from_slice(&8u32.to_le_bytes());
        s(&mut b, "llama");
        s(&mut b, "llama.context_length");
        b.extend_from_slice(&4u32.to_le_bytes());
        b.extend_from_slice(&2048u32.to_le_bytes());
        s(&mut b, "w");
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&4u64.to_le_bytes());
        b.extend_from_slice(&2u64.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes()); // F32
        b.extend_from_slice(&0u64.to_le_bytes());
        while b.len() % 32 != 0 {
            b.push(0);
        }
        b.extend(std::iter::repeat_n(0u8, tensor_bytes));
        b
    }

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    #[test]
    fn reads_a_valid_header() {
        let f = write(&gguf_bytes(32));
        let h = read_header(f.path()).unwrap();
        assert_eq!(h.architecture(), Some("llama"));
        assert_eq!(h.get_u64("llama.context_length"), Some(2048));
        assert_eq!(h.tensors[0].dims, vec![4, 2]);
    }

    #[test]
    fn rejects_random_bytes_truncation_and_missing_files() {
        let f = write(b"\x89PNG\r\n\x1a\n not a model");
        assert!(matches!(read_header(f.path()), Err(GgufError::NotGguf { .. })));
        let f = write(&gguf_bytes(31));
        let err = read_header(f.path()).unwrap_err();
        assert!(err.to_string().contains("tensor w needs bytes"), "{err}");
        let full = gguf_bytes(32);
        for cut in [5, 20, 40, 70, 100] {
            let f = write(&full[..cut]);
            assert!(matches!(read_header(f.path()), Err(GgufError::Corrupt { .. })), "cut at {cut}");
        }
        assert!(matches!(read_header(Path::new("/nonexistent/model.gguf")), Err(GgufError::Io { .. })));
        let f = write(b"");
        assert!(matches!(read_header(f.path()), Err(GgufError::NotGguf { .. })));
    }

    #[test]
    fn refuses_overlapping_tensors() {
        let builder =
            crate::testing::GgufBuilder::new().tensor("a", &[16], vec![1.0; 16]).tensor("b", &[8], vec![2.0; 8]);
        let mut bytes = builder.bytes();
        assert!(read_header(write(&bytes).path()).is_ok());
        // b's offset field follows its name, dimension count, one dimension and its type.
        let name = [&1u64.to_le_bytes()[..], b"b"].concat();
        let at = bytes.windows(name.len()).position(|w| w == name).unwrap() + name.len();
        let offset = at + 4 + 8 + 4;
        assert_eq!(bytes[offset..offset + 8], 64u64.to_le_bytes());
        bytes[offset..offset + 8].copy_from_slice(&32u64.to_le_bytes());
        let err = read_header(write(&bytes).path()).unwrap_err();
        assert!(err.to_string().contains("tensors a (data bytes 0..64) and b (from byte 32) overlap"), "{err}");
    }
}
