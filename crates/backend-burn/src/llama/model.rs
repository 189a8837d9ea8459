//! The Llama decoder on Burn: token embedding, RMSNorm, rotary embeddings (llama.cpp's
//! "normal" adjacent-pair rotation, which GGUF's permuted Q/K weights expect), grouped-query
//! attention with a KV cache, SwiGLU MLP, and the (possibly tied) output projection.
//! Q/K/V and gate/up are fused into one matrix each at load time: two GEMMs fewer per layer.

use autobranch_gguf::{F32Tensor, GgufError, GgufFile};
use burn::tensor::activation::silu;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::config::LlamaConfig;

struct Block {
    attn_norm: Tensor<1>,
    /// `[hidden, (heads + 2·kv_heads)·head_dim]`: Q, K, V side by side.
    qkv: Tensor<2>,
    /// `[heads·head_dim, hidden]`.
    attn_out: Tensor<2>,
    ffn_norm: Tensor<1>,
    /// `[hidden, 2·intermediate]`: gate, up.
    gate_up: Tensor<2>,
    /// `[intermediate, hidden]`.
    down: Tensor<2>,
}

/// A loaded decoder.
pub struct LlamaModel {
    config: LlamaConfig,
    /// `[vocab, hidden]`, rows looked up by token id.
    embedding: Tensor<2>,
    blocks: Vec<Block>,
    out_norm: Tensor<1>,
    /// `[hidden, vocab]`.
    output: Tensor<2>,
    /// base^(−2i/head_dim) for each rotated pair i. The angles are computed per forward pass
    /// for its positions only, so nothing is allocated per position of the context (a
    /// model may claim millions).
    inv_freq: Vec<f64>,
    vocab: usize,
    device: Device,
}

/// Keys and values of every layer, `[batch, kv_heads, positions, head_dim]` each (no
/// layers until the first forward pass).
#[derive(Clone)]
pub struct KvCache {
    keys: Vec<Tensor<4>>,
    values: Vec<Tensor<4>>,
    len: usize,
}

impl KvCache {
    /// The cache of a batch of one, repeated for `n` sequences.
    pub fn repeat(&self, n: usize) -> Self {
        let rep = |t: &Vec<Tensor<4>>| t.iter().map(|x| x.clone().repeat_dim(0, n)).collect();
        Self { keys: rep(&self.keys), values: rep(&self.values), len: self.len }
    }

    /// Keeps the sequences at `rows` (in that order).
    pub fn select(&self, rows: &[usize], device: &Device) -> Self {
        let idx: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [rows.len()]), device);
        let sel = |t: &Vec<Tensor<4>>| t.iter().map(|x| x.clone().select(0, idx.clone())).collect();
        Self { keys: sel(&self.keys), values: sel(&self.values), len: self.len }
    }
}

/// Row-major `[rows, cols]` → `[cols, rows]`.
fn transpose(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; data.len()];
    for (r, row) in data.chunks_exact(cols).enumerate() {
        for (c, &x) in row.iter().enumerate() {
            out[c * rows + r] = x;
        }
    }
    out
}

struct Loader<'a> {
    file: &'a GgufFile,
    device: &'a Device,
}

impl Loader<'_> {
    /// Tensor `name`, checked against the shape the configuration implies (outermost first).
    fn read(&self, name: &str, shape: &[usize]) -> Result<F32Tensor, String> {
        let t = self.file.read_f32(name).map_err(|e| match e {
            GgufError::MissingTensor { name, .. } => format!("the GGUF has no tensor {name}"),
            other => other.to_string(),
        })?;
        if t.shape != shape {
            return Err(format!(
                "tensor {name} has shape {:?}, but the metadata implies {shape:?} (outermost first)",
                t.shape
            ));
        }
        Ok(t)
    }

    fn vector(&self, name: &str, len: usize) -> Result<Tensor<1>, String> {
        let t = self.read(name, &[len])?;
        Ok(Tensor::from_data(TensorData::new(t.data, [len]), self.device))
    }

    /// Linear weights stored `[out, in]` (GGUF/PyTorch), stacked along `out` and returned
    /// as one `[in, Σ out]` matrix for `x · W`.
    fn linear(&self, parts: &[(&str, usize)], d_in: usize) -> Result<Tensor<2>, String> {
        let mut stacked = Vec::new();
        let mut d_out = 0;
        for &(name, rows) in parts {
            stacked.extend(self.read(name, &[rows, d_in])?.data);
            d_out += rows;
        }
        let data = transpose(&stacked, d_out, d_in);
        Ok(Tensor::from_data(TensorData::new(data, [d_in, d_out]), self.device))
    }
}

impl LlamaModel {
    /// Loads the weights of `file`, dequantised to f32, onto `device`.
    pub fn load(file: &GgufFile, config: LlamaConfig, device: &Device) -> Result<Self, String> {
        let l = Loader { file, device };
        let (d, hd, ff) = (config.hidden, config.head_dim, config.intermediate);
        let vocab = file.info("token_embd.weight").map_err(|e| e.to_string())?.dims.get(1).copied().unwrap_or(0);
        let vocab = vocab as usize;
        let embedding = l.read("token_embd.weight", &[vocab, d])?;
        let output = if file.header().tensor("output.weight").is_some() {
            l.linear(&[("output.weight", vocab)], d)?
        } else {
            // Tied: the output projection is the embedding matrix.
            Tensor::from_data(TensorData::new(transpose(&embedding.data, vocab, d), [d, vocab]), device)
        };
        let embedding = Tensor::from_data(TensorData::new(embedding.data, [vocab, d]), device);
        let blocks = (0..config.layers)
            .map(|i| {
                let n = |s: &str| format!("blk.{i}.{s}.weight");
                Ok(Block {
                    attn_norm: l.vector(&n("attn_norm"), d)?,
                    qkv: l.linear(
                        &[
                            (&n("attn_q"), config.heads * hd),
                            (&n("attn_k"), config.kv_heads * hd),
                            (&n("attn_v"), config.kv_heads * hd),
                        ],
                        d,
                    )?,
                    attn_out: l.linear(&[(&n("attn_output"), d)], config.heads * hd)?,
                    ffn_norm: l.vector(&n("ffn_norm"), d)?,
                    gate_up: l.linear(&[(&n("ffn_gate"), ff), (&n("ffn_up"), ff)], d)?,
                    down: l.linear(&[(&n("ffn_down"), d)], ff)?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let out_norm = l.vector("output_norm.weight", d)?;
        let inv_freq = (0..hd / 2).map(|i| config.rope_base.powf(-2.0 * i as f64 / hd as f64)).collect();
        Ok(Self { config, embedding, blocks, out_norm, output, inv_freq, vocab, device: device.clone() })
    }

    /// Vocabulary size (rows of the embedding).
    pub fn vocab(&self) -> usize {
        self.vocab
    }

    /// An empty cache (its batch size is set by the first forward pass).
    pub fn empty_cache(&self) -> KvCache {
        KvCache { keys: Vec::new(), values: Vec::new(), len: 0 }
    }

    fn rms_norm(&self, x: Tensor<3>, weight: &Tensor<1>) -> Tensor<3> {
        let rms = (x.clone() * x.clone()).mean_dim(2).add_scalar(self.config.norm_eps).sqrt();
        x.div(rms) * weight.clone().unsqueeze::<3>()
    }

    /// cos and sin of position · base^(−2i/head_dim) for positions `start..start + seq`,
    /// `[1, 1, seq, head_dim / 2, 1]` each.
    fn rope_angles(&self, start: usize, seq: usize) -> (Tensor<5>, Tensor<5>) {
        let half = self.inv_freq.len();
        let mut cos = Vec::with_capacity(seq * half);
        let mut sin = Vec::with_capacity(seq * half);
        for pos in start..start + seq {
            for f in &self.inv_freq {
                let theta = pos as f64 * f;
                cos.push(theta.cos() as f32);
                sin.push(theta.sin() as f32);
            }
        }
        let shape = [1, 1, seq, half, 1];
        let tensor = |data: Vec<f32>| Tensor::from_data(TensorData::new(data, shape), &self.device);
        (tensor(cos), tensor(sin))
    }

    /// Rotates adjacent pairs of `x` (`[batch, heads, seq, head_dim]`) by `angles` (see
    /// [`LlamaModel::rope_angles`]).
    fn rope(&self, x: Tensor<4>, angles: &(Tensor<5>, Tensor<5>)) -> Tensor<4> {
        let [b, h, s, hd] = x.dims();
        let (cos, sin) = (angles.0.clone(), angles.1.clone());
        let pairs = x.reshape([b, h, s, hd / 2, 2]);
        let even = pairs.clone().slice([0..b, 0..h, 0..s, 0..hd / 2, 0..1]);
        let odd = pairs.slice([0..b, 0..h, 0..s, 0..hd / 2, 1..2]);
        let rot_even = even.clone() * cos.clone() - odd.clone() * sin.clone();
        let rot_odd = even * sin + odd * cos;
        Tensor::cat(vec![rot_even, rot_odd], 4).reshape([b, h, s, hd])
    }

    /// Runs `ids` (`[batch, seq]`, row-major) after the positions in `cache`, appends their
    /// keys and values to it, and returns the next-token logits of each row's last position,
    /// `[batch, vocab]`.
    pub fn forward(&self, ids: &[u32], batch: usize, cache: &mut KvCache) -> Tensor<2> {
        let c = &self.config;
        let seq = ids.len() / batch;
        let start = cache.len;
        let (h, kv, hd) = (c.heads, c.kv_heads, c.head_dim);
        let ids: Vec<i64> = ids.iter().map(|&t| i64::from(t)).collect();
        let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [batch * seq]), &self.device);
        let mut x = self.embedding.clone().select(0, ids).reshape([batch, seq, c.hidden]);
        // Causal masking is needed only when several new positions see each other; the
        // prompt always starts an empty cache, so query i sees keys 0..=i.
        let options = AttentionModuleOptions { is_causal: seq > 1, ..AttentionModuleOptions::default() };
        let angles = self.rope_angles(start, seq);
        for (layer, block) in self.blocks.iter().enumerate() {
            let qkv = self.rms_norm(x.clone(), &block.attn_norm).matmul(block.qkv.clone().unsqueeze());
            let split = |from: usize, heads: usize| {
                qkv.clone()
                    .slice([0..batch, 0..seq, from * hd..(from + heads) * hd])
                    .reshape([batch, seq, heads, hd])
                    .swap_dims(1, 2)
            };
            let q = self.rope(split(0, h), &angles);
            let k = self.rope(split(h, kv), &angles);
            let v = split(h + kv, kv);
            let (keys, values) = match (cache.keys.get(layer), cache.values.get(layer)) {
                (Some(pk), Some(pv)) => (Tensor::cat(vec![pk.clone(), k], 2), Tensor::cat(vec![pv.clone(), v], 2)),
                _ => (k, v),
            };
            if layer < cache.keys.len() {
                cache.keys[layer] = keys.clone();
                cache.values[layer] = values.clone();
            } else {
                cache.keys.push(keys.clone());
                cache.values.push(values.clone());
            }
            // Each group of heads / kv_heads query heads shares one key/value head.
            let t = start + seq;
            let expand =
                |x: Tensor<4>| x.unsqueeze_dim::<5>(2).expand([batch, kv, h / kv, t, hd]).reshape([batch, h, t, hd]);
            let context = attention(q, expand(keys), expand(values), None, None, options).swap_dims(1, 2).reshape([
                batch,
                seq,
                h * hd,
            ]);
            x = x + context.matmul(block.attn_out.clone().unsqueeze());

            let gate_up = self.rms_norm(x.clone(), &block.ffn_norm).matmul(block.gate_up.clone().unsqueeze());
            let ff = c.intermediate;
            let gate = gate_up.clone().slice([0..batch, 0..seq, 0..ff]);
            let up = gate_up.slice([0..batch, 0..seq, ff..2 * ff]);
            x = x + (silu(gate) * up).matmul(block.down.clone().unsqueeze());
        }
        cache.len = start + seq;
        let last = x.slice([0..batch, seq - 1..seq, 0..c.hidden]);
        let last = self.rms_norm(last, &self.out_norm).reshape([batch, c.hidden]);
        last.matmul(self.output.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_swaps_rows_and_columns() {
        assert_eq!(transpose(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3), [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }
}
