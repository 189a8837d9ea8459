//! The prompt cache: finished sequences' keys and values kept for later prompts that start
//! the same way (an explore child's path through its parent's text, the next turn of a
//! chat), so those decode only what follows. As llama-server's `cache_prompt` and the
//! llama.cpp backend's cache, the match is on tokens, the longest common prefix, so a text
//! that re-tokenises differently costs only the tokens after the first difference.
//!
//! The entries hold at most `capacity` tokens in all (the generator's context size, the
//! room llama.cpp's kept cells share); the least recently used entry goes first.

/// How many leading tokens `a` and `b` share.
pub fn common_start(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// A kept sequence: its tokens from position 0 and what holds their keys and values.
struct Entry<C> {
    tokens: Vec<u32>,
    cache: C,
    /// When it last served a prompt (or was kept), on the cache's clock.
    used: u64,
}

/// Kept sequences, least recently used first out; `C` holds one sequence's positions.
pub struct PromptCache<C> {
    entries: Vec<Entry<C>>,
    capacity: usize,
    clock: u64,
}

impl<C> PromptCache<C> {
    /// An empty cache that holds at most `capacity` tokens in all.
    pub fn new(capacity: usize) -> Self {
        Self { entries: Vec::new(), capacity, clock: 0 }
    }

    /// Tokens held, over all entries.
    pub fn tokens(&self) -> usize {
        self.entries.iter().map(|e| e.tokens.len()).sum()
    }

    /// The entry sharing the longest start with `prompt`, at most `limit` tokens of it, and
    /// that length; it counts as just used. The first entry found wins a tie, so a rerun
    /// picks the same one.
    pub fn longest(&mut self, prompt: &[u32], limit: usize) -> Option<(&C, usize)> {
        let (i, len) = self.best(prompt, limit)?;
        self.clock += 1;
        let entry = &mut self.entries[i];
        entry.used = self.clock;
        Some((&entry.cache, len))
    }

    fn best(&self, prompt: &[u32], limit: usize) -> Option<(usize, usize)> {
        let mut best: Option<(usize, usize)> = None;
        for (i, entry) in self.entries.iter().enumerate() {
            let common = common_start(&entry.tokens, prompt).min(limit);
            if common > best.map_or(0, |(_, l)| l) {
                best = Some((i, common));
            }
        }
        best
    }

    /// Keeps a finished sequence. One whose tokens begin a kept entry's adds nothing; kept
    /// entries that begin its tokens (the prompt it continued) are replaced by it. The
    /// oldest entries go while the cache holds more than its capacity.
    pub fn keep(&mut self, tokens: Vec<u32>, cache: C) {
        if tokens.is_empty() || tokens.len() > self.capacity {
            return;
        }
        self.clock += 1;
        if let Some(longer) = self.entries.iter_mut().find(|e| e.tokens.starts_with(&tokens)) {
            longer.used = self.clock;
            return;
        }
        self.entries.retain(|e| !tokens.starts_with(&e.tokens));
        self.entries.push(Entry { tokens, cache, used: self.clock });
        while self.tokens() > self.capacity {
            let oldest = self.entries.iter().enumerate().min_by_key(|(_, e)| e.used).map(|(i, _)| i);
            if let Some(i) = oldest {
                self.entries.swap_remove(i);
            }
        }
    }

    /// Drops the entries that begin with `root` and are the longest match of none of `next`
    /// (an explore tree's pruned nodes, once its queue no longer holds them).
    pub fn keep_serving(&mut self, root: &[u32], next: &[Vec<u32>]) {
        let serving: Vec<usize> =
            next.iter().filter_map(|p| self.best(p, p.len().saturating_sub(1))).map(|(i, _)| i).collect();
        let mut i = 0;
        self.entries.retain(|e| {
            let keep = !e.tokens.starts_with(root) || serving.contains(&i);
            i += 1;
            keep
        });
    }
}

#[cfg(test)]
mod tests {
    use super::PromptCache;

    #[test]
    fn the_longest_shared_start_serves_and_the_first_wins_a_tie() {
        let mut cache = PromptCache::new(100);
        cache.keep(vec![1, 2, 3, 4], 'a');
        cache.keep(vec![1, 2, 9], 'b');
        cache.keep(vec![1, 2, 3, 5], 'c');
        assert_eq!(cache.longest(&[1, 2, 3, 4, 7], 10), Some((&'a', 4)));
        assert_eq!(cache.longest(&[1, 2, 3, 4, 7], 3), Some((&'a', 3)), "at most the limit; 'a' found first");
        assert_eq!(cache.longest(&[1, 2, 9, 9], 10), Some((&'b', 3)));
        assert_eq!(cache.longest(&[8, 1, 2], 10), None);
    }

    #[test]
    fn a_sequence_replaces_the_prompt_it_continued_and_a_prefix_adds_nothing() {
        let mut cache = PromptCache::new(100);
        cache.keep(vec![1, 2, 3], 'p');
        cache.keep(vec![1, 2, 3, 4, 5], 's');
        assert_eq!(cache.tokens(), 5, "the prompt's entry is gone");
        cache.keep(vec![1, 2], 'q');
        assert_eq!(cache.tokens(), 5);
        assert_eq!(cache.longest(&[1, 2, 3, 4, 5, 6], 10), Some((&'s', 5)));
    }

    #[test]
    fn the_least_recently_used_entry_goes_first_when_full() {
        let mut cache = PromptCache::new(10);
        cache.keep(vec![1, 1, 1, 1], 'a');
        cache.keep(vec![2, 2, 2, 2], 'b');
        assert!(cache.longest(&[1, 1, 1, 1, 0], 4).is_some(), "'a' is now the newer");
        cache.keep(vec![3, 3, 3, 3], 'c');
        assert_eq!(cache.tokens(), 8);
        assert_eq!(cache.longest(&[2, 2], 2), None, "'b' was evicted");
        assert!(cache.longest(&[1, 1], 2).is_some());
        cache.keep((0..11).collect(), 'x');
        assert_eq!(cache.tokens(), 8, "a sequence longer than the capacity is not kept");
    }

    #[test]
    fn the_hint_drops_what_no_next_prompt_starts_with() {
        let mut cache = PromptCache::new(100);
        cache.keep(vec![1, 2, 3, 4], 'a');
        cache.keep(vec![1, 2, 5, 6], 'b');
        cache.keep(vec![7, 8], 'c');
        cache.keep_serving(&[1, 2], &[vec![1, 2, 3, 4, 9]]);
        assert_eq!(cache.longest(&[1, 2, 3, 4, 9], 4), Some((&'a', 4)));
        assert_eq!(cache.longest(&[1, 2, 5, 6], 4), Some((&'a', 2)), "'b' is gone");
        assert_eq!(cache.longest(&[7, 8, 0], 2), Some((&'c', 2)), "not under the root: kept");
    }
}
