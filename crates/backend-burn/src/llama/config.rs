//! The decoder's shape, read from a GGUF's `llama.*` metadata.

use autobranch_gguf::GgufHeader;

/// Architectures this decoder runs (`general.architecture`).
pub const ARCHITECTURES: [&str; 1] = ["llama"];

/// A Llama-family decoder's hyper-parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct LlamaConfig {
    /// Transformer blocks.
    pub layers: usize,
    /// Hidden width.
    pub hidden: usize,
    /// MLP width.
    pub intermediate: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (grouped-query attention when fewer than `heads`).
    pub kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// Rotary base frequency.
    pub rope_base: f64,
    /// RMSNorm epsilon.
    pub norm_eps: f64,
    /// Context length the model was trained with.
    pub context_length: usize,
}

impl LlamaConfig {
    /// Reads the configuration from a header `read_header` has checked (value ranges, head
    /// divisibility, widths the file's tensors can hold, a bounded context length), and
    /// refuses what this decoder does not implement; errors name the key and what was expected.
    pub fn from_gguf(header: &GgufHeader) -> Result<Self, String> {
        let arch = header.architecture().ok_or("the GGUF has no general.architecture")?;
        if !ARCHITECTURES.contains(&arch) {
            return Err(format!(
                "architecture {arch} is not supported by the Burn generator; supported: {}",
                ARCHITECTURES.join(", ")
            ));
        }
        let int = |key: &str| -> Result<usize, String> {
            let full = format!("{arch}.{key}");
            match header.get_u64(&full) {
                Some(v) if v > 0 => Ok(v as usize),
                Some(v) => Err(format!("{full} = {v}; expected a positive integer")),
                None => Err(format!("the GGUF has no {full}")),
            }
        };
        let heads = int("attention.head_count")?;
        let kv_heads = int("attention.head_count_kv").unwrap_or(heads);
        let hidden = int("embedding_length")?;
        if !hidden.is_multiple_of(heads) || !heads.is_multiple_of(kv_heads) {
            return Err(format!(
                "{arch}.embedding_length = {hidden}, head_count = {heads}, head_count_kv = {kv_heads}: the width must \
                 split into heads and the heads into key/value groups"
            ));
        }
        let head_dim = hidden / heads;
        if let Ok(rope_dim) = int("rope.dimension_count")
            && rope_dim != head_dim
        {
            return Err(format!(
                "{arch}.rope.dimension_count = {rope_dim}; the Burn generator supports rotary embeddings over the \
                 whole head ({head_dim})"
            ));
        }
        if let Some(scaling) = header.get_str(&format!("{arch}.rope.scaling.type"))
            && scaling != "none"
        {
            return Err(format!("{arch}.rope.scaling.type = {scaling} is not supported; supported: none"));
        }
        if header.tensor("rope_freqs.weight").is_some() {
            return Err("per-frequency rope factors (rope_freqs.weight, Llama 3.1 scaling) are not supported".into());
        }
        Ok(Self {
            layers: int("block_count")?,
            hidden,
            intermediate: int("feed_forward_length")?,
            heads,
            kv_heads,
            head_dim,
            rope_base: header.get_f64(&format!("{arch}.rope.freq_base")).unwrap_or(10_000.0),
            norm_eps: header.get_f64(&format!("{arch}.attention.layer_norm_rms_epsilon")).unwrap_or(1e-5),
            context_length: int("context_length")?,
        })
    }
}
