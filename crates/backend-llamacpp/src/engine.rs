//! The model and its decode loops. Everything here runs on the worker thread that owns the
//! llama.cpp model; nothing here is async.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use autobranch_core::model::{ModelError, Prompt, SamplingParams};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use autobranch_gguf::{self as gguf, BertTokenizer, ChatTemplate, GgufHeader};

use crate::devices;
use crate::options::LlamaCppOptions;

/// llama.cpp's backend may be initialised once per process. Its own log goes to stderr only
/// when `AUTOBRANCH_LLAMA_LOG` is set (useful when a model refuses to load).
pub(crate) fn backend() -> Result<&'static LlamaBackend, ModelError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            // Silenced before initialising: a GPU build's backends log their probing (a CUDA
            // build without a driver prints why) while they register.
            if std::env::var_os("AUTOBRANCH_LLAMA_LOG").is_none() {
                llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default().with_logs_enabled(false));
            }
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| ModelError::Unavailable(format!("cannot initialise llama.cpp: {e}")))
}

/// A loaded GGUF model.
pub struct Engine {
    path: PathBuf,
    model: LlamaModel,
    header: GgufHeader,
    template: Option<ChatTemplate>,
    bert_tokenizer: Option<BertTokenizer>,
    options: LlamaCppOptions,
    /// Layers on the GPU (0: the model runs on the CPU).
    gpu_layers: u32,
}

pub(crate) fn backend_error(context: &str, e: impl std::fmt::Display) -> ModelError {
    ModelError::Backend(format!("{context}: {e}"))
}

/// The seed llama.cpp's dist sampler gets: u32::MAX means "random" there, so avoid it.
fn sampler_seed(seed: u64) -> u32 {
    let s = (seed ^ (seed >> 32)) as u32;
    if s == u32::MAX { s - 1 } else { s }
}

impl Engine {
    /// Validates and loads a GGUF model.
    pub fn load(path: &Path, options: LlamaCppOptions) -> Result<Self, ModelError> {
        // Structure and hyperparameters first: llama.cpp aborts the process on some values
        // (a layer count above 512, a NaN norm epsilon) instead of returning an error.
        let header = gguf::read_header(path).map_err(|e| ModelError::Unavailable(e.to_string()))?;
        let backend = backend()?;
        let offload = devices::offload(options.gpu_layers, &devices::devices()?)?;
        if let Some(notice) = &offload.cpu_fallback {
            tracing::warn!("{notice}");
        }
        let params = LlamaModelParams::default().with_n_gpu_layers(offload.layers);
        let model = LlamaModel::load_from_file(backend, path, &params).map_err(|e| {
            // The usual reason on a GPU is its memory: say which setting lowers it.
            let hint = if offload.layers > 0 {
                "; if the GPU ran out of memory, offload fewer layers with --gpu-layers N (generator.gpu_layers)"
            } else {
                ""
            };
            ModelError::Unavailable(format!("llama.cpp cannot load {}: {e}{hint}", path.display()))
        })?;
        let template = match header.get_str("tokenizer.chat_template") {
            Some(source) => {
                let vocab = model.vocab();
                let piece = |t: LlamaToken| String::from_utf8_lossy(&vocab.token_to_piece(t, true, None)).into_owned();
                let (bos, eos) = (piece(vocab.bos()), piece(vocab.eos()));
                Some(ChatTemplate::new(source.to_owned(), bos, eos).map_err(|e| {
                    ModelError::Unavailable(format!("{}: the chat template does not compile: {e}", path.display()))
                })?)
            }
            None => None,
        };
        let max_len = options.embed_max_tokens.min(model.n_ctx_train()) as usize;
        let bert_tokenizer = BertTokenizer::from_gguf(&header, max_len)
            .map_err(|e| ModelError::Unavailable(format!("{}: {e}", path.display())))?;
        Ok(Self { path: path.to_owned(), model, header, template, bert_tokenizer, options, gpu_layers: offload.layers })
    }

    /// The GGUF header.
    pub fn header(&self) -> &GgufHeader {
        &self.header
    }

    /// Context length the model was trained with.
    pub fn n_ctx_train(&self) -> u32 {
        self.model.n_ctx_train()
    }

    /// Fails when the model computed a NaN or infinite `what` (weights or hyperparameters
    /// the header check cannot see, such as NaN tensor data): no such number leaves here.
    pub(crate) fn check_finite(&self, what: &str, values: &[f32]) -> Result<(), ModelError> {
        match values.iter().find(|v| !v.is_finite()) {
            None => Ok(()),
            Some(v) => Err(ModelError::BrokenModel(format!(
                "{}: the model computed {what} containing {v}; its weights or hyperparameters are broken",
                self.path.display()
            ))),
        }
    }

    /// Tokenises the prompt: raw text as is, chats through the model's template.
    pub(crate) fn prompt_tokens(&self, prompt: &Prompt) -> Result<Vec<LlamaToken>, ModelError> {
        let vocab = self.model.vocab();
        let (text, has_bos) = gguf::prompt_text(self.template.as_ref(), prompt)?;
        let add_bos = vocab.should_add_bos() && !has_bos;
        let mut tokens = Vec::new();
        if add_bos {
            tokens.push(vocab.bos());
        }
        tokens.extend(vocab.tokenize(text.as_bytes(), false, true));
        if tokens.is_empty() {
            return Err(ModelError::InvalidRequest("the prompt is empty after tokenisation".into()));
        }
        Ok(tokens)
    }

    pub(crate) fn sampler(&self, params: &SamplingParams, seed: u64) -> LlamaSampler {
        let mut chain = Vec::new();
        if params.repeat_penalty != 1.0 {
            chain.push(LlamaSampler::penalties(self.model.n_vocab(), 64, params.repeat_penalty, 0.0, 0.0));
        }
        if params.temperature <= 0.0 {
            chain.push(LlamaSampler::greedy());
        } else {
            if params.top_k > 0 {
                chain.push(LlamaSampler::top_k(i32::try_from(params.top_k).unwrap_or(i32::MAX)));
            }
            if params.top_p < 1.0 {
                chain.push(LlamaSampler::top_p(params.top_p, 1));
            }
            if params.min_p > 0.0 {
                chain.push(LlamaSampler::min_p(params.min_p, 1));
            }
            chain.push(LlamaSampler::temp(params.temperature));
            chain.push(LlamaSampler::dist(sampler_seed(seed)));
        }
        LlamaSampler::chain_simple(chain)
    }

    /// The tokens a context may hold: the setting, else the training context.
    pub(crate) fn context_limit(&self) -> u64 {
        u64::from(self.options.n_ctx.unwrap_or_else(|| self.n_ctx_train()))
    }

    /// llama.cpp's vocabulary of the model.
    pub(crate) fn vocab(&self) -> llama_cpp_2::vocab::LlamaVocab<'_> {
        self.model.vocab()
    }

    /// A generation context of `n_ctx` cells shared by up to `n_seq` sequences; a batch
    /// holds a prompt chunk of the configured size or one token of every sequence.
    pub(crate) fn context(&self, n_ctx: u32, n_seq: u32) -> Result<LlamaContext<'_>, ModelError> {
        self.context_with(n_ctx, n_seq, self.options.batch_size.max(n_seq))
    }

    fn context_with(&self, n_ctx: u32, n_seq: u32, n_batch: u32) -> Result<LlamaContext<'_>, ModelError> {
        let threads = self.options.threads();
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_batch(n_batch)
            .with_n_ubatch(n_batch)
            .with_n_seq_max(n_seq)
            .with_kv_unified(true)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        self.model.new_context(backend()?, params).map_err(|e| self.context_error("a llama.cpp context", e))
    }

    /// A context that could not be made: on a GPU, most often its memory, so the message names
    /// the settings that need less of it.
    fn context_error(&self, what: &str, e: impl std::fmt::Display) -> ModelError {
        let hint = if self.gpu_layers > 0 {
            "; if the GPU ran out of memory, lower --ctx-size or the batch (server.max_batch, generator.batch_size), \
             or offload fewer layers with --gpu-layers N"
        } else {
            ""
        };
        backend_error(&format!("cannot create {what}"), format!("{e}{hint}"))
    }

    /// Layers of the model on the GPU (0: on the CPU).
    pub fn gpu_layers(&self) -> u32 {
        self.gpu_layers
    }

    /// llama.cpp's raw speed, measured the way `llama-bench` does: `n_prompt` tokens decoded
    /// as one batch, then `n_gen` single-token decodes with no sampling. Returns tokens per
    /// second for each, the yardstick for this backend's own overhead.
    pub fn raw_speed(&self, n_prompt: usize, n_gen: usize) -> Result<(f64, f64), ModelError> {
        let n_ctx = (n_prompt + n_gen + 8) as u32;
        let mut ctx = self.context_with(n_ctx, 1, n_prompt.max(1) as u32)?;
        let token = self.model.vocab().bos();
        let mut batch = LlamaBatch::new(n_prompt.max(1), 1);
        for i in 0..n_prompt {
            batch.add(token, i as i32, &[0], i + 1 == n_prompt).map_err(|e| backend_error("batch", e))?;
        }
        let started = Instant::now();
        ctx.decode(&mut batch).map_err(|e| backend_error("decode", e))?;
        let pp = n_prompt as f64 / started.elapsed().as_secs_f64();
        let started = Instant::now();
        for i in 0..n_gen {
            batch.clear();
            batch.add(token, (n_prompt + i) as i32, &[0], true).map_err(|e| backend_error("batch", e))?;
            ctx.decode(&mut batch).map_err(|e| backend_error("decode", e))?;
        }
        let tg = n_gen as f64 / started.elapsed().as_secs_f64();
        Ok((pp, tg))
    }

    /// The prompt's token ids (for parity checks of other tokenizers).
    pub fn prompt_token_ids(&self, prompt: &Prompt) -> Result<Vec<u32>, ModelError> {
        Ok(self.prompt_tokens(prompt)?.into_iter().map(|t| t.0 as u32).collect())
    }

    /// Next-token logits after the prompt (for parity checks against other backends).
    pub fn prompt_logits(&self, prompt: &Prompt) -> Result<Vec<f32>, ModelError> {
        let tokens = self.prompt_tokens(prompt)?;
        let n_batch = (tokens.len() as u32).max(1);
        let mut ctx = self.context_with(n_batch.max(8), 1, n_batch)?;
        let mut batch = LlamaBatch::new(tokens.len(), 1);
        for (i, &t) in tokens.iter().enumerate() {
            batch.add(t, i as i32, &[0], i + 1 == tokens.len()).map_err(|e| backend_error("prompt batch", e))?;
        }
        ctx.decode(&mut batch).map_err(|e| backend_error("prompt decode", e))?;
        let logits = ctx.get_logits_ith(tokens.len() as i32 - 1);
        self.check_finite("logits", logits)?;
        Ok(logits.to_vec())
    }

    /// Mean-pooled, L2-normalised embeddings (the model must be an embedding model).
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        let vocab = self.model.vocab();
        let max_len = self.options.embed_max_tokens.min(self.n_ctx_train()) as usize;
        let tokenized: Vec<Vec<LlamaToken>> = match &self.bert_tokenizer {
            Some(bert) => {
                let ids: Vec<Vec<u32>> =
                    texts.iter().map(|t| bert.encode(t)).collect::<Result<_, _>>().map_err(ModelError::Backend)?;
                ids.into_iter().map(|ids| ids.into_iter().map(|id| LlamaToken(id as i32)).collect()).collect()
            }
            None => texts
                .iter()
                .map(|t| {
                    let mut toks = vocab.tokenize(t.as_bytes(), true, false);
                    if toks.len() > max_len {
                        // Keep the closing separator, as sentence-transformers' truncation does.
                        let last = *toks.last().expect("non-empty");
                        toks.truncate(max_len - 1);
                        toks.push(last);
                    }
                    toks
                })
                .collect(),
        };
        let n_batch = self.options.batch_size.max(max_len as u32);
        let threads = self.options.threads();
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_batch))
            .with_n_batch(n_batch)
            .with_n_ubatch(n_batch)
            .with_n_seq_max(64)
            .with_embeddings(true)
            .with_pooling_type(LlamaPoolingType::Mean)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        let mut ctx =
            self.model.new_context(backend()?, params).map_err(|e| self.context_error("an embedding context", e))?;
        let mut out = Vec::with_capacity(texts.len());
        let mut batch = LlamaBatch::new(n_batch as usize, 64);
        let mut i = 0;
        while i < tokenized.len() {
            batch.clear();
            let mut used = 0usize;
            let mut group = 0;
            while i + group < tokenized.len() && group < 64 && used + tokenized[i + group].len() <= n_batch as usize {
                for (p, &t) in tokenized[i + group].iter().enumerate() {
                    batch.add(t, p as i32, &[group as i32], true).map_err(|e| backend_error("embedding batch", e))?;
                }
                used += tokenized[i + group].len();
                group += 1;
            }
            ctx.clear_kv_cache();
            ctx.encode(&mut batch).map_err(|e| backend_error("embedding encode", e))?;
            for s in 0..group {
                let v = ctx.embeddings_seq_ith(s as i32).map_err(|e| backend_error("embeddings", e))?;
                self.check_finite("an embedding", v)?;
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                out.push(if norm > 0.0 { v.iter().map(|x| x / norm).collect() } else { v.to_vec() });
            }
            i += group;
        }
        Ok(out)
    }

    /// Embedding length of the model.
    pub fn n_embd(&self) -> usize {
        usize::try_from(self.model.n_embd()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampler_seeds_avoid_llama_cpp_random_seed() {
        assert_ne!(sampler_seed(u64::from(u32::MAX)), u32::MAX);
        assert_ne!(sampler_seed(1), sampler_seed(2));
    }
}
