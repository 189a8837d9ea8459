//! What a server has been found to accept. Compatible servers differ: some have no `n`,
//! some reject `logprobs`, strict hosted APIs reject the extra sampling fields. Each
//! discovery comes from an answer, is remembered for the generator's lifetime and is
//! reported once as a warning.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Which field carries the token limit of a chat request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenLimit {
    /// `max_tokens`: what every compatible server reads.
    #[default]
    MaxTokens,
    /// `max_completion_tokens`: OpenAI's newer name, required by its reasoning models.
    MaxCompletionTokens,
    /// Both fields with the same value.
    Both,
}

impl TokenLimit {
    fn sends_max_tokens(self) -> bool {
        matches!(self, Self::MaxTokens | Self::Both)
    }
    fn sends_max_completion_tokens(self) -> bool {
        matches!(self, Self::MaxCompletionTokens | Self::Both)
    }
}

/// What one request sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Choices asked for.
    pub count: usize,
    /// Whether log-probabilities are asked for.
    pub logprobs: bool,
    /// Whether top_k, min_p and the repetition penalties may be sent.
    pub extras: bool,
    /// Whether the answer streams.
    pub stream: bool,
    /// Whether `stream_options.include_usage` is sent with a stream.
    pub stream_options: bool,
    /// The token-limit field of chat requests.
    pub token_limit: TokenLimit,
}

const UNKNOWN: u8 = 0;
const YES: u8 = 1;
const NO: u8 = 2;

/// What the server accepts, as learnt so far.
#[derive(Debug)]
pub(crate) struct ServerCompat {
    host: String,
    native_n: AtomicU8,
    logprobs: AtomicBool,
    extras: AtomicBool,
    stream_options: AtomicBool,
    /// 0: as configured; 1: `max_tokens` only; 2: `max_completion_tokens` only.
    token_limit: AtomicU8,
    warned_no_logprobs: AtomicBool,
    warnings: Mutex<Vec<String>>,
}

/// Whether a lower-cased message is about the `n` parameter: it talks of choices or has `n`
/// as a word of its own.
fn mentions_n(m: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let chars: Vec<char> = m.chars().collect();
    m.contains("choice")
        || (0..chars.len())
            .any(|i| chars[i] == 'n' && !word(i.checked_sub(1).map(|j| chars[j])) && !word(chars.get(i + 1).copied()))
}

/// Whether a lower-cased message says a parameter is not understood (rather than out of range).
fn says_unsupported(m: &str) -> bool {
    ["support", "unrecognized", "unknown", "extra", "not permitted", "not allowed"].iter().any(|k| m.contains(k))
}

impl ServerCompat {
    /// Nothing known yet about `host`.
    pub fn new(host: &str) -> Self {
        Self {
            host: host.to_owned(),
            native_n: AtomicU8::new(UNKNOWN),
            logprobs: AtomicBool::new(true),
            extras: AtomicBool::new(true),
            stream_options: AtomicBool::new(true),
            token_limit: AtomicU8::new(0),
            warned_no_logprobs: AtomicBool::new(false),
            warnings: Mutex::new(Vec::new()),
        }
    }

    /// The warnings so far, each once, in order.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().map(|w| w.clone()).unwrap_or_default()
    }

    fn warn(&self, message: String) {
        tracing::warn!("{message}");
        if let Ok(mut w) = self.warnings.lock() {
            w.push(message);
        }
    }

    /// `false` once the server is known to return fewer choices than `n`.
    pub fn native_n(&self) -> bool {
        self.native_n.load(Ordering::Relaxed) != NO
    }

    /// Treats the server as one without native `n` from now on, without a warning (a caller's
    /// choice, e.g. to compare fan-out with native `n`).
    pub fn fan_out_always(&self) {
        self.native_n.store(NO, Ordering::Relaxed);
    }

    /// Records how many of `asked` choices (> 1) came back; warns the first time it is fewer.
    pub fn learn_n(&self, asked: usize, got: usize, concurrency: usize) {
        if got >= asked {
            let _ = self.native_n.compare_exchange(UNKNOWN, YES, Ordering::Relaxed, Ordering::Relaxed);
        } else if self.native_n.compare_exchange(UNKNOWN, NO, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            self.warn(format!(
                "{} returned {got} of {asked} choices (no native n); the rest are fanned out as separate \
                 requests with seeds seed + i, at most {concurrency} at once",
                self.host
            ));
        }
    }

    /// `wanted` less what the server is known to reject.
    pub fn plan(&self, wanted: Plan) -> Plan {
        let token_limit = match self.token_limit.load(Ordering::Relaxed) {
            1 => TokenLimit::MaxTokens,
            2 => TokenLimit::MaxCompletionTokens,
            _ => wanted.token_limit,
        };
        Plan {
            count: if self.native_n() { wanted.count } else { 1 },
            logprobs: wanted.logprobs && self.logprobs.load(Ordering::Relaxed),
            extras: wanted.extras && self.extras.load(Ordering::Relaxed),
            stream: wanted.stream,
            stream_options: wanted.stream_options && self.stream_options.load(Ordering::Relaxed),
            token_limit,
        }
    }

    /// Learns from a 400 answer to a request sent as `plan`: when `message` names a field the
    /// plan sent, that field is dropped for good (with one warning) and `true` says to send
    /// the request again. Each field is dropped at most once, so retries are bounded.
    pub fn adapt(&self, plan: &Plan, chat: bool, message: &str) -> bool {
        let m = message.to_lowercase();
        let host = &self.host;
        let drop = |flag: &AtomicBool, warning: String| {
            if flag.swap(false, Ordering::Relaxed) {
                self.warn(warning);
            }
            true
        };
        if plan.logprobs && m.contains("logprob") {
            return drop(
                &self.logprobs,
                format!("{host} rejected logprobs ({message}); candidates are scored without a confidence feature"),
            );
        }
        if plan.extras && ["top_k", "min_p", "repetition_penalty", "repeat_penalty"].iter().any(|k| m.contains(k)) {
            return drop(
                &self.extras,
                format!(
                    "{host} rejected the extra sampling fields ({message}); top_k, min_p and the repetition penalty are no longer sent"
                ),
            );
        }
        if plan.stream && plan.stream_options && (m.contains("stream_options") || m.contains("include_usage")) {
            return drop(
                &self.stream_options,
                format!("{host} rejected stream_options ({message}); streamed answers may carry no token counts"),
            );
        }
        if chat && says_unsupported(&m) {
            let switch = if plan.token_limit.sends_max_tokens() && m.contains("max_tokens") {
                Some((2, "max_completion_tokens"))
            } else if plan.token_limit.sends_max_completion_tokens() && m.contains("max_completion_tokens") {
                Some((1, "max_tokens"))
            } else {
                None
            };
            if let Some((to, field)) = switch {
                if self.token_limit.compare_exchange(0, to, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
                    self.warn(format!("{host} rejected the token-limit field ({message}); sending {field} instead"));
                    return true;
                }
                // Already switched: retry only if this request still used the old field.
                return self.plan(*plan).token_limit != plan.token_limit;
            }
        }
        if plan.count > 1 && mentions_n(&m) {
            if self.native_n.swap(NO, Ordering::Relaxed) != NO {
                self.warn(format!(
                    "{host} rejected n = {} ({message}); candidates are requested one by one with seeds seed + i",
                    plan.count
                ));
            }
            return true;
        }
        false
    }

    /// Warns once that logprobs were asked for and none came back.
    pub fn no_logprobs_sent(&self) {
        if !self.warned_no_logprobs.swap(true, Ordering::Relaxed) {
            self.warn(format!(
                "{} sent no token logprobs; candidates are scored without a confidence feature",
                self.host
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            count: 4,
            logprobs: true,
            extras: true,
            stream: true,
            stream_options: true,
            token_limit: TokenLimit::MaxTokens,
        }
    }

    #[test]
    fn each_rejected_field_is_dropped_once_with_one_warning() {
        let c = ServerCompat::new("h");
        assert!(c.adapt(&plan(), true, "logprobs is not supported"));
        assert!(c.adapt(&plan(), true, "logprobs is not supported"), "an older plan still retries");
        assert!(!c.plan(plan()).logprobs);
        assert!(c.adapt(&c.plan(plan()), true, "Unrecognized request argument supplied: top_k"));
        assert!(c.adapt(&c.plan(plan()), true, "Only one completion choice is allowed"));
        assert_eq!(c.plan(plan()).count, 1);
        assert!(!c.adapt(&c.plan(plan()), true, "temperature must be positive"));
        assert_eq!(c.warnings().len(), 3, "{:?}", c.warnings());
    }

    #[test]
    fn the_token_limit_field_switches_once() {
        let c = ServerCompat::new("h");
        let msg = "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens'";
        assert!(c.adapt(&plan(), true, msg));
        let now = c.plan(plan());
        assert_eq!(now.token_limit, TokenLimit::MaxCompletionTokens);
        // The same complaint about the new field does not switch back.
        assert!(!c.adapt(&now, true, "max_completion_tokens is not supported"));
        assert!(!c.adapt(&plan(), false, msg), "text completions have one field only");
        assert_eq!(c.warnings().len(), 1);
    }

    #[test]
    fn n_is_recognised_as_a_word() {
        assert!(mentions_n("'n' must be 1") && mentions_n("n=4 is not supported") && mentions_n("only one choice"));
        assert!(!mentions_n("token = 5") && !mentions_n("min_p invalid"));
    }

    #[test]
    fn fewer_choices_warn_once() {
        let c = ServerCompat::new("h");
        c.learn_n(4, 1, 3);
        c.learn_n(4, 1, 3);
        assert!(!c.native_n());
        assert_eq!(c.warnings().len(), 1);
        let c = ServerCompat::new("h");
        c.learn_n(4, 4, 3);
        assert!(c.native_n() && c.warnings().is_empty());
    }
}
