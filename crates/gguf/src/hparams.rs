//! The hyperparameters a GGUF's metadata states, checked before any loader uses them.
//! llama.cpp asserts (aborting the process) on some out-of-range values, such as a layer
//! count above 512 or a negative or NaN norm epsilon, and a width or length taken at face
//! value can make a loader allocate far more than the file holds. Keys are prefixed by
//! `general.architecture` (`llama.block_count`, `gemma3.block_count`, `bert.block_count`…);
//! only the keys a file has are checked, so absent ones are left to the loaders' defaults.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use crate::header::{GgufHeader, Value};

/// llama.cpp's `LLAMA_MAX_LAYERS`: it aborts on a larger `block_count`.
const MAX_LAYERS: u64 = 512;
/// llama.cpp's `LLAMA_MAX_EXPERTS`.
const MAX_EXPERTS: u64 = 1024;
/// The longest context accepted, 2^24 tokens: above every released model's (10M tokens,
/// Llama 4 Scout) and far below where llama.cpp's 32-bit context length overflows.
const MAX_CONTEXT: u64 = 1 << 24;
/// The rope scaling types llama.cpp knows; it aborts on any other.
const ROPE_SCALING: [&str; 4] = ["none", "linear", "yarn", "longrope"];
/// Architectures whose every layer has tensors (`blk.N.*`), so the layer count must equal
/// the layers in the tensor table. Others (Deci's no-op layers) may leave layers empty.
const EVERY_LAYER_HAS_TENSORS: [&str; 3] = ["llama", "gemma3", "bert"];
/// Architectures where llama.cpp treats one expert as none.
const ONE_EXPERT_IS_NONE: [&str; 2] = ["hunyuan-dense", "hunyuan_vl"];

/// A metadata value out of range: the key, the value and what is allowed.
#[derive(Debug)]
pub(crate) struct OutOfRange {
    pub key: String,
    pub value: String,
    pub allowed: String,
}

fn out_of_range(key: &str, value: impl ToString, allowed: impl ToString) -> OutOfRange {
    OutOfRange { key: key.to_owned(), value: value.to_string(), allowed: allowed.to_string() }
}

/// The allowed integers, with the reason for the bound.
fn integers(range: &RangeInclusive<u64>, why: &str) -> String {
    let why = if why.is_empty() { String::new() } else { format!(" ({why})") };
    format!("an integer from {} to {}{why}", range.start(), range.end())
}

/// A value as an error message shows it.
fn shown(value: &Value) -> String {
    match value {
        Value::Uint(v) => v.to_string(),
        Value::Int(v) => v.to_string(),
        // Most GGUF floats are f32: shown as such (1e-5, not 9.999999747378752e-6).
        Value::Float(v) if f64::from(*v as f32) == *v || v.is_nan() => (*v as f32).to_string(),
        Value::Float(v) => v.to_string(),
        Value::Bool(v) => v.to_string(),
        Value::Str(s) => format!("{s:?}"),
        Value::Array(items) => format!("an array of {} items", items.len()),
    }
}

/// Reads the architecture's keys, each checked for its type on the way.
struct Keys<'a> {
    header: &'a GgufHeader,
    arch: &'a str,
}

impl Keys<'_> {
    fn name(&self, key: &str) -> String {
        format!("{}.{key}", self.arch)
    }

    /// An unsigned integer in `range`, if the key is present.
    fn uint(&self, key: &str, range: RangeInclusive<u64>) -> Result<Option<u64>, OutOfRange> {
        self.uint_because(key, range, "")
    }

    /// As [`Keys::uint`], with `why` (the reason for the range) added to the error.
    fn uint_because(&self, key: &str, range: RangeInclusive<u64>, why: &str) -> Result<Option<u64>, OutOfRange> {
        let key = self.name(key);
        let Some(value) = self.header.metadata.get(&key) else {
            return Ok(None);
        };
        match value.as_u64() {
            Some(v) if range.contains(&v) => Ok(Some(v)),
            _ => Err(out_of_range(&key, shown(value), integers(&range, why))),
        }
    }

    /// A per-layer integer: one for every layer, or an array of one per layer; each must be
    /// in `range`. `None` if the key is absent.
    fn per_layer(
        &self,
        key: &str,
        layers: Option<u64>,
        range: RangeInclusive<u64>,
        why: &str,
    ) -> Result<Option<Vec<u64>>, OutOfRange> {
        let name = self.name(key);
        let Some(value) = self.header.metadata.get(&name) else {
            return Ok(None);
        };
        let Value::Array(items) = value else {
            return self.uint_because(key, range, why).map(|v| v.map(|v| vec![v]));
        };
        if let Some(n) = layers
            && items.len() as u64 != n
        {
            return Err(out_of_range(&name, shown(value), format!("one integer or an array of {n} (one per layer)")));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item.as_u64() {
                Some(v) if range.contains(&v) => Ok(v),
                _ => Err(out_of_range(&format!("{name}[{i}]"), shown(item), integers(&range, why))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// A number, if the key is present; it must be finite as f32 (how llama.cpp reads it)
    /// and satisfy `ok`, described by `allowed`.
    fn float(&self, key: &str, ok: impl Fn(f64) -> bool, allowed: &str) -> Result<Option<f64>, OutOfRange> {
        let key = self.name(key);
        let Some(value) = self.header.metadata.get(&key) else {
            return Ok(None);
        };
        let v = match *value {
            Value::Float(v) => v,
            Value::Uint(v) => v as f64,
            Value::Int(v) => v as f64,
            _ => return Err(out_of_range(&key, shown(value), allowed)),
        };
        if (v as f32).is_finite() && ok(v) { Ok(Some(v)) } else { Err(out_of_range(&key, shown(value), allowed)) }
    }
}

/// What the tensor table holds: the layer indices of `blk.N.*` names and the total number
/// of tensor elements, the bound for any width the metadata states.
struct Table {
    layers: BTreeSet<u64>,
    elements: u64,
}

impl Table {
    fn of(header: &GgufHeader) -> Self {
        let layers = header
            .tensors
            .iter()
            .filter_map(|t| t.name.strip_prefix("blk.")?.split('.').next()?.parse().ok())
            .collect();
        let elements = header
            .tensors
            .iter()
            .map(|t| t.dims.iter().fold(1u64, |acc, &d| acc.saturating_mul(d)))
            .fold(0u64, u64::saturating_add);
        Self { layers, elements }
    }

    /// The largest width `w` such that `w × factor` elements fit the file.
    fn cap(&self, factor: u64) -> u64 {
        self.elements / factor.max(1)
    }
}

/// Checks the hyperparameters of `header` (see the module documentation).
pub(crate) fn check(header: &GgufHeader) -> Result<(), OutOfRange> {
    check_token_ids(header)?;
    let Some(arch) = header.architecture() else {
        return Ok(());
    };
    let k = Keys { header, arch };
    let table = Table::of(header);
    // A file without tensors (a vocabulary-only GGUF) cannot be loaded as a model; its
    // widths bound no allocation, so only their own ranges are checked.
    let has_tensors = !header.tensors.is_empty();

    let layers = k.uint_because("block_count", 1..=MAX_LAYERS, "llama.cpp's limit")?;
    if let Some(n) = layers
        && has_tensors
    {
        let key = k.name("block_count");
        let in_file = table.layers.len() as u64;
        if let Some(&last) = table.layers.last()
            && last >= n
        {
            return Err(out_of_range(&key, n, format!("at least {}: the tensor table has blk.{last}", last + 1)));
        }
        if EVERY_LAYER_HAS_TENSORS.contains(&arch) && in_file != n {
            return Err(out_of_range(&key, n, format!("{in_file}, the layers (blk.N) in the tensor table")));
        }
    }
    let layer_count = layers.unwrap_or(1);
    k.uint("nextn_predict_layers", 0..=layer_count)?;
    k.uint("context_length", 1..=MAX_CONTEXT)?;

    // Every layer holds at least one vector of the embedding width.
    let (max_embd, why) = if has_tensors {
        let why = format!("the file's {} tensor elements over {layer_count} layers", table.elements);
        (table.cap(layer_count).max(1), why)
    } else {
        (u64::MAX, String::new())
    };
    let n_embd = k.uint_because("embedding_length", 1..=max_embd, &why)?;
    let (max_ff, why) = if has_tensors {
        let why = format!("an embedding-length × width matrix must fit the file's {} tensor elements", table.elements);
        (table.cap(n_embd.unwrap_or(1)), why)
    } else {
        (u64::MAX, String::new())
    };
    if let Some(ff) = k.per_layer("feed_forward_length", layers, 0..=max_ff, &why)? {
        // Each layer's feed-forward matrices are n_embd × n_ff at least (one value: every layer's).
        let per_value = if ff.len() == 1 { layer_count } else { 1 };
        let total = ff
            .iter()
            .fold(0u64, |acc, &f| acc.saturating_add(f.saturating_mul(n_embd.unwrap_or(1)).saturating_mul(per_value)));
        if has_tensors && total > table.elements {
            let key = k.name("feed_forward_length");
            return Err(out_of_range(
                &key,
                shown(&header.metadata[&key]),
                format!(
                    "widths whose sum over the layers times the embedding length fits the file's {} tensor \
                     elements",
                    table.elements
                ),
            ));
        }
    }
    check_attention(&k, layers, n_embd, &table, has_tensors)?;
    check_experts(&k, layers)?;

    let positive = "a finite number > 0";
    k.float("attention.layer_norm_rms_epsilon", |v| v > 0.0, positive)?;
    k.float("attention.layer_norm_epsilon", |v| v > 0.0, positive)?;
    k.float("rope.freq_base", |v| v > 0.0, positive)?;
    k.float("rope.freq_base_swa", |v| v > 0.0, positive)?;
    k.float("rope.scaling.factor", |v| v >= 0.0, "a finite number ≥ 0")?;
    let scaling = k.name("rope.scaling.type");
    if let Some(value) = header.metadata.get(&scaling)
        && !value.as_str().is_some_and(|s| ROPE_SCALING.contains(&s))
    {
        return Err(out_of_range(&scaling, shown(value), ROPE_SCALING.join(", ")));
    }
    // No hyperparameter is meaningful as NaN or infinity (softcapping, rope factors…).
    let prefix = format!("{arch}.");
    for (key, value) in header.metadata.range(prefix.clone()..) {
        if !key.starts_with(&prefix) {
            break;
        }
        if let Value::Float(v) = value
            && !(*v as f32).is_finite()
        {
            return Err(out_of_range(key, shown(value), "a finite number"));
        }
    }
    Ok(())
}

/// Head counts (per layer), head widths and the rotary dimension count.
fn check_attention(
    k: &Keys<'_>,
    layers: Option<u64>,
    n_embd: Option<u64>,
    table: &Table,
    has_tensors: bool,
) -> Result<(), OutOfRange> {
    let min_heads = u64::from(EVERY_LAYER_HAS_TENSORS.contains(&k.arch));
    let max_heads = n_embd.unwrap_or(u64::MAX).max(min_heads);
    let why = k.name("embedding_length");
    let Some(heads) = k.per_layer("attention.head_count", layers, min_heads..=max_heads, &why)? else {
        return Ok(());
    };
    if let Some(kv) = k.per_layer("attention.head_count_kv", layers, 0..=max_heads, &why)? {
        let at = |v: &[u64], i: usize| if v.len() == 1 { v[0] } else { v[i] };
        for i in 0..heads.len().max(kv.len()) {
            let (h, g) = (at(&heads, i), at(&kv, i));
            // Each group of h / g query heads shares one key/value head.
            if g > 0 && (g > h || !h.is_multiple_of(g)) {
                let key = k.name("attention.head_count_kv");
                let key = if kv.len() > 1 { format!("{key}[{i}]") } else { key };
                let heads_key = k.name("attention.head_count");
                return Err(out_of_range(&key, g, format!("0 or a divisor of {h} ({heads_key})")));
            }
        }
    }
    // llama.cpp derives the head width from layer 0.
    let h = heads[0];
    if h == 0 {
        return Ok(());
    }
    let (max_width, why) = if has_tensors {
        let why = format!(
            "a projection of heads × width × embedding length must fit the file's {} tensor elements",
            table.elements
        );
        (table.cap(h.saturating_mul(n_embd.unwrap_or(1))).max(1), why)
    } else {
        (u64::MAX, String::new())
    };
    let key_length = k.uint_because("attention.key_length", 1..=max_width, &why)?;
    k.uint_because("attention.value_length", 1..=max_width, &why)?;
    let head_dim = match (key_length, n_embd) {
        (Some(width), _) => width,
        (None, Some(n)) => {
            if !n.is_multiple_of(h) {
                let key = k.name("attention.head_count");
                let embd = k.name("embedding_length");
                let allowed = format!("a divisor of {n} ({embd}) when {} is absent", k.name("attention.key_length"));
                return Err(out_of_range(&key, h, allowed));
            }
            n / h
        }
        (None, None) => return Ok(()),
    };
    if let Some(rot) = k.uint("rope.dimension_count", 0..=head_dim)?
        && !rot.is_multiple_of(2)
    {
        let key = k.name("rope.dimension_count");
        return Err(out_of_range(&key, rot, format!("an even number from 0 to {head_dim} (the head width)")));
    }
    Ok(())
}

/// Mixture-of-experts counts, as llama.cpp asserts them.
fn check_experts(k: &Keys<'_>, layers: Option<u64>) -> Result<(), OutOfRange> {
    let experts = k.uint_because("expert_count", 0..=MAX_EXPERTS, "llama.cpp's limit")?.unwrap_or(0);
    if experts <= 1 && ONE_EXPERT_IS_NONE.contains(&k.arch) {
        return Ok(());
    }
    let count_key = k.name("expert_count");
    let used = k.per_layer("expert_used_count", layers, 0..=experts, &count_key)?;
    let used_max = used.iter().flatten().copied().max().unwrap_or(0);
    let groups_key = k.name("expert_group_count");
    let groups = k.uint("expert_group_count", 0..=u64::MAX)?.unwrap_or(0);
    if experts == 0 {
        if groups > 0 {
            return Err(out_of_range(&groups_key, groups, "0 when there are no experts"));
        }
        return Ok(());
    }
    if used_max == 0 {
        let value = if used.is_some() { "0" } else { "(absent)" };
        return Err(out_of_range(&k.name("expert_used_count"), value, format!("1 to {experts} ({count_key})")));
    }
    if groups > 0 && (groups >= experts || (groups > 1 && !experts.is_multiple_of(groups))) {
        return Err(out_of_range(&groups_key, groups, format!("a divisor of {experts} ({count_key}) below it")));
    }
    if groups > 1 {
        let key = k.name("expert_group_used_count");
        if k.uint_because("expert_group_used_count", 1..=groups - 1, &groups_key)?.is_none() {
            return Err(out_of_range(&key, "(absent)", integers(&(1..=groups - 1), &groups_key)));
        }
    }
    Ok(())
}

/// Special token ids (`tokenizer.ggml.*_token_id`) must name a token of the vocabulary.
fn check_token_ids(header: &GgufHeader) -> Result<(), OutOfRange> {
    let Some(Value::Array(tokens)) = header.metadata.get("tokenizer.ggml.tokens") else {
        return Ok(());
    };
    let vocab = tokens.len() as u64;
    let allowed = if vocab == 0 {
        "none: tokenizer.ggml.tokens is empty".to_owned()
    } else {
        format!("a token id from 0 to {} (tokenizer.ggml.tokens has {vocab})", vocab - 1)
    };
    for (key, value) in header.metadata.range("tokenizer.ggml.".to_owned()..) {
        if !key.starts_with("tokenizer.ggml.") {
            break;
        }
        if !key.ends_with("_token_id") {
            continue;
        }
        if value.as_u64().is_none_or(|id| id >= vocab) {
            return Err(out_of_range(key, shown(value), &allowed));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{GgufError, read_header};
    use crate::testing::GgufBuilder;

    /// A two-layer llama whose metadata agrees with its tensors: width 8, 2 heads of 4.
    fn tiny() -> GgufBuilder {
        let tokens = (0..10).map(|i| Value::Str(format!("t{i}"))).collect();
        let mut b = GgufBuilder::new()
            .meta("general.architecture", Value::Str("llama".into()))
            .meta("llama.block_count", Value::Uint(2))
            .meta("llama.context_length", Value::Uint(64))
            .meta("llama.embedding_length", Value::Uint(8))
            .meta("llama.feed_forward_length", Value::Uint(16))
            .meta("llama.attention.head_count", Value::Uint(2))
            .meta("llama.attention.head_count_kv", Value::Uint(1))
            .meta("llama.attention.layer_norm_rms_epsilon", Value::Float(1e-5))
            .meta("llama.rope.freq_base", Value::Float(10_000.0))
            .meta("llama.rope.dimension_count", Value::Uint(4))
            .meta("tokenizer.ggml.tokens", Value::Array(tokens))
            .meta("tokenizer.ggml.bos_token_id", Value::Uint(1))
            .meta("tokenizer.ggml.eos_token_id", Value::Uint(2))
            .tensor("token_embd.weight", &[8, 10], vec![0.0; 80]);
        for l in 0..2 {
            b = b.tensor(&format!("blk.{l}.attn_norm.weight"), &[8], vec![1.0; 8]).tensor(
                &format!("blk.{l}.ffn_up.weight"),
                &[8, 16],
                vec![0.0; 128],
            );
        }
        b
    }

    /// The error message for `builder`'s file, which must be a hyperparameter error.
    fn refused(builder: GgufBuilder) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.gguf");
        builder.write(&path).unwrap();
        match read_header(&path) {
            Err(e @ GgufError::Hyperparameter { .. }) => {
                let message = e.to_string();
                let prefix = format!("{}: ", path.display());
                assert!(message.starts_with(&prefix), "{message}");
                message[prefix.len()..].to_owned()
            }
            other => panic!("expected a hyperparameter error, got {other:?}"),
        }
    }

    fn with(key: &str, value: Value) -> String {
        refused(tiny().meta(key, value))
    }

    #[test]
    fn a_consistent_file_passes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.gguf");
        tiny().write(&path).unwrap();
        read_header(&path).unwrap();
        // Absent keys are left to the loaders.
        tiny().without("llama.rope.dimension_count").without("llama.attention.head_count_kv").write(&path).unwrap();
        read_header(&path).unwrap();
    }

    #[test]
    fn layer_counts_llama_cpp_aborts_on_or_the_file_does_not_hold() {
        let limit = "allowed: an integer from 1 to 512 (llama.cpp's limit)";
        assert_eq!(
            with("llama.block_count", Value::Uint(0)),
            format!("llama.block_count = 0 is out of range; {limit}")
        );
        assert_eq!(
            with("llama.block_count", Value::Uint(1_000_000)),
            format!("llama.block_count = 1000000 is out of range; {limit}")
        );
        assert_eq!(
            with("llama.block_count", Value::Uint(3)),
            "llama.block_count = 3 is out of range; allowed: 2, the layers (blk.N) in the tensor table"
        );
        assert_eq!(
            with("llama.block_count", Value::Uint(1)),
            "llama.block_count = 1 is out of range; allowed: at least 2: the tensor table has blk.1"
        );
        assert_eq!(
            with("llama.block_count", Value::Float(2.0)),
            format!("llama.block_count = 2 is out of range; {limit}")
        );
    }

    #[test]
    fn epsilons_must_be_positive_and_finite() {
        for (value, shown) in [(f64::NAN, "NaN"), (-1.0, "-1"), (0.0, "0"), (f64::INFINITY, "inf")] {
            assert_eq!(
                with("llama.attention.layer_norm_rms_epsilon", Value::Float(value)),
                format!(
                    "llama.attention.layer_norm_rms_epsilon = {shown} is out of range; allowed: a finite number > 0"
                )
            );
        }
        let bert = tiny()
            .meta("general.architecture", Value::Str("bert".into()))
            .meta("bert.block_count", Value::Uint(2))
            .meta("bert.attention.layer_norm_epsilon", Value::Float(-1e-12));
        assert_eq!(
            refused(bert),
            "bert.attention.layer_norm_epsilon = -0.000000000001 is out of range; allowed: a finite number > 0"
        );
    }

    #[test]
    fn context_length_is_bounded() {
        assert_eq!(
            with("llama.context_length", Value::Uint(u64::from(u32::MAX))),
            "llama.context_length = 4294967295 is out of range; allowed: an integer from 1 to 16777216"
        );
        assert!(with("llama.context_length", Value::Uint(0)).starts_with("llama.context_length = 0 is out of range"));
    }

    #[test]
    fn widths_must_fit_the_tensor_data() {
        assert_eq!(
            with("llama.embedding_length", Value::Uint(1_000_000_000)),
            "llama.embedding_length = 1000000000 is out of range; allowed: an integer from 1 to 176 (the file's 352 \
             tensor elements over 2 layers)"
        );
        assert_eq!(
            with("llama.feed_forward_length", Value::Uint(1_000_000_000)),
            "llama.feed_forward_length = 1000000000 is out of range; allowed: an integer from 0 to 44 (an \
             embedding-length × width matrix must fit the file's 352 tensor elements)"
        );
        assert!(
            with("llama.feed_forward_length", Value::Uint(40)).contains("widths whose sum over the layers"),
            "2 layers × 40 × 8 = 640 elements exceed the file's 352"
        );
        let per_layer = Value::Array(vec![Value::Uint(16), Value::Uint(16), Value::Uint(16)]);
        assert_eq!(
            with("llama.feed_forward_length", per_layer),
            "llama.feed_forward_length = an array of 3 items is out of range; allowed: one integer or an array of 2 \
             (one per layer)"
        );
        assert_eq!(
            with("llama.attention.key_length", Value::Uint(1000)),
            "llama.attention.key_length = 1000 is out of range; allowed: an integer from 1 to 22 (a projection of \
             heads × width × embedding length must fit the file's 352 tensor elements)"
        );
    }

    #[test]
    fn head_counts_must_divide() {
        assert_eq!(
            with("llama.attention.head_count", Value::Uint(1_000_000)),
            "llama.attention.head_count = 1000000 is out of range; allowed: an integer from 1 to 8 \
             (llama.embedding_length)"
        );
        assert_eq!(
            with("llama.attention.head_count", Value::Uint(0)),
            "llama.attention.head_count = 0 is out of range; allowed: an integer from 1 to 8 (llama.embedding_length)"
        );
        assert_eq!(
            with("llama.attention.head_count", Value::Uint(3)),
            "llama.attention.head_count = 3 is out of range; allowed: a divisor of 8 (llama.embedding_length) when \
             llama.attention.key_length is absent"
        );
        assert_eq!(
            with("llama.attention.head_count_kv", Value::Uint(3)),
            "llama.attention.head_count_kv = 3 is out of range; allowed: 0 or a divisor of 2 (llama.attention.head_count)"
        );
        let per_layer = Value::Array(vec![Value::Uint(1), Value::Uint(4)]);
        assert_eq!(
            with("llama.attention.head_count_kv", per_layer),
            "llama.attention.head_count_kv[1] = 4 is out of range; allowed: 0 or a divisor of 2 \
             (llama.attention.head_count)"
        );
    }

    #[test]
    fn rope_settings() {
        assert_eq!(
            with("llama.rope.freq_base", Value::Float(f64::NAN)),
            "llama.rope.freq_base = NaN is out of range; allowed: a finite number > 0"
        );
        assert_eq!(
            with("llama.rope.dimension_count", Value::Uint(6)),
            "llama.rope.dimension_count = 6 is out of range; allowed: an integer from 0 to 4"
        );
        assert_eq!(
            with("llama.rope.dimension_count", Value::Uint(3)),
            "llama.rope.dimension_count = 3 is out of range; allowed: an even number from 0 to 4 (the head width)"
        );
        assert_eq!(
            with("llama.rope.scaling.type", Value::Str("cubic".into())),
            "llama.rope.scaling.type = \"cubic\" is out of range; allowed: none, linear, yarn, longrope"
        );
        assert_eq!(
            with("llama.final_logit_softcapping", Value::Float(f64::NAN)),
            "llama.final_logit_softcapping = NaN is out of range; allowed: a finite number"
        );
    }

    #[test]
    fn expert_counts_llama_cpp_asserts_on() {
        assert_eq!(
            with("llama.expert_count", Value::Uint(5000)),
            "llama.expert_count = 5000 is out of range; allowed: an integer from 0 to 1024 (llama.cpp's limit)"
        );
        assert_eq!(
            with("llama.expert_count", Value::Uint(8)),
            "llama.expert_used_count = (absent) is out of range; allowed: 1 to 8 (llama.expert_count)"
        );
        assert_eq!(
            refused(tiny().meta("llama.expert_count", Value::Uint(8)).meta("llama.expert_used_count", Value::Uint(9))),
            "llama.expert_used_count = 9 is out of range; allowed: an integer from 0 to 8 (llama.expert_count)"
        );
        assert_eq!(
            with("llama.expert_used_count", Value::Uint(2)),
            "llama.expert_used_count = 2 is out of range; allowed: an integer from 0 to 0 (llama.expert_count)"
        );
    }

    #[test]
    fn special_token_ids_must_be_in_the_vocabulary() {
        assert_eq!(
            with("tokenizer.ggml.eos_token_id", Value::Uint(10)),
            "tokenizer.ggml.eos_token_id = 10 is out of range; allowed: a token id from 0 to 9 (tokenizer.ggml.tokens \
             has 10)"
        );
        assert_eq!(
            with("tokenizer.ggml.padding_token_id", Value::Int(-1)),
            "tokenizer.ggml.padding_token_id = -1 is out of range; allowed: a token id from 0 to 9 \
             (tokenizer.ggml.tokens has 10)"
        );
    }
}
