//! The thread that owns a llama.cpp model. llama.cpp contexts and samplers are not safe to
//! share across threads, so one thread loads the model and serves every request, and the
//! async API talks to it over a channel.

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;

use autobranch_core::model::{Generation, GenerationRequest, ModelError, Prompt};
use tokio::sync::oneshot;

use crate::engine::Engine;
use crate::options::LlamaCppOptions;

/// What the worker can do.
enum Job {
    Generate { request: GenerationRequest, sequential: bool, reply: oneshot::Sender<Result<Generation, ModelError>> },
    Embed { texts: Vec<String>, reply: oneshot::Sender<Result<Vec<Vec<f32>>, ModelError>> },
    Logits { prompt: Prompt, reply: oneshot::Sender<Result<Vec<f32>, ModelError>> },
    Tokens { prompt: Prompt, reply: oneshot::Sender<Result<Vec<u32>, ModelError>> },
    RawSpeed { n_prompt: usize, n_gen: usize, reply: oneshot::Sender<Result<(f64, f64), ModelError>> },
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
}

/// Handle to a worker thread; dropping it stops the thread after the current job.
pub struct Worker {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    info: ModelInfo,
}

impl Worker {
    /// Starts a thread, loads the model there, and waits until it is ready.
    pub fn spawn(path: &Path, options: LlamaCppOptions) -> Result<Self, ModelError> {
        let (jobs, rx) = mpsc::channel::<Job>();
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
                };
                let _ = ready_tx.send(Ok(info));
                while let Ok(job) = rx.recv() {
                    // A receiver that went away (a cancelled request) is not an error.
                    match job {
                        Job::Generate { request, sequential, reply } => {
                            let _ = reply.send(engine.generate(&request, sequential));
                        }
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
                    }
                }
            })
            .map_err(|e| ModelError::Unavailable(format!("cannot start the llama.cpp thread: {e}")))?;
        let info = ready_rx
            .recv()
            .map_err(|_| ModelError::Unavailable("the llama.cpp thread stopped while loading the model".into()))??;
        Ok(Self { jobs: Some(jobs), thread: Some(thread), info })
    }

    /// The loaded model's facts.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T, ModelError>>) -> Job) -> Result<T, ModelError> {
        let (tx, rx) = oneshot::channel();
        let gone = || ModelError::Backend("the llama.cpp thread has stopped".into());
        self.jobs.as_ref().ok_or_else(gone)?.send(make(tx)).map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// Runs a generation request.
    pub async fn generate(&self, request: GenerationRequest, sequential: bool) -> Result<Generation, ModelError> {
        self.call(|reply| Job::Generate { request, sequential, reply }).await
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
