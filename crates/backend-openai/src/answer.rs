//! One HTTP answer, assembled from a whole body or from streamed chunks: choices
//! demultiplexed by `index`, token log-probabilities and usage, then turned into core's
//! candidates.

use std::sync::Arc;
use std::time::Instant;

use autobranch_core::model::{CandidateTimings, FinishReason, GeneratedCandidate};
use serde_json::Value;

use crate::api::{ResponseBody, Usage, token_logprobs};

/// Called with (candidate index, text piece) as tokens arrive.
pub type TokenCallback = Arc<dyn Fn(usize, &str) + Send + Sync>;

/// One choice as received so far.
#[derive(Clone, Debug, Default)]
pub(crate) struct ChoiceAnswer {
    received: bool,
    text: String,
    finish_reason: Option<String>,
    stop_reason: Option<Value>,
    logprobs: Vec<f64>,
    first_token: Option<Instant>,
    finished: Option<Instant>,
}

/// One HTTP answer for `count` choices, the first of which is candidate `first`.
#[derive(Clone, Debug)]
pub(crate) struct Answer {
    first: usize,
    count: usize,
    choices: Vec<ChoiceAnswer>,
    usage: Usage,
    server_prompt_ms: Option<f64>,
    /// Whether log-probabilities were asked for.
    pub asked_logprobs: bool,
    started: Instant,
    first_token: Option<Instant>,
    ended: Instant,
    streamed: bool,
}

/// `total` split in proportion to `weights` (equally when they are all zero); the parts add
/// up to `total` exactly.
fn split(total: u64, weights: &[usize]) -> Vec<u64> {
    let all: u64 = weights.iter().map(|&w| w as u64).sum();
    let (weights, all): (Vec<u64>, u64) = if all == 0 {
        (vec![1; weights.len()], weights.len() as u64)
    } else {
        (weights.iter().map(|&w| w as u64).collect(), all)
    };
    let mut cumulative = 0u64;
    let mut given = 0u64;
    weights
        .iter()
        .map(|w| {
            cumulative += w;
            let upto = (u128::from(total) * u128::from(cumulative) + u128::from(all) / 2) / u128::from(all.max(1));
            let part = upto as u64 - given;
            given = upto as u64;
            part
        })
        .collect()
}

fn ms(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64() * 1000.0
}

impl Answer {
    /// An empty answer to a request sent at `started`.
    pub fn new(first: usize, count: usize, asked_logprobs: bool, started: Instant, streamed: bool) -> Self {
        Self {
            first,
            count,
            choices: Vec::new(),
            usage: Usage::default(),
            server_prompt_ms: None,
            asked_logprobs,
            started,
            first_token: None,
            ended: started,
            streamed,
        }
    }

    /// Adds a whole answer or one streamed chunk, passing new text to `on_token`.
    pub fn absorb(&mut self, body: ResponseBody, on_token: Option<&TokenCallback>) {
        let now = Instant::now();
        self.ended = now;
        for c in body.choices {
            // A server that sends more choices than asked for: the extra ones are not wanted.
            if c.index >= self.count {
                continue;
            }
            if self.choices.len() <= c.index {
                self.choices.resize_with(c.index + 1, ChoiceAnswer::default);
            }
            let choice = &mut self.choices[c.index];
            choice.received = true;
            let piece = c.text();
            if !piece.is_empty() {
                choice.first_token.get_or_insert(now);
                self.first_token.get_or_insert(now);
                choice.text.push_str(piece);
                if let Some(cb) = on_token {
                    cb(self.first + c.index, piece);
                }
            }
            if let Some(lp) = &c.logprobs {
                choice.logprobs.extend(token_logprobs(lp));
            }
            if c.stop_reason.as_ref().is_some_and(|r| !r.is_null()) {
                choice.stop_reason = c.stop_reason;
            }
            if let Some(reason) = c.finish_reason {
                choice.finish_reason = Some(reason);
                choice.finished = Some(now);
            }
        }
        if let Some(u) = body.usage {
            self.usage.prompt_tokens = u.prompt_tokens.or(self.usage.prompt_tokens);
            self.usage.completion_tokens = u.completion_tokens.or(self.usage.completion_tokens);
            self.usage.prompt_tokens_details = u.prompt_tokens_details.or(self.usage.prompt_tokens_details);
        }
        if let Some(p) = body.timings.and_then(|t| t.prompt_ms) {
            self.server_prompt_ms = Some(p);
        }
    }

    fn received(&self) -> impl Iterator<Item = &ChoiceAnswer> {
        self.choices.iter().filter(|c| c.received)
    }

    /// Choices received.
    pub fn len(&self) -> usize {
        self.received().count()
    }

    /// Whether every received choice has its finish reason (and there is one).
    pub fn all_finished(&self) -> bool {
        self.len() > 0 && self.received().all(|c| c.finish_reason.is_some())
    }

    /// Whether any choice came with log-probabilities.
    pub fn has_logprobs(&self) -> bool {
        self.received().any(|c| !c.logprobs.is_empty())
    }

    /// Prompt tokens, when the server counted them.
    pub fn prompt_tokens(&self) -> Option<u64> {
        self.usage.prompt_tokens
    }

    /// Prompt tokens the server took from its cache, when it said.
    pub fn prompt_cached(&self) -> Option<u64> {
        self.usage.prompt_tokens_details.and_then(|d| d.cached_tokens)
    }

    /// Time to the first token of a streamed answer, or the server's own prompt time.
    pub fn prompt_ms(&self) -> Option<f64> {
        if self.streamed { self.first_token.map(|t| ms(self.started, t)) } else { self.server_prompt_ms }
    }

    /// The received choices as candidates. Token counts: the log-probabilities' length when
    /// there are some; else the usage count, split by text length over several choices; else
    /// an estimate of four characters per token.
    pub fn candidates(&self) -> Vec<GeneratedCandidate> {
        let choices: Vec<&ChoiceAnswer> = self.received().collect();
        let shares = self
            .usage
            .completion_tokens
            .map(|t| split(t, &choices.iter().map(|c| c.text.chars().count()).collect::<Vec<_>>()));
        choices
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let tokens = if !c.logprobs.is_empty() {
                    c.logprobs.len() as u64
                } else if let Some(shares) = &shares {
                    shares[i]
                } else {
                    c.text.chars().count().div_ceil(4) as u64
                };
                let logprob_mean =
                    (!c.logprobs.is_empty()).then(|| c.logprobs.iter().sum::<f64>() / c.logprobs.len() as f64);
                let finish_reason = match (c.finish_reason.as_deref(), &c.stop_reason) {
                    (Some("length"), _) => FinishReason::Length,
                    // vLLM and SGLang name the stop string that ended the choice.
                    (_, Some(Value::String(s))) if !s.is_empty() => FinishReason::StopString,
                    _ => FinishReason::Stop,
                };
                let generate_ms = if self.streamed {
                    ms(c.first_token.unwrap_or(self.started), c.finished.unwrap_or(self.ended))
                } else {
                    (ms(self.started, self.ended) - self.server_prompt_ms.unwrap_or(0.0)).max(0.0)
                };
                GeneratedCandidate {
                    text: c.text.clone(),
                    tokens: u32::try_from(tokens).unwrap_or(u32::MAX),
                    logprob_mean,
                    finish_reason,
                    timings: CandidateTimings { generate_ms },
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(v: Value) -> ResponseBody {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn split_adds_up_and_follows_the_weights() {
        assert_eq!(split(10, &[1, 1]), [5, 5]);
        assert_eq!(split(7, &[3, 0, 4]), [3, 0, 4]);
        assert_eq!(split(5, &[0, 0]), [3, 2]);
        assert_eq!(split(11, &[5, 7, 9]).iter().sum::<u64>(), 11);
    }

    #[test]
    fn chunks_are_demultiplexed_by_index() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        let cb: TokenCallback = Arc::new(move |i, p| sink.lock().unwrap().push((i, p.to_owned())));
        let mut a = Answer::new(3, 2, true, Instant::now(), true);
        let chunks = [
            json!({"choices": [{"index": 1, "delta": {"content": "b"}, "logprobs": {"content": [{"logprob": -1.0}]}}]}),
            json!({"choices": [{"index": 0, "delta": {"content": "a"}, "logprobs": {"content": [{"logprob": -0.5}]}}]}),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "stop_reason": "END"},
                               {"index": 1, "delta": {}, "finish_reason": "length"}]}),
            json!({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2,
                                            "prompt_tokens_details": {"cached_tokens": 6}}}),
        ];
        for c in chunks {
            a.absorb(body(c), Some(&cb));
        }
        assert!(a.all_finished());
        let cands = a.candidates();
        assert_eq!((cands[0].text.as_str(), cands[1].text.as_str()), ("a", "b"));
        assert_eq!(cands[0].finish_reason, FinishReason::StopString);
        assert_eq!(cands[1].finish_reason, FinishReason::Length);
        assert_eq!(cands[0].logprob_mean, Some(-0.5));
        assert_eq!(a.prompt_tokens(), Some(9));
        assert_eq!(a.prompt_cached(), Some(6));
        assert_eq!(*seen.lock().unwrap(), [(4, "b".to_owned()), (3, "a".to_owned())]);
    }

    #[test]
    fn token_counts_fall_back_to_usage_then_to_an_estimate() {
        let mut a = Answer::new(0, 2, false, Instant::now(), false);
        a.absorb(
            body(json!({"choices": [{"index": 0, "message": {"content": "abcd"}, "finish_reason": "stop"},
                                    {"index": 1, "message": {"content": "abcdefghijkl"}, "finish_reason": "stop"}],
                        "usage": {"completion_tokens": 8}})),
            None,
        );
        assert_eq!(a.candidates().iter().map(|c| c.tokens).collect::<Vec<_>>(), [2, 6]);
        let mut a = Answer::new(0, 1, false, Instant::now(), false);
        a.absorb(body(json!({"choices": [{"text": "abcdefghi", "finish_reason": null}]})), None);
        assert_eq!(a.candidates()[0].tokens, 3);
        assert!(!a.all_finished());
    }
}
