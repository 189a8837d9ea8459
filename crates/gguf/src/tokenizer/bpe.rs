//! Byte-level BPE (`tokenizer.ggml.model = gpt2`) from the GGUF's tokens and merges, with
//! the pre-tokenizer `tokenizer.ggml.pre` names, so prompts tokenise as llama.cpp
//! tokenises them.

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, PreTokenizerWrapper, Tokenizer};

use crate::header::{GgufHeader, Value};

/// llama.cpp's token types (`tokenizer.ggml.token_type`).
const CONTROL: u64 = 3;
const USER_DEFINED: u64 = 4;

/// Texts of end-of-turn tokens llama.cpp also treats as end of generation.
const END_TEXTS: [&str; 6] = ["<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|eom_id|>"];

/// `tokenizer.ggml.pre` values this builder knows.
const PRE_TOKENIZERS: [&str; 4] = ["default", "gpt2", "gpt-2", "smollm"];

/// A GGUF's byte-level BPE tokenizer and the special tokens generation needs.
pub struct BpeTokenizer {
    /// The tokenizer (special tokens in text are parsed as such).
    pub tokenizer: Tokenizer,
    /// `tokenizer.ggml.bos_token_id`.
    pub bos: Option<u32>,
    /// `tokenizer.ggml.eos_token_id`.
    pub eos: Option<u32>,
    /// Whether a BOS token starts every prompt (`tokenizer.ggml.add_bos_token`).
    pub add_bos: bool,
    /// Tokens that end a generation: EOS, EOT, and control tokens that mark an end of turn.
    pub end_of_generation: Vec<u32>,
}

impl BpeTokenizer {
    /// Token ids of `text` (BOS not added; special tokens written in the text are parsed).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        let enc = self.tokenizer.encode(text, false).map_err(|e| format!("tokenisation failed: {e}"))?;
        Ok(enc.get_ids().to_vec())
    }

    /// The text of `ids`, special tokens left out.
    pub fn decode(&self, ids: &[u32]) -> Result<String, String> {
        self.tokenizer.decode(ids, true).map_err(|e| format!("detokenisation failed: {e}"))
    }

    /// The text of token `id`, special tokens included ("" if out of range).
    pub fn token_text(&self, id: u32) -> String {
        self.tokenizer.decode(&[id], false).unwrap_or_default()
    }

    /// Whether `id` ends a generation.
    pub fn is_end_of_generation(&self, id: u32) -> bool {
        self.end_of_generation.contains(&id)
    }
}

fn string_array<'a>(header: &'a GgufHeader, key: &str) -> Result<Vec<&'a str>, String> {
    let Some(Value::Array(items)) = header.metadata.get(key) else {
        return Err(format!(
            "the GGUF has no {key}; a BPE tokenizer needs tokenizer.ggml.tokens and tokenizer.ggml.merges"
        ));
    };
    items.iter().map(|v| v.as_str().ok_or_else(|| format!("{key} holds a non-string"))).collect()
}

/// Builds the tokenizer of a GGUF whose `tokenizer.ggml.model` is `gpt2`.
pub fn bpe_tokenizer(header: &GgufHeader) -> Result<BpeTokenizer, String> {
    match header.get_str("tokenizer.ggml.model") {
        Some("gpt2") => {}
        Some(other) => {
            return Err(format!("tokenizer.ggml.model = {other} is not supported; supported: gpt2 (byte-level BPE)"));
        }
        None => return Err("the GGUF has no tokenizer.ggml.model".into()),
    }
    let pre = header.get_str("tokenizer.ggml.pre").unwrap_or("default");
    let byte_level = ByteLevel::new(false, true, true);
    let pre_tokenizer: PreTokenizerWrapper = match pre {
        "default" | "gpt2" | "gpt-2" => byte_level.into(),
        // llama.cpp's smollm pre-tokenizer: every digit alone, then GPT-2's split.
        "smollm" => Sequence::new(vec![Digits::new(true).into(), byte_level.into()]).into(),
        other => {
            return Err(format!(
                "tokenizer.ggml.pre = {other} is not supported; supported: {}",
                PRE_TOKENIZERS.join(", ")
            ));
        }
    };
    let tokens = string_array(header, "tokenizer.ggml.tokens")?;
    let merges = string_array(header, "tokenizer.ggml.merges")?;
    let vocab: ahash::AHashMap<String, u32> =
        tokens.iter().enumerate().map(|(id, t)| ((*t).to_owned(), id as u32)).collect();
    let merges = merges
        .iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .ok_or_else(|| format!("tokenizer.ggml.merges has {m:?}, not two pieces separated by a space"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let model = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| format!("cannot build the BPE model: {e}"))?;
    let mut tokenizer = Tokenizer::new(model);
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer)).with_decoder(Some(ByteLevelDecoder::default()));

    let types: Vec<u64> = match header.metadata.get("tokenizer.ggml.token_type") {
        Some(Value::Array(items)) => items.iter().map(|v| v.as_u64().unwrap_or(1)).collect(),
        _ => Vec::new(),
    };
    let typed = |ty: u64| tokens.iter().zip(&types).filter(move |(_, t)| **t == ty).map(|(tok, _)| *tok);
    let specials: Vec<AddedToken> = typed(CONTROL).map(|t| AddedToken::from(t, true)).collect();
    tokenizer.add_special_tokens(&specials);
    let user: Vec<AddedToken> = typed(USER_DEFINED).map(|t| AddedToken::from(t, false)).collect();
    tokenizer.add_tokens(&user);

    let id = |key: &str| -> Result<Option<u32>, String> {
        match header.get_u64(key) {
            Some(v) if (v as usize) < tokens.len() => Ok(Some(v as u32)),
            Some(v) => Err(format!("{key} = {v} is outside the vocabulary of {} tokens", tokens.len())),
            None => Ok(None),
        }
    };
    let (bos, eos, eot) =
        (id("tokenizer.ggml.bos_token_id")?, id("tokenizer.ggml.eos_token_id")?, id("tokenizer.ggml.eot_token_id")?);
    let mut end_of_generation: Vec<u32> = eos.into_iter().chain(eot).collect();
    for (i, (tok, ty)) in tokens.iter().zip(&types).enumerate() {
        if *ty == CONTROL && END_TEXTS.contains(tok) && !end_of_generation.contains(&(i as u32)) {
            end_of_generation.push(i as u32);
        }
    }
    if end_of_generation.is_empty() {
        return Err("the GGUF names no end-of-generation token (tokenizer.ggml.eos_token_id)".into());
    }
    let add_bos = matches!(header.metadata.get("tokenizer.ggml.add_bos_token"), Some(Value::Bool(true)));
    Ok(BpeTokenizer { tokenizer, bos, eos, add_bos, end_of_generation })
}
