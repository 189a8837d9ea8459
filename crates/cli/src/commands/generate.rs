//! `autobranch generate`: candidates only, with timings.

use anyhow::anyhow;
use autobranch_core::model::{ChatMessage, Generation, GenerationRequest, Prompt, Role};
use clap::Args;
use serde_json::json;

use crate::args::{GeneratorArgs, SamplingArgs, load_config};
use crate::backends::{self, Choice};
use crate::failure::{Classify, Failure};

/// What `generate` was asked.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// The prompt (sent as a chat turn unless --raw).
    pub prompt: String,
    /// Number of candidates.
    #[arg(long, default_value_t = 4)]
    pub n: usize,
    /// Decode the candidates one at a time instead of in one batch.
    #[arg(long)]
    pub sequential: bool,
    /// Complete the prompt as raw text.
    #[arg(long)]
    pub raw: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub model: GeneratorArgs,
    #[command(flatten)]
    pub sampling: SamplingArgs,
}

/// The candidates as `generate --json` lists them: id, text, tokens, logprob_mean,
/// finish_reason.
pub fn candidates_json(generation: &Generation) -> serde_json::Value {
    generation
        .candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({
                "id": format!("c{i}"), "text": c.text, "tokens": c.tokens,
                "logprob_mean": c.logprob_mean, "finish_reason": c.finish_reason,
            })
        })
        .collect()
}

/// Runs the command.
pub async fn run(args: GenerateArgs) -> Result<(), Failure> {
    if args.n == 0 {
        return Err(Failure::BadInput(anyhow!("--n 0 is out of range; allowed: an integer ≥ 1")));
    }
    let mut config = load_config(args.config.as_ref())?;
    args.sampling.apply(&mut config)?;
    let choice = Choice::generator(&args.model, config.generator.as_ref());
    let generator = backends::generator(&choice, args.sequential, args.n)?;
    let prompt = if args.raw {
        Prompt::Text(args.prompt.clone())
    } else {
        let mut messages = Vec::new();
        if let Some(system) = &config.system {
            messages.push(ChatMessage::new(Role::System, system.clone()));
        }
        messages.push(ChatMessage::new(Role::User, args.prompt.clone()));
        Prompt::Chat(messages)
    };
    let request = GenerationRequest { prompt, n: args.n, sampling: config.generation.clone() };
    let generation = generator.generate(&request).await.map_err(crate::failure::model_failure)?;
    if args.json {
        let out = json!({
            "candidates": candidates_json(&generation),
            "timing": {
                "prompt_ms": generation.timings.prompt_ms,
                "generate_ms": generation.timings.generate_ms,
                "tokens_per_s": generation.tokens_per_s(),
            },
            "model": generator.model_id(),
        });
        println!("{}", serde_json::to_string_pretty(&out).runtime()?);
        return Ok(());
    }
    for (i, c) in generation.candidates.iter().enumerate() {
        let lp = c.logprob_mean.map_or_else(|| "n/a".to_owned(), |l| format!("{l:.3}"));
        println!("── c{i} ({} tokens, logprob {lp}, {:?})", c.tokens, c.finish_reason);
        println!("{}", c.text.trim());
    }
    println!();
    println!(
        "prompt {:.0} ms ({} tokens), decode {:.0} ms, {:.1} tokens/s",
        generation.timings.prompt_ms,
        generation.timings.prompt_tokens,
        generation.timings.generate_ms,
        generation.tokens_per_s()
    );
    Ok(())
}
