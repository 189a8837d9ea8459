//! A GGUF file opened for reading tensors: the validated header plus the data section.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::header::{GgufError, GgufHeader, TensorInfo, read_header};
use crate::tensor::dequantize;

/// A validated GGUF file whose tensors can be read as f32.
pub struct GgufFile {
    path: PathBuf,
    header: GgufHeader,
}

/// A tensor dequantised to f32, with its dimensions outermost first (row-major, as
/// PyTorch and Burn order them; GGUF stores them innermost first).
#[derive(Clone, Debug, PartialEq)]
pub struct F32Tensor {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Values in row-major order.
    pub data: Vec<f32>,
}

impl GgufFile {
    /// Opens and validates `path` (see [`read_header`]).
    pub fn open(path: &Path) -> Result<Self, GgufError> {
        Ok(Self { path: path.to_owned(), header: read_header(path)? })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header.
    pub fn header(&self) -> &GgufHeader {
        &self.header
    }

    /// The table entry of tensor `name`, or an error naming it.
    pub fn info(&self, name: &str) -> Result<&TensorInfo, GgufError> {
        self.header
            .tensor(name)
            .ok_or_else(|| GgufError::MissingTensor { path: self.path.clone(), name: name.to_owned() })
    }

    /// Reads tensor `name` and dequantises it to f32.
    pub fn read_f32(&self, name: &str) -> Result<F32Tensor, GgufError> {
        let info = self.info(name)?;
        let tensor_error = |source| GgufError::Tensor { path: self.path.clone(), name: name.to_owned(), source };
        let elements: u64 = info.dims.iter().product();
        if !info.ggml_type.is_dequantizable() {
            return Err(tensor_error(crate::DequantError::Unsupported(info.ggml_type)));
        }
        // The header check guarantees the byte range lies inside the file.
        let (block_bytes, block_elems) = info.ggml_type.layout().expect("dequantizable types have a layout");
        let len = elements.div_ceil(block_elems) * block_bytes;
        let io = |e: std::io::Error| GgufError::Io { path: self.path.clone(), reason: format!("tensor {name}: {e}") };
        let mut file = File::open(&self.path).map_err(io)?;
        file.seek(SeekFrom::Start(self.header.data_offset + info.offset)).map_err(io)?;
        let mut bytes = vec![0u8; len as usize];
        file.read_exact(&mut bytes).map_err(io)?;
        let data = dequantize(info.ggml_type, &bytes, elements).map_err(tensor_error)?;
        let shape = info.dims.iter().rev().map(|&d| d as usize).collect();
        Ok(F32Tensor { shape, data })
    }
}
