use serde::Deserialize;
use thiserror::Error;

use crate::candidate::Meta;
use crate::detect::{BranchOption, BranchPoint, BranchType};
use crate::model::{ChatMessage, GenerationRequest, Generator, ModelError, Prompt, Role, SamplingParams};

/// The system prompt that asks a model for branch points as strict JSON (the original's schema).
pub const SYSTEM_PROMPT: &str = r#"You are a precise text analyzer that extracts branch points from text.

A branch point is a span in the text where ≥2 mutually-exclusive options are explicitly or implicitly presented.

Types of branch points:
- Enumeration: Numbered or bulleted lists (e.g., "1. Flask 2. FastAPI")
- Disjunction: "or" patterns (e.g., "use Flask or FastAPI")
- Conditional: if-then-else patterns (e.g., "if you need speed, use FastAPI; else use Flask")
- Open directive: choice points (e.g., "choose a framework that fits your needs")

Return strict JSON:
{
  "branch_points": [
    {
      "id": "bp1",
      "type": "enumeration|disjunction|conditional|open_directive",
      "options": [
        {"id": "opt1", "label": "Flask", "span": "1. Flask"},
        {"id": "opt2", "label": "FastAPI", "span": "2. FastAPI"}
      ],
      "context": "original text span",
      "depends_on": []
    }
  ]
}

CRITICAL RULES:
1. Only extract EXPLICIT options from the text - do not invent new ones
2. Each branch point must have ≥2 options
3. Options must be mutually exclusive
4. Use exact text spans from the original text
5. Return valid JSON only (no markdown, no explanation)"#;

/// What to do when every attempt gave an unusable answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OnParseFailure {
    /// Return no branch points.
    #[default]
    Empty,
    /// Return [`LlmParseError::Unparseable`].
    Error,
}

/// Why the LLM parser failed.
#[derive(Debug, Error)]
pub enum LlmParseError {
    /// The generator itself failed (not retried).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// No attempt produced valid JSON of the expected shape.
    #[error("the model's answer was not valid branch-point JSON after {attempts} attempt(s): {last_error}")]
    Unparseable {
        /// Attempts made.
        attempts: usize,
        /// What was wrong with the last answer.
        last_error: String,
    },
}

/// Asks a [`Generator`] for branch points as strict JSON, validating and retrying.
pub struct LlmBranchParser<'a> {
    generator: &'a dyn Generator,
    max_retries: usize,
    sampling: SamplingParams,
}

#[derive(Deserialize)]
struct RawResponse {
    branch_points: Vec<RawPoint>,
}

#[derive(Deserialize)]
struct RawPoint {
    id: String,
    #[serde(rename = "type")]
    kind: BranchType,
    options: Vec<RawOption>,
    #[serde(default)]
    depends_on: Vec<String>,
    #[serde(default)]
    context: String,
    #[serde(default)]
    meta: Meta,
}

#[derive(Deserialize)]
struct RawOption {
    id: String,
    label: String,
    span: Option<String>,
    #[serde(default)]
    meta: Meta,
}

impl<'a> LlmBranchParser<'a> {
    /// A parser with 2 retries at temperature 0.1.
    pub fn new(generator: &'a dyn Generator) -> Self {
        let sampling = SamplingParams { temperature: 0.1, max_tokens: 1024, ..SamplingParams::default() };
        Self { generator, max_retries: 2, sampling }
    }

    /// Sets how many times a bad answer is retried.
    pub fn with_max_retries(mut self, retries: usize) -> Self {
        self.max_retries = retries;
        self
    }

    /// Sets the sampling settings (attempt `i` uses seed + i, so retries differ).
    pub fn with_sampling(mut self, sampling: SamplingParams) -> Self {
        self.sampling = sampling;
        self
    }

    /// Extracts branch points from `text`.
    pub async fn parse(&self, text: &str, on_failure: OnParseFailure) -> Result<Vec<BranchPoint>, LlmParseError> {
        let user = format!(
            "Extract branch points from this text:\n\nTEXT:\n{text}\n\nReturn JSON only (no markdown, no explanation):"
        );
        let messages = vec![ChatMessage::new(Role::System, SYSTEM_PROMPT), ChatMessage::new(Role::User, user)];
        let mut last_error = String::new();
        let attempts = self.max_retries + 1;
        for attempt in 0..attempts {
            let mut sampling = self.sampling.clone();
            sampling.seed = sampling.seed.wrapping_add(attempt as u64);
            let request = GenerationRequest { prompt: Prompt::Chat(messages.clone()), n: 1, sampling };
            let generation = self.generator.generate(&request).await?;
            let answer = generation.candidates.first().map_or("", |c| c.text.as_str());
            match parse_response(answer) {
                Ok(points) => return Ok(points),
                Err(e) => last_error = e,
            }
        }
        match on_failure {
            OnParseFailure::Empty => Ok(Vec::new()),
            OnParseFailure::Error => Err(LlmParseError::Unparseable { attempts, last_error }),
        }
    }
}

/// Parses a model answer: strips a fenced code block, reads the JSON, validates each point.
pub fn parse_response(answer: &str) -> Result<Vec<BranchPoint>, String> {
    let mut body = answer.trim();
    if body.starts_with("```") {
        // Drop the opening fence line and, when present, the closing one.
        body = body.split_once('\n').map_or("", |(_, rest)| rest);
        body = body.trim_end().strip_suffix("```").unwrap_or(body);
    }
    let raw: RawResponse = serde_json::from_str(body).map_err(|e| format!("{e}"))?;
    raw.branch_points
        .into_iter()
        .map(|p| {
            let point = BranchPoint {
                id: p.id,
                kind: p.kind,
                options: p
                    .options
                    .into_iter()
                    .map(|o| BranchOption {
                        span: o.span.unwrap_or_else(|| o.label.clone()),
                        id: o.id,
                        label: o.label,
                        meta: o.meta,
                    })
                    .collect(),
                depends_on: p.depends_on,
                context: p.context,
                meta: p.meta,
            };
            point.validate().map(|()| point)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenced_json_is_accepted() {
        let answer = "```json\n{\"branch_points\": [{\"id\": \"bp1\", \"type\": \"disjunction\", \"options\": [{\"id\": \"a\", \"label\": \"tea\"}, {\"id\": \"b\", \"label\": \"coffee\", \"span\": \"coffee\"}]}]}\n```";
        let points = parse_response(answer).unwrap();
        assert_eq!(points[0].kind, BranchType::Disjunction);
        assert_eq!(points[0].options[0].span, "tea");
    }

    #[test]
    fn invalid_answers_are_rejected_with_a_reason() {
        assert!(parse_response("no json here").is_err());
        assert!(parse_response("{\"other\": []}").unwrap_err().contains("branch_points"));
        let one_option =
            r#"{"branch_points": [{"id": "x", "type": "enumeration", "options": [{"id": "a", "label": "only"}]}]}"#;
        assert!(parse_response(one_option).unwrap_err().contains("at least 2"));
        let bad_type = r#"{"branch_points": [{"id": "x", "type": "maybe", "options": []}]}"#;
        assert!(parse_response(bad_type).is_err());
    }
}
