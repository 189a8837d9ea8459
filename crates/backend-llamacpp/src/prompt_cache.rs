//! The prompt cache: finished sequences whose KV cells stay in the context, so a later
//! prompt that starts the same way (an explore child's path through its parent's text, the
//! next turn of a chat) decodes only what follows. As llama-server's `cache_prompt`, the match
//! is on tokens, the longest common prefix, so a text that re-tokenises differently costs
//! only the tokens after the first difference.
//!
//! Each entry holds one llama.cpp sequence id; its cells are shared with whatever copied
//! them, so an entry costs only the cells no one else holds. When the batch needs a sequence
//! id or KV cells that entries hold, the least recently used entry goes first.

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::token::LlamaToken;

use crate::engine::backend_error;
use autobranch_core::model::ModelError;

/// How many leading tokens `a` and `b` share.
pub fn common_start(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// A sequence kept for its cells.
struct Entry {
    /// The llama.cpp sequence id that holds the cells.
    id: i32,
    /// The tokens in those cells, from position 0.
    tokens: Vec<LlamaToken>,
    /// When it last served a prompt (or was kept), on the cache's clock.
    used: u64,
}

/// Kept sequences, least recently used first out.
#[derive(Default)]
pub struct PromptCache {
    on: bool,
    entries: Vec<Entry>,
    clock: u64,
}

impl PromptCache {
    /// A cache that keeps sequences when `on`, and is always empty otherwise.
    pub fn new(on: bool) -> Self {
        Self { on, ..Self::default() }
    }

    /// Whether finished sequences are kept.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Keeps the cells of sequence `from` (holding `tokens`) under an id from `free`, making
    /// room by evicting the oldest entry when no id is free.
    pub fn keep(
        &mut self,
        ctx: &mut LlamaContext<'_>,
        from: i32,
        tokens: Vec<LlamaToken>,
        free: &mut Vec<i32>,
    ) -> Result<(), ModelError> {
        if !self.on || tokens.is_empty() {
            return Ok(());
        }
        if free.is_empty() {
            self.evict_oldest(ctx, free);
        }
        let Some(id) = free.pop() else { return Ok(()) };
        ctx.copy_kv_cache_seq(from, id, None, None).map_err(|e| backend_error("kv cache copy", e))?;
        self.clock += 1;
        self.entries.push(Entry { id, tokens, used: self.clock });
        Ok(())
    }

    /// The entry sharing the longest start with `prompt`, and that length (at most `limit`).
    /// The first entry found wins a tie, so a rerun picks the same one.
    pub fn longest(&self, prompt: &[LlamaToken], limit: usize) -> Option<(i32, usize)> {
        let mut best: Option<(i32, usize)> = None;
        for entry in &self.entries {
            let common = common_start(&entry.tokens, prompt).min(limit);
            if common > best.map_or(0, |(_, l)| l) {
                best = Some((entry.id, common));
            }
        }
        best
    }

    /// Marks the entry of sequence `id` as just used.
    pub fn touch(&mut self, id: i32) {
        self.clock += 1;
        if let Some(entry) = self.entries.iter_mut().find(|e| e.id == id) {
            entry.used = self.clock;
        }
    }

    /// Drops the entries that begin with `root` and are the longest match of none of `next`
    /// (an explore tree's pruned nodes, once the queue no longer holds them).
    pub fn keep_serving(
        &mut self,
        ctx: &mut LlamaContext<'_>,
        free: &mut Vec<i32>,
        root: &[LlamaToken],
        next: &[Vec<LlamaToken>],
    ) {
        let serving: Vec<i32> =
            next.iter().filter_map(|p| self.longest(p, p.len().saturating_sub(1))).map(|(id, _)| id).collect();
        let mut i = 0;
        while i < self.entries.len() {
            let entry = &self.entries[i];
            if entry.tokens.starts_with(root) && !serving.contains(&entry.id) {
                self.remove(i, ctx, free);
            } else {
                i += 1;
            }
        }
    }

    /// Frees the least recently used entry's id and cells (those no other sequence holds);
    /// `false` when nothing was kept.
    pub fn evict_oldest(&mut self, ctx: &mut LlamaContext<'_>, free: &mut Vec<i32>) -> bool {
        let Some(oldest) = self.entries.iter().enumerate().min_by_key(|(_, e)| e.used).map(|(i, _)| i) else {
            return false;
        };
        self.remove(oldest, ctx, free);
        true
    }

    /// Frees entry `i`'s id and the cells only it holds.
    fn remove(&mut self, i: usize, ctx: &mut LlamaContext<'_>, free: &mut Vec<i32>) {
        let entry = self.entries.swap_remove(i);
        let _ = ctx.clear_kv_cache_seq(Some(entry.id as u32), None, None);
        free.push(entry.id);
    }

    /// Makes `n` ids free, evicting the oldest entries while there are too few.
    pub fn free_ids(&mut self, ctx: &mut LlamaContext<'_>, free: &mut Vec<i32>, n: usize) {
        while free.len() < n && self.evict_oldest(ctx, free) {}
    }

    /// Forgets every entry (their context is gone or cleared), returning the ids to `free`.
    pub fn forget(&mut self, free: &mut Vec<i32>) {
        free.extend(self.entries.drain(..).map(|e| e.id));
    }
}
