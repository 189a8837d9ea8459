//! Reading text and JSON Lines input with errors that name the file and line.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use serde::de::DeserializeOwned;

/// Reads a file, or standard input for `None` or `-`, as UTF-8 text.
pub fn read_text(path: Option<&Path>) -> anyhow::Result<(String, String)> {
    match path {
        None => read_stdin(),
        Some(p) if p.as_os_str() == "-" => read_stdin(),
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
            let text = String::from_utf8(bytes).map_err(|e| {
                anyhow!("{} is not UTF-8 text (invalid byte at offset {})", p.display(), e.utf8_error().valid_up_to())
            })?;
            Ok((text, p.display().to_string()))
        }
    }
}

fn read_stdin() -> anyhow::Result<(String, String)> {
    let mut bytes = Vec::new();
    std::io::stdin().read_to_end(&mut bytes).context("cannot read standard input")?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow!("standard input is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to())
    })?;
    Ok((text, "<stdin>".into()))
}

/// Parses JSON Lines: one object per non-blank line, each with its 1-based line number.
pub fn parse_jsonl<T: DeserializeOwned>(text: &str, source: &str) -> anyhow::Result<Vec<(usize, T)>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: T = serde_json::from_str(line).map_err(|e| anyhow!("{source}:{}: {e}", i + 1))?;
        out.push((i + 1, value));
    }
    if out.is_empty() {
        bail!("{source} is empty: expected one JSON object per line");
    }
    Ok(out)
}
