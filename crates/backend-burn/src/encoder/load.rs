//! Loading a checkpoint into an [`Encoder`]: the safetensors header is checked against the
//! configuration first (so a missing or misshaped tensor is named, with both shapes, in
//! the file's own naming), then `burn-store` applies the tensors, transposing linear
//! weights and casting half-precision files to f32.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::Path;

use burn::store::{
    FloatCastAdapter, KeyRemapper, ModuleAdapter, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore,
};
use burn::tensor::{DType, Device};
use serde::Deserialize;

use super::Encoder;
use super::bert::BertModel;
use super::config::{Arch, EncoderConfig};
use super::mpnet::MpnetModel;
use crate::error::LoadError;

/// Safetensors headers above this size are refused as corrupt (real ones are kilobytes).
const MAX_HEADER: u64 = 100 << 20;

#[derive(Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [u64; 2],
}

/// Tensor name → (dtype, shape) from a safetensors header, with the data extents checked
/// against the file size.
fn read_header(path: &Path) -> Result<HashMap<String, (String, Vec<usize>)>, LoadError> {
    let invalid = |reason: String| LoadError::Invalid { path: path.to_owned(), reason };
    let read = |e| LoadError::Read { path: path.to_owned(), source: e };
    let mut file = std::fs::File::open(path).map_err(read)?;
    let size = file.metadata().map_err(read)?.len();
    let mut len = [0u8; 8];
    file.read_exact(&mut len).map_err(|_| invalid("not a safetensors file: shorter than its 8-byte header".into()))?;
    let len = u64::from_le_bytes(len);
    if len > MAX_HEADER || 8 + len > size {
        return Err(invalid(format!("not a safetensors file: header length {len} does not fit a {size}-byte file")));
    }
    let mut header = vec![0u8; len as usize];
    file.read_exact(&mut header).map_err(read)?;
    let raw: HashMap<String, serde_json::Value> = serde_json::from_slice(&header)
        .map_err(|e| invalid(format!("not a safetensors file: its header is not a JSON object ({e})")))?;
    let data = size - 8 - len;
    let mut out = HashMap::new();
    for (name, value) in raw {
        if name == "__metadata__" {
            continue;
        }
        let entry: Entry =
            serde_json::from_value(value).map_err(|e| invalid(format!("header entry {name:?} is malformed: {e}")))?;
        let [start, end] = entry.data_offsets;
        if start > end || end > data {
            return Err(invalid(format!(
                "tensor {name} claims bytes {start}..{end} but the file holds {data} bytes of data (truncated?)"
            )));
        }
        out.insert(name, (entry.dtype, entry.shape));
    }
    Ok(out)
}

/// Checks that `path` holds every tensor `config` needs with the right shape and a float
/// dtype, and as many layers as `config` says; returns the name prefix the file uses (`""`,
/// or the model type's, `"bert."` / `"mpnet."`, as masked-LM checkpoints name them). Only the
/// header is read, and the layer count is checked first, so an absurd configuration costs
/// nothing.
fn check_tensors(path: &Path, config: &EncoderConfig) -> Result<&'static str, LoadError> {
    let header = read_header(path)?;
    let invalid = |reason: String| LoadError::Invalid { path: path.to_owned(), reason };
    let typed = match config.arch {
        Arch::Bert => "bert.",
        Arch::Mpnet { .. } => "mpnet.",
    };
    let prefix = if header.contains_key(&format!("{typed}embeddings.word_embeddings.weight")) { typed } else { "" };
    let layer_prefix = format!("{prefix}encoder.layer.");
    let layers: BTreeSet<usize> =
        header.keys().filter_map(|name| name.strip_prefix(&layer_prefix)?.split('.').next()?.parse().ok()).collect();
    if layers.len() != config.num_hidden_layers {
        let held = match (layers.first(), layers.last()) {
            (Some(first), Some(last)) => format!(": {layer_prefix}{first} to {layer_prefix}{last}"),
            _ => String::new(),
        };
        return Err(invalid(format!(
            "config.json has num_hidden_layers = {}, but the file holds {}{held}",
            config.num_hidden_layers,
            layers.len()
        )));
    }
    let mut missing = Vec::new();
    for (name, want) in config.expected_tensors() {
        let full = format!("{prefix}{name}");
        match header.get(&full) {
            None => missing.push(full),
            Some((dtype, shape)) => {
                if shape != &want {
                    return Err(invalid(format!(
                        "tensor {full} has shape {shape:?}, but config.json implies {want:?}"
                    )));
                }
                if !matches!(dtype.as_str(), "F32" | "F16" | "BF16") {
                    return Err(invalid(format!("tensor {full} has dtype {dtype}; allowed: F32, F16, BF16")));
                }
            }
        }
    }
    if !missing.is_empty() {
        let shown = missing.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
        let more = if missing.len() > 5 { format!(" and {} more", missing.len() - 5) } else { String::new() };
        return Err(invalid(format!("missing tensors required by config.json: {shown}{more}")));
    }
    Ok(prefix)
}

/// Builds the encoder described by `config` on `device` and loads `weights` into it;
/// `host_gelu` computes the exact GELU in host memory ([`super::layers::Activate`]).
pub fn load(weights: &Path, config: &EncoderConfig, host_gelu: bool, device: &Device) -> Result<Encoder, LoadError> {
    let prefix = check_tensors(weights, config)?;
    let renames: &[(&str, &str)] = match config.arch {
        Arch::Bert => &[(r"\.LayerNorm\.", ".layer_norm."), (r"\.attention\.self\.", ".attention.self_attn.")],
        Arch::Mpnet { .. } => &[(r"\.LayerNorm\.", ".layer_norm.")],
    };
    let mut remap = KeyRemapper::new();
    for &(from, to) in renames {
        remap = remap.add_pattern(from, to).expect("the patterns are valid regexes");
    }
    if !prefix.is_empty() {
        remap = remap.add_pattern(format!("^{}", regex_escape(prefix)), "").expect("the pattern is a valid regex");
    }
    let mut store = SafetensorsStore::from_file(weights)
        .remap(remap)
        .with_from_adapter(PyTorchToBurnAdapter.chain(FloatCastAdapter::to(DType::F32)))
        .allow_partial(true);
    Ok(match config.arch {
        Arch::Bert => Encoder::Bert(apply(BertModel::new(config, host_gelu, device), &mut store, weights)?),
        Arch::Mpnet { buckets, pad_token_id } => {
            let model = MpnetModel::new(config, buckets, pad_token_id, host_gelu, device);
            Encoder::Mpnet(apply(model, &mut store, weights)?)
        }
    })
}

/// `"mpnet."` as a regex matching itself.
fn regex_escape(prefix: &str) -> String {
    prefix.replace('.', "\\.")
}

/// Loads the file's tensors into `model`, naming whatever did not apply.
fn apply<M: ModuleSnapshot>(mut model: M, store: &mut SafetensorsStore, weights: &Path) -> Result<M, LoadError> {
    let result =
        model.load_from(store).map_err(|e| LoadError::Invalid { path: weights.to_owned(), reason: e.to_string() })?;
    // The header check names problems in the file's terms; this catches anything it missed.
    if !result.errors.is_empty() || !result.missing.is_empty() {
        let mut problems: Vec<String> = result.errors.iter().map(ToString::to_string).collect();
        problems.extend(result.missing.iter().map(|(path, _)| format!("{path} is missing")));
        return Err(LoadError::Invalid { path: weights.to_owned(), reason: problems.join("; ") });
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, tensors: &[(String, Vec<usize>)]) -> std::path::PathBuf {
        let mut header = serde_json::Map::new();
        let mut offset = 0u64;
        for (name, shape) in tensors {
            let bytes = 4 * shape.iter().product::<usize>() as u64;
            header.insert(
                name.clone(),
                serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + bytes]}),
            );
            offset += bytes;
        }
        let header = serde_json::to_vec(&header).unwrap();
        let mut file = (header.len() as u64).to_le_bytes().to_vec();
        file.extend(header);
        file.resize(file.len() + offset as usize, 0);
        let path = dir.join("model.safetensors");
        std::fs::write(&path, file).unwrap();
        path
    }

    fn tiny() -> EncoderConfig {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"model_type":"bert","vocab_size":10,"hidden_size":4,"num_hidden_layers":1,
                "num_attention_heads":2,"intermediate_size":8,"max_position_embeddings":6}"#,
        )
        .unwrap();
        EncoderConfig::load(dir.path(), None).unwrap()
    }

    #[test]
    fn a_complete_file_passes_with_or_without_the_bert_prefix() {
        let config = tiny();
        let dir = tempfile::tempdir().unwrap();
        let all = config.expected_tensors();
        assert_eq!(check_tensors(&write(dir.path(), &all), &config).unwrap(), "");
        let prefixed: Vec<(String, Vec<usize>)> = all.iter().map(|(n, s)| (format!("bert.{n}"), s.clone())).collect();
        assert_eq!(check_tensors(&write(dir.path(), &prefixed), &config).unwrap(), "bert.");
    }

    #[test]
    fn names_a_misshaped_tensor_with_both_shapes() {
        let config = tiny();
        let dir = tempfile::tempdir().unwrap();
        let mut all = config.expected_tensors();
        let bad = all.iter_mut().find(|(n, _)| n.ends_with("layer.0.intermediate.dense.weight")).unwrap();
        bad.1 = vec![8, 5];
        let e = check_tensors(&write(dir.path(), &all), &config).unwrap_err().to_string();
        assert!(
            e.contains("encoder.layer.0.intermediate.dense.weight has shape [8, 5], but config.json implies [8, 4]"),
            "{e}"
        );
    }

    #[test]
    fn the_layer_count_must_match_the_file_before_anything_is_built() {
        let mut config = tiny();
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &config.expected_tensors());
        config.num_hidden_layers = 10_000_000;
        let e = check_tensors(&path, &config).unwrap_err().to_string();
        assert!(
            e.ends_with(
                "config.json has num_hidden_layers = 10000000, but the file holds 1: encoder.layer.0 to \
                 encoder.layer.0"
            ),
            "{e}"
        );
    }

    #[test]
    fn names_missing_tensors() {
        let config = tiny();
        let dir = tempfile::tempdir().unwrap();
        let mut all = config.expected_tensors();
        all.retain(|(n, _)| !n.contains("value"));
        let e = check_tensors(&write(dir.path(), &all), &config).unwrap_err().to_string();
        assert!(e.contains("missing tensors") && e.contains("encoder.layer.0.attention.self.value.weight"), "{e}");
    }

    #[test]
    fn refuses_files_that_are_not_safetensors() {
        let config = tiny();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        std::fs::write(&path, b"\xff\xff\xff\xff\xff\xff\xff\x7fjunk").unwrap();
        assert!(check_tensors(&path, &config).unwrap_err().to_string().contains("header length"));
        std::fs::write(&path, b"abc").unwrap();
        assert!(check_tensors(&path, &config).unwrap_err().to_string().contains("8-byte header"));
        let mut bytes = 4u64.to_le_bytes().to_vec();
        bytes.extend(b"[1,2");
        std::fs::write(&path, bytes).unwrap();
        assert!(check_tensors(&path, &config).unwrap_err().to_string().contains("not a JSON object"));
    }

    #[test]
    fn refuses_a_truncated_file() {
        let config = tiny();
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &config.expected_tensors());
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        assert!(check_tensors(&path, &config).unwrap_err().to_string().contains("truncated"));
    }
}
