//! [`OpenAiError`]: why a call to an OpenAI-compatible server failed, and how each kind maps
//! onto core's [`ModelError`] (bad input vs runtime failure).

use autobranch_core::model::ModelError;
use thiserror::Error;

/// Why a call to an OpenAI-compatible server failed. No variant ever holds the API key:
/// server text is redacted before it is stored.
#[derive(Debug, Error)]
pub enum OpenAiError {
    /// The base URL setting is not an http(s) URL, or needs a feature this build lacks.
    #[error("base URL {value:?} is unusable: {reason}")]
    InvalidBaseUrl {
        /// The setting as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Nothing answers at the URL.
    #[error(
        "cannot connect to the OpenAI-compatible server at {url}: {reason}; start the server or point OPENAI_BASE_URL at it"
    )]
    Connect {
        /// The base URL.
        url: String,
        /// The innermost connection error.
        reason: String,
    },
    /// 401 or 403: the key is missing, wrong, or lacks access.
    #[error("{}", auth_message(.url, *.status, .env, *.key_sent, .message))]
    Auth {
        /// The endpoint.
        url: String,
        /// 401 or 403.
        status: u16,
        /// The environment variable the key is read from (e.g. `OPENAI_API_KEY`).
        env: String,
        /// Whether a key was sent at all.
        key_sent: bool,
        /// The server's message (redacted).
        message: String,
    },
    /// The server does not serve the model.
    #[error("the server at {url} has no model {model:?}; {}", offered(.available))]
    ModelNotFound {
        /// The base URL.
        url: String,
        /// The model asked for.
        model: String,
        /// What `GET /models` lists, or why listing failed.
        available: Result<Vec<String>, String>,
    },
    /// 400 or 422: the server rejected the request's content.
    #[error("the server at {url} rejected the request ({status}): {message}")]
    BadRequest {
        /// The endpoint.
        url: String,
        /// 400 or 422.
        status: u16,
        /// The server's message (redacted).
        message: String,
    },
    /// Any other HTTP error status (after retries for 429 and 5xx).
    #[error("the server at {url} answered {status} after {attempts} attempt(s): {message}")]
    Status {
        /// The endpoint.
        url: String,
        /// The last status.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// The server's message (redacted).
        message: String,
    },
    /// An error event in the middle of a streamed answer.
    #[error("the server reported an error in the middle of the answer from {url}: {message}")]
    Stream {
        /// The endpoint.
        url: String,
        /// The server's message (redacted).
        message: String,
    },
    /// The streamed answer stopped before its end (`data: [DONE]`).
    #[error("the answer from {url} was cut off after {events} event(s): {reason}")]
    Cut {
        /// The endpoint.
        url: String,
        /// Events received before the cut.
        events: usize,
        /// What the connection reported, or that it simply ended.
        reason: String,
    },
    /// The request took longer than the timeout.
    #[error("the server at {url} did not answer within {secs} s; raise the timeout or check the server")]
    Timeout {
        /// The endpoint.
        url: String,
        /// The timeout.
        secs: u64,
    },
    /// A body, an event payload or a stream line that is not what the API documents.
    #[error("the server at {url} sent malformed data ({reason}): {text:?}")]
    Malformed {
        /// The endpoint.
        url: String,
        /// The offending text (redacted, cut at 200 characters).
        text: String,
        /// What was expected.
        reason: String,
    },
    /// Anything else from the HTTP layer.
    #[error("HTTP error talking to the server at {url}: {reason}")]
    Http {
        /// The endpoint.
        url: String,
        /// The error.
        reason: String,
    },
}

fn auth_message(url: &str, status: u16, env: &str, key_sent: bool, message: &str) -> String {
    let message = message.trim_end_matches('.');
    if key_sent {
        format!("the server at {url} refused the API key from {env} ({status}): {message}; set {env} to a valid key")
    } else {
        format!("the server at {url} needs an API key ({status}): {message}; set {env} to the key")
    }
}

fn offered(available: &Result<Vec<String>, String>) -> String {
    match available {
        Ok(models) if models.is_empty() => "it lists no models at GET /models".to_owned(),
        Ok(models) => format!("it offers: {}", models.join(", ")),
        Err(reason) => format!("listing its models failed too: {reason}"),
    }
}

impl From<OpenAiError> for ModelError {
    /// Bad input (exit code 2 in the CLI): an unknown model, a rejected request or an unusable
    /// base URL. Unavailable: the server cannot be reached or refuses the key. Everything that
    /// goes wrong while answering is a backend failure.
    fn from(e: OpenAiError) -> Self {
        match e {
            OpenAiError::InvalidBaseUrl { .. } | OpenAiError::ModelNotFound { .. } | OpenAiError::BadRequest { .. } => {
                ModelError::InvalidRequest(e.to_string())
            }
            OpenAiError::Connect { .. } | OpenAiError::Auth { .. } => ModelError::Unavailable(e.to_string()),
            _ => ModelError::Backend(e.to_string()),
        }
    }
}

/// `s` cut to 200 characters, with an ellipsis when something was cut.
pub(crate) fn shorten(s: &str) -> String {
    const MAX: usize = 200;
    match s.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_cuts_long_text_on_a_char_boundary() {
        assert_eq!(shorten("abc"), "abc");
        let long = "é".repeat(300);
        let s = shorten(&long);
        assert_eq!(s.chars().count(), 201);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn variants_map_to_exit_code_classes() {
        let url = || "http://x/v1".to_owned();
        let bad = OpenAiError::ModelNotFound { url: url(), model: "m".into(), available: Ok(vec!["a".into()]) };
        assert!(matches!(ModelError::from(bad), ModelError::InvalidRequest(m) if m.contains("it offers: a")));
        let down = OpenAiError::Connect { url: url(), reason: "refused".into() };
        assert!(matches!(ModelError::from(down), ModelError::Unavailable(_)));
        let cut = OpenAiError::Cut { url: url(), events: 2, reason: "eof".into() };
        assert!(matches!(ModelError::from(cut), ModelError::Backend(_)));
    }
}
