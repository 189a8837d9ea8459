//! The thread that owns a llama.cpp model. llama.cpp contexts and samplers are not safe to
//! share across threads, so one thread loads the model and serves every request, and the
//! async API talks to it over a channel. Generation requests join the thread's running
//! batch ([`Batcher`]); the other jobs run between its steps.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use autobranch_core::model::{Generation, GenerationRequest, ModelError, Piece, Prompt, StreamOptions};
use tokio::sync::{mpsc as async_mpsc, oneshot};

use crate::batcher::{Batcher, GenerateJob};
use crate::engine::Engine;
use crate::options::LlamaCppOptions;
use crate::stats::BatchStats;

/// What the worker can do.
enum Job {
    /// Requests that join the batch together, in order (one, or a whole `generate_batch`).
    Generate(Vec<GenerateJob>),
    Embed {
        texts: Vec<String>,
        reply: oneshot::Sender<Result<Vec<Vec<f32>>, ModelError>>,
    },
    Logits {
        prompt: Prompt,
        reply: oneshot::Sender<Result<Vec<f32>, ModelError>>,
    },
    Tokens {
        prompt: Prompt,
        reply: oneshot::Sender<Result<Vec<u32>, ModelError>>,
    },
    RawSpeed {
        n_prompt: usize,
        n_gen: usize,
        reply: oneshot::Sender<Result<(f64, f64), ModelError>>,
    },
    /// The prompt cache's hint ([`autobranch_core::Generator::expect_prompts`]).
    Expect {
        root: Prompt,
        next: Vec<Prompt>,
    },
}

/// Facts about the loaded model, read once at load time.
#[derive(Clone, Debug)]
pub struct ModelInfo {
    /// `general.architecture`.
    pub architecture: String,
    /// Training context length.
    pub n_ctx_train: u32,
    /// Embedding length.
    pub n_embd: usize,
    /// Whether the GGUF carries a chat template.
    pub has_chat_template: bool,
    /// Layers on the GPU (0: the model runs on the CPU).
    pub gpu_layers: u32,
}

/// Handle to a worker thread; dropping it stops the thread after the current job.
pub struct Worker {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    info: ModelInfo,
    slots: usize,
    stats: Arc<BatchStats>,
}

/// Where a streaming caller's pieces go.
pub type PieceSink<'a> = (StreamOptions, &'a (dyn Fn(Piece) + Send + Sync));

fn thread_gone() -> ModelError {
    ModelError::Backend("the llama.cpp thread has stopped".into())
}

/// Most sequences llama.cpp decodes side by side (its `LLAMA_MAX_SEQ`).
pub const MAX_SEQUENCES: u32 = 256;

/// Runs one job: generation joins the batch, the rest runs now.
fn run<'m>(engine: &'m Engine, batcher: &mut Batcher<'m>, job: Job) {
    // A receiver that went away (a cancelled request) is not an error.
    match job {
        Job::Generate(jobs) => jobs.into_iter().for_each(|job| batcher.submit(job)),
        Job::Embed { texts, reply } => {
            let _ = reply.send(engine.embed(&texts));
        }
        Job::Logits { prompt, reply } => {
            let _ = reply.send(engine.prompt_logits(&prompt));
        }
        Job::Tokens { prompt, reply } => {
            let _ = reply.send(engine.prompt_token_ids(&prompt));
        }
        Job::RawSpeed { n_prompt, n_gen, reply } => {
            let _ = reply.send(engine.raw_speed(n_prompt, n_gen));
        }
        Job::Expect { root, next } => batcher.expect(&root, &next),
    }
}

impl Worker {
    /// Starts a thread, loads the model there, and waits until it is ready.
    pub fn spawn(path: &Path, options: LlamaCppOptions) -> Result<Self, ModelError> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let slots = options.max_sequences.clamp(1, MAX_SEQUENCES) as usize;
        let prompt_cache = options.prompt_cache;
        let stats = Arc::new(BatchStats::default());
        let counted = Arc::clone(&stats);
        let (ready_tx, ready_rx) = mpsc::channel::<Result<ModelInfo, ModelError>>();
        let path = path.to_owned();
        let thread = std::thread::Builder::new()
            .name("llama.cpp".into())
            .spawn(move || {
                let engine = match Engine::load(&path, options) {
                    Ok(e) => e,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let info = ModelInfo {
                    architecture: engine.header().architecture().unwrap_or("unknown").to_owned(),
                    n_ctx_train: engine.n_ctx_train(),
                    n_embd: engine.n_embd(),
                    has_chat_template: engine.header().get_str("tokenizer.chat_template").is_some(),
                    gpu_layers: engine.gpu_layers(),
                };
                let _ = ready_tx.send(Ok(info));
                let mut batcher = Batcher::new(&engine, slots, prompt_cache, counted);
                loop {
                    // Wait for work only when the batch is empty; otherwise take what came in
                    // and decode the next token of everything running.
                    if batcher.is_idle() {
                        match rx.recv() {
                            Ok(job) => run(&engine, &mut batcher, job),
                            Err(_) => break,
                        }
                    }
                    while let Ok(job) = rx.try_recv() {
                        run(&engine, &mut batcher, job);
                    }
                    batcher.step();
                }
            })
            .map_err(|e| ModelError::Unavailable(format!("cannot start the llama.cpp thread: {e}")))?;
        let info = ready_rx
            .recv()
            .map_err(|_| ModelError::Unavailable("the llama.cpp thread stopped while loading the model".into()))??;
        Ok(Self { jobs: Some(jobs), thread: Some(thread), info, slots, stats })
    }

    /// Decode steps by batch size, since the model loaded.
    pub fn stats(&self) -> &Arc<BatchStats> {
        &self.stats
    }

    /// The loaded model's facts.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T, ModelError>>) -> Job) -> Result<T, ModelError> {
        let (tx, rx) = oneshot::channel();
        self.jobs.as_ref().ok_or_else(thread_gone)?.send(make(tx)).map_err(|_| thread_gone())?;
        rx.await.map_err(|_| thread_gone())?
    }

    /// Runs a generation request in the shared batch, streaming pieces to `sink` if given.
    /// `sequential` decodes one candidate at a time, prompt included, as `n` separate calls
    /// would (for comparison); more candidates than the batch has sequences go in groups.
    pub async fn generate(
        &self,
        request: &GenerationRequest,
        sequential: bool,
        sink: Option<PieceSink<'_>>,
    ) -> Result<Generation, ModelError> {
        request.validate()?;
        let group = if sequential { 1 } else { self.slots };
        let mut merged: Option<Generation> = None;
        let mut start = 0;
        for seeds in request.seed_groups(group) {
            let mut part = request.clone();
            part.n = seeds.len();
            part.sampling.seed = seeds[0];
            let (pieces, mut received) = async_mpsc::unbounded_channel();
            let stream = sink.map(|(options, _)| (options, pieces));
            let answer = self.call(|reply| Job::Generate(vec![GenerateJob { request: part, stream, reply }]));
            let generation = match sink {
                Some((_, on_piece)) => {
                    let forward = async {
                        while let Some(mut piece) = received.recv().await {
                            piece.candidate += start;
                            on_piece(piece);
                        }
                    };
                    let (generation, ()) = tokio::join!(answer, forward);
                    generation?
                }
                None => answer.await?,
            };
            start += seeds.len();
            match &mut merged {
                None => merged = Some(generation),
                Some(m) => {
                    m.timings.prompt_ms += generation.timings.prompt_ms;
                    m.timings.generate_ms += generation.timings.generate_ms;
                    m.candidates.extend(generation.candidates);
                }
            }
        }
        merged.ok_or_else(|| ModelError::InvalidRequest("n = 0 is out of range; allowed: an integer ≥ 1".into()))
    }

    /// Passes the prompt cache's hint to the worker, in order with the requests; nothing
    /// waits for it.
    pub fn expect_prompts(&self, root: &Prompt, next: &[Prompt]) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(Job::Expect { root: root.clone(), next: next.to_vec() });
        }
    }

    /// Runs several requests in the shared batch at once: all are submitted before any is
    /// awaited, so the batch takes them together (each prompt decoded once). Requests with
    /// more candidates than the batch's sequences, or `sequential`, run one by one.
    pub async fn generate_many(
        &self,
        requests: &[GenerationRequest],
        sequential: bool,
    ) -> Vec<Result<Generation, ModelError>> {
        if sequential || requests.iter().any(|r| r.n > self.slots) {
            let mut out = Vec::with_capacity(requests.len());
            for r in requests {
                out.push(self.generate(r, sequential, None).await);
            }
            return out;
        }
        // One job for all: the batch takes them in the same step every run, so the same
        // requests decode to the same numbers.
        let (jobs, answers): (Vec<GenerateJob>, Vec<_>) = requests
            .iter()
            .map(|request| {
                let (reply, answer) = oneshot::channel();
                (GenerateJob { request: request.clone(), stream: None, reply }, answer)
            })
            .unzip();
        let sent = self
            .jobs
            .as_ref()
            .ok_or_else(thread_gone)
            .and_then(|j| j.send(Job::Generate(jobs)).map_err(|_| thread_gone()));
        let mut out = Vec::with_capacity(requests.len());
        for answer in answers {
            out.push(match &sent {
                Ok(()) => answer.await.unwrap_or_else(|_| Err(thread_gone())),
                Err(_) => Err(thread_gone()),
            });
        }
        out
    }

    /// Embeds texts.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, ModelError> {
        self.call(|reply| Job::Embed { texts, reply }).await
    }

    /// llama.cpp's raw prompt and decode speed (see `Engine::raw_speed`).
    pub async fn raw_speed(&self, n_prompt: usize, n_gen: usize) -> Result<(f64, f64), ModelError> {
        self.call(|reply| Job::RawSpeed { n_prompt, n_gen, reply }).await
    }

    /// Next-token logits after a prompt.
    pub async fn logits(&self, prompt: Prompt) -> Result<Vec<f32>, ModelError> {
        self.call(|reply| Job::Logits { prompt, reply }).await
    }

    /// The prompt's token ids as llama.cpp tokenises it.
    pub async fn tokens(&self, prompt: Prompt) -> Result<Vec<u32>, ModelError> {
        self.call(|reply| Job::Tokens { prompt, reply }).await
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop.
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
