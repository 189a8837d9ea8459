//! Connection settings: base URL, API key and retry policy. The base URL comes from
//! `OPENAI_BASE_URL` and the key from `OPENAI_API_KEY` (or a named variable) unless given.

use std::fmt;
use std::time::Duration;

use crate::error::OpenAiError;

/// The hosted OpenAI API, used when neither an explicit URL nor `OPENAI_BASE_URL` is set.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The environment variable the base URL is read from.
pub const BASE_URL_ENV: &str = "OPENAI_BASE_URL";
/// The environment variable the API key is read from unless another is named.
pub const DEFAULT_API_KEY_ENV: &str = "OPENAI_API_KEY";

/// An API key. Its `Debug` output never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key itself, for the `Authorization` header.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Connection settings.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenAiConfig {
    /// Base URL including the API version, e.g. `http://127.0.0.1:8000/v1`; no trailing slash.
    pub base_url: String,
    /// Sent as `Authorization: Bearer …`; local servers usually need none.
    pub api_key: Option<ApiKey>,
    /// The environment variable the key comes from, named in authentication errors.
    pub api_key_env: String,
    /// Whole-request timeout, streaming included.
    pub timeout: Duration,
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// Retries after a 429, 500, 502, 503 or 504 answer.
    pub retries: u32,
    /// First backoff; doubles per retry, with jitter, up to `backoff_cap`.
    pub backoff: Duration,
    /// Longest backoff.
    pub backoff_cap: Duration,
    /// Longest wait a `Retry-After` header is obeyed for; longer requests wait this long.
    pub max_retry_after: Duration,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key: None,
            api_key_env: DEFAULT_API_KEY_ENV.to_owned(),
            timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
            retries: 4,
            backoff: Duration::from_millis(250),
            backoff_cap: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl OpenAiConfig {
    /// Settings for `base_url` (normalised by [`base_url`]) without a key.
    pub fn new(base_url: &str) -> Result<Self, OpenAiError> {
        Ok(Self { base_url: base_url_or_error(base_url)?, ..Self::default() })
    }

    /// Settings from the environment: `base_url`, else `OPENAI_BASE_URL`, else
    /// [`DEFAULT_BASE_URL`]; the key from `api_key_env` (default `OPENAI_API_KEY`) when set
    /// and non-empty.
    pub fn from_env(base_url: Option<&str>, api_key_env: Option<&str>) -> Result<Self, OpenAiError> {
        Self::from_lookup(base_url, api_key_env, |name| std::env::var(name).ok())
    }

    /// [`OpenAiConfig::from_env`] with the variables read through `lookup`.
    pub fn from_lookup(
        base_url: Option<&str>,
        api_key_env: Option<&str>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, OpenAiError> {
        let url = match base_url {
            Some(u) => u.to_owned(),
            None => lookup(BASE_URL_ENV).filter(|u| !u.trim().is_empty()).unwrap_or_else(|| DEFAULT_BASE_URL.into()),
        };
        let env = api_key_env.unwrap_or(DEFAULT_API_KEY_ENV).to_owned();
        let api_key = lookup(&env).map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()).map(ApiKey::new);
        Ok(Self { base_url: base_url_or_error(&url)?, api_key, api_key_env: env, ..Self::default() })
    }

    /// Sets the key explicitly.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(ApiKey::new(key));
        self
    }
}

fn base_url_or_error(value: &str) -> Result<String, OpenAiError> {
    base_url(value).map_err(|reason| OpenAiError::InvalidBaseUrl { value: value.to_owned(), reason })
}

/// Normalises a base URL: `http://` is assumed when no scheme is given, other schemes than
/// http and https are refused, and trailing slashes go. The path is kept as given, so an
/// OpenAI-compatible server's `/v1` must be part of it.
pub fn base_url(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("it is empty; give e.g. http://127.0.0.1:8000/v1".into());
    }
    let url = match value.split_once("://") {
        Some(("http" | "https", _)) => value.to_owned(),
        Some((scheme, _)) => return Err(format!("scheme {scheme:?} is not http or https")),
        None => format!("http://{value}"),
    };
    let url = url.trim_end_matches('/').to_owned();
    if host(&url).is_empty() {
        return Err("it names no host".into());
    }
    Ok(url)
}

/// The `host[:port]` part of a normalised base URL.
pub(crate) fn host(base_url: &str) -> &str {
    let rest = base_url.split_once("://").map_or(base_url, |(_, r)| r);
    rest.split('/').next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn base_urls_are_normalised() {
        assert_eq!(base_url("http://localhost:8000/v1/").unwrap(), "http://localhost:8000/v1");
        assert_eq!(base_url("localhost:8080/v1").unwrap(), "http://localhost:8080/v1");
        assert_eq!(base_url("https://api.openai.com/v1").unwrap(), DEFAULT_BASE_URL);
        assert!(base_url("ftp://x/v1").unwrap_err().contains("ftp"));
        assert!(base_url("  ").is_err());
        assert!(base_url("http:///v1").unwrap_err().contains("no host"));
        assert_eq!(host("http://[::1]:8000/v1"), "[::1]:8000");
    }

    #[test]
    fn environment_supplies_url_and_key() {
        let env: HashMap<&str, &str> =
            [("OPENAI_BASE_URL", "http://gpu-box:8000/v1"), ("OPENAI_API_KEY", "sk-env"), ("MY_KEY", " sk-mine ")]
                .into();
        let lookup = |k: &str| env.get(k).map(|v| v.to_string());
        let c = OpenAiConfig::from_lookup(None, None, lookup).unwrap();
        assert_eq!(c.base_url, "http://gpu-box:8000/v1");
        assert_eq!(c.api_key, Some(ApiKey::new("sk-env")));
        let c = OpenAiConfig::from_lookup(Some("http://other/v1"), Some("MY_KEY"), lookup).unwrap();
        assert_eq!((c.base_url.as_str(), c.api_key_env.as_str()), ("http://other/v1", "MY_KEY"));
        assert_eq!(c.api_key, Some(ApiKey::new("sk-mine")));
        let c = OpenAiConfig::from_lookup(None, Some("UNSET"), |_| None).unwrap();
        assert_eq!((c.base_url.as_str(), c.api_key.is_none()), (DEFAULT_BASE_URL, true));
        let err = OpenAiConfig::from_lookup(Some("gopher://x"), None, |_| None).unwrap_err();
        assert!(err.to_string().contains("gopher://x"), "{err}");
    }

    #[test]
    fn debug_output_hides_the_key() {
        let c = OpenAiConfig::default().with_api_key("sk-secret-123");
        let shown = format!("{c:?} {c:#?}");
        assert!(!shown.contains("sk-secret-123") && shown.contains("redacted"), "{shown}");
    }
}
