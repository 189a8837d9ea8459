//! Continuous batching on the worker thread. Every generation request in flight (the `n`
//! candidates of one request, the concurrent requests of `autobranch serve`, the nodes of
//! an explore level) decodes in one llama.cpp batch per step:
//!
//! - a request joins at the next step: its prompt is decoded once and copied to each of its
//!   candidates;
//! - a finished sequence leaves the batch;
//! - a request whose caller went away (a closed connection, a dropped future) is dropped
//!   with its sequences;
//! - requests wait, in order, while the batch has no free sequence for them;
//! - with the prefix cache on, a finished sequence stays cached (its prompt and generated tokens): a later prompt that
//!   begins with the same tokens (a tree node's children continue its path) starts from a
//!   copy of it and decodes only the rest, as llama-server's `cache_prompt` does. The least
//!   recently used cached sequences are evicted when sequences run out.
//!
//! Each sequence has its own KV stream (llama.cpp's non-unified cache), its position p in
//! cell p, so its attention never depends on where other sequences' cells lie, and the
//! same requests in the same order decode to the same numbers in every run. (llama.cpp's
//! CPU kernels can still round differently for different batch shapes: a prefix decoded
//! one token at a time, then reused from the cache, and the same prefix decoded as one
//! prompt may differ in the last bits.)
//!
//! Nothing here is async: the worker calls [`Batcher::step`] between its other jobs.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use autobranch_core::model::{
    CandidateTimings, FinishReason, GeneratedCandidate, Generation, GenerationRequest, GenerationTimings, ModelError,
    Piece, SamplingParams, StreamOptions, TextStream, TokenLogprob, log_prob,
};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::{mpsc, oneshot};

use crate::engine::{Engine, backend_error};
use crate::stats::BatchStats;

/// Shortest KV stream; llama.cpp pads streams to multiples of 256 cells.
const MIN_STREAM: u64 = 512;

/// Most alternatives reported per token (OpenAI's `top_logprobs` limit).
pub const MAX_TOP_LOGPROBS: usize = 20;

/// A generation request handed to the worker.
pub struct GenerateJob {
    /// What to generate; `n` is at most the batcher's `max_sequences`.
    pub request: GenerationRequest,
    /// Where pieces go as they are produced, and what they carry.
    pub stream: Option<(StreamOptions, mpsc::UnboundedSender<Piece>)>,
    /// The answer.
    pub reply: oneshot::Sender<Result<Generation, ModelError>>,
}

/// How big the batch may grow.
#[derive(Clone, Copy, Debug)]
pub struct BatchLimits {
    /// Most sequences decoded together.
    pub max_sequences: usize,
    /// KV cells over all sequences; the sequences a context holds are this over the
    /// stream length (at least a request's `n`, at most `max_sequences`).
    pub kv_cells: u64,
    /// Keep finished sequences for their prefixes.
    pub prefix_cache: bool,
}

/// One candidate being decoded.
struct Sequence {
    /// llama.cpp sequence id (and KV stream).
    id: i32,
    /// Index of the candidate in its request.
    index: usize,
    sampler: LlamaSampler,
    bytes: Vec<u8>,
    tokens: u32,
    logprob_sum: f64,
    last: LlamaToken,
    /// Position of `last` in the sequence.
    pos: i32,
    /// Generated tokens decoded into the cache (all but a finished sequence's last).
    fed: Vec<LlamaToken>,
    /// Where its next logits are in the last decoded batch.
    logits_at: i32,
    finish: Option<FinishReason>,
    text: String,
    done_ms: f64,
    visible: TextStream,
}

/// A request whose sequences are in the batch.
struct Active {
    job: GenerateJob,
    prompt: Arc<Vec<LlamaToken>>,
    /// Prompt tokens copied from the cache instead of decoded.
    prompt_cached: u64,
    seqs: Vec<Sequence>,
    prompt_ms: f64,
    started: Instant,
}

/// A finished sequence kept for prompts that begin the same way.
struct Cached {
    id: i32,
    tokens: Vec<LlamaToken>,
    last_used: u64,
}

/// The batch and the requests in it.
pub struct Batcher<'m> {
    engine: &'m Engine,
    ctx: Option<LlamaContext<'m>>,
    /// Cells of each sequence's stream in the current context.
    stream_cells: u64,
    /// Sequences of the current context.
    slots: usize,
    limits: BatchLimits,
    free: Vec<i32>,
    waiting: VecDeque<GenerateJob>,
    active: Vec<Active>,
    stats: Arc<BatchStats>,
    cache: Vec<Cached>,
    clock: u64,
}

impl<'m> Batcher<'m> {
    /// An idle batcher; its context is made for the first request.
    pub fn new(engine: &'m Engine, limits: BatchLimits, stats: Arc<BatchStats>) -> Self {
        Self {
            engine,
            ctx: None,
            stream_cells: 0,
            slots: 0,
            limits,
            free: Vec::new(),
            waiting: VecDeque::new(),
            active: Vec::new(),
            stats,
            cache: Vec::new(),
            clock: 0,
        }
    }

    /// Whether nothing is running or waiting.
    pub fn is_idle(&self) -> bool {
        self.waiting.is_empty() && self.active.is_empty()
    }

    /// Queues a request; it joins the batch at the next step with room for it.
    pub fn submit(&mut self, job: GenerateJob) {
        self.waiting.push_back(job);
    }

    /// Admits what fits, decodes one token of every live sequence, and answers the
    /// requests that finished.
    pub fn step(&mut self) {
        self.drop_cancelled();
        self.admit();
        let live: Vec<(usize, usize)> = self
            .active
            .iter()
            .enumerate()
            .flat_map(|(a, r)| r.seqs.iter().enumerate().filter(|(_, s)| s.finish.is_none()).map(move |(s, _)| (a, s)))
            .collect();
        if !live.is_empty()
            && let Err(e) = self.decode_step(&live)
        {
            self.fail_all(&e);
        }
        self.answer_finished();
    }

    /// One decode of every live sequence's last token, then one sampled token each.
    fn decode_step(&mut self, live: &[(usize, usize)]) -> Result<(), ModelError> {
        let ctx = self.ctx.as_mut().ok_or_else(|| ModelError::Backend("no llama.cpp context".into()))?;
        let mut batch = LlamaBatch::new(live.len(), 1);
        for (j, &(a, s)) in live.iter().enumerate() {
            let seq = &mut self.active[a].seqs[s];
            batch.add(seq.last, seq.pos, &[seq.id], true).map_err(|e| backend_error("decode batch", e))?;
            seq.logits_at = j as i32;
            seq.fed.push(seq.last);
        }
        ctx.decode(&mut batch).map_err(|e| backend_error("decode", e))?;
        self.stats.record(live.len());
        for &(a, s) in live {
            let active = &mut self.active[a];
            let started = active.started;
            let seq = &mut active.seqs[s];
            sample(self.engine, ctx, seq, &active.job.request.sampling, &active.job.stream, started)?;
        }
        Ok(())
    }

    /// Requests whose caller stopped waiting leave, freeing their sequences.
    fn drop_cancelled(&mut self) {
        self.waiting.retain(|job| !job.reply.is_closed());
        let mut i = 0;
        while i < self.active.len() {
            if self.active[i].job.reply.is_closed() {
                let gone = self.active.swap_remove(i);
                for seq in &gone.seqs {
                    self.free_sequence(seq.id);
                }
            } else {
                i += 1;
            }
        }
    }

    /// Clears a sequence's stream and makes it available.
    fn free_sequence(&mut self, id: i32) {
        if let Some(ctx) = self.ctx.as_mut() {
            let _ = ctx.clear_kv_cache_seq(Some(id as u32), None, None);
        }
        self.free.push(id);
    }

    /// Drops the least recently used cached sequence other than `keep`; `false` when none.
    fn evict_one(&mut self, keep: Option<i32>) -> bool {
        let oldest = self
            .cache
            .iter()
            .enumerate()
            .filter(|(_, c)| Some(c.id) != keep)
            .min_by_key(|(_, c)| c.last_used)
            .map(|(i, _)| i);
        let Some(at) = oldest else { return false };
        let gone = self.cache.swap_remove(at);
        self.free_sequence(gone.id);
        true
    }

    /// The cached sequence sharing the longest prefix with `prompt`: its id and that
    /// length (at most all but the prompt's last token, whose logits must be computed).
    fn best_prefix(&self, prompt: &[LlamaToken]) -> Option<(i32, usize)> {
        self.cache
            .iter()
            .map(|c| (c, c.tokens.iter().zip(prompt).take_while(|(a, b)| a == b).count().min(prompt.len() - 1)))
            .filter(|&(_, n)| n > 0)
            .max_by_key(|&(c, n)| (n, c.last_used))
            .map(|(c, n)| (c.id, n))
    }

    /// Starts waiting requests, first come first served, while sequences last.
    fn admit(&mut self) {
        while let Some(job) = self.waiting.pop_front() {
            let prompt = match self.check(&job.request) {
                Ok(p) => p,
                Err(e) => {
                    let _ = job.reply.send(Err(e));
                    continue;
                }
            };
            let n = job.request.n;
            let per_sequence = prompt.len() as u64 + u64::from(job.request.sampling.max_tokens);
            let big_enough = self.ctx.is_some() && per_sequence <= self.stream_cells && n <= self.slots;
            if !big_enough {
                if !self.active.is_empty() {
                    self.waiting.push_front(job);
                    return;
                }
                // Nothing is running: a context of the size this request needs.
                if let Err(e) = self.new_context(per_sequence, n) {
                    let _ = job.reply.send(Err(e));
                    continue;
                }
            }
            let reuse = if self.limits.prefix_cache { self.best_prefix(&prompt) } else { None };
            // Sequences from the cache's oldest entries, sparing the one this prompt reuses.
            while self.free.len() < n && self.evict_one(reuse.map(|(id, _)| id)) {}
            if self.free.len() < n {
                if !self.active.is_empty() {
                    self.waiting.push_front(job);
                    return;
                }
                while self.evict_one(None) {}
            }
            let reuse = reuse.filter(|(id, _)| self.cache.iter().any(|c| c.id == *id));
            match self.start(job, prompt, reuse) {
                Ok(active) => self.active.push(active),
                Err((job, e)) => {
                    let _ = job.reply.send(Err(e));
                }
            }
        }
    }

    /// The request's prompt tokens, once it is known to fit this model at all.
    fn check(&self, request: &GenerationRequest) -> Result<Vec<LlamaToken>, ModelError> {
        request.validate()?;
        if request.n > self.limits.max_sequences {
            return Err(ModelError::InvalidRequest(format!(
                "n = {} exceeds the {} sequences decoded together; ask for fewer candidates",
                request.n, self.limits.max_sequences
            )));
        }
        let prompt = self.engine.prompt_tokens(&request.prompt)?;
        let max_tokens = request.sampling.max_tokens;
        let needed = prompt.len() as u64 + u64::from(max_tokens);
        let limit = self.engine.context_limit();
        if prompt.len() as u64 >= limit {
            return Err(ModelError::InvalidRequest(format!(
                "the prompt has {} tokens but the context holds {limit}; shorten the prompt or raise the context size",
                prompt.len()
            )));
        }
        if needed > limit {
            return Err(ModelError::InvalidRequest(format!(
                "{} prompt tokens + {max_tokens} new tokens = {needed} tokens exceed the context of {limit}; ask for \
                 fewer tokens, or raise the context size",
                prompt.len()
            )));
        }
        Ok(prompt)
    }

    /// Replaces the (idle) context with one whose streams hold `per_sequence` tokens and
    /// whose sequences number at least `n`.
    fn new_context(&mut self, per_sequence: u64, n: usize) -> Result<(), ModelError> {
        let stream = per_sequence.max(MIN_STREAM).max(self.stream_cells).next_multiple_of(256);
        let slots = ((self.limits.kv_cells / stream) as usize).clamp(n.max(1), self.limits.max_sequences.max(n));
        self.ctx = None;
        self.cache.clear();
        self.ctx = Some(self.engine.streams_context(stream as u32, slots as u32)?);
        self.stream_cells = stream;
        self.slots = slots;
        self.free = (0..slots as i32).rev().collect();
        Ok(())
    }

    /// Takes sequences for the request, decodes its prompt (after the reused prefix, if
    /// any), copies it to every candidate, and samples their first tokens.
    fn start(
        &mut self,
        job: GenerateJob,
        prompt: Vec<LlamaToken>,
        reuse: Option<(i32, usize)>,
    ) -> Result<Active, (GenerateJob, ModelError)> {
        let ids: Vec<i32> = (0..job.request.n).filter_map(|_| self.free.pop()).collect();
        if let Some((id, _)) = reuse {
            self.clock += 1;
            let clock = self.clock;
            if let Some(c) = self.cache.iter_mut().find(|c| c.id == id) {
                c.last_used = clock;
            }
        }
        let Some(ctx) = self.ctx.as_mut() else {
            self.free.extend(ids);
            return Err((job, ModelError::Backend("no llama.cpp context".into())));
        };
        match begin(self.engine, ctx, &job, &prompt, &ids, reuse) {
            Ok((prompt_ms, seqs, started)) => Ok(Active {
                job,
                prompt: Arc::new(prompt),
                prompt_cached: reuse.map_or(0, |(_, n)| n as u64),
                seqs,
                prompt_ms,
                started,
            }),
            Err(e) => {
                for id in ids {
                    self.free_sequence(id);
                }
                Err((job, e))
            }
        }
    }

    /// Answers every request whose candidates are all done.
    fn answer_finished(&mut self) {
        let mut i = 0;
        while i < self.active.len() {
            if self.active[i].seqs.iter().all(|s| s.finish.is_some()) {
                let mut done = self.active.swap_remove(i);
                for seq in &mut done.seqs {
                    self.keep_or_free(&done.prompt, seq.id, std::mem::take(&mut seq.fed));
                }
                let generate_ms = done.started.elapsed().as_secs_f64() * 1000.0;
                let mut seqs = done.seqs;
                seqs.sort_by_key(|s| s.index);
                let candidates = seqs
                    .into_iter()
                    .map(|s| GeneratedCandidate {
                        text: s.text,
                        tokens: s.tokens,
                        logprob_mean: (s.tokens > 0).then(|| s.logprob_sum / f64::from(s.tokens)),
                        finish_reason: s.finish.unwrap_or(FinishReason::Length),
                        timings: CandidateTimings { generate_ms: s.done_ms },
                    })
                    .collect();
                let timings = GenerationTimings {
                    prompt_tokens: done.prompt.len() as u64,
                    prompt_cached_tokens: done.prompt_cached,
                    prompt_ms: done.prompt_ms,
                    generate_ms,
                };
                let _ = done.job.reply.send(Ok(Generation { candidates, timings }));
            } else {
                i += 1;
            }
        }
    }

    /// A finished sequence: cached under its tokens (prompt, then generated), or freed
    /// when prefix caching is off.
    fn keep_or_free(&mut self, prompt: &[LlamaToken], id: i32, fed: Vec<LlamaToken>) {
        if !self.limits.prefix_cache {
            self.free_sequence(id);
            return;
        }
        self.clock += 1;
        let mut tokens = Vec::with_capacity(prompt.len() + fed.len());
        tokens.extend_from_slice(prompt);
        tokens.extend(fed);
        self.cache.push(Cached { id, tokens, last_used: self.clock });
    }

    /// A failed decode leaves the cache in an unknown state: every running request gets
    /// the error, and the batch starts empty.
    fn fail_all(&mut self, e: &ModelError) {
        for done in std::mem::take(&mut self.active) {
            self.free.extend(done.seqs.iter().map(|s| s.id));
            let again = match e {
                ModelError::BrokenModel(m) => ModelError::BrokenModel(m.clone()),
                other => ModelError::Backend(other.to_string()),
            };
            let _ = done.job.reply.send(Err(again));
        }
        for cached in std::mem::take(&mut self.cache) {
            self.free.push(cached.id);
        }
        if let Some(ctx) = self.ctx.as_mut() {
            ctx.clear_kv_cache();
        }
    }
}

/// The prompt on `ids[0]` (from a copy of a cached sequence's stream when `reuse` names
/// one, decoding only what follows the shared prefix), copied to the other ids, and every
/// candidate's first token: (prompt ms, the sequences, when decoding began).
fn begin(
    engine: &Engine,
    ctx: &mut LlamaContext<'_>,
    job: &GenerateJob,
    prompt: &[LlamaToken],
    ids: &[i32],
    reuse: Option<(i32, usize)>,
) -> Result<(f64, Vec<Sequence>, Instant), ModelError> {
    let started = Instant::now();
    let copy = |ctx: &mut LlamaContext<'_>, from: i32, to: i32| {
        // Across streams llama.cpp copies whole streams; the cells keep their places.
        ctx.copy_kv_cache_seq(from, to, None, None).map_err(|e| backend_error("kv cache copy", e))
    };
    let from = match reuse {
        Some((cached, n)) => {
            copy(ctx, cached, ids[0])?;
            ctx.clear_kv_cache_seq(Some(ids[0] as u32), Some(n as u32), None)
                .map_err(|e| backend_error("kv cache trim", e))?;
            n
        }
        None => 0,
    };
    let last_index = prefill(ctx, prompt, from, ids[0])?;
    for &id in &ids[1..] {
        copy(ctx, ids[0], id)?;
    }
    let prompt_ms = started.elapsed().as_secs_f64() * 1000.0;
    let started = Instant::now();
    let request = &job.request;
    let mut seqs: Vec<Sequence> = ids
        .iter()
        .enumerate()
        .map(|(index, &id)| Sequence {
            id,
            index,
            sampler: engine.sampler(&request.sampling, request.candidate_seed(index)),
            bytes: Vec::new(),
            tokens: 0,
            logprob_sum: 0.0,
            last: LlamaToken(0),
            pos: prompt.len() as i32 - 1,
            fed: Vec::new(),
            logits_at: last_index,
            finish: None,
            text: String::new(),
            done_ms: 0.0,
            visible: TextStream::default(),
        })
        .collect();
    for seq in &mut seqs {
        sample(engine, ctx, seq, &request.sampling, &job.stream, started)?;
    }
    Ok((prompt_ms, seqs, started))
}

/// Decodes the prompt from position `from` (the cells before it are already there) on
/// sequence `id`, in chunks of the context's batch size, with logits for its last token
/// only; returns that token's index in the last chunk.
fn prefill(ctx: &mut LlamaContext<'_>, prompt: &[LlamaToken], from: usize, id: i32) -> Result<i32, ModelError> {
    let n_batch = ctx.n_batch() as usize;
    let rest = &prompt[from..];
    let mut batch = LlamaBatch::new(n_batch.min(rest.len()).max(1), 1);
    let mut last_index = 0;
    for (c, chunk) in rest.chunks(n_batch).enumerate() {
        batch.clear();
        for (j, &t) in chunk.iter().enumerate() {
            let pos = from + c * n_batch + j;
            let last = pos + 1 == prompt.len();
            batch.add(t, pos as i32, &[id], last).map_err(|e| backend_error("prompt batch", e))?;
            if last {
                last_index = j as i32;
            }
        }
        ctx.decode(&mut batch).map_err(|e| backend_error("prompt decode", e))?;
    }
    Ok(last_index)
}

/// Samples the next token of `seq` from the logits of the last decode, and sends the piece
/// it adds when the request streams.
fn sample(
    engine: &Engine,
    ctx: &LlamaContext<'_>,
    seq: &mut Sequence,
    params: &SamplingParams,
    stream: &Option<(StreamOptions, mpsc::UnboundedSender<Piece>)>,
    started: Instant,
) -> Result<(), ModelError> {
    let vocab = engine.vocab();
    let logits = ctx.get_logits_ith(seq.logits_at);
    engine.check_finite("logits", logits)?;
    let token = seq.sampler.sample(ctx, seq.logits_at);
    let logits = ctx.get_logits_ith(seq.logits_at);
    let logprob = log_prob(logits, token.0 as usize);
    seq.logprob_sum += logprob;
    seq.tokens += 1;
    seq.last = token;
    seq.pos += 1;
    let eog = vocab.is_eog(token);
    let piece_bytes = if eog { Vec::new() } else { vocab.token_to_piece(token, false, None) };
    if eog {
        seq.finish = Some(FinishReason::Stop);
    } else {
        seq.bytes.extend_from_slice(&piece_bytes);
        let text = String::from_utf8_lossy(&seq.bytes);
        if let Some(cut) = params.stop.iter().filter_map(|stop| text.find(stop.as_str())).min() {
            seq.text = text[..cut].to_owned();
            seq.finish = Some(FinishReason::StopString);
        } else if seq.tokens >= params.max_tokens {
            seq.finish = Some(FinishReason::Length);
        }
    }
    if seq.finish.is_some() {
        seq.done_ms = started.elapsed().as_secs_f64() * 1000.0;
        if seq.finish != Some(FinishReason::StopString) {
            seq.text = String::from_utf8_lossy(&seq.bytes).into_owned();
        }
    }
    if let Some((options, pieces)) = stream {
        let text = match seq.finish {
            Some(_) => seq.visible.finish(&seq.text),
            None => seq.visible.advance(&seq.bytes, &params.stop),
        };
        let detail = options.logprobs && !eog;
        let describe = |t: LlamaToken, lp: f64| {
            let bytes = vocab.token_to_piece(t, false, None);
            TokenLogprob { token: String::from_utf8_lossy(&bytes).into_owned(), bytes, logprob: lp }
        };
        let token_info = detail.then(|| describe(token, logprob));
        let top = if detail && options.top_logprobs > 0 {
            // log p(t) = logit(t) - logsumexp(logits), and logsumexp is known from the sampled token.
            let lse = f64::from(logits[token.0 as usize]) - logprob;
            top_tokens(logits, options.top_logprobs.min(MAX_TOP_LOGPROBS))
                .into_iter()
                .map(|(t, l)| describe(LlamaToken(t as i32), f64::from(l) - lse))
                .collect()
        } else {
            Vec::new()
        };
        if !text.is_empty() || token_info.is_some() {
            // A caller that stopped listening is noticed through its reply at the next step.
            let _ = pieces.send(Piece { candidate: seq.index, text, token: token_info, top });
        }
    }
    Ok(())
}

/// The `k` largest logits with their token ids, largest first.
fn top_tokens(logits: &[f32], k: usize) -> Vec<(usize, f32)> {
    if k == 0 {
        return Vec::new();
    }
    let mut top: Vec<(usize, f32)> = Vec::with_capacity(k + 1);
    for (i, &l) in logits.iter().enumerate() {
        if top.len() < k || l > top[top.len() - 1].1 {
            let at = top.partition_point(|&(_, x)| x >= l);
            top.insert(at, (i, l));
            top.truncate(k);
        }
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_tokens_are_the_largest_in_order() {
        let logits = [0.5, 3.0, -1.0, 2.0, 3.0, 0.0];
        assert_eq!(top_tokens(&logits, 3), vec![(1, 3.0), (4, 3.0), (3, 2.0)]);
        assert_eq!(top_tokens(&logits, 0), vec![]);
        assert_eq!(top_tokens(&logits, 10).len(), 6);
    }
}
