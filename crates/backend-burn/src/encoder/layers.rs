//! What BERT and MPNet layers share: zero-initialised parameters (the checkpoint overwrites
//! them), the feed-forward block, the activation and the pooling of token vectors.

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{gelu, gelu_approximate, relu};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use super::config::{Activation, EncoderConfig, Pooling};
use super::gelu;

pub fn linear(d_in: usize, d_out: usize, device: &Device) -> Linear {
    // Zeros: every parameter is overwritten by the checkpoint, so random init is wasted work.
    LinearConfig::new(d_in, d_out).with_initializer(Initializer::Zeros).init(device)
}

pub fn norm(c: &EncoderConfig, device: &Device) -> LayerNorm {
    LayerNormConfig::new(c.hidden_size).with_epsilon(c.layer_norm_eps).init(device)
}

pub fn embedding(n: usize, d: usize, device: &Device) -> Embedding {
    EmbeddingConfig::new(n, d).with_initializer(Initializer::Zeros).init(device)
}

/// A projection followed by a residual layer norm (`*.output` in both checkpoints).
#[derive(Module, Debug)]
pub struct DenseNorm {
    pub dense: Linear,
    pub layer_norm: LayerNorm,
}

impl DenseNorm {
    pub fn new(d_in: usize, c: &EncoderConfig, device: &Device) -> Self {
        Self { dense: linear(d_in, c.hidden_size, device), layer_norm: norm(c, device) }
    }

    /// `layer_norm(dense(x) + residual)`.
    pub fn forward(&self, x: Tensor<3>, residual: Tensor<3>) -> Tensor<3> {
        self.layer_norm.forward(self.dense.forward(x) + residual)
    }
}

#[derive(Module, Debug)]
pub struct Dense {
    pub dense: Linear,
}

/// The activation of the feed-forward block, with exact GELU optionally in host memory.
#[derive(Clone, Copy, Debug)]
pub struct Activate {
    pub activation: Activation,
    /// Exact GELU through host memory ([`gelu::gelu_on_host`]) with vectorised arithmetic
    /// rather than the backend's element-wise `erf`: faster on CPU backends, a round trip on
    /// a GPU, so on for the CPU backends only.
    pub on_host: bool,
}

impl Activate {
    pub fn apply(self, x: Tensor<3>) -> Tensor<3> {
        match self.activation {
            Activation::Gelu if self.on_host => gelu::gelu_on_host(x),
            Activation::Gelu => gelu(x),
            Activation::GeluTanh => gelu_approximate(x),
            Activation::Relu => relu(x),
        }
    }
}

/// Token ids padded to the longest text with `pad`, and the mask (1 real, 0 padding), both
/// `[texts, seq]` on `device`.
pub fn pad_batch(texts: &[&[u32]], pad: u32, device: &Device) -> (Tensor<2, Int>, Tensor<2>, [usize; 2]) {
    let seq = texts.iter().map(|t| t.len()).max().unwrap_or(0).max(1);
    let mut ids = vec![i64::from(pad); texts.len() * seq];
    let mut mask = vec![0f32; texts.len() * seq];
    for (row, text) in texts.iter().enumerate() {
        for (col, &id) in text.iter().enumerate() {
            ids[row * seq + col] = i64::from(id);
            mask[row * seq + col] = 1.0;
        }
    }
    let shape = [texts.len(), seq];
    let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, shape), device);
    let mask = Tensor::<2>::from_data(TensorData::new(mask, shape), device);
    (ids, mask, shape)
}

/// Padding keys masked for every head and query: the mask `[batch, seq]` (0 for padding) as
/// a `[batch, heads, seq, seq]` broadcast.
pub fn key_padding_mask(mask: &Tensor<2>, heads: usize) -> Tensor<4, Bool> {
    let [batch, seq] = mask.dims();
    mask.clone().equal_elem(0.0).reshape([batch, 1, 1, seq]).expand([batch, heads, seq, seq])
}

/// Multi-head self-attention of `x` (`[batch, seq, hidden]`) through the projections `q`,
/// `k`, `v`: Burn's fused `attention` with the padding mask and an optional additive bias on
/// the scores; the heads' contexts come back merged, `[batch, seq, hidden]`.
pub fn self_attention(
    [q, k, v]: [&Linear; 3],
    x: &Tensor<3>,
    pad: &Tensor<4, Bool>,
    bias: Option<&Tensor<4>>,
    heads: usize,
) -> Tensor<3> {
    let [batch, seq, hidden] = x.dims();
    let split = |t: Tensor<3>| t.reshape([batch, seq, heads, hidden / heads]).swap_dims(1, 2);
    attention(
        split(q.forward(x.clone())),
        split(k.forward(x.clone())),
        split(v.forward(x.clone())),
        Some(pad.clone()),
        bias.cloned(),
        AttentionModuleOptions::default(),
    )
    .swap_dims(1, 2)
    .reshape([batch, seq, hidden])
}

/// The sentence vector of each text, `[batch, hidden]`, from token vectors `x` and the mask.
pub fn pool(pooling: Pooling, x: Tensor<3>, mask: Tensor<2>) -> Tensor<2> {
    let [batch, _, hidden] = x.dims();
    if pooling == Pooling::Cls {
        return x.slice([0..batch, 0..1]).reshape([batch, hidden]);
    }
    let weights = mask.unsqueeze_dim::<3>(2); // [batch, seq, 1]
    let counts = weights.clone().sum_dim(1).clamp_min(1e-9); // [batch, 1, 1]
    (x * weights).sum_dim(1).div(counts).reshape([batch, hidden])
}
