//! Continuous batching on the worker thread. Every generation request in flight (the `n`
//! candidates of one request, the concurrent requests of `autobranch serve`, the nodes of
//! an explore level) decodes in one llama.cpp batch per step:
//!
//! - a request joins at the next step: its prompt is decoded once and its KV cells are
//!   shared by all its candidates (a unified cache copies no data);
//! - a prompt that begins like the prompt of a request in the batch (the same system
//!   prompt, the siblings of an explore level, one question asked by many clients) shares
//!   that request's cells for the common tokens and decodes only the rest;
//! - a finished sequence leaves the batch and frees its cells;
//! - a request whose caller went away (a closed connection, a dropped future) is dropped
//!   with its sequences;
//! - requests wait, in order, while the batch has no free sequence or cells for them;
//! - when the batch empties, the cache is cleared: requests that arrive together at an idle
//!   batcher (one `generate_batch`, one explore level) get the same cells every run, and so
//!   the same numbers;
//! - unless the prompt cache is on ([`crate::LlamaCppOptions::prompt_cache`]): then finished
//!   sequences keep their cells (prompt and generated text) for later prompts that start the
//!   same way, until their sequence id or cells are needed ([`PromptCache`]).
//!
//! Nothing here is async: the worker calls [`Batcher::step`] between its other jobs.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use autobranch_core::model::{
    CandidateTimings, FinishReason, GeneratedCandidate, Generation, GenerationRequest, GenerationTimings,
    MAX_TOP_LOGPROBS, ModelError, Piece, Prompt, SamplingParams, StreamOptions, TextStream, TokenLogprob, log_prob,
};
use llama_cpp_2::DecodeError;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::{mpsc, oneshot};

use crate::engine::{Engine, backend_error};
use crate::prompt_cache::{PromptCache, common_start};
use crate::stats::BatchStats;

/// KV cells of the first context, when the model's context is longer: a few requests' worth
/// without reserving the memory of a 128k-token context up front.
const FIRST_CELLS: u64 = 4096;

/// Most sequences one decode call carries on the CPU. From 64 query rows up, llama.cpp's CPU
/// flash attention switches to 64 × 64 tiles that it skips only when every row masks every
/// cell, and in a batch of many sequences over one unified cache hardly any tile is: each
/// sequence then attends, at full cost, to every other sequence's cells too (at 72 sequences
/// that costs more than the weights). Below it, each row visits only its own cells. A step
/// splits into calls of equal size (72 sequences: two of 36, measured faster than 63 + 9).
const CPU_DECODE_ROWS: usize = 63;

/// A generation request handed to the worker.
pub struct GenerateJob {
    /// What to generate; `n` is at most the batcher's sequence slots.
    pub request: GenerationRequest,
    /// Where pieces go as they are produced, and what they carry.
    pub stream: Option<(StreamOptions, mpsc::UnboundedSender<Piece>)>,
    /// The answer.
    pub reply: oneshot::Sender<Result<Generation, ModelError>>,
}

/// One candidate being decoded.
struct Sequence {
    /// llama.cpp sequence id.
    id: i32,
    /// Index of the candidate in its request.
    index: usize,
    sampler: LlamaSampler,
    /// Every sampled token; all but the last have cells.
    generated: Vec<LlamaToken>,
    bytes: Vec<u8>,
    tokens: u32,
    logprob_sum: f64,
    last: LlamaToken,
    /// Position of `last` in the sequence.
    pos: i32,
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
    prompt: Vec<LlamaToken>,
    /// Leading prompt tokens whose cells came from another request in the batch or the
    /// prompt cache.
    prompt_cached: u64,
    /// Cells set aside: the prompt and every candidate at its longest.
    reserved: u64,
    seqs: Vec<Sequence>,
    prompt_ms: f64,
    started: Instant,
}

/// The batch and the requests in it.
pub struct Batcher<'m> {
    engine: &'m Engine,
    ctx: Option<LlamaContext<'m>>,
    /// Cells of the current context.
    cells: u64,
    /// Sequences llama.cpp decodes side by side.
    slots: usize,
    free: Vec<i32>,
    waiting: VecDeque<GenerateJob>,
    active: Vec<Active>,
    cache: PromptCache,
    stats: Arc<BatchStats>,
}

impl<'m> Batcher<'m> {
    /// A batcher of up to `slots` sequences at once, keeping finished sequences' cells for
    /// later prompts when `prompt_cache` is on.
    pub fn new(engine: &'m Engine, slots: usize, prompt_cache: bool, stats: Arc<BatchStats>) -> Self {
        Self {
            engine,
            ctx: None,
            cells: 0,
            slots,
            free: Vec::new(),
            waiting: VecDeque::new(),
            active: Vec::new(),
            cache: PromptCache::new(prompt_cache),
            stats,
        }
    }

    /// Whether nothing is running or waiting.
    pub fn is_idle(&self) -> bool {
        self.waiting.is_empty() && self.active.is_empty()
    }

    /// The hint that the next requests begin with `next`: kept sequences that begin with
    /// `root` and serve none of them go (a prompt that does not render is no hint at all).
    pub fn expect(&mut self, root: &Prompt, next: &[Prompt]) {
        if !self.cache.is_on() {
            return;
        }
        let tokens = |p: &Prompt| self.engine.prompt_tokens(p).ok();
        let (Some(root), Some(next)) = (tokens(root), next.iter().map(tokens).collect::<Option<Vec<_>>>()) else {
            return;
        };
        if let Some(ctx) = self.ctx.as_mut() {
            self.cache.keep_serving(ctx, &mut self.free, &root, &next);
        }
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
        if self.active.is_empty()
            && !self.cache.is_on()
            && let Some(ctx) = self.ctx.as_mut()
        {
            // Every batch that starts idle starts on empty cells: the same requests then get
            // the same cells, so a rerun (or a resumed tree) decodes to the same numbers.
            ctx.clear_kv_cache();
        }
    }

    /// One decode of every live sequence's last token (in calls of at most
    /// [`CPU_DECODE_ROWS`] on the CPU), then one sampled token each.
    fn decode_step(&mut self, live: &[(usize, usize)]) -> Result<(), ModelError> {
        let ctx = self.ctx.as_mut().ok_or_else(|| ModelError::Backend("no llama.cpp context".into()))?;
        let rows = if self.engine.gpu_layers() > 0 {
            live.len()
        } else {
            live.len().div_ceil(live.len().div_ceil(CPU_DECODE_ROWS))
        };
        let mut batch = LlamaBatch::new(live.len().min(rows), 1);
        for part in live.chunks(rows) {
            batch.clear();
            for (j, &(a, s)) in part.iter().enumerate() {
                let seq = &mut self.active[a].seqs[s];
                batch.add(seq.last, seq.pos, &[seq.id], true).map_err(|e| backend_error("decode batch", e))?;
                seq.logits_at = j as i32;
            }
            decode_evicting(ctx, &mut batch, &mut self.cache, &mut self.free, "decode")?;
            for &(a, s) in part {
                let active = &mut self.active[a];
                let started = active.started;
                let seq = &mut active.seqs[s];
                sample(self.engine, ctx, seq, &active.job.request.sampling, &active.job.stream, started)?;
                if seq.finish.is_some() {
                    retire(ctx, &active.prompt, seq, &mut self.cache, &mut self.free)?;
                }
            }
        }
        self.stats.record(live.len());
        Ok(())
    }

    /// Requests whose caller stopped waiting leave, freeing their sequences and cells.
    fn drop_cancelled(&mut self) {
        self.waiting.retain(|job| !job.reply.is_closed());
        let mut i = 0;
        while i < self.active.len() {
            if self.active[i].job.reply.is_closed() {
                let gone = self.active.swap_remove(i);
                self.release(&gone);
            } else {
                i += 1;
            }
        }
    }

    fn release(&mut self, request: &Active) {
        for seq in &request.seqs {
            if seq.finish.is_none()
                && let Some(ctx) = self.ctx.as_mut()
            {
                let _ = ctx.clear_kv_cache_seq(Some(seq.id as u32), None, None);
            }
            self.free.push(seq.id);
        }
    }

    fn reserved(&self) -> u64 {
        self.active.iter().map(|a| a.reserved).sum()
    }

    /// Starts waiting requests, first come first served, while sequences and cells last.
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
            let needed = prompt.len() as u64 + n as u64 * u64::from(job.request.sampling.max_tokens);
            if let Some(ctx) = self.ctx.as_mut() {
                // Kept sequences give way; their cells go as decoding needs them.
                self.cache.free_ids(ctx, &mut self.free, n);
            }
            let fits = |b: &Self| b.ctx.is_some() && b.free.len() >= n && b.reserved() + needed <= b.cells;
            if !fits(self) {
                if !self.active.is_empty() {
                    self.waiting.push_front(job);
                    return;
                }
                // Nothing is running: a context of the size this request needs.
                if let Err(e) = self.new_context(needed) {
                    let _ = job.reply.send(Err(e));
                    continue;
                }
            }
            if let Some(active) = self.start(job, prompt, needed) {
                self.active.push(active);
            }
        }
    }

    /// The request's prompt tokens, once it is known to fit this model at all.
    fn check(&self, request: &GenerationRequest) -> Result<Vec<LlamaToken>, ModelError> {
        request.validate()?;
        if request.n > self.slots {
            return Err(ModelError::InvalidRequest(format!(
                "n = {} exceeds the {} sequences decoded together; ask for fewer candidates",
                request.n, self.slots
            )));
        }
        let prompt = self.engine.prompt_tokens(&request.prompt)?;
        let max_tokens = request.sampling.max_tokens;
        let n = request.n;
        let needed = prompt.len() as u64 + n as u64 * u64::from(max_tokens);
        let limit = self.engine.context_limit();
        if prompt.len() as u64 >= limit {
            return Err(ModelError::InvalidRequest(format!(
                "the prompt has {} tokens but the context holds {limit}; shorten the prompt or raise the context size \
                 (--ctx-size, generator.ctx_size)",
                prompt.len()
            )));
        }
        if needed > limit {
            return Err(ModelError::InvalidRequest(format!(
                "{} prompt tokens + {n} candidates × {max_tokens} new tokens = {needed} tokens exceed the context of \
                 {limit}; ask for fewer candidates or fewer tokens, or raise the context size (--ctx-size, \
                 generator.ctx_size)",
                prompt.len()
            )));
        }
        Ok(prompt)
    }

    /// Replaces the (idle) context with one of at least `needed` cells.
    fn new_context(&mut self, needed: u64) -> Result<(), ModelError> {
        let limit = self.engine.context_limit();
        let cells = needed.max(FIRST_CELLS.min(limit)).max(self.cells.min(limit));
        self.ctx = None;
        self.cache.forget(&mut self.free);
        self.ctx = Some(self.engine.context(cells as u32, self.slots as u32)?);
        self.cells = cells;
        self.free = (0..self.slots as i32).rev().collect();
        Ok(())
    }

    /// The longest start of `prompt` that a live or kept sequence holds in its cells: that
    /// sequence and the number of tokens. The prompt's last token is always left to decode,
    /// for its logits. The first request with the longest match wins, so a batch that starts
    /// idle shares the same cells on every run.
    fn shared_prefix(&mut self, prompt: &[LlamaToken]) -> Option<(i32, usize)> {
        let limit = prompt.len() - 1;
        let mut best: Option<(i32, usize)> = None;
        for request in &self.active {
            let Some(live) = request.seqs.iter().find(|s| s.finish.is_none()) else { continue };
            let len = common_start(&request.prompt, prompt).min(limit);
            if len > best.map_or(0, |(_, l)| l) {
                best = Some((live.id, len));
            }
        }
        match self.cache.longest(prompt, limit) {
            Some((id, len)) if len > best.map_or(0, |(_, l)| l) => {
                self.cache.touch(id);
                Some((id, len))
            }
            _ => best,
        }
    }

    /// Decodes the prompt once (after what it shares with a request in the batch), shares
    /// its cells with every candidate, and samples each candidate's first token from the
    /// prompt's logits; a failure is the request's answer. The cells reserved stay those of
    /// the whole prompt: shared cells outlive the request they came from.
    fn start(&mut self, job: GenerateJob, prompt: Vec<LlamaToken>, needed: u64) -> Option<Active> {
        let shared = self.shared_prefix(&prompt);
        let ids: Vec<i32> = (0..job.request.n).filter_map(|_| self.free.pop()).collect();
        let Some(ctx) = self.ctx.as_mut() else {
            self.free.extend(ids);
            let _ = job.reply.send(Err(ModelError::Backend("no llama.cpp context".into())));
            return None;
        };
        let began = Instant::now();
        let kept = share_prompt(ctx, &prompt, shared, &ids, &mut self.cache, &mut self.free).and_then(|last_index| {
            let prompt_ms = began.elapsed().as_secs_f64() * 1000.0;
            let (seqs, started) = first_tokens(self.engine, ctx, &job, &prompt, &ids, last_index)?;
            // Candidates that ended on their first token are done with their cells.
            for seq in seqs.iter().filter(|s| s.finish.is_some()) {
                retire(ctx, &prompt, seq, &mut self.cache, &mut self.free)?;
            }
            Ok((prompt_ms, seqs, started))
        });
        match kept {
            Ok((prompt_ms, seqs, started)) => {
                let prompt_cached = shared.map_or(0, |(_, len)| len as u64);
                Some(Active { job, prompt, prompt_cached, reserved: needed, seqs, prompt_ms, started })
            }
            Err(e) => {
                for &id in &ids {
                    let _ = ctx.clear_kv_cache_seq(Some(id as u32), None, None);
                }
                self.free.extend(ids);
                let _ = job.reply.send(Err(e));
                None
            }
        }
    }

    /// Answers every request whose candidates are all done.
    fn answer_finished(&mut self) {
        let mut i = 0;
        while i < self.active.len() {
            if self.active[i].seqs.iter().all(|s| s.finish.is_some()) {
                let done = self.active.swap_remove(i);
                self.free.extend(done.seqs.iter().map(|s| s.id));
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
                    prompt_cached: done.prompt_cached,
                    prompt_ms: done.prompt_ms,
                    generate_ms,
                };
                let _ = done.job.reply.send(Ok(Generation { candidates, timings }));
            } else {
                i += 1;
            }
        }
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
        self.cache.forget(&mut self.free);
        if let Some(ctx) = self.ctx.as_mut() {
            ctx.clear_kv_cache();
        }
    }
}

/// A finished sequence's cells go to the prompt cache (when on: the prompt and every
/// generated token but the last, which was never decoded), then leave the sequence.
fn retire(
    ctx: &mut LlamaContext<'_>,
    prompt: &[LlamaToken],
    seq: &Sequence,
    cache: &mut PromptCache,
    free: &mut Vec<i32>,
) -> Result<(), ModelError> {
    if cache.is_on() {
        let decoded = seq.generated.len().saturating_sub(1);
        let tokens = prompt.iter().chain(&seq.generated[..decoded]).copied().collect();
        cache.keep(ctx, seq.id, tokens, free)?;
    }
    ctx.clear_kv_cache_seq(Some(seq.id as u32), None, None).map_err(|e| backend_error("kv cache clear", e))?;
    Ok(())
}

/// Decodes `batch`, evicting kept sequences while the context has no cells for it.
fn decode_evicting(
    ctx: &mut LlamaContext<'_>,
    batch: &mut LlamaBatch<'_>,
    cache: &mut PromptCache,
    free: &mut Vec<i32>,
    what: &str,
) -> Result<(), ModelError> {
    loop {
        match ctx.decode(batch) {
            Err(DecodeError::NoKvCacheSlot) if cache.evict_oldest(ctx, free) => {}
            done => return done.map_err(|e| backend_error(what, e)),
        }
    }
}

/// The prompt on `ids[0]` (its first `shared.1` tokens' cells taken from sequence
/// `shared.0`), its cells shared with the other ids; returns the index of the prompt's last
/// token in the last decoded batch.
fn share_prompt(
    ctx: &mut LlamaContext<'_>,
    prompt: &[LlamaToken],
    shared: Option<(i32, usize)>,
    ids: &[i32],
    cache: &mut PromptCache,
    free: &mut Vec<i32>,
) -> Result<i32, ModelError> {
    let from = match shared {
        Some((source, len)) => {
            let end = u32::try_from(len).map_err(|e| backend_error("kv cache copy", e))?;
            ctx.copy_kv_cache_seq(source, ids[0], Some(0), Some(end)).map_err(|e| backend_error("kv cache copy", e))?;
            len
        }
        None => 0,
    };
    let last_index = prefill(ctx, prompt, from, ids[0], cache, free)?;
    for &id in &ids[1..] {
        ctx.copy_kv_cache_seq(ids[0], id, None, None).map_err(|e| backend_error("kv cache copy", e))?;
    }
    Ok(last_index)
}

/// A sequence per id over the decoded prompt, each with its first token sampled from the
/// prompt's logits (at `last_index`): the sequences, and when decoding began.
fn first_tokens(
    engine: &Engine,
    ctx: &mut LlamaContext<'_>,
    job: &GenerateJob,
    prompt: &[LlamaToken],
    ids: &[i32],
    last_index: i32,
) -> Result<(Vec<Sequence>, Instant), ModelError> {
    let started = Instant::now();
    let request = &job.request;
    let mut seqs: Vec<Sequence> = ids
        .iter()
        .enumerate()
        .map(|(index, &id)| Sequence {
            id,
            index,
            sampler: engine.sampler(&request.sampling, request.candidate_seed(index)),
            generated: Vec::new(),
            bytes: Vec::new(),
            tokens: 0,
            logprob_sum: 0.0,
            last: LlamaToken(0),
            pos: prompt.len() as i32 - 1,
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
    Ok((seqs, started))
}

/// Decodes the prompt from position `from` on sequence `id` (which holds the cells before
/// it), in chunks of the context's batch size, with logits for its last token only;
/// returns that token's index in the last chunk.
fn prefill(
    ctx: &mut LlamaContext<'_>,
    prompt: &[LlamaToken],
    from: usize,
    id: i32,
    cache: &mut PromptCache,
    free: &mut Vec<i32>,
) -> Result<i32, ModelError> {
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
        decode_evicting(ctx, &mut batch, cache, free, "prompt decode")?;
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
    seq.generated.push(token);
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
