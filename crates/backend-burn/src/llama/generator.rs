//! [`BurnGenerator`]: the `Generator` on a Llama-family GGUF, run by Burn, with batched
//! branching: the prompt runs once, its KV cache is repeated for the `n` candidates, and
//! all live candidates decode together as one batch per step.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use autobranch_core::model::{
    CandidateTimings, FinishReason, GeneratedCandidate, Generation, GenerationRequest, GenerationTimings, Generator,
    ModelError, Prompt, SamplingParams, log_prob,
};
use autobranch_gguf::{BpeTokenizer, ChatTemplate, GgufFile, bpe_tokenizer, prompt_text};
use burn::tensor::{Device, Tensor};

use super::config::LlamaConfig;
use super::model::LlamaModel;
use super::sampler::Sampler;
use crate::device::BurnBackend;
use crate::error::LoadError;

/// How a [`BurnGenerator`] runs.
#[derive(Clone, Debug, Default)]
pub struct BurnGeneratorOptions {
    /// The Burn backend; `None` picks the first compiled CPU backend (flex, then ndarray),
    /// else wgpu.
    pub backend: Option<BurnBackend>,
    /// Context size in tokens; `None` takes the model's trained context length.
    pub n_ctx: Option<usize>,
    /// Decode candidates one at a time (prompt included), as `n` separate calls would,
    /// instead of as one batch: the baseline batching is measured against.
    pub sequential: bool,
}

struct Inner {
    path: PathBuf,
    model: LlamaModel,
    tokenizer: BpeTokenizer,
    template: Option<ChatTemplate>,
    device: Device,
    n_ctx: usize,
}

/// A Llama-family decoder loaded from GGUF, on a Burn backend.
#[derive(Clone)]
pub struct BurnGenerator {
    inner: Arc<Inner>,
    model_id: String,
    backend: BurnBackend,
    sequential: bool,
}

/// One candidate being decoded.
struct Sequence {
    sampler: Sampler,
    tokens: Vec<u32>,
    logprob_sum: f64,
    finish: Option<FinishReason>,
    text: String,
    done_ms: f64,
}

fn backend_error(context: &str, e: impl std::fmt::Debug) -> ModelError {
    ModelError::Backend(format!("{context}: {e:?}"))
}

impl BurnGenerator {
    /// Loads a GGUF file: configuration and tokenizer from its metadata, weights
    /// dequantised to f32 on the chosen backend.
    pub fn load(path: &Path, options: BurnGeneratorOptions) -> Result<Self, LoadError> {
        // Opening checks the hyperparameters, so nothing below allocates by an absurd one.
        let file = GgufFile::open(path)?;
        let invalid = |reason: String| LoadError::Invalid { path: path.to_owned(), reason };
        let config = LlamaConfig::from_gguf(file.header()).map_err(invalid)?;
        let tokenizer = bpe_tokenizer(file.header()).map_err(invalid)?;
        let n_ctx = options.n_ctx.unwrap_or(config.context_length);
        if n_ctx == 0 || n_ctx > config.context_length {
            return Err(LoadError::Option(format!(
                "context size {n_ctx} is out of range; allowed: 1 to the model's {}",
                config.context_length
            )));
        }
        let template = match file.header().get_str("tokenizer.chat_template") {
            Some(source) => {
                let text = |id: Option<u32>| id.map(|id| tokenizer.token_text(id)).unwrap_or_default();
                let (bos, eos) = (text(tokenizer.bos), text(tokenizer.eos));
                Some(
                    ChatTemplate::new(source.to_owned(), bos, eos)
                        .map_err(|e| invalid(format!("the chat template does not compile: {e}")))?,
                )
            }
            None => None,
        };
        let backend = BurnBackend::chosen(options.backend)?;
        let device = backend.device()?;
        let model = LlamaModel::load(&file, config, &device).map_err(invalid)?;
        if tokenizer.tokenizer.get_vocab_size(true) > model.vocab() {
            return Err(invalid(format!(
                "the tokenizer has {} tokens but token_embd.weight has {} rows",
                tokenizer.tokenizer.get_vocab_size(true),
                model.vocab()
            )));
        }
        let inner = Inner { path: path.to_owned(), model, tokenizer, template, device, n_ctx };
        let sequential = options.sequential;
        Ok(Self { inner: Arc::new(inner), model_id: path.display().to_string(), backend, sequential })
    }

    /// The backend this generator runs on.
    pub fn backend(&self) -> BurnBackend {
        self.backend
    }

    /// Generates on the calling thread; with `sequential`, one candidate at a time
    /// (prompt included), as `n` separate calls would.
    pub fn generate_blocking(&self, request: &GenerationRequest, sequential: bool) -> Result<Generation, ModelError> {
        self.inner.generate(request, sequential)
    }

    /// The prompt's token ids: raw text as is, chats through the model's template.
    pub fn prompt_tokens(&self, prompt: &Prompt) -> Result<Vec<u32>, ModelError> {
        self.inner.prompt_tokens(prompt)
    }

    /// Next-token logits after the prompt (for parity checks against other backends).
    pub fn prompt_logits(&self, prompt: &Prompt) -> Result<Vec<f32>, ModelError> {
        let tokens = self.inner.prompt_tokens(prompt)?;
        self.inner.check_context(tokens.len(), 1, 1)?;
        let mut cache = self.inner.model.empty_cache();
        self.inner.logits(self.inner.model.forward(&tokens, 1, &mut cache))
    }
}

impl Inner {
    fn prompt_tokens(&self, prompt: &Prompt) -> Result<Vec<u32>, ModelError> {
        let (text, has_bos) = prompt_text(self.template.as_ref(), prompt)?;
        let mut tokens = Vec::new();
        if let Some(bos) = self.tokenizer.bos.filter(|_| self.tokenizer.add_bos && !has_bos) {
            tokens.push(bos);
        }
        tokens.extend(self.tokenizer.encode(&text).map_err(ModelError::Backend)?);
        if tokens.is_empty() {
            return Err(ModelError::InvalidRequest("the prompt is empty after tokenisation".into()));
        }
        Ok(tokens)
    }

    fn check_context(&self, prompt: usize, group: usize, max_tokens: u32) -> Result<(), ModelError> {
        let limit = self.n_ctx;
        if prompt >= limit {
            return Err(ModelError::InvalidRequest(format!(
                "the prompt has {prompt} tokens but the context holds {limit}; shorten the prompt or raise the context \
                 size"
            )));
        }
        // Every sequence keeps its own copy of the prompt's cache, but positions are
        // per sequence: what must fit is the prompt plus one candidate's tokens.
        let needed = prompt + max_tokens as usize;
        if needed > limit {
            return Err(ModelError::InvalidRequest(format!(
                "{prompt} prompt tokens + {max_tokens} new tokens = {needed} tokens exceed the context of {limit} \
                 ({group} candidates decode side by side); ask for fewer tokens or raise the context size"
            )));
        }
        Ok(())
    }

    /// `[rows, vocab]` logits copied to the host; NaN or infinite ones (NaN weights, which
    /// the header check cannot see) are an error naming the file, so no NaN log-probability
    /// leaves the generator.
    fn logits(&self, logits: Tensor<2>) -> Result<Vec<f32>, ModelError> {
        let logits = logits.into_data().try_into_vec::<f32>().map_err(|e| backend_error("reading logits", e))?;
        match logits.iter().find(|l| !l.is_finite()) {
            None => Ok(logits),
            Some(l) => Err(ModelError::BrokenModel(format!(
                "{}: the model computed logits containing {l}; its weights or hyperparameters are broken",
                self.path.display()
            ))),
        }
    }

    fn generate(&self, request: &GenerationRequest, sequential: bool) -> Result<Generation, ModelError> {
        request.validate()?;
        let prompt = self.prompt_tokens(&request.prompt)?;
        let group = if sequential { 1 } else { request.n };
        self.check_context(prompt.len(), group, request.sampling.max_tokens)?;
        let mut candidates = Vec::with_capacity(request.n);
        let mut timings = GenerationTimings { prompt_tokens: prompt.len() as u64, prompt_ms: 0.0, generate_ms: 0.0 };
        for seeds in request.seed_groups(group) {
            let (prompt_ms, generate_ms, mut done) = self.decode_group(&prompt, &seeds, &request.sampling)?;
            timings.prompt_ms += prompt_ms;
            timings.generate_ms += generate_ms;
            candidates.append(&mut done);
        }
        Ok(Generation { candidates, timings })
    }

    fn decode_group(
        &self,
        prompt: &[u32],
        seeds: &[u64],
        params: &SamplingParams,
    ) -> Result<(f64, f64, Vec<GeneratedCandidate>), ModelError> {
        let started = Instant::now();
        let mut cache = self.model.empty_cache();
        let first = self.logits(self.model.forward(prompt, 1, &mut cache))?;
        let prompt_ms = started.elapsed().as_secs_f64() * 1000.0;

        let started = Instant::now();
        let mut seqs: Vec<Sequence> = seeds
            .iter()
            .map(|&seed| Sequence {
                sampler: Sampler::new(params, seed),
                tokens: Vec::new(),
                logprob_sum: 0.0,
                finish: None,
                text: String::new(),
                done_ms: 0.0,
            })
            .collect();
        let vocab = self.model.vocab();
        // Every sequence starts from the prompt's logits; `live` maps batch rows to sequences.
        let mut live: Vec<usize> = (0..seqs.len()).collect();
        let mut logits: Vec<f32> = first.repeat(seqs.len());
        let mut cache = cache.repeat(seqs.len());
        loop {
            let mut next = Vec::with_capacity(live.len());
            for (row, &i) in live.iter().enumerate() {
                let s = &mut seqs[i];
                let row_logits = &logits[row * vocab..(row + 1) * vocab];
                let token = s.sampler.sample(row_logits);
                s.logprob_sum += log_prob(row_logits, token as usize);
                if self.tokenizer.is_end_of_generation(token) {
                    s.finish = Some(FinishReason::Stop);
                    s.text = self.tokenizer.decode(&s.tokens).map_err(ModelError::Backend)?;
                    s.tokens.push(token);
                } else {
                    s.tokens.push(token);
                    let text = self.tokenizer.decode(&s.tokens).map_err(ModelError::Backend)?;
                    if let Some(cut) = params.stop.iter().filter_map(|stop| text.find(stop.as_str())).min() {
                        s.text = text[..cut].to_owned();
                        s.finish = Some(FinishReason::StopString);
                    } else if s.tokens.len() >= params.max_tokens as usize {
                        s.text = text;
                        s.finish = Some(FinishReason::Length);
                    }
                }
                if s.finish.is_some() {
                    s.done_ms = started.elapsed().as_secs_f64() * 1000.0;
                } else {
                    next.push((row, i, token));
                }
            }
            if next.is_empty() {
                break;
            }
            if next.len() < live.len() {
                let rows: Vec<usize> = next.iter().map(|n| n.0).collect();
                cache = cache.select(&rows, &self.device);
            }
            live = next.iter().map(|n| n.1).collect();
            let ids: Vec<u32> = next.iter().map(|n| n.2).collect();
            logits = self.logits(self.model.forward(&ids, ids.len(), &mut cache))?;
        }
        let generate_ms = started.elapsed().as_secs_f64() * 1000.0;
        let candidates = seqs
            .into_iter()
            .map(|s| {
                let n = s.tokens.len() as u32;
                GeneratedCandidate {
                    text: s.text,
                    tokens: n,
                    logprob_mean: (n > 0).then(|| s.logprob_sum / f64::from(n)),
                    finish_reason: s.finish.unwrap_or(FinishReason::Length),
                    timings: CandidateTimings { generate_ms: s.done_ms },
                }
            })
            .collect();
        Ok((prompt_ms, generate_ms, candidates))
    }
}

#[async_trait]
impl Generator for BurnGenerator {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    async fn generate(&self, request: &GenerationRequest) -> Result<Generation, ModelError> {
        let inner = Arc::clone(&self.inner);
        let (request, sequential) = (request.clone(), self.sequential);
        tokio::task::spawn_blocking(move || inner.generate(&request, sequential))
            .await
            .map_err(|e| ModelError::Backend(format!("the generation thread failed: {e}")))?
    }
}
