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
    /// cos and sin of position · base^(−2i/head_dim) for every position of the context,
    /// each pair's value twice (`[n_ctx, head_dim]`), computed once in f64: a forward pass
    /// looks its positions up on the device instead of uploading angles.
    rope_cos: Tensor<2>,
    rope_sin: Tensor<2>,
    /// `[head_dim, head_dim]`: x·P turns each adjacent pair (x₀, x₁) into (−x₁, x₀), so the
    /// rotation is x·cos + (x·P)·sin, one small product and one fused element-wise kernel.
    rope_rotation: Tensor<2>,
    vocab: usize,
    device: Device,
}

/// Keys and values of every layer, `[batch, kv_heads, capacity, head_dim]` each, allocated
/// once for the whole generation (prompt plus new tokens) and written in place: a decode step
/// allocates nothing and every step has the same shapes, so the fused kernels compiled for
/// the first step serve all the others. Positions past `len` hold nothing yet and are masked.
///
/// Sequences of prompts of different lengths share one cache left-padded: every prompt ends
/// at slot `len`, so a decode step writes all rows at the same slot, while each row's
/// positions (for the rotary embedding) start after its padding, which is masked.
#[derive(Clone)]
pub struct KvCache {
    keys: Vec<Tensor<4>>,
    values: Vec<Tensor<4>>,
    /// Slots written.
    len: usize,
    /// `[1, 1, 1, capacity]`: 0, 1, 2, … (a position's slot), compared with `len` for the mask.
    slots: Tensor<4, Int>,
    /// Where rows are padded: each row's padding `[batch]` and its mask (−∞ on the padding,
    /// 0 elsewhere, `[batch, 1, 1, capacity]`). `None` when no row is.
    padding: Option<(Tensor<1, Int>, Tensor<4>)>,
}

impl KvCache {
    /// The cache of a batch of one, repeated for `n` sequences.
    pub fn repeat(&self, n: usize) -> Self {
        let rep = |t: &Vec<Tensor<4>>| t.iter().map(|x| x.clone().repeat_dim(0, n)).collect();
        Self {
            keys: rep(&self.keys),
            values: rep(&self.values),
            len: self.len,
            slots: self.slots.clone(),
            padding: None,
        }
    }

    /// One cache for several prompts' sequences: `parts` are each prompt's cache (a batch of
    /// one, filled to its length) and how many rows repeat it, in row order; every prompt
    /// is moved to end at the longest one's end, with room for `new_tokens` after it.
    pub fn stack(parts: &[(&KvCache, usize)], new_tokens: usize, device: &Device) -> Self {
        let longest = parts.iter().map(|(c, _)| c.len).max().unwrap_or(0);
        let capacity = longest + new_tokens;
        let layers = |pick: fn(&KvCache) -> &Vec<Tensor<4>>| -> Vec<Tensor<4>> {
            (0..pick(parts[0].0).len())
                .map(|l| {
                    let rows = parts
                        .iter()
                        .map(|(c, n)| fit(pick(c)[l].clone(), longest - c.len, capacity, device).repeat_dim(0, *n))
                        .collect();
                    Tensor::cat(rows, 0)
                })
                .collect()
        };
        let slots = slots(capacity, device);
        let pads: Vec<i64> =
            parts.iter().flat_map(|(c, n)| std::iter::repeat_n((longest - c.len) as i64, *n)).collect();
        let padding = pads.iter().any(|&p| p > 0).then(|| {
            let batch = pads.len();
            let mask: Vec<f32> = pads
                .iter()
                .flat_map(|&p| (0..capacity as i64).map(move |slot| if slot < p { f32::NEG_INFINITY } else { 0.0 }))
                .collect();
            let mask = Tensor::<4>::from_data(TensorData::new(mask, [batch, 1, 1, capacity]), device);
            (Tensor::<1, Int>::from_data(TensorData::new(pads, [batch]), device), mask)
        });
        Self { keys: layers(|c| &c.keys), values: layers(|c| &c.values), len: longest, slots, padding }
    }

    /// The first `len` positions of a batch of one, in a new cache with room for `capacity`:
    /// a prompt that begins with this one's first `len` tokens runs only the rest.
    pub fn prefix(&self, len: usize, capacity: usize, device: &Device) -> Self {
        assert!(self.padding.is_none() && len <= self.len && len <= capacity, "a prefix of a batch of one");
        let cut = |t: &Vec<Tensor<4>>| {
            t.iter()
                .map(|x| {
                    let [b, kv, _, hd] = x.dims();
                    fit(x.clone().slice([0..b, 0..kv, 0..len, 0..hd]), 0, capacity, device)
                })
                .collect()
        };
        let slots = slots(capacity, device);
        Self { keys: cut(&self.keys), values: cut(&self.values), len, slots, padding: None }
    }

    /// Row `row`'s positions from slot `from` on (after its padding), copied into a cache of
    /// one sequence that holds exactly them: a finished sequence kept for later prompts.
    pub fn row(&self, row: usize, from: usize, device: &Device) -> Self {
        let len = self.len - from;
        let slots = slots(len, device);
        // A gather, not a view: the batch's tensors stay this cache's alone, so its next
        // write is still in place, and the kept row holds no more than its own positions.
        let at = Tensor::<1, Int>::arange(0..len as i64, device);
        let copy = |t: &Vec<Tensor<4>>| {
            t.iter()
                .map(|x| {
                    let [_, kv, _, hd] = x.dims();
                    x.clone().slice([row..row + 1, 0..kv, from..self.len, 0..hd]).select(2, at.clone())
                })
                .collect()
        };
        Self { keys: copy(&self.keys), values: copy(&self.values), len, slots, padding: None }
    }

    /// Keeps the sequences at `rows` (in that order).
    pub fn select(&self, rows: &[usize], device: &Device) -> Self {
        let idx: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [rows.len()]), device);
        let sel = |t: &Vec<Tensor<4>>| t.iter().map(|x| x.clone().select(0, idx.clone())).collect();
        let padding = self
            .padding
            .as_ref()
            .map(|(pads, mask)| (pads.clone().select(0, idx.clone()), mask.clone().select(0, idx.clone())));
        Self { keys: sel(&self.keys), values: sel(&self.values), len: self.len, slots: self.slots.clone(), padding }
    }

    /// Positions it holds.
    pub fn capacity(&self) -> usize {
        self.slots.dims()[3]
    }
}

/// `[1, 1, 1, capacity]`: each slot's index (see `KvCache::slots`).
fn slots(capacity: usize, device: &Device) -> Tensor<4, Int> {
    Tensor::<1, Int>::arange(0..capacity as i64, device).reshape([1, 1, 1, capacity])
}

/// Softmax over the last dimension (attention scores over key slots), written out so the
/// fusion backend joins it into a few kernels.
fn softmax_slots(scores: Tensor<4>) -> Tensor<4> {
    let weights = (scores.clone() - scores.max_dim(3)).exp();
    weights.clone() / weights.sum_dim(3)
}

/// `[1, kv_heads, len, head_dim]` → `[1, kv_heads, capacity, head_dim]` with `pad` empty slots
/// before and the rest after.
fn fit(t: Tensor<4>, pad: usize, capacity: usize, device: &Device) -> Tensor<4> {
    let [b, kv, len, hd] = t.dims();
    let mut parts = Vec::with_capacity(3);
    if pad > 0 {
        parts.push(Tensor::zeros([b, kv, pad, hd], device));
    }
    parts.push(t);
    if capacity > pad + len {
        parts.push(Tensor::zeros([b, kv, capacity - pad - len, hd], device));
    }
    if parts.len() == 1 { parts.remove(0) } else { Tensor::cat(parts, 2) }
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
    /// Loads the weights of `file`, dequantised to f32, onto `device`, for contexts of up to
    /// `n_ctx` positions.
    pub fn load(file: &GgufFile, config: LlamaConfig, device: &Device, n_ctx: usize) -> Result<Self, String> {
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
        let (rope_cos, rope_sin) = rope_tables(config.rope_base, hd, n_ctx, device);
        let mut rotation = vec![0f32; hd * hd];
        for pair in 0..hd / 2 {
            let (even, odd) = (2 * pair, 2 * pair + 1);
            rotation[odd * hd + even] = -1.0; // out[even] = −x[odd]
            rotation[even * hd + odd] = 1.0; // out[odd] = x[even]
        }
        let rope_rotation = Tensor::from_data(TensorData::new(rotation, [hd, hd]), device);
        Ok(Self {
            config,
            embedding,
            blocks,
            out_norm,
            output,
            rope_cos,
            rope_sin,
            rope_rotation,
            vocab,
            device: device.clone(),
        })
    }

    /// Vocabulary size (rows of the embedding).
    pub fn vocab(&self) -> usize {
        self.vocab
    }

    /// An empty cache of one sequence with room for `capacity` positions (the prompt and
    /// every token to generate after it).
    pub fn empty_cache(&self, capacity: usize) -> KvCache {
        let c = &self.config;
        let shape = [1, c.kv_heads, capacity, c.head_dim];
        let zeros = || (0..c.layers).map(|_| Tensor::zeros(shape, &self.device)).collect::<Vec<_>>();
        let slots = slots(capacity, &self.device);
        KvCache { keys: zeros(), values: zeros(), len: 0, slots, padding: None }
    }

    fn rms_norm(&self, x: Tensor<3>, weight: &Tensor<1>) -> Tensor<3> {
        let rms = (x.clone() * x.clone()).mean_dim(2).add_scalar(self.config.norm_eps).sqrt();
        x.div(rms) * weight.clone().unsqueeze::<3>()
    }

    /// cos and sin for positions `start..start + seq`, `[1, 1, seq, head_dim]` each (see
    /// `rope_cos`), looked up on the device.
    fn rope_angles(&self, start: usize, seq: usize) -> (Tensor<4>, Tensor<4>) {
        let hd = self.config.head_dim;
        let positions = Tensor::<1, Int>::arange(start as i64..(start + seq) as i64, &self.device);
        let look_up = |table: &Tensor<2>| table.clone().select(0, positions.clone()).reshape([1, 1, seq, hd]);
        (look_up(&self.rope_cos), look_up(&self.rope_sin))
    }

    /// cos and sin for one position per row (a decode step of left-padded rows),
    /// `[batch, 1, 1, head_dim]` each.
    fn rope_rows(&self, positions: Tensor<1, Int>) -> (Tensor<4>, Tensor<4>) {
        let (batch, hd) = (positions.dims()[0], self.config.head_dim);
        let look_up = |table: &Tensor<2>| table.clone().select(0, positions.clone()).reshape([batch, 1, 1, hd]);
        (look_up(&self.rope_cos), look_up(&self.rope_sin))
    }

    /// Rotates the adjacent pairs of `x` (`[batch, heads, seq, head_dim]`) by `angles` (see
    /// [`LlamaModel::rope_angles`]).
    fn rope(&self, x: Tensor<4>, angles: &(Tensor<4>, Tensor<4>)) -> Tensor<4> {
        let rotated = x.clone().matmul(self.rope_rotation.clone().unsqueeze());
        x * angles.0.clone() + rotated * angles.1.clone()
    }

    /// Runs `ids` (`[batch, seq]`, row-major) after the positions in `cache`, writes their
    /// keys and values into it, and returns the next-token logits of each row's last position,
    /// `[batch, vocab]`. Several positions at once (a prompt, or the rest of one after a cached
    /// start) run in a batch of one.
    pub fn forward(&self, ids: &[u32], batch: usize, cache: &mut KvCache) -> Tensor<2> {
        let c = &self.config;
        let seq = ids.len() / batch;
        let start = cache.len;
        let end = start + seq;
        assert!(end <= cache.capacity(), "the cache holds {} positions, not {end}", cache.capacity());
        assert!(seq == 1 || cache.padding.is_none(), "a prompt runs in a batch of one");
        let (h, kv, hd) = (c.heads, c.kv_heads, c.head_dim);
        let ids: Vec<i64> = ids.iter().map(|&t| i64::from(t)).collect();
        let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [batch * seq]), &self.device);
        let mut x = self.embedding.clone().select(0, ids).reshape([batch, seq, c.hidden]);
        let angles = match &cache.padding {
            // Left-padded rows: each row's position is its slot less its padding.
            Some((pads, _)) => self.rope_rows(pads.clone().neg().add_scalar(start as i64)),
            None => self.rope_angles(start, seq),
        };
        // One decode step attends over the whole capacity with the unwritten positions
        // masked, so its shapes never change; its query heads are folded into their
        // key/value groups, `[batch, kv_heads, group, head_dim]`, so no key is copied.
        let group = h / kv;
        // −∞ on the positions not written yet, 0 elsewhere, `[1, 1, 1, capacity]`: one
        // tensor per step, broadcast over every layer's scores.
        let decode_bias = (seq == 1).then(|| {
            let unwritten = cache.slots.clone().greater_equal_elem(end as i64);
            let bias =
                Tensor::<4>::zeros([1, 1, 1, cache.capacity()], &self.device).mask_fill(unwritten, f32::NEG_INFINITY);
            // With padding, `[batch, 1, 1, capacity]`: each row's padding masked too.
            match &cache.padding {
                Some((_, mask)) => mask.clone() + bias,
                None => bias,
            }
        });
        // A prompt after cached positions (a shared start): −∞ where a query would see a
        // later position, `[1, 1, seq, end]`.
        let prefix_bias = (seq > 1 && start > 0).then(|| {
            let bias: Vec<f32> = (0..seq)
                .flat_map(|i| (0..end).map(move |j| if j > start + i { f32::NEG_INFINITY } else { 0.0 }))
                .collect();
            Tensor::<4>::from_data(TensorData::new(bias, [1, 1, seq, end]), &self.device)
        });
        let scale = 1.0 / (hd as f64).sqrt();
        let all_heads = h + 2 * kv;
        // Each layer's tensors are moved out and back, so the write below owns them alone
        // and happens in place.
        let layers = std::mem::take(&mut cache.keys).into_iter().zip(std::mem::take(&mut cache.values));
        for (block, (keys, values)) in self.blocks.iter().zip(layers) {
            let qkv = self.rms_norm(x.clone(), &block.attn_norm).matmul(block.qkv.clone().unsqueeze());
            // Heads `from..from + heads` of the Q/K/V product, `[batch, heads, seq, head_dim]`.
            // One position (a decode step) is a view: `[batch, 1, all heads · head_dim]` is
            // `[batch, all heads, 1, head_dim]` in memory, so no copy is made.
            let split = |from: usize, heads: usize| {
                if seq == 1 {
                    qkv.clone().reshape([batch, all_heads, 1, hd]).slice([0..batch, from..from + heads, 0..1, 0..hd])
                } else {
                    qkv.clone()
                        .slice([0..batch, 0..seq, from * hd..(from + heads) * hd])
                        .reshape([batch, seq, heads, hd])
                        .swap_dims(1, 2)
                }
            };
            let q = self.rope(split(0, h), &angles);
            let k = self.rope(split(h, kv), &angles);
            let v = split(h + kv, kv);
            let at = [0..batch, 0..kv, start..end, 0..hd];
            let keys = keys.slice_assign(at.clone(), k.clone());
            let values = values.slice_assign(at, v.clone());
            let context = match &decode_bias {
                // softmax(q·kᵀ/√d + bias)·v written out, so the fusion backend joins the
                // scaling, masking and softmax into a few kernels (Burn's attention op falls
                // back to a dozen unfused ones for these shapes).
                Some(bias) => {
                    let q = q.reshape([batch, kv, group, hd]);
                    let scores = q.matmul(keys.clone().swap_dims(2, 3)).mul_scalar(scale) + bias.clone();
                    softmax_slots(scores).matmul(values.clone()).reshape([batch, seq, h * hd])
                }
                None => {
                    // The prompt: causally; each group of query heads shares one key/value head.
                    let expand = |x: Tensor<4>, len: usize| {
                        x.unsqueeze_dim::<5>(2).expand([batch, kv, group, len, hd]).reshape([batch, h, len, hd])
                    };
                    let context = match &prefix_bias {
                        // After a cached start: every cached key, then its own causally.
                        Some(bias) => {
                            let at = [0..batch, 0..kv, 0..end, 0..hd];
                            let (k, v) =
                                (expand(keys.clone().slice(at.clone()), end), expand(values.clone().slice(at), end));
                            let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale) + bias.clone();
                            softmax_slots(scores).matmul(v)
                        }
                        None => {
                            let options =
                                AttentionModuleOptions { is_causal: true, ..AttentionModuleOptions::default() };
                            attention(q, expand(k, seq), expand(v, seq), None, None, options)
                        }
                    };
                    context.swap_dims(1, 2).reshape([batch, seq, h * hd])
                }
            };
            x = x + context.matmul(block.attn_out.clone().unsqueeze());

            let gate_up = self.rms_norm(x.clone(), &block.ffn_norm).matmul(block.gate_up.clone().unsqueeze());
            let ff = c.intermediate;
            let gate = gate_up.clone().slice([0..batch, 0..seq, 0..ff]);
            let up = gate_up.slice([0..batch, 0..seq, ff..2 * ff]);
            x = x + (silu(gate) * up).matmul(block.down.clone().unsqueeze());
            cache.keys.push(keys);
            cache.values.push(values);
        }
        cache.len = end;
        let last = x.slice([0..batch, seq - 1..seq, 0..c.hidden]);
        let last = self.rms_norm(last, &self.out_norm).reshape([batch, c.hidden]);
        last.matmul(self.output.clone())
    }
}

/// cos and sin of p · base^(−2i/head_dim) for positions p < `n_ctx` and pairs i <
/// head_dim / 2, computed in f64 and stored as f32 `[n_ctx, head_dim]` tables, each pair's
/// value at both of its places.
fn rope_tables(base: f64, head_dim: usize, n_ctx: usize, device: &Device) -> (Tensor<2>, Tensor<2>) {
    let inv_freq: Vec<f64> = (0..head_dim / 2).map(|i| base.powf(-2.0 * i as f64 / head_dim as f64)).collect();
    let mut cos = Vec::with_capacity(n_ctx * head_dim);
    let mut sin = Vec::with_capacity(n_ctx * head_dim);
    for pos in 0..n_ctx {
        for f in &inv_freq {
            let theta = pos as f64 * f;
            let (c, s) = (theta.cos() as f32, theta.sin() as f32);
            cos.extend([c, c]);
            sin.extend([s, s]);
        }
    }
    let table = |data: Vec<f32>| Tensor::from_data(TensorData::new(data, [n_ctx, head_dim]), device);
    (table(cos), table(sin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_swaps_rows_and_columns() {
        assert_eq!(transpose(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3), [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }
}
