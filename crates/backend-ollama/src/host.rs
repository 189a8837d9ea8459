//! The server address: `OLLAMA_HOST` accepts `host`, `host:port` or a full URL, as Ollama's
//! own client does; the default is `http://127.0.0.1:11434`.

/// The default server.
pub const DEFAULT_HOST: &str = "http://127.0.0.1:11434";

/// Normalises a host setting into a base URL without a trailing slash.
pub fn base_url(host: &str) -> Result<String, String> {
    let host = host.trim();
    if host.is_empty() {
        return Ok(DEFAULT_HOST.to_owned());
    }
    let (scheme, rest) = match host.split_once("://") {
        Some((s, r)) if s == "http" || s == "https" => (s, r),
        Some((s, _)) => return Err(format!("OLLAMA_HOST {host:?} has scheme {s:?}; use http or https")),
        None => ("http", host),
    };
    let rest = rest.trim_end_matches('/');
    let (authority, path) = match rest.split_once('/') {
        Some((a, p)) => (a, format!("/{p}")),
        None => (rest, String::new()),
    };
    if authority.is_empty() {
        return Err(format!("OLLAMA_HOST {host:?} names no host"));
    }
    // A port is present unless the authority ends in ":digits" (IPv6 literals keep theirs in brackets).
    let has_port = authority.rsplit_once(':').is_some_and(|(h, p)| {
        !h.ends_with('[') && !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) && !authority.ends_with(']')
    });
    let authority = if has_port {
        authority.to_owned()
    } else {
        let port = match (scheme, host.contains("://")) {
            ("https", _) => 443,
            ("http", true) => 80,
            _ => 11434,
        };
        format!("{authority}:{port}")
    };
    Ok(format!("{scheme}://{authority}{path}"))
}

/// The base URL from the `OLLAMA_HOST` environment variable, or the default.
pub fn from_env() -> Result<String, String> {
    base_url(&std::env::var("OLLAMA_HOST").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_that_ollama_accepts() {
        assert_eq!(base_url("").unwrap(), "http://127.0.0.1:11434");
        assert_eq!(base_url("0.0.0.0").unwrap(), "http://0.0.0.0:11434");
        assert_eq!(base_url("localhost:8080").unwrap(), "http://localhost:8080");
        assert_eq!(base_url("http://example.com").unwrap(), "http://example.com:80");
        assert_eq!(base_url("https://example.com/ollama/").unwrap(), "https://example.com:443/ollama");
        assert_eq!(base_url("http://10.0.0.5:11434").unwrap(), "http://10.0.0.5:11434");
        assert_eq!(base_url("[::1]:11434").unwrap(), "http://[::1]:11434");
        assert_eq!(base_url("[::1]").unwrap(), "http://[::1]:11434");
        assert!(base_url("ftp://x").unwrap_err().contains("scheme"));
    }
}
