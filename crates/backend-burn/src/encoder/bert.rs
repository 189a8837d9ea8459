//! The BERT encoder: embeddings, `num_hidden_layers` post-norm transformer layers, and the
//! pooled sentence vector. Field names follow the Hugging Face checkpoint, so loading needs
//! only two renames (`LayerNorm` → `layer_norm`, `attention.self` → `attention.self_attn`).

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{gelu, gelu_approximate, relu};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Device, Int, Tensor};

use super::config::{Activation, BertConfig, Pooling};
use super::gelu;

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
pub struct DenseNorm {
    dense: Linear,
    layer_norm: LayerNorm,
}

#[derive(Module, Debug)]
pub struct AttentionBlock {
    self_attn: SelfAttention,
    output: DenseNorm,
}

#[derive(Module, Debug)]
pub struct Dense {
    dense: Linear,
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
    activation: Activation,
    #[module(skip)]
    pooling: Pooling,
    /// Exact GELU through host memory ([`gelu::gelu_on_host`]): on for the CPU backends.
    #[module(skip)]
    host_gelu: bool,
}

fn linear(d_in: usize, d_out: usize, device: &Device) -> Linear {
    // Zeros: every parameter is overwritten by the checkpoint, so random init is wasted work.
    LinearConfig::new(d_in, d_out).with_initializer(Initializer::Zeros).init(device)
}

fn norm(c: &BertConfig, device: &Device) -> LayerNorm {
    LayerNormConfig::new(c.hidden_size).with_epsilon(c.layer_norm_eps).init(device)
}

fn embedding(n: usize, d: usize, device: &Device) -> Embedding {
    EmbeddingConfig::new(n, d).with_initializer(Initializer::Zeros).init(device)
}

impl BertModel {
    /// An encoder shaped by `c`, with zero weights until a checkpoint is applied.
    pub fn new(c: &BertConfig, device: &Device) -> Self {
        let (h, i) = (c.hidden_size, c.intermediate_size);
        let layer = (0..c.num_hidden_layers)
            .map(|_| Layer {
                attention: AttentionBlock {
                    self_attn: SelfAttention {
                        query: linear(h, h, device),
                        key: linear(h, h, device),
                        value: linear(h, h, device),
                    },
                    output: DenseNorm { dense: linear(h, h, device), layer_norm: norm(c, device) },
                },
                intermediate: Dense { dense: linear(h, i, device) },
                output: DenseNorm { dense: linear(i, h, device), layer_norm: norm(c, device) },
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
            activation: c.activation,
            pooling: c.pooling,
            host_gelu: false,
        }
    }

    /// Computes the exact GELU in host memory with vectorised arithmetic rather than with
    /// the backend's element-wise `erf`: faster on CPU backends, a round trip on a GPU.
    pub fn with_host_gelu(self, on: bool) -> Self {
        Self { host_gelu: on, ..self }
    }

    fn activate(&self, x: Tensor<3>) -> Tensor<3> {
        match self.activation {
            Activation::Gelu if self.host_gelu => gelu::gelu_on_host(x),
            Activation::Gelu => gelu(x),
            Activation::GeluTanh => gelu_approximate(x),
            Activation::Relu => relu(x),
        }
    }

    /// Sentence vectors (not normalised) for a padded batch: `ids` and `mask` are
    /// `[batch, seq]`, `mask` 1 for real tokens and 0 for padding. Returns `[batch, hidden]`.
    pub fn embed(&self, ids: Tensor<2, Int>, mask: Tensor<2>) -> Tensor<2> {
        let [batch, seq] = ids.dims();
        let e = &self.embeddings;
        let positions = e.position_embeddings.weight.val().slice(0..seq).unsqueeze::<3>();
        let token_type = e.token_type_embeddings.weight.val().slice(0..1).unsqueeze::<3>();
        let mut x = e.layer_norm.forward(e.word_embeddings.forward(ids) + positions + token_type);

        let hidden = x.dims()[2];
        let (heads, head_dim) = (self.heads, hidden / self.heads);
        // Padding keys are masked for every head and query: [batch, 1, 1, seq] broadcast.
        let pad: Tensor<4, Bool> =
            mask.clone().equal_elem(0.0).reshape([batch, 1, 1, seq]).expand([batch, heads, seq, seq]);
        let split = |t: Tensor<3>| t.reshape([batch, seq, heads, head_dim]).swap_dims(1, 2);

        for layer in &self.encoder.layer {
            let a = &layer.attention.self_attn;
            let context = attention(
                split(a.query.forward(x.clone())),
                split(a.key.forward(x.clone())),
                split(a.value.forward(x.clone())),
                Some(pad.clone()),
                None,
                AttentionModuleOptions::default(),
            )
            .swap_dims(1, 2)
            .reshape([batch, seq, hidden]);
            let out = &layer.attention.output;
            x = out.layer_norm.forward(out.dense.forward(context) + x);
            let inner = self.activate(layer.intermediate.dense.forward(x.clone()));
            let out = &layer.output;
            x = out.layer_norm.forward(out.dense.forward(inner) + x);
        }

        if self.pooling == Pooling::Cls {
            return x.slice([0..batch, 0..1]).reshape([batch, hidden]);
        }
        let weights = mask.unsqueeze_dim::<3>(2); // [batch, seq, 1]
        let counts = weights.clone().sum_dim(1).clamp_min(1e-9); // [batch, 1, 1]
        (x * weights).sum_dim(1).div(counts).reshape([batch, hidden])
    }
}
