//! `GET /metrics` in Prometheus' text format: requests by route and status, their latency,
//! tokens, requests in flight and cancelled, and (llama.cpp) sequences per decode step.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use autobranch_core::model::Generation;

/// Upper bounds of the latency histogram, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0];

/// The batch-size histogram of the generator, when it has one: cumulative (upper bound,
/// steps), steps, sequences.
pub type BatchSizes = Box<dyn Fn() -> (Vec<(u32, u64)>, u64, u64) + Send + Sync>;

#[derive(Default)]
struct Latency {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The server's counters.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Latency>>,
    pub prompt_tokens: AtomicU64,
    pub prompt_cached: AtomicU64,
    pub completion_tokens: AtomicU64,
    pub in_flight: AtomicU64,
    pub cancelled: AtomicU64,
    pub rejected_busy: AtomicU64,
    pub batch_sizes: Option<BatchSizes>,
}

impl Metrics {
    /// Counters at zero; `batch_sizes` reads the generator's batch histogram.
    pub fn new(batch_sizes: Option<BatchSizes>) -> Self {
        Self { batch_sizes, ..Self::default() }
    }

    /// Counts one answered request.
    pub fn record(&self, route: &str, status: u16, seconds: f64) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((route.to_owned(), status)).or_default() += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            let h = l.entry(route.to_owned()).or_default();
            if let Some(at) = LATENCY_BUCKETS.iter().position(|&b| seconds <= b) {
                h.buckets[at] += 1;
            }
            h.count += 1;
            h.sum += seconds;
        }
    }

    /// Counts the tokens of one generation.
    pub fn tokens(&self, generation: &Generation) {
        self.prompt_tokens.fetch_add(generation.timings.prompt_tokens, Ordering::Relaxed);
        self.prompt_cached.fetch_add(generation.timings.prompt_cached, Ordering::Relaxed);
        self.completion_tokens.fetch_add(generation.generated_tokens(), Ordering::Relaxed);
    }

    /// The text `GET /metrics` answers.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let family = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        family(&mut out, "autobranch_requests_total", "counter", "Requests answered, by route and status.");
        if let Ok(r) = self.requests.lock() {
            for ((route, status), n) in r.iter() {
                let _ = writeln!(out, "autobranch_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
            }
        }
        family(&mut out, "autobranch_request_duration_seconds", "histogram", "Time to answer, by route.");
        if let Ok(l) = self.latency.lock() {
            for (route, h) in l.iter() {
                let mut total = 0;
                for (b, n) in LATENCY_BUCKETS.iter().zip(h.buckets) {
                    total += n;
                    let _ = writeln!(
                        out,
                        "autobranch_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {total}"
                    );
                }
                let _ = writeln!(
                    out,
                    "autobranch_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                     autobranch_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                     autobranch_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    h.count, h.sum, h.count
                );
            }
        }
        let counters = [
            ("autobranch_prompt_tokens_total", "counter", "Prompt tokens of the requests.", &self.prompt_tokens),
            (
                "autobranch_prompt_tokens_cached_total",
                "counter",
                "Prompt tokens whose cells were shared with another request instead of computed.",
                &self.prompt_cached,
            ),
            ("autobranch_generated_tokens_total", "counter", "Tokens generated.", &self.completion_tokens),
            ("autobranch_queue_depth", "gauge", "Generation requests in flight (running or waiting).", &self.in_flight),
            ("autobranch_cancelled_total", "counter", "Requests whose client went away or timed out.", &self.cancelled),
            ("autobranch_rejected_busy_total", "counter", "Requests answered 429 (queue full).", &self.rejected_busy),
        ];
        for (name, kind, help, value) in counters {
            family(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        if let Some(sizes) = &self.batch_sizes {
            let (buckets, steps, sequences) = sizes();
            family(&mut out, "autobranch_batch_size", "histogram", "Sequences decoded together per step.");
            for (b, n) in buckets {
                let _ = writeln!(out, "autobranch_batch_size_bucket{{le=\"{b}\"}} {n}");
            }
            let _ = writeln!(
                out,
                "autobranch_batch_size_bucket{{le=\"+Inf\"}} {steps}\nautobranch_batch_size_sum {sequences}\n\
                 autobranch_batch_size_count {steps}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use autobranch_core::model::{CandidateTimings, FinishReason, GeneratedCandidate, GenerationTimings};

    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.record("/v1/chat/completions", 200, 0.2);
        m.record("/v1/chat/completions", 200, 3.0);
        m.record("/v1/chat/completions", 400, 0.001);
        let candidate = GeneratedCandidate {
            text: String::new(),
            tokens: 32,
            logprob_mean: None,
            finish_reason: FinishReason::Length,
            timings: CandidateTimings::default(),
        };
        let timings = GenerationTimings { prompt_tokens: 10, prompt_cached: 4, ..GenerationTimings::default() };
        m.tokens(&Generation { candidates: vec![candidate], timings });
        let text = m.render();
        assert!(text.contains("autobranch_requests_total{route=\"/v1/chat/completions\",status=\"200\"} 2"));
        assert!(text.contains("autobranch_requests_total{route=\"/v1/chat/completions\",status=\"400\"} 1"));
        assert!(text.contains("le=\"0.25\"} 2"), "{text}");
        assert!(text.contains("le=\"5\"} 3"), "{text}");
        assert!(text.contains("autobranch_generated_tokens_total 32"));
        assert!(text.contains("autobranch_prompt_tokens_total 10"));
        assert!(text.contains("autobranch_prompt_tokens_cached_total 4"));
    }
}
