//! The model description: `config.json` (Hugging Face BERT or MPNet),
//! `sentence_bert_config.json` (sequence length) and `1_Pooling/config.json` (pooling mode) of
//! a sentence-transformers folder.

use std::path::Path;

use serde::Deserialize;

use crate::error::LoadError;

/// The activation between the two feed-forward projections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// Exact GELU (erf), BERT's `gelu`.
    Gelu,
    /// The tanh approximation (`gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`).
    GeluTanh,
    /// `relu`.
    Relu,
}

/// How token vectors become one sentence vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    /// The mean over real (non-padding) tokens.
    Mean,
    /// The first token (`[CLS]`).
    Cls,
}

/// The encoder architecture, from `config.json`'s `model_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// `bert`: absolute positions and token types (all-MiniLM-L6-v2, bge, e5).
    Bert,
    /// `mpnet`: positions counted from the padding id and a relative position bias shared by
    /// every layer (all-mpnet-base-v2).
    Mpnet {
        /// Rows of the relative position bias table (`relative_attention_num_buckets`).
        buckets: usize,
        /// The padding id, from which positions are counted (`pad_token_id`).
        pad_token_id: usize,
    },
}

/// The relative position buckets every MPNet uses: Hugging Face's `compute_position_bias`
/// calls `relative_position_bucket` with 32 whatever `config.json` says.
pub const MPNET_BUCKETS: usize = 32;

/// What the encoder needs from `config.json`, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct EncoderConfig {
    pub arch: Arch,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    pub activation: Activation,
    /// Tokens per text after truncation (sentence-transformers' `max_seq_length`).
    pub max_seq_length: usize,
    pub pooling: Pooling,
}

#[derive(Deserialize)]
struct RawConfig {
    model_type: Option<String>,
    #[serde(default)]
    architectures: Vec<String>,
    vocab_size: Option<usize>,
    hidden_size: Option<usize>,
    num_hidden_layers: Option<usize>,
    num_attention_heads: Option<usize>,
    intermediate_size: Option<usize>,
    max_position_embeddings: Option<usize>,
    type_vocab_size: Option<usize>,
    layer_norm_eps: Option<f64>,
    hidden_act: Option<String>,
    position_embedding_type: Option<String>,
    relative_attention_num_buckets: Option<usize>,
    pad_token_id: Option<usize>,
}

#[derive(Deserialize)]
struct SentenceBertConfig {
    max_seq_length: Option<usize>,
}

#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::Read { path: path.to_owned(), source: e })?;
    serde_json::from_str(&text).map_err(|e| LoadError::Invalid { path: path.to_owned(), reason: e.to_string() })
}

impl EncoderConfig {
    /// Reads and checks the configuration files of the model folder `dir`. `max_seq_length`,
    /// when given, replaces the folder's truncation length and is checked the same way.
    pub fn load(dir: &Path, max_seq_length: Option<usize>) -> Result<Self, LoadError> {
        let path = dir.join("config.json");
        let raw: RawConfig = read_json(&path)?;
        let invalid = |reason: String| LoadError::Invalid { path: path.clone(), reason };

        let model_type = raw.model_type.as_deref().unwrap_or("");
        let arch = match model_type {
            "bert" => Arch::Bert,
            "mpnet" => Arch::Mpnet {
                buckets: raw.relative_attention_num_buckets.unwrap_or(MPNET_BUCKETS),
                pad_token_id: raw.pad_token_id.unwrap_or(1),
            },
            _ => {
                let shown = if model_type.is_empty() { "no model_type".to_owned() } else { format!("{model_type:?}") };
                let arch = raw.architectures.first().map(|a| format!(" ({a})")).unwrap_or_default();
                return Err(invalid(format!(
                    "the model is {shown}{arch}; the Burn embedder runs BERT and MPNet encoders (model_type \"bert\" \
                     or \"mpnet\"), e.g. sentence-transformers/all-MiniLM-L6-v2 or all-mpnet-base-v2"
                )));
            }
        };
        if let Arch::Mpnet { buckets, .. } = arch
            && buckets < MPNET_BUCKETS
        {
            return Err(invalid(format!(
                "relative_attention_num_buckets = {buckets} is too small; MPNet looks up {MPNET_BUCKETS} buckets"
            )));
        }
        if let Some(kind) = raw.position_embedding_type.as_deref()
            && kind != "absolute"
        {
            return Err(invalid(format!("position_embedding_type {kind:?} is not supported; allowed: \"absolute\"")));
        }
        let activation = match raw.hidden_act.as_deref().unwrap_or("gelu") {
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            other => {
                return Err(invalid(format!(
                    "hidden_act {other:?} is not supported; allowed: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu"
                )));
            }
        };
        let need = |name: &str, value: Option<usize>| match value {
            Some(v) if v > 0 => Ok(v),
            Some(_) => Err(invalid(format!("{name} must be positive"))),
            None => Err(invalid(format!("{name} is missing"))),
        };
        let hidden_size = need("hidden_size", raw.hidden_size)?;
        let num_attention_heads = need("num_attention_heads", raw.num_attention_heads)?;
        if hidden_size % num_attention_heads != 0 {
            return Err(invalid(format!(
                "hidden_size {hidden_size} is not a multiple of num_attention_heads {num_attention_heads}"
            )));
        }
        let max_position_embeddings = need("max_position_embeddings", raw.max_position_embeddings)?;
        let layer_norm_eps = raw.layer_norm_eps.unwrap_or(1e-12);
        // A negative, zero or NaN epsilon turns every layer norm into NaN.
        if !(layer_norm_eps > 0.0 && (layer_norm_eps as f32).is_finite()) {
            return Err(invalid(format!(
                "layer_norm_eps = {layer_norm_eps} is out of range; allowed: a finite number > 0"
            )));
        }

        let sbert = dir.join("sentence_bert_config.json");
        let (max_seq_length, source) = match max_seq_length {
            Some(n) => (n, None),
            None => {
                let configured =
                    if sbert.is_file() { read_json::<SentenceBertConfig>(&sbert)?.max_seq_length } else { None };
                (configured.unwrap_or(max_position_embeddings.min(512)), Some(sbert))
            }
        };
        // MPNet's positions start after the padding id: the last one is max_seq_length + pad.
        let offset = match arch {
            Arch::Bert => 0,
            Arch::Mpnet { pad_token_id, .. } => pad_token_id + 1,
        };
        let longest = max_position_embeddings.saturating_sub(offset);
        if max_seq_length < 2 || max_seq_length > longest {
            let bound = if offset == 0 {
                format!("max_position_embeddings {max_position_embeddings}")
            } else {
                format!("{longest} (max_position_embeddings {max_position_embeddings} less pad_token_id + 1)")
            };
            let reason = format!("max_seq_length {max_seq_length} must be between 2 and {bound}");
            return Err(match source {
                Some(path) => LoadError::Invalid { path, reason },
                None => LoadError::Option(reason),
            });
        }

        if let Arch::Mpnet { pad_token_id, .. } = arch
            && pad_token_id >= raw.vocab_size.unwrap_or(usize::MAX)
        {
            return Err(invalid(format!("pad_token_id {pad_token_id} is not below vocab_size")));
        }
        Ok(Self {
            arch,
            vocab_size: need("vocab_size", raw.vocab_size)?,
            hidden_size,
            num_hidden_layers: need("num_hidden_layers", raw.num_hidden_layers)?,
            num_attention_heads,
            intermediate_size: need("intermediate_size", raw.intermediate_size)?,
            max_position_embeddings,
            type_vocab_size: raw.type_vocab_size.unwrap_or(2).max(1),
            layer_norm_eps,
            activation,
            max_seq_length,
            pooling: load_pooling(dir)?,
        })
    }

    /// Every tensor the encoder needs, by its name in a Hugging Face checkpoint, with its shape.
    pub fn expected_tensors(&self) -> Vec<(String, Vec<usize>)> {
        let (h, i) = (self.hidden_size, self.intermediate_size);
        let mut out = vec![
            ("embeddings.word_embeddings.weight".to_owned(), vec![self.vocab_size, h]),
            ("embeddings.position_embeddings.weight".to_owned(), vec![self.max_position_embeddings, h]),
            ("embeddings.LayerNorm.weight".to_owned(), vec![h]),
            ("embeddings.LayerNorm.bias".to_owned(), vec![h]),
        ];
        let attention: &[(&str, Vec<usize>)] = match self.arch {
            Arch::Bert => {
                out.push(("embeddings.token_type_embeddings.weight".to_owned(), vec![self.type_vocab_size, h]));
                &[
                    ("attention.self.query.weight", vec![h, h]),
                    ("attention.self.query.bias", vec![h]),
                    ("attention.self.key.weight", vec![h, h]),
                    ("attention.self.key.bias", vec![h]),
                    ("attention.self.value.weight", vec![h, h]),
                    ("attention.self.value.bias", vec![h]),
                    ("attention.output.dense.weight", vec![h, h]),
                    ("attention.output.dense.bias", vec![h]),
                    ("attention.output.LayerNorm.weight", vec![h]),
                    ("attention.output.LayerNorm.bias", vec![h]),
                ]
            }
            Arch::Mpnet { buckets, .. } => {
                out.push((
                    "encoder.relative_attention_bias.weight".to_owned(),
                    vec![buckets, self.num_attention_heads],
                ));
                &[
                    ("attention.attn.q.weight", vec![h, h]),
                    ("attention.attn.q.bias", vec![h]),
                    ("attention.attn.k.weight", vec![h, h]),
                    ("attention.attn.k.bias", vec![h]),
                    ("attention.attn.v.weight", vec![h, h]),
                    ("attention.attn.v.bias", vec![h]),
                    ("attention.attn.o.weight", vec![h, h]),
                    ("attention.attn.o.bias", vec![h]),
                    ("attention.LayerNorm.weight", vec![h]),
                    ("attention.LayerNorm.bias", vec![h]),
                ]
            }
        };
        for l in 0..self.num_hidden_layers {
            let p = format!("encoder.layer.{l}.");
            for (name, shape) in attention.iter().cloned().chain([
                ("intermediate.dense.weight", vec![i, h]),
                ("intermediate.dense.bias", vec![i]),
                ("output.dense.weight", vec![h, i]),
                ("output.dense.bias", vec![h]),
                ("output.LayerNorm.weight", vec![h]),
                ("output.LayerNorm.bias", vec![h]),
            ]) {
                out.push((format!("{p}{name}"), shape));
            }
        }
        out
    }
}

fn load_pooling(dir: &Path) -> Result<Pooling, LoadError> {
    let path = dir.join("1_Pooling").join("config.json");
    if !path.is_file() {
        return Ok(Pooling::Mean);
    }
    let p: PoolingConfig = read_json(&path)?;
    match (
        p.pooling_mode_mean_tokens,
        p.pooling_mode_cls_token,
        p.pooling_mode_max_tokens,
        p.pooling_mode_mean_sqrt_len_tokens,
    ) {
        (true, false, false, false) => Ok(Pooling::Mean),
        (false, true, false, false) => Ok(Pooling::Cls),
        _ => Err(LoadError::Invalid {
            path,
            reason: "unsupported pooling; allowed: exactly one of pooling_mode_mean_tokens, pooling_mode_cls_token"
                .into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(config: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), config).unwrap();
        dir
    }

    const MINI: &str = r#"{"model_type":"bert","vocab_size":100,"hidden_size":8,"num_hidden_layers":2,
        "num_attention_heads":2,"intermediate_size":16,"max_position_embeddings":32}"#;

    #[test]
    fn reads_a_bert_config_with_defaults() {
        let dir = folder(MINI);
        let c = EncoderConfig::load(dir.path(), None).unwrap();
        assert_eq!((c.hidden_size, c.num_attention_heads, c.max_seq_length), (8, 2, 32));
        assert_eq!((c.activation, c.pooling, c.type_vocab_size), (Activation::Gelu, Pooling::Mean, 2));
        assert_eq!(c.expected_tensors().len(), 5 + 2 * 16);
    }

    #[test]
    fn names_another_architecture() {
        let dir = folder(r#"{"model_type":"llama","architectures":["LlamaForCausalLM"]}"#);
        let e = EncoderConfig::load(dir.path(), None).unwrap_err().to_string();
        assert!(e.contains("\"llama\" (LlamaForCausalLM)") && e.contains("BERT and MPNet"), "{e}");
    }

    #[test]
    fn reads_an_mpnet_config_and_bounds_its_sequence_by_the_offset_positions() {
        let mpnet = MINI.replace("\"bert\"", "\"mpnet\"");
        let dir = folder(&mpnet);
        let c = EncoderConfig::load(dir.path(), Some(30)).unwrap();
        assert_eq!(c.arch, Arch::Mpnet { buckets: 32, pad_token_id: 1 });
        // No token types; the bias table instead.
        assert_eq!(c.expected_tensors().len(), 5 + 2 * 16);
        assert!(
            c.expected_tensors().iter().any(|(n, s)| n == "encoder.relative_attention_bias.weight" && s == &[32, 2])
        );
        let e = EncoderConfig::load(dir.path(), Some(31)).unwrap_err().to_string();
        assert!(e.contains("max_seq_length 31 must be between 2 and 30 (max_position_embeddings 32 less"), "{e}");
        let dir =
            folder(&mpnet.replace("\"vocab_size\":100", "\"vocab_size\":100,\"relative_attention_num_buckets\":16"));
        let e = EncoderConfig::load(dir.path(), None).unwrap_err().to_string();
        assert!(e.contains("relative_attention_num_buckets = 16 is too small"), "{e}");
    }

    #[test]
    fn rejects_heads_that_do_not_divide_the_width() {
        let dir = folder(&MINI.replace("\"num_attention_heads\":2", "\"num_attention_heads\":3"));
        let e = EncoderConfig::load(dir.path(), None).unwrap_err().to_string();
        assert!(e.contains("not a multiple of num_attention_heads 3"), "{e}");
    }

    #[test]
    fn sequence_length_comes_from_sentence_bert_config_and_is_bounded() {
        let dir = folder(MINI);
        std::fs::write(dir.path().join("sentence_bert_config.json"), r#"{"max_seq_length": 16}"#).unwrap();
        assert_eq!(EncoderConfig::load(dir.path(), None).unwrap().max_seq_length, 16);
        assert_eq!(EncoderConfig::load(dir.path(), Some(8)).unwrap().max_seq_length, 8, "an option wins over the file");
        std::fs::write(dir.path().join("sentence_bert_config.json"), r#"{"max_seq_length": 64}"#).unwrap();
        let e = EncoderConfig::load(dir.path(), None).unwrap_err().to_string();
        assert!(e.contains("max_seq_length 64") && e.contains("max_position_embeddings 32"), "{e}");
        let e = EncoderConfig::load(dir.path(), Some(33)).unwrap_err().to_string();
        assert!(e.contains("max_seq_length 33") && e.contains("max_position_embeddings 32"), "{e}");
    }

    #[test]
    fn pooling_modes() {
        let dir = folder(MINI);
        std::fs::create_dir(dir.path().join("1_Pooling")).unwrap();
        let pooling = dir.path().join("1_Pooling/config.json");
        std::fs::write(&pooling, r#"{"pooling_mode_cls_token": true}"#).unwrap();
        assert_eq!(EncoderConfig::load(dir.path(), None).unwrap().pooling, Pooling::Cls);
        std::fs::write(&pooling, r#"{"pooling_mode_max_tokens": true}"#).unwrap();
        assert!(EncoderConfig::load(dir.path(), None).unwrap_err().to_string().contains("unsupported pooling"));
    }

    #[test]
    fn layer_norm_eps_must_be_positive_and_finite() {
        for (eps, shown) in [("-1", "-1"), ("0", "0"), ("-1e-12", "-0.000000000001")] {
            let dir = folder(&MINI.replace(
                "\"max_position_embeddings\":32",
                &format!("\"max_position_embeddings\":32,\"layer_norm_eps\":{eps}"),
            ));
            let e = EncoderConfig::load(dir.path(), None).unwrap_err().to_string();
            assert!(
                e.ends_with(&format!(
                    "config.json: layer_norm_eps = {shown} is out of range; allowed: a finite number > 0"
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn unsupported_activation_is_named() {
        let dir = folder(&MINI.replace("\"model_type\":\"bert\"", "\"model_type\":\"bert\",\"hidden_act\":\"swish\""));
        let e = EncoderConfig::load(dir.path(), None).unwrap_err().to_string();
        assert!(e.contains("hidden_act \"swish\""), "{e}");
    }
}
