//! Settings of the llama.cpp backend.

/// How the model is run.
#[derive(Clone, Debug, PartialEq)]
pub struct LlamaCppOptions {
    /// Context size in tokens; `None` uses the model's training context.
    pub n_ctx: Option<u32>,
    /// CPU threads; `None` uses the machine's physical cores.
    pub threads: Option<i32>,
    /// Layers offloaded to the GPU; `None` offloads every layer when llama.cpp finds a GPU
    /// (a CUDA or Vulkan build on a machine with one) and none otherwise.
    pub gpu_layers: Option<u32>,
    /// Most tokens decoded per llama.cpp batch (prompt chunks, embedding batches).
    pub batch_size: u32,
    /// Decode candidates one at a time instead of together (for comparison).
    pub sequential: bool,
    /// Most sequences decoded together, over all requests in flight (at most 256,
    /// llama.cpp's limit); a request with more candidates runs in groups of this size.
    pub max_sequences: u32,
    /// Keep finished sequences' KV cells (prompt and generated text) for later prompts that
    /// start the same way: an explore level's prompts then decode only what follows their
    /// parent's text, a chat's next turn only the new message. Off, every batch that starts
    /// idle starts on empty cells, so results never depend on what ran before (a resumed tree
    /// equals an uninterrupted one); on, llama.cpp's numbers differ slightly between cached
    /// and decoded cells, so a seeded run is repeatable but a resumed one may take another path.
    pub prompt_cache: bool,
    /// Longest input of the embedder in tokens (256, as sentence-transformers truncates MiniLM).
    pub embed_max_tokens: u32,
}

impl Default for LlamaCppOptions {
    fn default() -> Self {
        Self {
            n_ctx: None,
            threads: None,
            gpu_layers: None,
            batch_size: 512,
            sequential: false,
            max_sequences: 256,
            prompt_cache: false,
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
