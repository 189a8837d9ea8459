//! `autobranch embed`: one text per line → vectors.

use std::path::Path;

use serde_json::json;

use crate::args::EmbedderArgs;
use crate::backends::{self, Choice};
use crate::failure::{Classify, Failure};
use crate::input::read_text;

/// Splits input into texts: each line is one text, an empty line is the empty string, and
/// a final newline adds no text.
pub fn texts(input: &str) -> Vec<String> {
    if input.is_empty() {
        return Vec::new();
    }
    let body = input.strip_suffix('\n').unwrap_or(input);
    body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned()).collect()
}

/// Runs the command.
pub async fn run(
    file: Option<&Path>,
    config: Option<&std::path::PathBuf>,
    model: &EmbedderArgs,
    json: bool,
) -> Result<(), Failure> {
    let config = crate::args::load_config(config)?;
    let (input, _) = read_text(file).bad_input()?;
    let texts = texts(&input);
    let choice = Choice::embedder(model, config.embedding.as_ref());
    let embedder = backends::embedder(&choice).await?;
    let m = embedder.embed(&texts).await.map_err(crate::failure::model_failure)?;
    if json {
        let out = json!({"model": embedder.model_id(), "dim": m.dim(), "embeddings": m.to_rows()});
        println!("{}", serde_json::to_string(&out).runtime()?);
    } else {
        println!("{} text(s), {} dimensions, model {}", m.len(), m.dim(), embedder.model_id());
        for (t, row) in texts.iter().zip(m.rows()) {
            let head: Vec<String> = row.iter().take(4).map(|x| format!("{x:+.4}")).collect();
            println!("[{} …] {}", head.join(", "), t.chars().take(60).collect::<String>());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::texts;

    #[test]
    fn lines_are_texts_and_a_final_newline_adds_none() {
        assert_eq!(texts("a\n\nb\n"), ["a", "", "b"]);
        assert_eq!(texts("a\r\nb"), ["a", "b"]);
        assert_eq!(texts("\n"), [""]);
        assert!(texts("").is_empty());
    }
}
