//! The data model: candidates and scored candidates (SPEC §1).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::InputError;

/// Free-form metadata carried by a candidate; unknown keys pass through untouched.
pub type Meta = serde_json::Map<String, Value>;

/// One piece of text the pipeline can score, keep or prune.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Non-empty identifier, unique within one step; ties are broken by it.
    pub id: String,
    /// The text itself.
    pub text: String,
    /// Metadata: `logprobs`, `intent`, `target_intent`, `template_id`, `tenant_id`, …
    #[serde(default, skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
}

impl Candidate {
    /// A candidate with empty metadata; an empty id is an input error.
    pub fn new(id: impl Into<String>, text: impl Into<String>) -> Result<Self, InputError> {
        let id = id.into();
        if id.is_empty() {
            return Err(InputError::EmptyId);
        }
        Ok(Self { id, text: text.into(), meta: Meta::new() })
    }

    /// Adds one metadata entry.
    pub fn with_meta(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.meta.insert(key.into(), value.into());
        self
    }

    /// The mean token log-probability stored under `logprobs`, if it is a number.
    pub fn logprobs(&self) -> Option<f64> {
        self.meta.get("logprobs").and_then(Value::as_f64)
    }

    /// A non-empty string stored under `key`.
    pub fn meta_str(&self, key: &str) -> Option<&str> {
        self.meta.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
    }
}

/// A candidate with its score in [0, 1].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoredCandidate {
    /// The candidate that was scored.
    #[serde(flatten)]
    pub candidate: Candidate,
    /// Score in [0, 1]; never NaN.
    pub score: f64,
}

impl ScoredCandidate {
    /// Wraps a candidate with a score, mapping non-finite scores to 0 and clamping to [0, 1].
    /// Returns whether the score had to be replaced because it was not finite.
    pub fn new(candidate: Candidate, score: f64) -> (Self, bool) {
        let finite = score.is_finite();
        let score = if finite { score.clamp(0.0, 1.0) } else { 0.0 };
        (Self { candidate, score }, !finite)
    }

    /// The candidate's id.
    pub fn id(&self) -> &str {
        &self.candidate.id
    }

    /// The candidate's text.
    pub fn text(&self) -> &str {
        &self.candidate.text
    }
}

/// Checks that every id is non-empty and unique, naming the first offender.
pub fn validate_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> Result<(), InputError> {
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        if id.is_empty() {
            return Err(InputError::EmptyId);
        }
        if !seen.insert(id) {
            return Err(InputError::DuplicateId(id.to_owned()));
        }
    }
    Ok(())
}

/// Checks that every `logprobs` given is a finite number, naming the first candidate whose
/// is not: NaN, an infinity, or `null`, which is what `serde_json` and JavaScript make of
/// those. (Other non-numbers stay a warned fallback of the scorer.)
pub fn validate_logprobs<'a>(candidates: impl IntoIterator<Item = &'a Candidate>) -> Result<(), InputError> {
    for c in candidates {
        let bad = match c.meta.get("logprobs") {
            Some(Value::Null) => Some("null".to_owned()),
            Some(Value::Number(n)) => n.as_f64().filter(|v| !v.is_finite()).map(|v| v.to_string()),
            _ => None,
        };
        if let Some(value) = bad {
            return Err(InputError::NonFiniteLogprobs { id: c.id.clone(), value });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_id_is_rejected() {
        assert_eq!(Candidate::new("", "x").unwrap_err(), InputError::EmptyId);
    }

    #[test]
    fn non_finite_scores_become_zero_and_scores_are_clamped() {
        let c = Candidate::new("a", "t").unwrap();
        assert_eq!(
            ScoredCandidate::new(c.clone(), f64::NAN),
            (ScoredCandidate { candidate: c.clone(), score: 0.0 }, true)
        );
        assert_eq!(ScoredCandidate::new(c.clone(), f64::INFINITY).0.score, 0.0);
        assert_eq!(ScoredCandidate::new(c.clone(), 1.5).0.score, 1.0);
        assert_eq!(ScoredCandidate::new(c, -0.5).0.score, 0.0);
    }

    #[test]
    fn duplicate_ids_are_named() {
        assert_eq!(validate_ids(["a", "b", "a"]).unwrap_err(), InputError::DuplicateId("a".into()));
        assert!(validate_ids(["a", "b"]).is_ok());
    }

    #[test]
    fn null_logprobs_are_refused_by_name() {
        let ok = Candidate::new("a", "t").unwrap().with_meta("logprobs", -0.5);
        let nan = Candidate::new("b", "t").unwrap().with_meta("logprobs", f64::NAN);
        let text = Candidate::new("c", "t").unwrap().with_meta("logprobs", "high");
        assert_eq!(validate_logprobs([&ok, &text]), Ok(()));
        assert_eq!(
            validate_logprobs([&ok, &nan]).unwrap_err(),
            InputError::NonFiniteLogprobs { id: "b".into(), value: "null".into() }
        );
    }

    #[test]
    fn unknown_meta_round_trips() {
        let json = r#"{"id":"x","text":"t","meta":{"custom":[1,2],"logprobs":-0.5}}"#;
        let c: Candidate = serde_json::from_str(json).unwrap();
        assert_eq!(c.logprobs(), Some(-0.5));
        assert_eq!(serde_json::to_string(&c).unwrap(), json);
    }
}
