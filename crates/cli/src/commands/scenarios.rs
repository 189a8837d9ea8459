//! `autobranch scenarios`: the creative-writing scenarios users run today, each as one
//! generation plus one selection step, with a stage-by-stage report and a timing table.

use std::io::IsTerminal;
use std::sync::LazyLock;
use std::time::Instant;

use anyhow::anyhow;
use autobranch_core::config::{EntropyConfig, NoveltyConfig};
use autobranch_core::model::{ChatMessage, Generation, GenerationRequest, Prompt, Role};
use autobranch_core::{Candidate, Config, StepVectors};
use indicatif::{ProgressBar, ProgressStyle};
use regex::Regex;
use serde_json::{Value, json};

use crate::args::{EmbedderArgs, GeneratorArgs};
use crate::backends::{self, Choice};
use crate::failure::{Classify, Failure};

/// One scenario's prompt and selection settings.
pub struct Scenario {
    /// Name on the command line.
    pub name: &'static str,
    /// What it explores.
    pub title: &'static str,
    /// A prompt that asks for a single item.
    pub prompt: &'static str,
    /// Candidates.
    pub n: usize,
    /// Sampling temperature.
    pub temperature: f32,
    /// Beam width.
    pub k: usize,
    /// Novelty filter.
    pub novelty: NoveltyConfig,
    /// Entropy stopper.
    pub entropy: EntropyConfig,
}

/// The four scenarios.
pub fn all() -> Vec<Scenario> {
    let entropy = |min_entropy, k_max| EntropyConfig { min_entropy, k_max, ..EntropyConfig::default() };
    vec![
        Scenario {
            name: "ai-memory",
            title: "An AI regaining its memory",
            prompt: "Write one sentence, the opening of a story about an AI that slowly regains its memory. Reply with the sentence only.",
            n: 10,
            temperature: 1.3,
            k: 7,
            novelty: NoveltyConfig::Mmr { lambda_param: 0.6, threshold: Some(0.80) },
            entropy: entropy(0.7, 5),
        },
        Scenario {
            name: "mars-twist",
            title: "A plot twist for a Mars detective story",
            prompt: "Write one plot twist, in one sentence, for a detective story set in a Mars colony. Reply with the twist only.",
            n: 12,
            temperature: 1.4,
            k: 8,
            novelty: NoveltyConfig::Cosine { threshold: 0.75 },
            entropy: entropy(0.65, 4),
        },
        Scenario {
            name: "romcom-endings",
            title: "Romantic-comedy endings: tragic, absurd or heartwarming",
            prompt: "Write one ending, in one or two sentences, for a romantic comedy; it may be tragic, absurd or heartwarming. Reply with the ending only.",
            n: 15,
            temperature: 1.2,
            k: 10,
            novelty: NoveltyConfig::Mmr { lambda_param: 0.5, threshold: Some(0.78) },
            entropy: entropy(0.6, 3),
        },
        Scenario {
            name: "style-continuation",
            title: "Continuing a paragraph in the style of Hemingway, Austen or Murakami",
            prompt: "Continue this paragraph with one sentence in the style of Hemingway, Austen or Murakami: \"The train stopped at a station with no name, and nobody got off.\" Reply with the sentence only.",
            n: 12,
            temperature: 1.1,
            k: 5,
            novelty: NoveltyConfig::Cosine { threshold: 0.85 },
            entropy: entropy(0.6, 5),
        },
    ]
}

static PREAMBLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(here (are|is)|here's|sure\b|certainly\b|of course\b|okay\b|ok\b)").expect("valid regex")
});
static LIST_MARKER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\d+[.)]|[-*•])\s+").expect("valid regex"));

/// The single item a candidate offers: drops a "Here are…" preamble, takes the first item of
/// a list, strips markers, quotes and emphasis. `None` when nothing is left.
pub fn single_item(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    // Skip a preamble ("Here are…"), and a label line ("Ava:") when text follows it.
    let first = lines
        .iter()
        .enumerate()
        .find(|(i, l)| {
            let more = i + 1 < lines.len();
            !(PREAMBLE.is_match(l) && (l.ends_with(':') || more) || l.ends_with(':') && more)
        })?
        .1;
    let item = LIST_MARKER.replace(first, "");
    let item = item.trim().trim_matches(|c| matches!(c, '"' | '*' | '“' | '”' | '\'')).trim();
    if item.is_empty() || PREAMBLE.is_match(item) && item.ends_with(':') { None } else { Some(item.to_owned()) }
}

fn ids(list: &[autobranch_core::ScoredCandidate]) -> Vec<&str> {
    list.iter().map(|c| c.id()).collect()
}

/// A scenario's configuration: the base with its own selection and temperature.
fn scenario_config(s: &Scenario, base: &Config) -> Config {
    let mut config = base.clone();
    config.beam_k = s.k;
    config.novelty = Some(s.novelty);
    config.entropy = Some(s.entropy);
    config.generation.temperature = s.temperature;
    config
}

/// A scenario's generation request.
fn scenario_request(s: &Scenario, config: &Config) -> GenerationRequest {
    GenerationRequest {
        prompt: Prompt::Chat(vec![ChatMessage::new(Role::User, s.prompt)]),
        n: s.n,
        sampling: config.generation.clone(),
    }
}

/// Selects among one scenario's generated candidates; returns its report. `generation_ms`
/// is the scenario's share of the batch all scenarios generated in.
async fn run_one(
    s: &Scenario,
    generation: Generation,
    generation_ms: f64,
    embedder: &dyn autobranch_core::Embedder,
    config: &Config,
    progress: &ProgressBar,
) -> Result<Value, Failure> {
    let started = Instant::now();
    let mut candidates = Vec::new();
    let mut filtered = Vec::new();
    for (i, g) in generation.candidates.iter().enumerate() {
        let id = format!("c{i}");
        match single_item(&g.text) {
            Some(text) => {
                let mut c = Candidate { id, text, meta: Default::default() };
                if let Some(lp) = g.logprob_mean {
                    c.meta.insert("logprobs".into(), lp.into());
                }
                candidates.push(c);
            }
            None => filtered.push(json!({"id": id, "text": g.text})),
        }
    }
    let parent = Candidate { id: "prompt".into(), text: s.prompt.into(), meta: Default::default() };
    progress.set_message(format!("{}: embedding {} candidates", s.name, candidates.len()));
    let t = Instant::now();
    let vectors = StepVectors::embed(embedder, &parent, &candidates, &[]).await.runtime()?;
    let embedding_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let mut selector = config.build_selector();
    let result = selector.step_with_vectors(&parent, candidates, Some(&vectors)).runtime()?;
    let selection_ms = t.elapsed().as_secs_f64() * 1000.0;
    let total_ms = generation_ms + started.elapsed().as_secs_f64() * 1000.0;
    Ok(json!({
        "name": s.name,
        "title": s.title,
        "prompt": s.prompt,
        "sampling": config.generation,
        "settings": {"n": s.n, "temperature": s.temperature, "k": s.k, "novelty": s.novelty, "entropy": s.entropy},
        "filtered": filtered,
        "scored": result.scored.iter().map(|c| json!({"id": c.id(), "text": c.text(), "score": c.score})).collect::<Vec<_>>(),
        "after_beam": ids(&result.after_beam),
        "after_novelty": ids(&result.after_novelty),
        "kept": ids(&result.kept),
        "entropy": result.entropy,
        "should_continue": result.should_continue,
        "warnings": result.warnings,
        "timing": {"generation_ms": generation_ms, "embedding_ms": embedding_ms, "selection_ms": selection_ms, "total_ms": total_ms},
    }))
}

fn print_report(r: &Value) {
    println!("━━ {} ({})", r["title"].as_str().unwrap_or(""), r["name"].as_str().unwrap_or(""));
    let kept: Vec<&str> =
        r["kept"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let beam: Vec<&str> =
        r["after_beam"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    for c in r["scored"].as_array().into_iter().flatten() {
        let id = c["id"].as_str().unwrap_or("");
        let fate = if kept.contains(&id) {
            "kept"
        } else if beam.contains(&id) {
            "✗ novelty"
        } else {
            "✗ beam"
        };
        let text: String = c["text"].as_str().unwrap_or("").chars().take(100).collect();
        println!("  {id:<4} {:.3} {fate:<9} {text}", c["score"].as_f64().unwrap_or(0.0));
    }
    for f in r["filtered"].as_array().into_iter().flatten() {
        let text: String = f["text"]
            .as_str()
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(80)
            .collect();
        println!("  {:<4}       filtered  {text}", f["id"].as_str().unwrap_or(""));
    }
    let count = |k: &str| r[k].as_array().map_or(0, Vec::len);
    println!(
        "  scored {} → beam {} → novelty {} → entropy {:.3} over {} clusters: {}",
        count("scored"),
        count("after_beam"),
        count("after_novelty"),
        r["entropy"]["value"].as_f64().unwrap_or(0.0),
        r["entropy"]["clusters"],
        if r["should_continue"].as_bool() == Some(true) { "continue" } else { "stop" }
    );
    println!();
}

/// Runs the command.
pub async fn run(
    name: &str,
    config: Option<&std::path::PathBuf>,
    generator: &GeneratorArgs,
    embedder: &EmbedderArgs,
    max_tokens: u32,
    json: bool,
) -> Result<(), Failure> {
    let scenarios: Vec<Scenario> = all().into_iter().filter(|s| name == "all" || s.name == name).collect();
    if scenarios.is_empty() {
        let names: Vec<&str> = all().iter().map(|s| s.name).collect();
        return Err(Failure::BadInput(anyhow!("unknown scenario {name:?}; allowed: all, {}", names.join(", "))));
    }
    if max_tokens == 0 {
        return Err(Failure::BadInput(anyhow!("--max-tokens 0 is out of range; allowed: an integer ≥ 1")));
    }
    let mut base = crate::args::load_config(config)?;
    base.generation.max_tokens = max_tokens;
    let max_n = scenarios.iter().map(|s| s.n).max().unwrap_or(1);
    let generator = backends::generator(&Choice::generator(generator, base.generator.as_ref()), false, max_n)?;
    let embedder = backends::embedder(&Choice::embedder(embedder, base.embedding.as_ref())).await?;
    // Which scenario and stage is running, on a terminal only.
    let progress = if !json && std::io::stdout().is_terminal() {
        ProgressBar::new(scenarios.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    progress.set_style(
        ProgressStyle::with_template("{spinner} {elapsed_precise} scenario {pos}/{len} · {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    progress.enable_steady_tick(std::time::Duration::from_millis(120));
    // Every scenario's candidates in one generator batch (each prompt decoded once).
    let configs: Vec<Config> = scenarios.iter().map(|s| scenario_config(s, &base)).collect();
    let requests: Vec<GenerationRequest> =
        scenarios.iter().zip(&configs).map(|(s, c)| scenario_request(s, c)).collect();
    let total_n: usize = requests.iter().map(|r| r.n).sum();
    progress.set_message(format!("generating {total_n} candidates for {} scenario(s) in one batch", requests.len()));
    let started = Instant::now();
    let generations = generator.generate_batch(&requests).await;
    let batch_ms = started.elapsed().as_secs_f64() * 1000.0;
    let generations: Vec<Generation> = match generations.into_iter().collect::<Result<_, _>>() {
        Ok(g) => g,
        Err(e) => {
            progress.finish_and_clear();
            return Err(crate::failure::model_failure(e));
        }
    };
    let all_tokens: u64 = generations.iter().map(Generation::generated_tokens).sum();
    let mut reports = Vec::new();
    for (i, ((s, generation), config)) in scenarios.iter().zip(generations).zip(&configs).enumerate() {
        progress.set_position(i as u64 + 1);
        let share = match all_tokens {
            0 => batch_ms / scenarios.len() as f64,
            t => batch_ms * generation.generated_tokens() as f64 / t as f64,
        };
        let r = run_one(s, generation, share, embedder.as_ref(), config, &progress).await;
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                progress.finish_and_clear();
                return Err(e);
            }
        };
        if !json {
            progress.suspend(|| print_report(&r));
        }
        reports.push(r);
    }
    progress.finish_and_clear();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"model": generator.model_id(), "generation_batch_ms": batch_ms, "scenarios": reports})
            )
            .runtime()?
        );
        return Ok(());
    }
    println!("all {} scenario(s) generated in one batch: {batch_ms:.0} ms ({total_n} candidates)\n", reports.len());
    println!("| scenario | generation (share of the batch) | embedding | selection | total |");
    println!("|---|---:|---:|---:|---:|");
    for r in &reports {
        let t = &r["timing"];
        let ms = |k: &str| t[k].as_f64().unwrap_or(0.0);
        println!(
            "| {} | {:.0} ms | {:.0} ms | {:.2} ms | {:.0} ms |",
            r["name"].as_str().unwrap_or(""),
            ms("generation_ms"),
            ms("embedding_ms"),
            ms("selection_ms"),
            ms("total_ms")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::single_item;

    #[test]
    fn boilerplate_and_lists_are_reduced_to_one_item() {
        assert_eq!(
            single_item("Here are some plot twists:\n1. The AI was the killer.\n2. Nobody died.").as_deref(),
            Some("The AI was the killer.")
        );
        assert_eq!(
            single_item("Sure! Here's one:\n\n\"The colony was never on Mars.\"").as_deref(),
            Some("The colony was never on Mars.")
        );
        assert_eq!(single_item("**The detective is a hologram.**").as_deref(), Some("The detective is a hologram."));
        assert_eq!(single_item("- A twist in a list").as_deref(), Some("A twist in a list"));
        assert_eq!(single_item("Here are some plot twists you could use:"), None);
        assert_eq!(single_item("   \n  "), None);
        assert_eq!(single_item("Okay, the butler did it.").as_deref(), Some("Okay, the butler did it."));
        assert_eq!(
            single_item("Ava:\nThe memories came back as static.").as_deref(),
            Some("The memories came back as static.")
        );
    }
}
