//! End-to-end tests of the `autobranch` binary: outputs, exit codes and error messages.

use std::io::Write;
use std::os::unix::fs::FileTypeExt;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn autobranch(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autobranch"));
    cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("binary runs");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    pipe.write_all(stdin.unwrap_or("").as_bytes()).expect("stdin accepts input");
    drop(pipe);
    child.wait_with_output().expect("binary exits")
}

fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const INPUT: &str = r#"{"id": "root", "role": "parent", "text": "Write an opening line", "embedding": [1, 0, 0, 0]}
{"id": "c1", "text": "The ship drifted toward a red moon.", "meta": {"logprobs": -0.2}, "embedding": [0.8, 0.6, 0, 0]}
{"id": "c2", "text": "The ship drifted to the red moon.", "meta": {"logprobs": -0.3}, "embedding": [0.79, 0.61, 0, 0]}
{"id": "c3", "text": "Rain fell on the quiet city.", "meta": {"logprobs": -0.5}, "embedding": [0.6, 0, 0.8, 0]}
{"id": "c4", "text": "Memory returned slowly.", "meta": {"logprobs": -1.5}, "embedding": [0.5, 0, 0, 0.866]}
{"id": "c5", "text": "A detective found a clue in the dust.", "embedding": [0, 1, 0, 0]}
"#;

fn json_out(o: &Output) -> Value {
    assert!(o.status.success(), "exit {:?}: {}", o.status.code(), stderr(o));
    serde_json::from_slice(&o.stdout).expect("stdout is JSON")
}

#[test]
fn select_json_has_every_stage() {
    let dir = tempfile::tempdir().unwrap();
    let input = file(&dir, "in.jsonl", INPUT);
    let cfg = file(&dir, "cfg.yaml", "beam:\n  k: 4\nnovelty:\n  threshold: 0.9\nentropy:\n  k_max: 3\n");
    let v = json_out(&autobranch(&["select", "--input", &input, "--config", &cfg, "--json"], None, &[]));
    let scored: Vec<&str> = v["scored"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(scored, ["c1", "c2", "c3", "c4", "c5"]);
    assert_eq!(v["after_beam"].as_array().unwrap().len(), 4);
    let after_novelty = v["after_novelty"].as_array().unwrap();
    // c1 and c2 are near-duplicates (cosine > 0.9): only one survives.
    assert!(!(after_novelty.contains(&"c1".into()) && after_novelty.contains(&"c2".into())), "{v}");
    // The pruned one names the kept one it repeats, and their similarity.
    let dup = &v["duplicates"][0];
    assert!(
        ["c1", "c2"].contains(&dup["id"].as_str().unwrap())
            && ["c1", "c2"].contains(&dup["duplicate_of"].as_str().unwrap()),
        "{v}"
    );
    assert!(dup["similarity"].as_f64().unwrap() > 0.9, "{v}");
    let kept = v["kept"].as_array().unwrap();
    assert_eq!(kept.len(), after_novelty.len());
    assert!(kept[0]["text"].is_string() && kept[0]["score"].is_number());
    let e = &v["entropy"];
    for key in ["value", "delta", "should_continue", "clusters", "cluster_sizes", "reason"] {
        assert!(e.get(key).is_some(), "entropy lacks {key}: {e}");
    }
    assert_eq!(e["clusters"], 3);
    assert!(v["budget"].is_null());
    assert_eq!(v["warnings"], Value::Array(vec![]));
    assert!(v["should_continue"].is_boolean());
}

#[test]
fn select_is_deterministic_and_prints_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let input = file(&dir, "in.jsonl", INPUT);
    let a = autobranch(&["select", "--input", &input, "--json"], None, &[]);
    let b = autobranch(&["select", "--input", &input, "--json"], None, &[]);
    assert_eq!(a.stdout, b.stdout);
    let t = autobranch(&["select", "--input", &input], None, &[]);
    assert!(t.status.success(), "{}", stderr(&t));
    let table = String::from_utf8_lossy(&t.stdout);
    assert!(table.contains("pruned: novelty") || table.contains("pruned: beam"), "{table}");
    assert!(table.contains("should continue:"), "{table}");
}

#[test]
fn env_overrides_reach_the_selector() {
    let dir = tempfile::tempdir().unwrap();
    let input = file(&dir, "in.jsonl", INPUT);
    let v = json_out(&autobranch(&["select", "--input", &input, "--json"], None, &[("AUTOBRANCH_BEAM__K", "2")]));
    assert_eq!(v["after_beam"].as_array().unwrap().len(), 2);
}

#[test]
fn static_scorer_without_vectors_needs_no_model() {
    let dir = tempfile::tempdir().unwrap();
    let input = file(
        &dir,
        "in.jsonl",
        "{\"id\":\"p\",\"role\":\"parent\",\"text\":\"q\"}\n{\"id\":\"a\",\"text\":\"x\"}\n{\"id\":\"b\",\"text\":\"y\"}\n",
    );
    let cfg = file(&dir, "cfg.yaml", "scorer:\n  type: static\n  scores:\n    b: 0.9\nnovelty: null\nentropy: null\n");
    let v = json_out(&autobranch(&["select", "--input", &input, "--config", &cfg, "--json"], None, &[]));
    assert_eq!(v["kept"][0]["id"], "b");
    assert_eq!(v["kept"][1]["score"], 0.5);
    assert!(v["entropy"].is_null());
}

#[test]
fn strict_budget_exceeded_is_a_runtime_failure_naming_caps() {
    let dir = tempfile::tempdir().unwrap();
    let input = file(&dir, "in.jsonl", INPUT);
    let cfg = file(&dir, "cfg.yaml", "budget:\n  max_nodes: 1\n");
    let o = autobranch(&["select", "--input", &input, "--config", &cfg], None, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("budget exceeded") && e.contains("max 1? yes") && e.contains("max 30000"), "{e}");
}

fn assert_bad_input(args: &[&str], needle: &str) {
    let o = autobranch(args, None, &[]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
    assert!(e.contains(needle), "{args:?}: expected {needle:?} in {e}");
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn bad_select_input_exits_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let parent = "{\"id\":\"p\",\"role\":\"parent\",\"text\":\"q\",\"embedding\":[1,0]}\n";
    let cases: Vec<(String, &str)> = vec![
        (format!("{parent}{{\"id\": \"a\", \"text\": \n"), "in.jsonl:2:"),
        (format!("{parent}{{\"text\": \"x\", \"embedding\": [1, 0]}}\n"), "in.jsonl:2: missing field `id`"),
        (format!("{parent}{{\"id\": \"\", \"text\": \"x\", \"embedding\": [1, 0]}}\n"), "in.jsonl:2: \"id\" is empty"),
        (
            format!("{parent}{{\"id\": \"p\", \"text\": \"x\", \"embedding\": [1, 0]}}\n"),
            "in.jsonl:2: duplicate id \"p\" (first on line 1)",
        ),
        ("{\"id\": \"a\", \"text\": \"x\"}\n".into(), "no line has \"role\": \"parent\""),
        (format!("{parent}{{\"id\": \"a\", \"text\": \"x\"}}\n"), "line(s) 2 have no \"embedding\" while others do"),
        (
            format!("{parent}{{\"id\": \"a\", \"text\": \"x\", \"embedding\": [1, 0, 0]}}\n"),
            "in.jsonl:2: embedding of \"a\" has dimension 3, expected 2",
        ),
        (
            format!("{parent}{{\"id\": \"a\", \"text\": \"x\", \"embedding\": [1e39, 0]}}\n"),
            "in.jsonl:2: embedding of \"a\" holds a non-finite value at index 0",
        ),
        (format!("{parent}{{\"id\": \"a\", \"text\": \"x\", \"embedding\": [NaN, 0]}}\n"), "in.jsonl:2:"),
        (
            format!("{parent}{{\"id\": \"a\", \"text\": \"x\", \"role\": \"child\", \"embedding\": [1, 0]}}\n"),
            "\"role\" is \"child\"",
        ),
        (format!("{parent}{{\"id\": \"a\", \"txt\": \"x\"}}\n"), "unknown field `txt`"),
        ("\n\n".into(), "in.jsonl is empty"),
    ];
    for (text, needle) in cases {
        let input = file(&dir, "in.jsonl", &text);
        assert_bad_input(&["select", "--input", &input], needle);
    }
    assert_bad_input(&["select", "--input", "/nonexistent/in.jsonl"], "cannot read /nonexistent/in.jsonl");
}

#[test]
fn missing_vectors_for_stages_that_need_them_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let input = file(
        &dir,
        "in.jsonl",
        "{\"id\":\"p\",\"role\":\"parent\",\"text\":\"q\"}\n{\"id\":\"a\",\"text\":\"x\"}\n{\"id\":\"b\",\"text\":\"y\"}\n",
    );
    assert_bad_input(&["select", "--input", &input], "cosine novelty stage needs embeddings");
    let cfg = file(&dir, "cfg.yaml", "embedding:\n  type: burn\n  model: /nonexistent/minilm\n");
    assert_bad_input(
        &["select", "--input", &input, "--config", &cfg],
        "model folder /nonexistent/minilm does not exist",
    );
    assert_bad_input(
        &["select", "--input", &input, "--embedder", "burn", "--embed-device", "cuda"],
        "allowed: flex, ndarray, wgpu",
    );
    let cfg = file(&dir, "cfg.yaml", "embedding:\n  type: burn\n  device: tpu\n");
    assert_bad_input(&["select", "--input", &input, "--config", &cfg], "embedding.device");
}

#[test]
fn bad_config_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let input = file(&dir, "in.jsonl", INPUT);
    let cases = [
        ("novelty:\n  threshold: 1.5\n", "`novelty.threshold` = 1.5 is out of range; allowed: [0, 1]"),
        ("beam:\n  k: many\n", "`beam.k` must be an integer ≥ 1, got the string \"many\""),
        ("novelty:\n  type: jaccard\n", "`novelty.type` = \"jaccard\" is not a known type; allowed: cosine, mmr"),
        ("entropy:\n  type: gini\n", "`entropy.type` = \"gini\" is not a known type; allowed: shannon"),
    ];
    for (yaml, needle) in cases {
        let cfg = file(&dir, "cfg.yaml", yaml);
        assert_bad_input(&["select", "--input", &input, "--config", &cfg], needle);
    }
    assert_bad_input(
        &["select", "--input", &input, "--config", "/nonexistent/cfg.yaml"],
        "cannot read config file /nonexistent/cfg.yaml",
    );
    let o = autobranch(&["select", "--input", &input], None, &[("AUTOBRANCH_BEAM__K", "0")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("`beam.k` = 0 is out of range"), "{}", stderr(&o));
}

#[test]
fn usage_errors_exit_2() {
    let o = autobranch(&["select"], None, &[]);
    assert_eq!(o.status.code(), Some(2));
    let o = autobranch(&["frobnicate"], None, &[]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn detect_reads_stdin_and_files() {
    let text = "Options:\n1. Flask\n2. FastAPI\n3. Django\nUse tea or coffee. If it rains then stay else go.";
    let v = json_out(&autobranch(&["detect", "--json"], Some(text), &[]));
    let types: Vec<&str> = v["branch_points"].as_array().unwrap().iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["enumeration", "disjunction", "conditional"]);
    assert_eq!(v["max_leaves"], 12);
    assert_eq!(v["statistics"]["total_options"], 7);
    let opt = &v["branch_points"][0]["options"][1];
    assert_eq!(
        (opt["id"].as_str(), opt["label"].as_str(), opt["span"].as_str()),
        (Some("bp_enum_1_opt1"), Some("FastAPI"), Some("2. FastAPI"))
    );
    assert_eq!(v["branch_points"][2]["meta"]["condition"], "it rains");

    let dir = tempfile::tempdir().unwrap();
    let path = file(&dir, "t.txt", text);
    let from_file = autobranch(&["detect", &path, "--json"], None, &[]);
    let from_dash = autobranch(&["detect", "-", "--json"], Some(text), &[]);
    assert_eq!(from_file.stdout, from_dash.stdout);
    let table = autobranch(&["detect", &path], None, &[]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("max leaves 12"));
    assert_bad_input(&["detect", "/nonexistent/t.txt"], "cannot read /nonexistent/t.txt");
    let binary = dir.path().join("b.bin");
    std::fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
    assert_bad_input(&["detect", binary.to_str().unwrap()], "is not UTF-8 text");
}

#[test]
fn analyze_finds_explicit_and_semantic_branches() {
    let dir = tempfile::tempdir().unwrap();
    let conv = "{\"id\":\"t1\",\"speaker\":\"user\",\"content\":\"I'm wondering which framework to learn?\"}\n\
                {\"id\":\"t2\",\"speaker\":\"assistant\",\"content\":\"OPTIONS:\\n1. Flask\\n2. FastAPI\"}\n\
                {\"id\":\"t3\",\"speaker\":\"user\",\"content\":\"Should I care about speed?\"}\n\
                {\"id\":\"t4\",\"speaker\":\"user\",\"content\":\"Let's go with FastAPI.\"}\n";
    let path = file(&dir, "conv.jsonl", conv);
    let v = json_out(&autobranch(&["analyze", &path, "--json"], None, &[]));
    assert_eq!(v["explicit_branches"][0]["meta"]["turn_id"], "t2");
    let kinds: Vec<&str> =
        v["semantic_branches"].as_array().unwrap().iter().map(|s| s["branch_type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["decision_point", "question_to_action"]);
    assert_eq!(v["statistics"]["total_branches"], 3);
    assert_eq!(v["graph"]["edges"][0]["from"], "t2");
    assert_eq!(v["warnings"].as_array().unwrap().len(), 1, "topic shifts need vectors: {v}");

    let with_vectors = conv
        .lines()
        .zip(["[1,0]", "[1,0.1]", "[0,1]", "[0,1]"])
        .map(|(l, e)| format!("{},\"embedding\":{e}}}\n", &l[..l.len() - 1]))
        .collect::<String>();
    let path = file(&dir, "conv2.jsonl", &with_vectors);
    let v = json_out(&autobranch(&["analyze", &path, "--json"], None, &[]));
    assert_eq!(v["semantic_branches"][0]["branch_type"], "topic_shift");
    assert_eq!(v["semantic_branches"][0]["turn_id"], "t3");

    let dup = file(
        &dir,
        "dup.jsonl",
        "{\"id\":\"a\",\"speaker\":\"u\",\"content\":\"x\"}\n{\"id\":\"a\",\"speaker\":\"u\",\"content\":\"y\"}\n",
    );
    assert_bad_input(&["analyze", &dup], "dup.jsonl:2: duplicate id \"a\"");
    let missing = file(&dir, "m.jsonl", "{\"id\":\"a\",\"content\":\"x\"}\n");
    assert_bad_input(&["analyze", &missing], "m.jsonl:1: missing field `speaker`");
    assert_bad_input(&["analyze", &path, "--topic-shift-threshold", "2"], "out of range; allowed: [0, 1]");
}

/// A checkpoint file as a finished `explore` writes it: enough for `--resume` to read.
const CHECKPOINT: &str = r#"{"version": 1, "nodes": [{"id": "n0", "parent": null, "depth": 0, "text": "p",
  "score": null, "status": "root", "tokens": 0, "logprob_mean": null, "finish_reason": null, "gen_ms": 0.0}],
  "stop_reason": "exhausted", "budget": null, "entropy_history": [], "config": {}, "models": {"generator": "g",
  "embedder": null}, "warnings": [], "queue": [], "expansions": 0, "selector_state": {"entropy": null, "budget": null}}"#;

/// Output paths are compared by the file they name, not by spelling, and every refusal
/// comes before any work and leaves every file as it was.
#[test]
fn explore_refuses_outputs_that_name_its_checkpoint_or_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let fin = file(&dir, "fin.json", CHECKPOINT);
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_autobranch"))
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (o.status.code(), stderr(&o))
    };
    let cases: [(&[&str], &str); 6] = [
        (&["explore", "--resume", "fin.json", "--out", "./fin.json"], "--out and --resume both name the same file"),
        (&["explore", "--resume", "fin.json", "--out", &fin], "--out and --resume both name the same file"),
        (&["explore", "--resume", "fin.json", "--html", "./fin.json"], "--html and --resume both name the same file"),
        (&["explore", "p", "--out", "a.json", "--html", "./a.json"], "--out and --html both name the same file"),
        (&["explore", "p", "--checkpoint", "c.json", "--out", "sub/../c.json"], "--out and --checkpoint"),
        (&["explore", "--resume", "fin.json", "--checkpoint", "o.json", "--out", "./fin.json"], "--out and --resume"),
    ];
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    for (args, needle) in cases {
        let (code, err) = run(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: expected {needle:?} in {err}");
        assert_eq!(std::fs::read_to_string(&fin).unwrap(), CHECKPOINT, "{args:?} left the checkpoint as it was");
    }
    // A symlink to the checkpoint is the same file too.
    std::os::unix::fs::symlink(&fin, dir.path().join("link.json")).unwrap();
    let (code, err) = run(&["explore", "--resume", "fin.json", "--out", "link.json"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("both name the same file"), "{err}");
    assert_eq!(std::fs::read_to_string(&fin).unwrap(), CHECKPOINT);
}

#[test]
fn explore_refuses_outputs_that_are_not_files_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("existing");
    std::fs::create_dir(&folder).unwrap();
    let folder = folder.to_str().unwrap();
    assert_bad_input(&["explore", "p", "--out", folder], "is a directory; name a file");
    assert_bad_input(
        &["explore", "p", "--html", "/nonexistent/dir/t.html"],
        "its folder /nonexistent/dir does not exist",
    );
    assert_bad_input(&["explore", "p", "--checkpoint", "/dev/null"], "so it must be a regular file");
    assert_bad_input(&["bench", "select", "--json", folder], "is a directory; name a file");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["existing"], "no temporary file is left behind");
    assert_eq!(std::fs::read_dir(folder).unwrap().count(), 0);
    assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device(), "/dev/null is still a device");
}

#[test]
fn bench_refuses_an_empty_backend_list() {
    assert_bad_input(&["bench", "select", "--backends", ""], "names no backend");
    assert_bad_input(&["bench", "select", "--backends", " , "], "names no backend");
}

#[test]
fn detect_refuses_texts_over_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let big = file(&dir, "big.txt", &"- an item of a list\n".repeat(250_000));
    assert_bad_input(&["detect", &big, "--json"], "branch detection reads at most 4194304 bytes (4 MiB)");
}

/// `autobranch models fetch NAME` offers exactly the names scripts/fetch-models.sh takes (it
/// passes them on), so neither list can drift from the other.
#[test]
fn models_fetch_names_are_the_fetch_scripts() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/fetch-models.sh");
    let o = Command::new("bash").args([script, "--no-such-model"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    let listed = err.split("model names: ").nth(1).unwrap_or_else(|| panic!("no name list in {err:?}"));
    let mut script_names: Vec<&str> = listed.split_whitespace().collect();
    let o = autobranch(&["models", "fetch", "no-such-model"], None, &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    let allowed = err.split("allowed: ").nth(1).unwrap_or_else(|| panic!("no allowed names in {err:?}"));
    let list = allowed.split(", or hf:").next().unwrap();
    let mut cli_names: Vec<&str> = list.split(", ").collect();
    script_names.sort_unstable();
    cli_names.sort_unstable();
    assert_eq!(script_names, cli_names);
}
