//! The MPNet encoder (all-mpnet-base-v2): BERT's post-norm layers without token types,
//! positions counted from the padding id (Hugging Face's `create_position_ids_from_input_ids`),
//! and a relative position bias, T5-style buckets looked up in one table that every layer
//! shares, added to each head's attention scores. Field names follow the checkpoint; loading
//! renames `LayerNorm` → `layer_norm` only.

use burn::module::Module;
use burn::nn::{Embedding, LayerNorm, Linear};
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::config::{EncoderConfig, MPNET_BUCKETS, Pooling};
use super::layers::{
    Activate, Dense, DenseNorm, embedding, key_padding_mask, linear, norm, pad_batch, pool, self_attention,
};

#[derive(Module, Debug)]
pub struct MpnetEmbeddings {
    word_embeddings: Embedding,
    position_embeddings: Embedding,
    layer_norm: LayerNorm,
}

#[derive(Module, Debug)]
pub struct SelfAttention {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
}

#[derive(Module, Debug)]
pub struct AttentionBlock {
    attn: SelfAttention,
    layer_norm: LayerNorm,
}

#[derive(Module, Debug)]
pub struct Layer {
    attention: AttentionBlock,
    intermediate: Dense,
    output: DenseNorm,
}

#[derive(Module, Debug)]
pub struct Encoder {
    layer: Vec<Layer>,
    relative_attention_bias: Embedding,
}

/// An MPNet encoder with its pooling.
#[derive(Module, Debug)]
pub struct MpnetModel {
    embeddings: MpnetEmbeddings,
    encoder: Encoder,
    heads: usize,
    pad_token_id: usize,
    #[module(skip)]
    activate: Activate,
    #[module(skip)]
    pooling: Pooling,
}

/// The bucket of a key `relative` positions after its query (`relative_position_bucket`
/// with 32 buckets and distance 128): 16 per direction, exact below 8, logarithmic to 128.
/// The logarithm is taken in f32, as PyTorch takes it.
pub fn relative_bucket(relative: i64) -> usize {
    let half = (MPNET_BUCKETS / 2) as i64;
    let max_exact = half / 2;
    let n = -relative;
    let base = if n < 0 { half } else { 0 };
    let n = n.abs();
    let offset = if n < max_exact {
        n
    } else {
        let scale = (128.0f32 / max_exact as f32).ln();
        let large = max_exact + ((n as f32 / max_exact as f32).ln() / scale * (half - max_exact) as f32) as i64;
        large.min(half - 1)
    };
    (base + offset) as usize
}

impl MpnetModel {
    /// An encoder shaped by `c` with `buckets` rows of position bias and positions counted
    /// from `pad_token_id` (`Arch::Mpnet`), with zero weights until a checkpoint is applied;
    /// `host_gelu` as in [`Activate`].
    pub fn new(c: &EncoderConfig, buckets: usize, pad_token_id: usize, host_gelu: bool, device: &Device) -> Self {
        let (h, i) = (c.hidden_size, c.intermediate_size);
        let layer = (0..c.num_hidden_layers)
            .map(|_| Layer {
                attention: AttentionBlock {
                    attn: SelfAttention {
                        q: linear(h, h, device),
                        k: linear(h, h, device),
                        v: linear(h, h, device),
                        o: linear(h, h, device),
                    },
                    layer_norm: norm(c, device),
                },
                intermediate: Dense { dense: linear(h, i, device) },
                output: DenseNorm::new(i, c, device),
            })
            .collect();
        Self {
            embeddings: MpnetEmbeddings {
                word_embeddings: embedding(c.vocab_size, h, device),
                position_embeddings: embedding(c.max_position_embeddings, h, device),
                layer_norm: norm(c, device),
            },
            encoder: Encoder { layer, relative_attention_bias: embedding(buckets, c.num_attention_heads, device) },
            heads: c.num_attention_heads,
            pad_token_id,
            activate: Activate { activation: c.activation, on_host: host_gelu },
            pooling: c.pooling,
        }
    }

    /// Position ids: a text's tokens count up from the padding id + 1, skipping any token
    /// equal to the padding id, which (like padding) takes the padding id itself.
    fn positions(&self, texts: &[&[u32]], seq: usize, device: &Device) -> Tensor<2, Int> {
        let pad = self.pad_token_id as i64;
        let mut positions = vec![pad; texts.len() * seq];
        for (row, text) in texts.iter().enumerate() {
            let mut count = 0;
            for (col, &id) in text.iter().enumerate() {
                if i64::from(id) != pad {
                    count += 1;
                    positions[row * seq + col] = pad + count;
                }
            }
        }
        Tensor::from_data(TensorData::new(positions, [texts.len(), seq]), device)
    }

    /// The relative position bias of a `seq`-token batch: `[1, heads, seq, seq]`, one
    /// bucket lookup shared by every layer.
    fn position_bias(&self, seq: usize, device: &Device) -> Tensor<4> {
        let buckets: Vec<i64> =
            (0..seq).flat_map(|q| (0..seq).map(move |k| relative_bucket(k as i64 - q as i64) as i64)).collect();
        let buckets = Tensor::<2, Int>::from_data(TensorData::new(buckets, [1, seq * seq]), device);
        self.encoder
            .relative_attention_bias
            .forward(buckets) // [1, seq·seq, heads]
            .reshape([seq, seq, self.heads])
            .permute([2, 0, 1])
            .unsqueeze::<4>()
    }

    /// Sentence vectors (not normalised), `[texts, hidden]`; padding is the padding id, masked.
    pub fn embed(&self, texts: &[&[u32]], device: &Device) -> Tensor<2> {
        let (ids, mask, [batch, seq]) = pad_batch(texts, self.pad_token_id as u32, device);
        let e = &self.embeddings;
        let positions = e.position_embeddings.forward(self.positions(texts, seq, device));
        let mut x = e.layer_norm.forward(e.word_embeddings.forward(ids) + positions);

        let pad = key_padding_mask(&mask, self.heads);
        let bias = self.position_bias(seq, device).expand([batch, self.heads, seq, seq]);
        for layer in &self.encoder.layer {
            let a = &layer.attention.attn;
            let context = self_attention([&a.q, &a.k, &a.v], &x, &pad, Some(&bias), self.heads);
            x = layer.attention.layer_norm.forward(a.o.forward(context) + x);
            let inner = self.activate.apply(layer.intermediate.dense.forward(x.clone()));
            x = layer.output.forward(inner, x);
        }
        pool(self.pooling, x, mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hugging Face's buckets (`MPNetEncoder.relative_position_bucket`, transformers 5.24 on
    /// torch 2.15): exact to 7, then each bucket's first distance, where a logarithm lands on
    /// an integer for 16, 32 and 64; a key after its query is in the upper half.
    #[test]
    fn buckets_match_transformers_at_every_boundary() {
        let torch = [
            (0, 0),
            (7, 7),
            (8, 8),
            (11, 8),
            (12, 9),
            (15, 9),
            (16, 10),
            (22, 10),
            (23, 11),
            (31, 11),
            (32, 12),
            (45, 12),
            (46, 13),
            (63, 13),
            (64, 14),
            (90, 14),
            (91, 15),
            (128, 15),
            (383, 15),
        ];
        for (distance, bucket) in torch {
            assert_eq!(relative_bucket(-distance), bucket, "key {distance} before its query");
        }
        for (distance, bucket) in [(1, 17), (7, 23), (8, 24), (16, 26), (32, 28), (64, 30), (128, 31)] {
            assert_eq!(relative_bucket(distance), bucket, "key {distance} after its query");
        }
    }
}
