//! [`BurnGenerator`]: the `Generator` on a Llama-family GGUF, run by Burn, with batched
//! branching: the prompt runs once, its KV cache is repeated for the `n` candidates, and
//! all live candidates decode together as one batch per step. `generate_batch` does the same
//! for several requests at once (an explore tree's level): each distinct prompt runs once and
//! the prompts' caches are stacked, left-padded to the longest, so every request's sequences
//! decode in the same steps. With `prompt_cache`, finished sequences' keys and values are kept
//! ([`super::prompt_cache`]), and a later prompt that starts the same way runs only the rest.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use async_trait::async_trait;
use autobranch_core::model::{
    CandidateTimings, FinishReason, GeneratedCandidate, Generation, GenerationRequest, GenerationTimings, Generator,
    ModelError, Prompt, SamplingParams,
};
use autobranch_gguf::{BpeTokenizer, ChatTemplate, GgufFile, bpe_tokenizer, prompt_text};
use burn::tensor::{Device, Tensor};

use super::config::LlamaConfig;
use super::model::{KvCache, LlamaModel};
use super::prompt_cache::{PromptCache, common_start};
use super::sampler::{Sampler, candidates_needed};
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
    /// Most sequences of several requests that decode together in one `generate_batch`
    /// batch; `None`: [`DEFAULT_MAX_SEQUENCES`]. A request is never split.
    pub max_sequences: Option<usize>,
    /// Keep finished sequences' keys and values (as many tokens as the context holds, the
    /// least recently used out first) for later prompts that start the same way: an explore
    /// level runs only what follows each parent's text. A seeded request's answer may then
    /// depend on what ran before it, in the last bits of its numbers.
    pub prompt_cache: bool,
}

/// Sequences a `generate_batch` batch holds unless told otherwise (as `autobranch serve`'s
/// `server.max_batch`).
pub const DEFAULT_MAX_SEQUENCES: usize = 32;

struct Inner {
    path: PathBuf,
    model: LlamaModel,
    tokenizer: BpeTokenizer,
    template: Option<ChatTemplate>,
    device: Device,
    n_ctx: usize,
    /// Device→host reads so far: one per forward pass, the only place a pass waits for the
    /// device.
    reads: AtomicU64,
    /// Finished sequences kept for later prompts, with `prompt_cache`.
    kept: Option<Mutex<PromptCache<KvCache>>>,
}

/// One row of logits as read back: the sampler's candidates `(token, logit)` and the row's
/// log-sum-exp (for the sampled token's log-probability).
struct Row {
    candidates: Vec<(u32, f32)>,
    log_sum_exp: f32,
}

/// A Llama-family decoder loaded from GGUF, on a Burn backend.
#[derive(Clone)]
pub struct BurnGenerator {
    inner: Arc<Inner>,
    model_id: String,
    backend: BurnBackend,
    sequential: bool,
    max_sequences: usize,
}

/// One candidate being decoded.
struct Sequence<'a> {
    sampler: Sampler,
    params: &'a SamplingParams,
    /// Its prompt's index in the batch's distinct prompts.
    prompt: usize,
    tokens: Vec<u32>,
    logprob_sum: f64,
    finish: Option<FinishReason>,
    text: String,
    done_ms: f64,
}

impl Sequence<'_> {
    fn into_candidate(self) -> GeneratedCandidate {
        let n = self.tokens.len() as u32;
        GeneratedCandidate {
            text: self.text,
            tokens: n,
            logprob_mean: (n > 0).then(|| self.logprob_sum / f64::from(n)),
            finish_reason: self.finish.unwrap_or(FinishReason::Length),
            timings: CandidateTimings { generate_ms: self.done_ms },
        }
    }
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
        let model = LlamaModel::load(&file, config, &device, n_ctx).map_err(invalid)?;
        if tokenizer.tokenizer.get_vocab_size(true) > model.vocab() {
            return Err(invalid(format!(
                "the tokenizer has {} tokens but token_embd.weight has {} rows",
                tokenizer.tokenizer.get_vocab_size(true),
                model.vocab()
            )));
        }
        let kept = options.prompt_cache.then(|| Mutex::new(PromptCache::new(n_ctx)));
        let reads = AtomicU64::new(0);
        let inner = Inner { path: path.to_owned(), model, tokenizer, template, device, n_ctx, reads, kept };
        let (sequential, max_sequences) = (options.sequential, options.max_sequences.unwrap_or(DEFAULT_MAX_SEQUENCES));
        if max_sequences == 0 {
            return Err(LoadError::Option("max_sequences must be at least 1".into()));
        }
        Ok(Self { inner: Arc::new(inner), model_id: path.display().to_string(), backend, sequential, max_sequences })
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
        let mut cache = self.inner.model.empty_cache(tokens.len());
        let logits = self.inner.model.forward(&tokens, 1, &mut cache);
        let data = self.inner.read(logits)?;
        self.inner.check_finite(data.iter().copied())?;
        Ok(data)
    }

    /// Device→host reads since loading. A generation reads once per forward pass: one for
    /// the prompt of each group of candidates, then one per decode step.
    pub fn host_reads(&self) -> u64 {
        self.inner.reads.load(Ordering::Relaxed)
    }

    /// Tokens the prompt cache holds (0 without `prompt_cache`).
    pub fn kept_tokens(&self) -> usize {
        self.inner.kept.as_ref().map_or(0, |k| k.lock().unwrap_or_else(PoisonError::into_inner).tokens())
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

    /// The prompt cache's hint ([`Generator::expect_prompts`]): drops the kept sequences
    /// under `root` that begin none of `next`.
    fn expect_prompts(&self, root: &Prompt, next: &[Prompt]) {
        let (Some(kept), Ok(root)) = (&self.kept, self.prompt_tokens(root)) else { return };
        let next: Vec<Vec<u32>> = next.iter().filter_map(|p| self.prompt_tokens(p).ok()).collect();
        kept.lock().unwrap_or_else(PoisonError::into_inner).keep_serving(&root, &next);
    }

    fn check_context(&self, prompt: usize, group: usize, max_tokens: u32) -> Result<(), ModelError> {
        let limit = self.n_ctx;
        if prompt >= limit {
            return Err(ModelError::InvalidRequest(format!(
                "the prompt has {prompt} tokens but the context holds {limit}; shorten the prompt or raise the context \
                 size (--ctx-size, generator.ctx_size)"
            )));
        }
        // Every sequence keeps its own copy of the prompt's cache, but positions are
        // per sequence: what must fit is the prompt plus one candidate's tokens.
        let needed = prompt + max_tokens as usize;
        if needed > limit {
            return Err(ModelError::InvalidRequest(format!(
                "{prompt} prompt tokens + {max_tokens} new tokens = {needed} tokens exceed the context of {limit} \
                 ({group} candidates decode side by side); ask for fewer tokens or raise the context size \
                 (--ctx-size, generator.ctx_size)"
            )));
        }
        Ok(())
    }

    /// Copies `t` to the host: the one point where a forward pass waits for the device.
    fn read(&self, t: Tensor<2>) -> Result<Vec<f32>, ModelError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        t.into_data().try_into_vec::<f32>().map_err(|e| backend_error("reading logits", e))
    }

    /// NaN or infinite numbers (NaN weights, which the header check cannot see) are an error
    /// naming the file, so no NaN log-probability leaves the generator.
    fn check_finite(&self, values: impl IntoIterator<Item = f32>) -> Result<(), ModelError> {
        match values.into_iter().find(|l| !l.is_finite()) {
            None => Ok(()),
            Some(l) => Err(ModelError::BrokenModel(format!(
                "{}: the model computed logits containing {l}; its weights or hyperparameters are broken",
                self.path.display()
            ))),
        }
    }

    /// What the sampler needs of each row of `logits` (`[rows, vocab]`), reduced on the
    /// device and brought back in one read: the row's `top` largest logits and their tokens
    /// (or the whole row), and its log-sum-exp.
    fn rows(&self, logits: Tensor<2>, top: Option<usize>) -> Result<Vec<Row>, ModelError> {
        let [rows, vocab] = logits.dims();
        let max = logits.clone().max_dim(1);
        let log_sum_exp = (logits.clone() - max.clone()).exp().sum_dim(1).log() + max;
        let (width, packed) = match top {
            // Token ids travel as f32, exact below 2^24 (vocabularies are far smaller).
            Some(k) => {
                let (values, ids) = logits.topk_with_indices(k, 1);
                (k, Tensor::cat(vec![values, ids.float(), log_sum_exp], 1))
            }
            None => (vocab, Tensor::cat(vec![logits, log_sum_exp], 1)),
        };
        let data = self.read(packed)?;
        let stride = if top.is_some() { 2 * width + 1 } else { width + 1 };
        let out: Vec<Row> = (0..rows)
            .map(|r| {
                let row = &data[r * stride..(r + 1) * stride];
                let candidates = match top {
                    Some(k) => (0..k).map(|i| (row[k + i] as u32, row[i])).collect(),
                    None => row[..vocab].iter().enumerate().map(|(i, &l)| (i as u32, l)).collect(),
                };
                Row { candidates, log_sum_exp: row[stride - 1] }
            })
            .collect();
        for row in &out {
            // A NaN or infinite logit anywhere in the row makes its log-sum-exp one too.
            self.check_finite(std::iter::once(row.log_sum_exp).chain(row.candidates.iter().map(|c| c.1)))?;
        }
        Ok(out)
    }

    fn generate(&self, request: &GenerationRequest, sequential: bool) -> Result<Generation, ModelError> {
        request.validate()?;
        let prompt = self.prompt_tokens(&request.prompt)?;
        let group = if sequential { 1 } else { request.n };
        self.check_context(prompt.len(), group, request.sampling.max_tokens)?;
        let mut candidates = Vec::with_capacity(request.n);
        let mut timings = GenerationTimings { prompt_tokens: prompt.len() as u64, ..GenerationTimings::default() };
        for (i, seeds) in request.seed_groups(group).enumerate() {
            let group = Group { prompt: &prompt, seeds, params: &request.sampling };
            let mut done = self.decode(std::slice::from_ref(&group))?.remove(0);
            // The prompt counts once (as `prompt_tokens` does): what its first run reused.
            if i == 0 {
                timings.prompt_cached = done.prompt_cached;
            }
            timings.prompt_ms += done.prompt_ms;
            timings.generate_ms += done.generate_ms;
            candidates.append(&mut done.candidates);
        }
        Ok(Generation { candidates, timings })
    }

    /// Several requests decoded together: each distinct prompt runs once, and the sequences
    /// of all requests decode as one batch, in batches of at most `max_sequences` sequences
    /// (a request is never split; one larger than that decodes alone).
    fn generate_batch(
        &self,
        requests: &[GenerationRequest],
        max_sequences: usize,
    ) -> Vec<Result<Generation, ModelError>> {
        let mut out: Vec<Option<Result<Generation, ModelError>>> = requests.iter().map(|_| None).collect();
        let mut ready = Vec::new();
        for (i, request) in requests.iter().enumerate() {
            let prompt = request.validate().and_then(|()| self.prompt_tokens(&request.prompt)).and_then(|prompt| {
                self.check_context(prompt.len(), request.n, request.sampling.max_tokens).map(|()| prompt)
            });
            match prompt {
                Ok(prompt) => ready.push((i, prompt)),
                Err(e) => out[i] = Some(Err(e)),
            }
        }
        let mut rest = ready.as_slice();
        while !rest.is_empty() {
            let mut take = 1;
            let mut sequences = requests[rest[0].0].n;
            while take < rest.len() && sequences + requests[rest[take].0].n <= max_sequences {
                sequences += requests[rest[take].0].n;
                take += 1;
            }
            let (batch, later) = rest.split_at(take);
            rest = later;
            let groups: Vec<Group<'_>> = batch
                .iter()
                .map(|(i, prompt)| Group {
                    prompt,
                    seeds: requests[*i].seed_groups(requests[*i].n).next().unwrap_or_default(),
                    params: &requests[*i].sampling,
                })
                .collect();
            match self.decode(&groups) {
                Ok(done) => {
                    for ((i, prompt), done) in batch.iter().zip(done) {
                        let timings = GenerationTimings {
                            prompt_tokens: prompt.len() as u64,
                            prompt_cached: done.prompt_cached,
                            prompt_ms: done.prompt_ms,
                            generate_ms: done.generate_ms,
                        };
                        out[*i] = Some(Ok(Generation { candidates: done.candidates, timings }));
                    }
                }
                Err(e) => {
                    for (i, _) in batch {
                        out[*i] = Some(Err(again(&e)));
                    }
                }
            }
        }
        out.into_iter().map(|r| r.expect("every request is answered")).collect()
    }

    /// Decodes every group's candidates in one batch: each distinct prompt runs once (a
    /// batch of one, from the end of the longest start it shares with one run before or a
    /// kept sequence), the prompts' caches are stacked (left-padded to the longest), and
    /// every live sequence of every group decodes in each step; with the prompt cache, each
    /// sequence is kept as it finishes. One answer per group, in order.
    fn decode(&self, groups: &[Group<'_>]) -> Result<Vec<Decoded>, ModelError> {
        // The most any group's sampler needs (the whole row if one needs it); a sampler
        // given more keeps its own top-k of them.
        let needed: Option<Vec<usize>> =
            groups.iter().map(|g| candidates_needed(g.params, self.model.vocab())).collect();
        let top = needed.and_then(|n| n.into_iter().max());
        let new_tokens = groups.iter().map(|g| g.params.max_tokens as usize).max().unwrap_or(0);
        // Each distinct prompt once; `prompt_of[g]` indexes them.
        let mut prompts: Vec<Prefilled<'_>> = Vec::new();
        let mut prompt_of = Vec::with_capacity(groups.len());
        for g in groups {
            if let Some(p) = prompts.iter().position(|p| p.tokens == g.prompt) {
                prompt_of.push(p);
                continue;
            }
            let started = Instant::now();
            // A single group keeps room for its tokens; several are stacked into a new cache.
            let capacity = if groups.len() == 1 { g.prompt.len() + new_tokens } else { g.prompt.len() };
            // The longest start shared with a prompt run before or a kept sequence (all but
            // the prompt's last token, whose logits are needed): those positions are copied,
            // only the rest runs.
            let limit = g.prompt.len() - 1;
            let in_batch = prompts
                .iter()
                .map(|p| (&p.cache, common_start(p.tokens, g.prompt).min(limit)))
                .max_by_key(|(_, len)| *len)
                .filter(|(_, len)| *len > 0);
            let (mut cache, cached) = {
                let mut kept = self.kept.as_ref().map(|k| k.lock().unwrap_or_else(PoisonError::into_inner));
                let from_kept = kept.as_mut().and_then(|k| k.longest(g.prompt, limit));
                let from_kept = from_kept.filter(|(_, len)| *len > in_batch.map_or(0, |(_, l)| l));
                match from_kept.or(in_batch) {
                    Some((c, len)) => (c.prefix(len, capacity, &self.device), len),
                    None => (self.model.empty_cache(capacity), 0),
                }
            };
            let row = self.rows(self.model.forward(&g.prompt[cached..], 1, &mut cache), top)?.remove(0);
            prompt_of.push(prompts.len());
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            prompts.push(Prefilled { tokens: g.prompt, row, cache, cached: cached as u64, ms });
        }

        let started = Instant::now();
        let mut seqs: Vec<Sequence> = groups
            .iter()
            .zip(&prompt_of)
            .flat_map(|(g, &p)| {
                g.seeds.iter().map(move |&seed| Sequence {
                    sampler: Sampler::new(g.params, seed),
                    params: g.params,
                    prompt: p,
                    tokens: Vec::new(),
                    logprob_sum: 0.0,
                    finish: None,
                    text: String::new(),
                    done_ms: 0.0,
                })
            })
            .collect();
        // Where each prompt's positions begin in its rows: after its left padding when stacked.
        let longest = prompts.iter().map(|p| p.tokens.len()).max().unwrap_or(0);
        let pad = |p: usize| if groups.len() == 1 { 0 } else { longest - prompts[p].tokens.len() };
        let mut cache = if groups.len() == 1 {
            prompts[0].cache.repeat(seqs.len())
        } else {
            let parts: Vec<(&KvCache, usize)> =
                groups.iter().zip(&prompt_of).map(|(g, &p)| (&prompts[p].cache, g.seeds.len())).collect();
            KvCache::stack(&parts, new_tokens, &self.device)
        };
        // `live` maps batch rows to sequences; at the first step each sequence reads its
        // prompt's row, after that its own.
        let mut live: Vec<usize> = (0..seqs.len()).collect();
        let mut rows: Vec<Row> = Vec::new();
        loop {
            let mut next = Vec::with_capacity(live.len());
            for (row, &i) in live.iter().enumerate() {
                let s = &mut seqs[i];
                let r = if rows.is_empty() { &prompts[s.prompt].row } else { &rows[row] };
                let token = s.sampler.sample(&r.candidates);
                let logit = r.candidates.iter().find(|c| c.0 == token).map_or(f32::NEG_INFINITY, |c| c.1);
                s.logprob_sum += f64::from(logit) - f64::from(r.log_sum_exp);
                if self.tokenizer.is_end_of_generation(token) {
                    s.finish = Some(FinishReason::Stop);
                    s.text = self.tokenizer.decode(&s.tokens).map_err(ModelError::Backend)?;
                    s.tokens.push(token);
                } else {
                    s.tokens.push(token);
                    let text = self.tokenizer.decode(&s.tokens).map_err(ModelError::Backend)?;
                    if let Some(cut) = s.params.stop.iter().filter_map(|stop| text.find(stop.as_str())).min() {
                        s.text = text[..cut].to_owned();
                        s.finish = Some(FinishReason::StopString);
                    } else if s.tokens.len() >= s.params.max_tokens as usize {
                        s.text = text;
                        s.finish = Some(FinishReason::Length);
                    }
                }
                if s.finish.is_some() {
                    s.done_ms = started.elapsed().as_secs_f64() * 1000.0;
                    if let Some(kept) = &self.kept {
                        // Its positions: the prompt and every token but the last, never run.
                        let prompt = prompts[s.prompt].tokens;
                        let tokens = [prompt, &s.tokens[..s.tokens.len() - 1]].concat();
                        let row = cache.row(row, pad(s.prompt), &self.device);
                        kept.lock().unwrap_or_else(PoisonError::into_inner).keep(tokens, row);
                    }
                } else {
                    next.push((row, i, token));
                }
            }
            if next.is_empty() {
                break;
            }
            if next.len() < live.len() {
                let keep: Vec<usize> = next.iter().map(|n| n.0).collect();
                cache = cache.select(&keep, &self.device);
            }
            live = next.iter().map(|n| n.1).collect();
            let ids: Vec<u32> = next.iter().map(|n| n.2).collect();
            rows = self.rows(self.model.forward(&ids, ids.len(), &mut cache), top)?;
        }
        let generate_ms = started.elapsed().as_secs_f64() * 1000.0;
        let mut seqs = seqs.into_iter();
        let mut first_use = vec![true; prompts.len()];
        let out = groups
            .iter()
            .zip(&prompt_of)
            .map(|(g, &p)| {
                // A prompt that ran for an earlier group cost this one nothing.
                let computed = std::mem::replace(&mut first_use[p], false);
                let candidates = seqs.by_ref().take(g.seeds.len()).map(Sequence::into_candidate).collect();
                Decoded {
                    candidates,
                    prompt_ms: if computed { prompts[p].ms } else { 0.0 },
                    prompt_cached: if computed { prompts[p].cached } else { g.prompt.len() as u64 },
                    generate_ms,
                }
            })
            .collect();
        Ok(out)
    }
}

/// One request's share of a batch: its prompt, its candidates' seeds and its sampling.
struct Group<'a> {
    prompt: &'a [u32],
    seeds: Vec<u64>,
    params: &'a SamplingParams,
}

/// A distinct prompt of a batch after its forward pass.
struct Prefilled<'a> {
    tokens: &'a [u32],
    /// What the sampler needs of its last position's logits.
    row: Row,
    /// Its positions (a batch of one).
    cache: KvCache,
    /// Leading tokens copied from an earlier prompt's cache instead of computed.
    cached: u64,
    ms: f64,
}

/// One group's candidates and timings.
struct Decoded {
    candidates: Vec<GeneratedCandidate>,
    prompt_ms: f64,
    /// Prompt tokens not computed for this group (its prompt, or its start, ran for an
    /// earlier one).
    prompt_cached: u64,
    generate_ms: f64,
}

/// The same failure for every request of a batch that failed together.
fn again(e: &ModelError) -> ModelError {
    match e {
        ModelError::InvalidRequest(m) => ModelError::InvalidRequest(m.clone()),
        ModelError::BrokenModel(m) => ModelError::BrokenModel(m.clone()),
        other => ModelError::Backend(other.to_string()),
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

    /// Drops the kept sequences no next prompt begins with (with the prompt cache).
    async fn expect_prompts(&self, root: &Prompt, next: &[Prompt]) {
        if self.inner.kept.is_none() {
            return;
        }
        let inner = Arc::clone(&self.inner);
        let (root, next) = (root.clone(), next.to_vec());
        let _ = tokio::task::spawn_blocking(move || inner.expect_prompts(&root, &next)).await;
    }

    /// All requests' sequences in one batch (up to `max_sequences`), each distinct prompt
    /// run once; with `sequential`, one candidate after another as `generate` does.
    async fn generate_batch(&self, requests: &[GenerationRequest]) -> Vec<Result<Generation, ModelError>> {
        let inner = Arc::clone(&self.inner);
        let (requests, sequential, max) = (requests.to_vec(), self.sequential, self.max_sequences);
        let count = requests.len();
        let run = move || {
            if sequential {
                requests.iter().map(|r| inner.generate(r, true)).collect()
            } else {
                inner.generate_batch(&requests, max)
            }
        };
        match tokio::task::spawn_blocking(run).await {
            Ok(out) => out,
            Err(e) => {
                (0..count).map(|_| Err(ModelError::Backend(format!("the generation thread failed: {e}")))).collect()
            }
        }
    }
}
