//! Dequantisation against llama.cpp's own Python package (`gguf` 0.19.0): random blocks of
//! every supported type (fixtures/dequant.json), and real tensors of the test models
//! (fixtures/model_tensors.json; the models are found through `AUTOBRANCH_MODELS`, default
//! `~/.cache/autobranch/models`, filled by `scripts/fetch-models.sh`).

use std::path::PathBuf;

use autobranch_gguf::{GgmlType, GgufFile, dequantize};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn every_supported_type_matches_the_reference_implementation() {
    let cases = fixture("dequant.json");
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 11);
    for case in cases {
        let name = case["type"].as_str().unwrap();
        let ty = GgmlType::from_name(name).unwrap();
        let want = floats(&case["values"]);
        let got = dequantize(ty, &hex(case["bytes"].as_str().unwrap()), want.len() as u64).unwrap();
        assert_eq!(got.len(), want.len(), "{name}");
        for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
            // The reference computes in f32 too; the order of operations may differ.
            assert!((f64::from(g) - w).abs() <= 1e-5 * w.abs().max(1.0), "{name}[{i}]: {g} vs {w}");
        }
    }
}

fn models_dir() -> PathBuf {
    std::env::var_os("AUTOBRANCH_MODELS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/autobranch/models")
    })
}

#[test]
fn real_model_tensors_match_the_reference_implementation() {
    for case in fixture("model_tensors.json").as_array().unwrap() {
        let path = models_dir().join(case["file"].as_str().unwrap());
        assert!(path.is_file(), "missing {}; run scripts/fetch-models.sh", path.display());
        let file = GgufFile::open(&path).unwrap();
        let name = case["tensor"].as_str().unwrap();
        assert_eq!(file.info(name).unwrap().ggml_type.name(), case["type"].as_str().unwrap());
        let t = file.read_f32(name).unwrap();
        let shape: Vec<usize> =
            case["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
        assert_eq!(t.shape, shape, "{name}");
        let first = floats(&case["first"]);
        let last = floats(&case["last"]);
        let close = |g: f32, w: f64| (f64::from(g) - w).abs() <= 1e-6 * w.abs().max(1.0);
        assert!(t.data.iter().zip(&first).all(|(&g, &w)| close(g, w)), "{name} starts {:?}", &t.data[..4]);
        assert!(t.data[t.data.len() - 16..].iter().zip(&last).all(|(&g, &w)| close(g, w)), "{name} ends");
        let sum: f64 = t.data.iter().map(|&x| f64::from(x)).sum();
        let abs_sum: f64 = t.data.iter().map(|&x| f64::from(x).abs()).sum();
        let want_abs = case["abs_sum"].as_f64().unwrap();
        assert!((abs_sum - want_abs).abs() <= 1e-6 * want_abs, "{name}: |sum| {abs_sum} vs {want_abs}");
        assert!((sum - case["sum"].as_f64().unwrap()).abs() <= 1e-6 * want_abs, "{name}: sum {sum}");
    }
}

#[test]
fn a_missing_tensor_and_an_unsupported_type_are_named() {
    let path = models_dir().join("SmolLM2-135M-Instruct.Q4_1.gguf");
    let file = GgufFile::open(&path).unwrap();
    let err = file.read_f32("output.weight").err().unwrap();
    assert!(err.to_string().ends_with("has no tensor output.weight"), "{err}");
    let err = dequantize(GgmlType::from_name("IQ4_NL").unwrap(), &[0; 18], 32).unwrap_err();
    assert!(err.to_string().starts_with("tensor type IQ4_NL is not supported"), "{err}");
}
