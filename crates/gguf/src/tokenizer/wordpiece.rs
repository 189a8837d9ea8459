//! Hugging Face's BERT tokenisation for GGUF BERT embedding models. llama.cpp's own
//! WordPiece tokenizer differs from `BertNormalizer` + `BertPreTokenizer` (it drops spacing
//! combining marks such as Devanagari vowel signs, and does not decompose Hangul), which
//! moves some vectors far from sentence-transformers'. So the vocabulary is read back from
//! the GGUF and tokenised with the `tokenizers` crate's own BERT pipeline; llama.cpp then
//! runs the model on those token ids.

use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{AddedToken, Tokenizer, TruncationParams};

use crate::header::{GgufHeader, Value};

/// Tokenises like sentence-transformers' BERT tokenizer.
pub struct BertTokenizer {
    inner: Tokenizer,
}

impl BertTokenizer {
    /// Builds the tokenizer from a GGUF whose `tokenizer.ggml.model` is `bert`; `None` for
    /// other models (llama.cpp's tokenizer is used for them).
    pub fn from_gguf(header: &GgufHeader, max_len: usize) -> Result<Option<Self>, String> {
        if header.get_str("tokenizer.ggml.model") != Some("bert") {
            return Ok(None);
        }
        let Some(Value::Array(tokens)) = header.metadata.get("tokenizer.ggml.tokens") else {
            return Err("the GGUF has no tokenizer.ggml.tokens".into());
        };
        // Undo llama.cpp's phantom-space encoding: "▁word" starts a word, a bare piece
        // continues one ("##piece"), bracketed tokens are special.
        let mut vocab: ahash::AHashMap<String, u32> = ahash::AHashMap::with_capacity(tokens.len());
        let mut names = Vec::with_capacity(tokens.len());
        for (id, t) in tokens.iter().enumerate() {
            let t = t.as_str().ok_or("tokenizer.ggml.tokens holds a non-string")?;
            let hf = if let Some(word) = t.strip_prefix('\u{2581}') {
                word.to_owned()
            } else if t.starts_with('[') && t.ends_with(']') {
                t.to_owned()
            } else {
                format!("##{t}")
            };
            names.push(hf.clone());
            vocab.entry(hf).or_insert(id as u32);
        }
        let token = |key: &str, fallback: u32| -> Result<(String, u32), String> {
            let id = header.get_u64(key).map_or(fallback, |v| v as u32);
            let name = names.get(id as usize).ok_or_else(|| format!("{key} = {id} is outside the vocabulary"))?;
            Ok((name.clone(), id))
        };
        let cls = token("tokenizer.ggml.bos_token_id", 101)?;
        let sep = token("tokenizer.ggml.seperator_token_id", 102)?;
        let unk = token("tokenizer.ggml.unknown_token_id", 100)?;
        let flag = |key: &str| match header.metadata.get(key) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        };
        // llama.cpp's WordPiece always lowercases; the converter records the exact setting.
        let lowercase = flag("tokenizer.bert.lowercase").unwrap_or(true);
        let strip_accents = flag("tokenizer.bert.strip_accents").unwrap_or(lowercase);

        let model = WordPiece::builder()
            .vocab(vocab)
            .unk_token(unk.0.clone())
            .continuing_subword_prefix("##".into())
            .max_input_chars_per_word(100)
            .build()
            .map_err(|e| format!("cannot build the WordPiece model: {e}"))?;
        let mut inner = Tokenizer::new(model);
        inner
            .with_normalizer(Some(BertNormalizer::new(true, true, Some(strip_accents), lowercase)))
            .with_pre_tokenizer(Some(BertPreTokenizer))
            .with_post_processor(Some(BertProcessing::new(sep.clone(), cls.clone())));
        inner
            .with_truncation(Some(TruncationParams { max_length: max_len, ..TruncationParams::default() }))
            .map_err(|e| format!("cannot set truncation: {e}"))?;
        let specials: Vec<AddedToken> =
            [&cls.0, &sep.0, &unk.0].iter().map(|t| AddedToken::from(t.as_str(), true)).collect();
        inner.add_special_tokens(&specials);
        Ok(Some(Self { inner }))
    }

    /// Token ids of `text` with [CLS] and [SEP], truncated to the maximum length.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        let enc = self.inner.encode(text, true).map_err(|e| format!("tokenisation failed: {e}"))?;
        Ok(enc.get_ids().to_vec())
    }
}
