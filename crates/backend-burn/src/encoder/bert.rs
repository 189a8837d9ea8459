//! The BERT encoder: embeddings, `num_hidden_layers` post-norm transformer layers, and the
//! pooled sentence vector. Field names follow the Hugging Face checkpoint, so loading needs
//! only two renames (`LayerNorm` → `layer_norm`, `attention.self` → `attention.self_attn`).

use burn::module::Module;
use burn::nn::{Embedding, LayerNorm, Linear};
use burn::tensor::{Device, Tensor};

use super::config::{EncoderConfig, Pooling};
use super::layers::{
    Activate, Dense, DenseNorm, embedding, key_padding_mask, linear, norm, pad_batch, pool, self_attention,
};

#[derive(Module, Debug)]
pub struct BertEmbeddings {
    word_embeddings: Embedding,
    position_embeddings: Embedding,
    token_type_embeddings: Embedding,
    layer_norm: LayerNorm,
}

#[derive(Module, Debug)]
pub struct SelfAttention {
    query: Linear,
    key: Linear,
    value: Linear,
}

#[derive(Module, Debug)]
pub struct AttentionBlock {
    self_attn: SelfAttention,
    output: DenseNorm,
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
}

/// A BERT encoder with its pooling.
#[derive(Module, Debug)]
pub struct BertModel {
    embeddings: BertEmbeddings,
    encoder: Encoder,
    heads: usize,
    #[module(skip)]
    activate: Activate,
    #[module(skip)]
    pooling: Pooling,
}

impl BertModel {
    /// An encoder shaped by `c`, with zero weights until a checkpoint is applied; `host_gelu`
    /// as in [`Activate`].
    pub fn new(c: &EncoderConfig, host_gelu: bool, device: &Device) -> Self {
        let (h, i) = (c.hidden_size, c.intermediate_size);
        let layer = (0..c.num_hidden_layers)
            .map(|_| Layer {
                attention: AttentionBlock {
                    self_attn: SelfAttention {
                        query: linear(h, h, device),
                        key: linear(h, h, device),
                        value: linear(h, h, device),
                    },
                    output: DenseNorm::new(h, c, device),
                },
                intermediate: Dense { dense: linear(h, i, device) },
                output: DenseNorm::new(i, c, device),
            })
            .collect();
        Self {
            embeddings: BertEmbeddings {
                word_embeddings: embedding(c.vocab_size, h, device),
                position_embeddings: embedding(c.max_position_embeddings, h, device),
                token_type_embeddings: embedding(c.type_vocab_size, h, device),
                layer_norm: norm(c, device),
            },
            encoder: Encoder { layer },
            heads: c.num_attention_heads,
            activate: Activate { activation: c.activation, on_host: host_gelu },
            pooling: c.pooling,
        }
    }

    /// Sentence vectors (not normalised), `[texts, hidden]`; padding is id 0, masked.
    pub fn embed(&self, texts: &[&[u32]], device: &Device) -> Tensor<2> {
        let (ids, mask, [_, seq]) = pad_batch(texts, 0, device);
        let e = &self.embeddings;
        let positions = e.position_embeddings.weight.val().slice(0..seq).unsqueeze::<3>();
        let token_type = e.token_type_embeddings.weight.val().slice(0..1).unsqueeze::<3>();
        let mut x = e.layer_norm.forward(e.word_embeddings.forward(ids) + positions + token_type);

        let pad = key_padding_mask(&mask, self.heads);
        for layer in &self.encoder.layer {
            let a = &layer.attention.self_attn;
            let context = self_attention([&a.query, &a.key, &a.value], &x, &pad, None, self.heads);
            x = layer.attention.output.forward(context, x);
            let inner = self.activate.apply(layer.intermediate.dense.forward(x.clone()));
            x = layer.output.forward(inner, x);
        }
        pool(self.pooling, x, mask)
    }
}
