use std::io::Write;

use autobranch_core::budget::BudgetMode;
use autobranch_core::config::{
    Config, ConfigError, MAX_CONFIG_BYTES, MAX_NESTING, MAX_YAML_NODES, NoveltyConfig, ScorerConfig,
};
use autobranch_core::scoring::Weights;

fn file(ext: &str, text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(ext).tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn load(ext: &str, text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let f = file(ext, text);
    Config::load_with_env(Some(f.path()), env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn env_only(env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::load_with_env(None, env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

const YAML: &str = "
beam:
  k: 3
scorer:
  type: composite
  weights:
    confidence: 1.0
    relevance: 1.0
novelty:
  type: mmr
  lambda_param: 0.3
  threshold: 0.8
entropy:
  min_entropy: 0.5
  k_max: 4
  delta_epsilon: 0.01
budget:
  max_nodes: 10
  mode: soft
";

#[test]
fn yaml_json_and_toml_give_the_same_config() {
    let yaml = load(".yaml", YAML, &[]).unwrap();
    let json = load(
        ".json",
        r#"{"beam": {"k": 3}, "scorer": {"type": "composite", "weights": {"confidence": 1.0, "relevance": 1.0}},
            "novelty": {"type": "mmr", "lambda_param": 0.3, "threshold": 0.8},
            "entropy": {"min_entropy": 0.5, "k_max": 4, "delta_epsilon": 0.01},
            "budget": {"max_nodes": 10, "mode": "soft"}}"#,
        &[],
    )
    .unwrap();
    let toml = load(
        ".toml",
        "[beam]\nk = 3\n[scorer]\ntype = \"composite\"\n[scorer.weights]\nconfidence = 1.0\nrelevance = 1.0\n\
         [novelty]\ntype = \"mmr\"\nlambda_param = 0.3\nthreshold = 0.8\n\
         [entropy]\nmin_entropy = 0.5\nk_max = 4\ndelta_epsilon = 0.01\n[budget]\nmax_nodes = 10\nmode = \"soft\"\n",
        &[],
    )
    .unwrap();
    assert_eq!(yaml, json);
    assert_eq!(yaml, toml);
    assert_eq!(yaml.beam_k, 3);
    assert_eq!(yaml.novelty, Some(NoveltyConfig::Mmr { lambda_param: 0.3, threshold: Some(0.8) }));
    let e = yaml.entropy.unwrap();
    assert_eq!((e.min_entropy, e.k_max, e.delta_epsilon, e.random_seed), (0.5, 4, Some(0.01), 42));
    let b = yaml.budget.unwrap();
    assert_eq!(
        (b.budget.max_nodes, b.budget.max_tokens, b.budget.max_ms, b.mode),
        (10, 30000, 12000, BudgetMode::Soft)
    );
    // Weights given: the missing ones are 0.
    assert_eq!(
        yaml.scorer,
        ScorerConfig::Composite {
            weights: Weights {
                confidence: 1.0,
                relevance: 1.0,
                novelty_parent: 0.0,
                intent_alignment: 0.0,
                historical_reward: 0.0
            }
        }
    );
}

#[test]
fn absent_sections_get_the_defaults_and_budget_stays_off() {
    let c = env_only(&[]).unwrap();
    assert_eq!(c.beam_k, 5);
    assert_eq!(c.scorer, ScorerConfig::Composite { weights: Weights::CONFIG_DEFAULT });
    assert_eq!(c.novelty, Some(NoveltyConfig::Cosine { threshold: 0.85 }));
    assert_eq!(c.entropy.unwrap().min_entropy, 0.6);
    assert_eq!(c.entropy.unwrap().k_max, 5);
    assert!(c.budget.is_none());
    let empty = load(".yaml", "", &[]).unwrap();
    assert_eq!(empty, c);
}

#[test]
fn null_turns_a_stage_off() {
    let c = load(".yaml", "novelty: null\nentropy:\n  type: null\n", &[]).unwrap();
    assert!(c.novelty.is_none());
    assert!(c.entropy.is_none());
    let c = load(".json", r#"{"novelty": {"type": null}, "entropy": null}"#, &[]).unwrap();
    assert!(c.novelty.is_none() && c.entropy.is_none());
    let c = load(".toml", "[novelty]\ntype = \"null\"\n", &[]).unwrap();
    assert!(c.novelty.is_none());
}

#[test]
fn env_overrides_are_typed_int_then_float_then_string() {
    let c = load(
        ".yaml",
        YAML,
        &[
            ("AUTOBRANCH_BEAM__K", "10"),
            ("AUTOBRANCH_NOVELTY__THRESHOLD", "0.5"),
            ("AUTOBRANCH_BUDGET__MODE", "strict"),
            ("AUTOBRANCH_ENTROPY__MIN_ENTROPY", "1"),
        ],
    )
    .unwrap();
    assert_eq!(c.beam_k, 10);
    assert_eq!(c.novelty, Some(NoveltyConfig::Mmr { lambda_param: 0.3, threshold: Some(0.5) }));
    assert_eq!(c.budget.unwrap().mode, BudgetMode::Strict);
    assert_eq!(c.entropy.unwrap().min_entropy, 1.0, "an integer is accepted where a float is expected");
}

#[test]
fn env_override_of_the_wrong_type_names_the_key() {
    let err = env_only(&[("AUTOBRANCH_BEAM__K", "ten")]).unwrap_err();
    assert_eq!(err.to_string(), "`beam.k` must be an integer ≥ 1, got the string \"ten\"");
    let err = env_only(&[("AUTOBRANCH_BEAM__K", "2.5")]).unwrap_err();
    assert!(err.to_string().contains("`beam.k` must be an integer ≥ 1, got 2.5"), "{err}");
}

#[test]
fn unrelated_autobranch_variables_are_not_config() {
    let c = env_only(&[("AUTOBRANCH_MODELS", "/tmp/models"), ("AUTOBRANCH_LOG", "debug"), ("OTHER__X", "1")]);
    assert!(c.is_ok(), "{c:?}");
}

#[test]
fn out_of_range_values_name_the_key_and_range() {
    let cases = [
        ("novelty:\n  threshold: 1.5\n", "`novelty.threshold` = 1.5 is out of range; allowed: [0, 1]"),
        ("beam:\n  k: 0\n", "`beam.k` = 0 is out of range; allowed: an integer ≥ 1"),
        (
            "novelty:\n  type: mmr\n  lambda_param: -0.1\n",
            "`novelty.lambda_param` = -0.1 is out of range; allowed: [0, 1]",
        ),
        ("budget:\n  max_tokens: -5\n", "`budget.max_tokens` = -5 is out of range; allowed: an integer ≥ 1"),
        ("entropy:\n  min_entropy: 2\n", "`entropy.min_entropy` = 2 is out of range; allowed: [0, 1]"),
        ("entropy:\n  k_max: 0\n", "`entropy.k_max` = 0 is out of range; allowed: an integer ≥ 1"),
        ("generation:\n  top_p: 0\n", "`generation.top_p` = 0 is out of range; allowed: (0, 1]"),
        ("explore:\n  n: 0\n", "`explore.n` = 0 is out of range; allowed: an integer ≥ 1"),
    ];
    for (yaml, message) in cases {
        assert_eq!(load(".yaml", yaml, &[]).unwrap_err().to_string(), message, "{yaml}");
    }
}

#[test]
fn wrong_types_and_unknown_names_are_errors() {
    let err = load(".yaml", "novelty:\n  threshold: high\n", &[]).unwrap_err();
    assert_eq!(err.to_string(), "`novelty.threshold` must be a number in [0, 1], got the string \"high\"");
    let err = load(".yaml", "novelty:\n  type: jaccard\n", &[]).unwrap_err();
    assert_eq!(err.to_string(), "`novelty.type` = \"jaccard\" is not a known type; allowed: cosine, mmr");
    let err = load(".yaml", "scorer:\n  type: neural\n", &[]).unwrap_err();
    assert!(err.to_string().contains("allowed: composite, static"), "{err}");
    let err = load(".yaml", "budget:\n  mode: lenient\n", &[]).unwrap_err();
    assert!(err.to_string().contains("allowed: strict, soft"), "{err}");
    let err = load(".yaml", "beam:\n  kk: 3\n", &[]).unwrap_err();
    assert_eq!(err.to_string(), "unknown key `beam.kk`; allowed here: k");
    let err = load(".yaml", "beams:\n  k: 3\n", &[]).unwrap_err();
    assert!(err.to_string().starts_with("unknown key `beams`"), "{err}");
    let err = load(".yaml", "scorer:\n  weights:\n    fluency: 1\n", &[]).unwrap_err();
    assert!(err.to_string().contains("scorer.weights.fluency"), "{err}");
    let err = load(".yaml", "embedding:\n  type: sentence-transformers\n", &[]).unwrap_err();
    assert!(err.to_string().contains("allowed: llamacpp, burn, ollama"), "{err}");
}

#[test]
fn unreadable_and_unparseable_files_are_named() {
    let missing = std::path::Path::new("/nonexistent/autobranch.yaml");
    let err = Config::load_with_env(Some(missing), std::iter::empty()).unwrap_err();
    assert!(matches!(err, ConfigError::Unreadable { .. }));
    assert!(err.to_string().contains("/nonexistent/autobranch.yaml"), "{err}");
    let err = load(".ini", "[beam]\nk=3\n", &[]).unwrap_err();
    assert!(matches!(err, ConfigError::UnsupportedFormat { .. }));
    let err = load(".yaml", "beam: [unclosed\n", &[]).unwrap_err();
    assert!(matches!(err, ConfigError::Parse(_)), "{err:?}");
    let err = load(".json", "{\"beam\": ", &[]).unwrap_err();
    assert!(matches!(err, ConfigError::Parse(_)), "{err:?}");
}

#[test]
fn static_scores_keep_the_case_of_ids() {
    let c = load(".yaml", "scorer:\n  type: static\n  scores:\n    Alpha: 0.9\n    beta: 0.1\n", &[]).unwrap();
    let ScorerConfig::Static { scores } = c.scorer else { panic!("static scorer expected") };
    assert_eq!(scores["Alpha"], 0.9);
}

#[test]
fn weights_with_none_positive_fall_back_to_the_scorer_defaults() {
    let c = load(".yaml", "scorer:\n  weights:\n    confidence: 0\n    relevance: -1\n", &[]).unwrap();
    let ScorerConfig::Composite { weights } = c.scorer else { panic!("composite expected") };
    assert_eq!(weights.normalised(), Weights::SCORER_DEFAULT);
}

#[test]
fn the_file_form_reads_back_to_the_same_config() {
    let mut configs = vec![Config::default(), load(".yaml", YAML, &[]).unwrap()];
    let mmr = "novelty: {type: mmr, lambda_param: 0.3}\nentropy: null\nbudget: {max_nodes: 9, mode: soft}\n\
               scorer: {type: static, scores: {a: 0.25, B: 1.5}}\n\
               generation: {temperature: 0.8, top_p: 0.9, min_p: 0.1, repeat_penalty: 1.3, stop: [\"\\n\\n\"], system: Be brief.}\n\
               generator: {type: ollama, model: m, host: 'h:1'}\nembedding: {type: burn, device: flex, batch_size: 8}\n\
               explore: {n: 7, max_depth: 3}";
    configs.push(load(".yaml", mmr, &[]).unwrap());
    configs.push(load(".yaml", "novelty: null", &[]).unwrap());
    for config in configs {
        let file = config.to_file_value();
        assert_eq!(Config::from_value(&file).unwrap(), config, "{file}");
    }
    // f32 settings are written as the user wrote them, without float noise.
    let file = Config::default().to_file_value();
    assert_eq!(file["generation"]["temperature"].to_string(), "0.8", "{file}");
    assert_eq!(file["generation"]["top_p"].to_string(), "0.95", "{file}");
    assert_eq!(file["generation"]["min_p"].to_string(), "0.05", "{file}");
}

// Hostile files and values (issue #15).

fn billion_laughs() -> String {
    let mut yaml = format!("a: &a [{}]\n", ["\"lol\""; 9].join(", "));
    for (prev, name) in "abcdefgh".chars().zip("bcdefghi".chars()) {
        yaml += &format!("{name}: &{name} [{}]\n", vec![format!("*{prev}"); 9].join(", "));
    }
    yaml
}

#[test]
fn yaml_alias_bombs_are_refused_before_they_expand() {
    let started = std::time::Instant::now();
    let err = load(".yaml", &billion_laughs(), &[]).unwrap_err();
    assert!(matches!(err, ConfigError::YamlTooLarge { what: "nodes", limit: MAX_YAML_NODES, .. }), "{err:?}");
    assert!(
        err.to_string().ends_with(
            "expands to more than 100000 nodes once its YAML aliases are resolved; \
             aliases that multiply the content are refused"
        ),
        "{err}"
    );
    assert!(started.elapsed().as_secs() < 5, "took {:?}", started.elapsed());
    // Few nodes but long text: one 100 kB string repeated 100 times.
    let text = format!("system: &s \"{}\"\nlist: [{}]\n", "x".repeat(100_000), ["*s"; 100].join(", "));
    let err = load(".yaml", &text, &[]).unwrap_err();
    assert!(matches!(err, ConfigError::YamlTooLarge { what: "bytes of text", .. }), "{err:?}");
}

#[test]
fn yaml_aliases_that_share_a_section_still_work() {
    let c = load(".yaml", "generator: &m {type: ollama, model: qwen}\nembedding: *m\n", &[]).unwrap();
    assert_eq!(c.generator, c.embedding);
    assert_eq!(c.embedding.unwrap().model.as_deref(), Some("qwen"));
}

#[test]
fn files_over_one_mib_are_refused_with_their_size() {
    let text = format!("beam:\n  k: 3\n#{}\n", "x".repeat(MAX_CONFIG_BYTES as usize));
    let f = file(".yaml", &text);
    let err = Config::load_with_env(Some(f.path()), std::iter::empty()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "config file {} is {} bytes; configuration files may be at most 1048576 bytes (1 MiB)",
            f.path().display(),
            text.len()
        )
    );
}

#[test]
fn deep_nesting_is_refused_in_files_and_environment_names() {
    let yaml = format!("beam: {}1{}\n", "[".repeat(100), "]".repeat(100));
    let err = load(".yaml", &yaml, &[]).unwrap_err();
    assert!(matches!(err, ConfigError::TooDeep { limit: MAX_NESTING, .. }), "{err:?}");
    assert!(err.to_string().contains("nests deeper than 64 levels"), "{err}");
    let name = format!("AUTOBRANCH_{}K", "A__".repeat(100));
    let err = env_only(&[(&name, "1")]).unwrap_err();
    assert!(err.to_string().starts_with("environment override AUTOBRANCH_A__A__"), "{err}");
    // JSON and TOML parsers bound their own nesting.
    let json = format!("{{\"beam\": {}1{}}}", "[".repeat(1000), "]".repeat(1000));
    assert!(matches!(load(".json", &json, &[]).unwrap_err(), ConfigError::Parse(_)));
    let toml = format!("beam = {}1{}\n", "[".repeat(1000), "]".repeat(1000));
    assert!(matches!(load(".toml", &toml, &[]).unwrap_err(), ConfigError::Parse(_)));
}

#[test]
fn repeated_keys_are_refused_in_every_format() {
    let f = file(".json", r#"{"beam": {"k": 3}, "scorer": {"weights": {"confidence": 1, "confidence": 0}}}"#);
    let err = Config::load_with_env(Some(f.path()), std::iter::empty()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "config file {} gives `scorer.weights.confidence` more than once; each key may appear once in its mapping",
            f.path().display()
        )
    );
    let err = load(".toml", "[beam]\nk = 3\nk = 4\n", &[]).unwrap_err();
    assert!(err.to_string().contains("duplicate key"), "{err}");
    let err = load(".yaml", "beam:\n  k: 3\n  k: 4\n", &[]).unwrap_err();
    assert!(err.to_string().contains("duplicated key"), "{err}");
}

#[test]
fn nan_and_infinities_are_refused_wherever_they_come_from() {
    let nan = "`novelty.threshold` = NaN is not a finite number; NaN and infinities are refused";
    assert_eq!(load(".toml", "[novelty]\nthreshold = nan\n", &[]).unwrap_err().to_string(), nan);
    assert_eq!(env_only(&[("AUTOBRANCH_NOVELTY__THRESHOLD", "nan")]).unwrap_err().to_string(), nan);
    let err = env_only(&[("AUTOBRANCH_ENTROPY__MIN_ENTROPY", "inf")]).unwrap_err();
    assert_eq!(err, ConfigError::NonFinite { key: "entropy.min_entropy".into(), value: "inf".into() });
    let err = load(".toml", "[scorer.weights]\nconfidence = -inf\n", &[]).unwrap_err();
    assert!(err.to_string().starts_with("`scorer.weights.confidence` = -inf"), "{err}");
    for key in ["temperature", "top_p", "min_p", "repeat_penalty"] {
        let err = load(".toml", &format!("[generation]\n{key} = nan\n"), &[]).unwrap_err();
        assert!(matches!(err, ConfigError::NonFinite { .. }), "{key}: {err:?}");
    }
    for (section, key) in [("novelty", "lambda_param"), ("entropy", "delta_epsilon"), ("scorer.scores", "a")] {
        let err = load(".toml", &format!("[{section}]\n{key} = inf\n"), &[]).unwrap_err();
        assert!(matches!(err, ConfigError::NonFinite { .. }), "{section}.{key}: {err:?}");
    }
    // YAML's `.nan` does not even parse into a float here.
    assert!(load(".yaml", "novelty:\n  threshold: .nan\n", &[]).is_err());
}

#[test]
fn numbers_must_fit_the_type_they_are_stored_in() {
    let err = load(".yaml", "generation:\n  temperature: 1e300\n", &[]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("`generation.temperature` = 1e+300 is out of range; allowed: a number ≥ 0 as a 32-bit float"),
        "{err}"
    );
    let err = load(".yaml", "generation:\n  top_p: 1e-50\n", &[]).unwrap_err();
    assert!(
        err.to_string().starts_with("`generation.top_p` = 1e-50 is out of range; allowed: (0, 1] as a 32-bit"),
        "{err}"
    );
    let err = load(".yaml", "generation:\n  max_tokens: 4294967296\n", &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`generation.max_tokens` = 4294967296 is out of range; allowed: an integer in [1, 4294967295]"
    );
}

#[test]
fn the_serde_form_reads_back_and_is_validated_like_a_file() {
    let full = "novelty: {type: mmr, lambda_param: 0.3}\nbudget: {max_nodes: 9, mode: soft}\n\
                scorer: {type: static, scores: {a: 0.25}}\ngeneration: {temperature: 0.7, system: Be brief.}\n\
                generator: {type: ollama, model: m}\nexplore: {n: 3, max_depth: 4}";
    for config in [Config::default(), load(".yaml", YAML, &[]).unwrap(), load(".yaml", full, &[]).unwrap()] {
        let value = serde_json::to_value(&config).unwrap();
        assert_eq!(Config::from_serde_value(&value).unwrap(), config, "{value}");
    }
    let cases = [
        ("/beam_k", serde_json::json!(0), "`beam_k` = 0 is out of range; allowed: an integer ≥ 1"),
        ("/entropy/k_max", serde_json::json!(0), "`entropy.k_max` = 0 is out of range; allowed: an integer ≥ 1"),
        ("/novelty/threshold", serde_json::json!(5), "`novelty.threshold` = 5 is out of range; allowed: [0, 1]"),
        (
            "/explore/max_depth",
            serde_json::json!(0),
            "`explore.max_depth` = 0 is out of range; allowed: an integer ≥ 1",
        ),
        ("/system", serde_json::json!(7), "`system` must be a string, got 7"),
    ];
    for (pointer, bad, message) in cases {
        let mut value = serde_json::to_value(Config::default()).unwrap();
        *value.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer}")) = bad;
        assert_eq!(Config::from_serde_value(&value).unwrap_err().to_string(), message);
    }
}
