//! The byte-level BPE tokenizer rebuilt from SmolLM2's GGUF metadata (its parity with
//! llama.cpp's own tokenizer is tested in benches/tests/burn_vs_llamacpp.rs), and the
//! errors for metadata it cannot use. The model comes from `AUTOBRANCH_MODELS`.

use std::path::PathBuf;

use autobranch_gguf::{GgufHeader, Value, bpe_tokenizer, read_header};

fn smollm2() -> GgufHeader {
    let dir = std::env::var_os("AUTOBRANCH_MODELS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/autobranch/models")
    });
    let path = dir.join("SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(path.is_file(), "missing {}; run scripts/fetch-models.sh", path.display());
    read_header(&path).unwrap()
}

#[test]
fn special_tokens_digits_and_round_trips() {
    let t = bpe_tokenizer(&smollm2()).unwrap();
    let ids = t.encode("<|im_start|>user\nHi<|im_end|>").unwrap();
    assert_eq!((ids[0], *ids.last().unwrap()), (1, 2), "{ids:?}");
    assert_eq!(t.token_text(2), "<|im_end|>");
    assert!(t.is_end_of_generation(2) && t.is_end_of_generation(0) && !t.is_end_of_generation(1));
    assert!(!t.add_bos);
    // The smollm pre-tokenizer splits every digit.
    assert_eq!(t.encode("2026").unwrap().len(), 4);
    for text in ["Émile a mangé des crêpes", "日本語 🙂 tabs\tand\nlines", "  spaced  out  "] {
        assert_eq!(t.decode(&t.encode(text).unwrap()).unwrap(), text);
    }
}

#[test]
fn unusable_metadata_is_named() {
    let with = |key: &str, value: Option<Value>| {
        let mut h = smollm2();
        match value {
            Some(v) => h.metadata.insert(key.into(), v),
            None => h.metadata.remove(key),
        };
        bpe_tokenizer(&h).err().expect("refused")
    };
    let err = with("tokenizer.ggml.merges", None);
    assert!(err.starts_with("the GGUF has no tokenizer.ggml.merges"), "{err}");
    let err = with("tokenizer.ggml.model", Some(Value::Str("llama".into())));
    assert!(err.starts_with("tokenizer.ggml.model = llama is not supported; supported: gpt2"), "{err}");
    let err = with("tokenizer.ggml.pre", Some(Value::Str("qwen2".into())));
    assert!(err.starts_with("tokenizer.ggml.pre = qwen2 is not supported; supported: default, gpt2"), "{err}");
    let err = with("tokenizer.ggml.eos_token_id", Some(Value::Uint(60_000)));
    assert!(err.contains("tokenizer.ggml.eos_token_id = 60000 is outside the vocabulary"), "{err}");
}
