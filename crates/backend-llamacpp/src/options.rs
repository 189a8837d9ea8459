//! Settings of the llama.cpp backend.

/// How the model is run.
#[derive(Clone, Debug, PartialEq)]
pub struct LlamaCppOptions {
    /// Context size in tokens of one sequence (prompt and generated); `None` uses the
    /// model's training context.
    pub n_ctx: Option<u32>,
    /// CPU threads; `None` uses the machine's physical cores.
    pub threads: Option<i32>,
    /// Layers offloaded to the GPU (0 on CPU builds).
    pub gpu_layers: u32,
    /// Most tokens decoded per llama.cpp batch (prompt chunks, embedding batches).
    pub batch_size: u32,
    /// Decode candidates one at a time instead of together (for comparison).
    pub sequential: bool,
    /// Most sequences decoded together, over all requests in flight (at most 256,
    /// llama.cpp's limit); a request with more candidates runs in groups of this size.
    pub max_sequences: u32,
    /// Keep finished sequences' cells and reuse the longest common token prefix of later
    /// prompts (a tree's children continue their parent's path). Off by default: llama.cpp's
    /// CPU kernels round differently for a prompt decoded in one batch and the same tokens
    /// decoded one at a time, so reused cells can change the last bits of the logits, and a
    /// run that starts with a cold cache (a resume) can sample a different text.
    pub prefix_cache: bool,
    /// KV cells over all sequences decoded together: the memory of the batch (SmolLM2-135M:
    /// 23 KB a cell). The sequences a context holds are this over the longest sequence, at
    /// least one request's `n` and at most `max_sequences`.
    pub kv_cells: u32,
    /// Longest input of the embedder in tokens (256, as sentence-transformers truncates MiniLM).
    pub embed_max_tokens: u32,
}

impl Default for LlamaCppOptions {
    fn default() -> Self {
        Self {
            n_ctx: None,
            threads: None,
            gpu_layers: if cfg!(any(feature = "cuda", feature = "vulkan")) { 999 } else { 0 },
            batch_size: 512,
            sequential: false,
            max_sequences: 256,
            prefix_cache: false,
            kv_cells: 16384,
            embed_max_tokens: 256,
        }
    }
}

impl LlamaCppOptions {
    /// Threads to use: the setting, else physical cores.
    pub fn threads(&self) -> i32 {
        self.threads.unwrap_or_else(|| i32::try_from(num_cpus::get_physical()).unwrap_or(1).max(1))
    }
}
