//! The GGUF conversion of all-MiniLM-L6-v2 embeds like sentence-transformers.

use std::path::PathBuf;

use autobranch_core::model::Embedder;
use autobranch_llamacpp::{LlamaCppEmbedder, LlamaCppOptions};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    texts: Vec<String>,
    embeddings: Vec<Vec<f32>>,
}

fn models_dir() -> PathBuf {
    std::env::var_os("AUTOBRANCH_MODELS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/autobranch/models")
    })
}

#[tokio::test]
async fn minilm_gguf_matches_sentence_transformers() {
    let path = models_dir().join("all-minilm-l6-v2.gguf");
    assert!(path.is_file(), "missing {}; run scripts/fetch-models.sh", path.display());
    let embedder = LlamaCppEmbedder::load(&path, LlamaCppOptions::default()).unwrap();
    assert_eq!(embedder.dim(), 384);
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/minilm_reference.json")).unwrap();
    let reference: Reference = serde_json::from_str(&text).unwrap();
    assert!(reference.texts.len() >= 50);
    let got = embedder.embed(&reference.texts).await.unwrap();
    let mut worst = (1.0f32, String::new());
    for (i, (text, want)) in reference.texts.iter().zip(&reference.embeddings).enumerate() {
        let cos: f32 = got.row(i).iter().zip(want).map(|(a, b)| a * b).sum();
        if cos < 0.999 {
            eprintln!("cosine {cos:.5} for {:?}", text.chars().take(50).collect::<String>());
        }
        if cos < worst.0 {
            worst = (cos, text.chars().take(40).collect());
        }
    }
    assert!(worst.0 >= 0.999, "lowest cosine {} for {:?}", worst.0, worst.1);
    eprintln!("lowest cosine to sentence-transformers: {:.6} ({:?})", worst.0, worst.1);
}

/// A copy of the MiniLM GGUF in a temporary folder, for rewriting.
fn minilm_copy() -> (tempfile::TempDir, PathBuf) {
    let src = models_dir().join("all-minilm-l6-v2.gguf");
    assert!(src.is_file(), "missing {}; run scripts/fetch-models.sh", src.display());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("minilm.gguf");
    std::fs::copy(src, &path).unwrap();
    (dir, path)
}

#[test]
fn a_negative_layer_norm_epsilon_is_a_load_error() {
    let (_dir, path) = minilm_copy();
    let key = "bert.attention.layer_norm_epsilon";
    autobranch_gguf::testing::set_metadata(&path, key, &autobranch_gguf::Value::Float(-1.0)).unwrap();
    let err = LlamaCppEmbedder::load(&path, LlamaCppOptions::default()).err().expect("a hostile file loaded");
    let expected = format!("{}: {key} = -1 is out of range; allowed: a finite number > 0", path.display());
    assert!(err.to_string().contains(&expected), "{err}");
}

#[tokio::test]
async fn nan_weights_fail_embedding_naming_the_model_file() {
    let (_dir, path) = minilm_copy();
    autobranch_gguf::testing::fill_tensor(&path, "token_embd_norm.weight", f32::NAN).unwrap();
    let embedder = LlamaCppEmbedder::load(&path, LlamaCppOptions::default()).unwrap();
    let err = embedder.embed(&["a red fox".into()]).await.unwrap_err();
    let expected = format!("{}: the model computed an embedding containing NaN", path.display());
    assert!(err.to_string().contains(&expected), "{err}");
}
