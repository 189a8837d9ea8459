use std::io::Write;

use autobranch_core::budget::BudgetMode;
use autobranch_core::config::{Config, ConfigError, NoveltyConfig, ScorerConfig};
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
