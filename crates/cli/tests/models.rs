//! The generating commands on the real default models (llama.cpp backend, the default
//! feature). Models come from `AUTOBRANCH_MODELS` (scripts/fetch-models.sh).

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn autobranch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_autobranch")).args(args).stdin(Stdio::null()).output().expect("binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "exit {:?}: {}", o.status.code(), stderr(o));
    serde_json::from_slice(&o.stdout).expect("stdout is JSON")
}

fn models_dir() -> std::path::PathBuf {
    std::env::var_os("AUTOBRANCH_MODELS").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/autobranch/models")
    })
}

const PROMPT: &str = "Give a plot twist for a detective story set in a Mars colony, in one sentence.";

#[test]
fn generate_json_is_deterministic_and_timed() {
    let args = ["generate", PROMPT, "--n", "3", "--max-tokens", "24", "--seed", "5", "--json"];
    let a = json(&autobranch(&args));
    let b = json(&autobranch(&args));
    assert_eq!(a["candidates"], b["candidates"]);
    let cands = a["candidates"].as_array().unwrap();
    assert_eq!(cands.len(), 3);
    for (i, c) in cands.iter().enumerate() {
        assert_eq!(c["id"], format!("c{i}"));
        assert!(c["tokens"].as_u64().unwrap() >= 1 && c["logprob_mean"].as_f64().unwrap() <= 0.0);
        assert!(["stop", "length", "stop_string"].contains(&c["finish_reason"].as_str().unwrap()));
    }
    for key in ["prompt_ms", "generate_ms", "tokens_per_s"] {
        assert!(a["timing"][key].as_f64().unwrap() > 0.0, "{key}");
    }
    let seq = json(&autobranch(&[
        "generate",
        PROMPT,
        "--n",
        "2",
        "--max-tokens",
        "8",
        "--temperature",
        "0",
        "--sequential",
        "--json",
    ]));
    assert_eq!(seq["candidates"][0]["text"], seq["candidates"][1]["text"]);
}

#[test]
fn embed_reads_one_text_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.txt");
    std::fs::write(&path, "a red moon\n\nthe quiet colony\n").unwrap();
    let v = json(&autobranch(&["embed", path.to_str().unwrap(), "--json"]));
    assert_eq!(v["dim"], 384);
    let rows = v["embeddings"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "the empty line is a text, the final newline is not");
    let norm: f64 = rows[0].as_array().unwrap().iter().map(|x| x.as_f64().unwrap().powi(2)).sum();
    assert!((norm - 1.0).abs() < 1e-4);
    assert!(v["model"].as_str().unwrap().ends_with("all-minilm-l6-v2"), "Burn is the default embedder: {}", v["model"]);
}

/// `--embed-model` takes the notebook's model names: the fetched folder of that name in the
/// models folder; a name not fetched yet says how to fetch it.
#[test]
fn embed_models_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.txt");
    std::fs::write(&path, "a red moon\n").unwrap();
    let path = path.to_str().unwrap();
    for (name, dim, folder) in [
        ("all-mpnet-base-v2", 768, "all-mpnet-base-v2"),
        ("sentence-transformers/all-mpnet-base-v2", 768, "all-mpnet-base-v2"),
        ("all-MiniLM-L6-v2", 384, "all-minilm-l6-v2"),
    ] {
        let v = json(&autobranch(&["embed", path, "--embed-model", name, "--json"]));
        assert_eq!(v["dim"], dim, "{name}");
        assert!(v["model"].as_str().unwrap().ends_with(folder), "{name}: {}", v["model"]);
    }
    let empty = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_autobranch"))
        .args(["embed", path, "--embed-model", "all-mpnet-base-v2"])
        .env("AUTOBRANCH_MODELS", empty.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("does not exist") && stderr(&o).contains("autobranch models fetch all-mpnet-base-v2"));
    let o = autobranch(&["models", "fetch", "all-mpnet"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("all-mpnet-base-v2"), "the allowed names are listed: {}", stderr(&o));
}

/// The same texts through each embedder give the same vectors (all are all-MiniLM-L6-v2).
#[test]
fn embedders_agree() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.txt");
    std::fs::write(&path, "a red moon over the colony\nthe detective finds a clue\n").unwrap();
    let path = path.to_str().unwrap();
    let base = json(&autobranch(&["embed", path, "--json"]));
    let mut others = vec![&["--embedder", "llamacpp"][..]];
    if cfg!(feature = "burn-ndarray") {
        others.push(&["--embedder", "burn", "--embed-device", "ndarray"]);
    }
    if cfg!(feature = "burn-wgpu") {
        others.push(&["--embedder", "burn", "--embed-device", "wgpu"]);
    }
    for extra in others {
        let mut args = vec!["embed", path, "--json"];
        args.extend_from_slice(extra);
        let other = json(&autobranch(&args));
        for (a, b) in base["embeddings"].as_array().unwrap().iter().zip(other["embeddings"].as_array().unwrap()) {
            let cos: f64 = a
                .as_array()
                .unwrap()
                .iter()
                .zip(b.as_array().unwrap())
                .map(|(x, y)| x.as_f64().unwrap() * y.as_f64().unwrap())
                .sum();
            assert!(cos > 0.999, "{extra:?}: cosine {cos}");
        }
    }
}

fn comparable(tree: &Value) -> Value {
    // Timings differ between runs; everything else must match.
    let mut t = tree.clone();
    for node in t["nodes"].as_array_mut().unwrap() {
        node["gen_ms"] = Value::Null;
    }
    t["budget"] = Value::Null;
    t
}

#[test]
fn explore_writes_a_tree_and_resumes_after_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tree.json");
    let base = ["explore", PROMPT, "--n", "3", "--depth", "2", "--k", "2", "--max-tokens", "24", "--seed", "9"];
    let mut args = base.to_vec();
    args.extend(["--out", out.to_str().unwrap(), "--json"]);
    let whole = json(&autobranch(&args));
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(written, whole);
    let nodes = whole["nodes"].as_array().unwrap();
    assert_eq!(nodes[0]["status"], "root");
    for n in nodes {
        for key in ["id", "parent", "depth", "text", "score", "status", "tokens", "logprob_mean", "gen_ms"] {
            assert!(n.get(key).is_some(), "node lacks {key}: {n}");
        }
        let status = n["status"].as_str().unwrap();
        assert!(["root", "kept", "pruned_beam", "pruned_novelty", "not_expanded"].contains(&status));
    }
    for key in ["stop_reason", "budget", "entropy_history", "config", "models"] {
        assert!(whole.get(key).is_some(), "tree lacks {key}");
    }
    assert!(whole.get("queue").is_none(), "bookkeeping stays out of tree.json");

    // Kill a run once its checkpoint holds at least one expansion, then resume it, in both
    // expansion modes. (The modes may build different trees: a level's batch rounds
    // differently from one node's.)
    for mode in ["level", "node"] {
        let mut moded = base.to_vec();
        moded.extend(["--expand", mode]);
        let mut whole_args = moded.clone();
        whole_args.push("--json");
        let whole_here = json(&autobranch(&whole_args));
        if mode == "level" {
            assert_eq!(comparable(&whole_here), comparable(&whole), "level is the default");
        }
        let ckpt = dir.path().join(format!("ckpt-{mode}.json"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_autobranch"))
            .args(&moded)
            .args(["--checkpoint", ckpt.to_str().unwrap(), "--json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        loop {
            let expansions = std::fs::read_to_string(&ckpt)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|v| v["expansions"].as_u64())
                .unwrap_or(0);
            if expansions >= 1 || started.elapsed() > Duration::from_secs(120) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let resumed = json(&autobranch(&["explore", "--resume", ckpt.to_str().unwrap(), "--json"]));
        assert_eq!(comparable(&resumed), comparable(&whole_here), "{mode} mode");
    }

    // tree.json's configuration is a configuration file: rerun from it, the same tree.
    let config = dir.path().join("config.json");
    std::fs::write(&config, serde_json::to_string(&whole["config"]).unwrap()).unwrap();
    let again = json(&autobranch(&["explore", PROMPT, "--config", config.to_str().unwrap(), "--json"]));
    assert_eq!(comparable(&again), comparable(&whole));
    assert_eq!(whole["config"]["generation"]["temperature"].to_string(), "0.8", "no float noise");
    // Each node's generation time is its own share of its batch.
    let shares: f64 = nodes.iter().filter(|n| n["parent"] == "n0").map(|n| n["gen_ms"].as_f64().unwrap()).sum();
    let one = nodes[1]["gen_ms"].as_f64().unwrap();
    assert!(shares > one && one > 0.0, "shares {shares}, first {one}");
}

/// `--prompt-cache` keeps each node's cells for its children: the tree computes a smaller
/// share of its prompt tokens, says so in its stats, and the same seed gives the same tree.
#[test]
fn explore_with_the_prompt_cache_computes_less_and_repeats() {
    let base =
        ["explore", PROMPT, "--n", "3", "--depth", "2", "--k", "2", "--max-tokens", "24", "--seed", "9", "--json"];
    let computed_share = |tree: &Value| {
        let total = tree["stats"]["prompt_tokens"].as_f64().unwrap();
        (total - tree["stats"]["prompt_tokens_cached"].as_f64().unwrap()) / total
    };
    let plain = json(&autobranch(&base));
    let mut cached_args = base.to_vec();
    cached_args.push("--prompt-cache");
    let cached = json(&autobranch(&cached_args));
    assert!(
        computed_share(&cached) < computed_share(&plain) * 0.8,
        "computed {} with the cache, {} without",
        computed_share(&cached),
        computed_share(&plain)
    );
    assert_eq!(cached["config"]["generator"]["prompt_cache"], true, "the tree records it");
    assert_eq!(comparable(&json(&autobranch(&cached_args))), comparable(&cached), "same seed, same tree");
    cached_args.pop();
    cached_args.push("--prompt-cache=false");
    assert_eq!(comparable(&json(&autobranch(&cached_args)))["nodes"], comparable(&plain)["nodes"]);
    // Only the local generators have one.
    let ollama = autobranch(&["explore", PROMPT, "--generator", "ollama", "--model", "m", "--prompt-cache"]);
    assert_eq!(ollama.status.code(), Some(2), "{}", stderr(&ollama));
    assert!(
        stderr(&ollama).contains(
            "--prompt-cache / generator.prompt_cache applies to the llamacpp backend and the burn generator, not ollama"
        ),
        "{}",
        stderr(&ollama)
    );
}

/// The default tree shows the pipeline at work: more children than the beam keeps, and
/// the reason for every pruned node, in the text view and in the JSON.
#[test]
fn the_default_tree_prunes_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tree.json");
    let text = autobranch(&["explore", PROMPT, "--depth", "1", "--max-tokens", "12", "--out", out.to_str().unwrap()]);
    assert!(text.status.success(), "{}", stderr(&text));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("✗ beam") && text.contains("[rank 6 > k 5]"), "{text}");
    assert!(text.contains("pruned by the beam"), "{text}");
    assert!(text.contains("entropy of the children of n0 (depth 1): "), "{text}");
    let tree: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let nodes = tree["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 9, "n = 8 by default");
    for n in nodes {
        match n["status"].as_str().unwrap() {
            "pruned_beam" => {
                assert_eq!(n["pruned_by"]["stage"], "beam", "{n}");
                assert!(n["pruned_by"]["rank"].as_u64().unwrap() > 5 && n["pruned_by"]["k"] == 5, "{n}");
            }
            "pruned_novelty" => {
                assert_eq!(n["pruned_by"]["stage"], "novelty", "{n}");
                assert!(n["pruned_by"]["similarity"].as_f64().unwrap() > 0.85, "{n}");
            }
            _ => assert!(n.get("pruned_by").is_none(), "{n}"),
        }
    }
    assert_eq!(nodes.iter().filter(|n| n["status"] == "pruned_beam").count(), 3);
    let e = &tree["entropy_history"][0];
    assert_eq!(e["min_entropy"], 0.6);
    assert!(e["value"].as_f64().is_some(), "{e}");
}

/// A device is written in place, never replaced by a regular file; a failed write is a
/// runtime error that names it (symlinks to devices and /dev/stdout: output.rs's tests).
#[test]
fn explore_writes_devices_in_place_and_never_replaces_them() {
    let args = ["explore", PROMPT, "--n", "2", "--depth", "1", "--max-tokens", "4", "--out", "/dev/full"];
    let o = autobranch(&args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot write --out /dev/full") && stderr(&o).contains("No space left"),
        "{}",
        stderr(&o)
    );
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata("/dev/full").unwrap().file_type().is_char_device());
}

fn assert_bad(args: &[&str], needle: &str) {
    let o = autobranch(args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    assert!(stderr(&o).contains(needle), "{args:?}: expected {needle:?} in {}", stderr(&o));
}

#[test]
fn burn_generator_is_deterministic_and_agrees_with_llama_cpp_greedily() {
    let args = ["generate", PROMPT, "--generator", "burn", "--n", "2", "--max-tokens", "12", "--seed", "3", "--json"];
    let a = json(&autobranch(&args));
    assert_eq!(a["candidates"], json(&autobranch(&args))["candidates"]);
    assert_eq!(a["candidates"].as_array().unwrap().len(), 2);
    // Greedy: both backends run the same weights, so the first tokens of the answer agree.
    let greedy = |generator: &str| {
        let args = ["generate", PROMPT, "--generator", generator, "--max-tokens", "4", "--temperature", "0", "--json"];
        json(&autobranch(&args))["candidates"][0]["text"].as_str().unwrap().to_owned()
    };
    let (burn, llama) = (greedy("burn"), greedy("llamacpp"));
    let first_word = |t: &str| t.split_whitespace().next().map(str::to_owned);
    assert_eq!(first_word(&burn), first_word(&llama), "burn {burn:?} vs llama.cpp {llama:?}");
}

#[test]
fn explore_refuses_bad_input_with_exit_2() {
    assert_bad(&["explore", PROMPT, "--n", "0"], "--n 0 is out of range");
    assert_bad(&["explore", PROMPT, "--depth", "0"], "--depth 0 is out of range");
    assert_bad(&["explore", PROMPT, "--generator", "gpt5"], "unknown generator backend \"gpt5\"");
    let gemma = models_dir().join("gemma-3-270m-q4_k_m.gguf");
    assert_bad(
        &["explore", PROMPT, "--generator", "burn", "--model", gemma.to_str().unwrap()],
        "architecture gemma3 is not supported by the Burn generator; supported: llama",
    );
    assert_bad(&["generate", PROMPT, "--generator", "burn", "--device", "tpu"], "tpu");
    assert_bad(
        &["explore", PROMPT, "--model", "/nonexistent/model.gguf"],
        "model file /nonexistent/model.gguf does not exist",
    );
    assert_bad(&["explore", PROMPT, "--top-p", "1.5"], "--top-p 1.5 is out of range; allowed: (0, 1]");
    assert_bad(&["explore", PROMPT, "--min-p", "2"], "--min-p 2 is out of range; allowed: [0, 1]");
    assert_bad(&["explore", PROMPT, "--repeat-penalty", "0"], "--repeat-penalty 0 is out of range");
    assert_bad(&["explore", PROMPT, "--stop", ""], "--stop \"\" is out of range; allowed: non-empty strings");
    let models = models_dir();
    assert_bad(&["explore", PROMPT, "--model", models.to_str().unwrap()], "is a directory; give a GGUF model file");
    let gguf = models.join("all-minilm-l6-v2.gguf");
    assert_bad(
        &["embed", "--embed-model", gguf.to_str().unwrap()],
        "for a GGUF embedding model use --embedder llamacpp",
    );
    assert_bad(&["explore"], "give a PROMPT, or --resume FILE");
    assert_bad(
        &["explore", PROMPT, "--checkpoint", "same.json", "--out", "same.json"],
        "--out and --checkpoint both name the same file (same.json)",
    );
    assert_bad(
        &["explore", PROMPT, "--out", "t.json", "--html", "t.json"],
        "--out and --html both name the same file (t.json)",
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{ not a checkpoint").unwrap();
    assert_bad(&["explore", "--resume", bad.to_str().unwrap()], "is corrupt");
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), "{ not a checkpoint", "a refused resume leaves the file");

    let ckpt = dir.path().join("ckpt.json");
    let first = autobranch(&[
        "explore",
        PROMPT,
        "--n",
        "2",
        "--depth",
        "1",
        "--max-tokens",
        "8",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--json",
    ]);
    assert!(first.status.success(), "{}", stderr(&first));
    let before = std::fs::read_to_string(&ckpt).unwrap();
    assert_bad(&["explore", "--resume", ckpt.to_str().unwrap(), "--n", "3"], "config.explore.n (checkpoint 2, now 3)");
    assert_bad(&["explore", "another prompt", "--resume", ckpt.to_str().unwrap()], "the prompt differs");
    assert_eq!(std::fs::read_to_string(&ckpt).unwrap(), before);
}

#[test]
fn html_view_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("tree.html");
    let out = dir.path().join("tree.json");
    let o = autobranch(&[
        "explore",
        PROMPT,
        "--n",
        "3",
        "--depth",
        "1",
        "--max-tokens",
        "16",
        "--html",
        page.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    let tree = json(&o);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("http://") && !html.contains("https://"), "the page loads nothing from the network");
    let profile = dir.path().join("chromium-profile");
    let dom = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.display()),
            "--virtual-time-budget=3000",
            "--dump-dom",
        ])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("Debian's chromium is installed (.ci/run installs it)");
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains(r#"data-rendered="true""#), "the page's script ran: {}", &dom[..dom.len().min(500)]);
    let nodes = tree["nodes"].as_array().unwrap().len();
    assert_eq!(dom.matches("data-node=\"n").count(), nodes, "every node is drawn");
    assert!(dom.contains("data-depth=\"1\""), "the entropy table has a row for depth 1");
    assert!(dom.contains("<td>status</td><td>the prompt</td>"), "the root's details are shown");
}

#[test]
fn scenarios_report_every_stage_and_time() {
    let v = json(&autobranch(&["scenarios", "mars-twist", "--max-tokens", "16", "--json"]));
    let s = &v["scenarios"][0];
    assert_eq!(s["name"], "mars-twist");
    assert_eq!(s["settings"]["n"], 12);
    assert_eq!(s["settings"]["k"], 8);
    let scored = s["scored"].as_array().unwrap().len();
    let filtered = s["filtered"].as_array().unwrap().len();
    assert_eq!(scored + filtered, 12, "every candidate is scored or filtered as boilerplate");
    assert!(s["after_beam"].as_array().unwrap().len() <= 8);
    assert!(s["after_novelty"].as_array().unwrap().len() <= s["after_beam"].as_array().unwrap().len());
    assert_eq!(s["entropy"]["clusters"].as_u64().unwrap() as usize, s["kept"].as_array().unwrap().len().min(4));
    for key in ["generation_ms", "embedding_ms", "selection_ms", "total_ms"] {
        assert!(s["timing"][key].as_f64().unwrap() >= 0.0, "{key}");
    }
    assert_bad(&["scenarios", "sitcom"], "unknown scenario \"sitcom\"; allowed: all, ai-memory, mars-twist");
}

#[test]
fn bench_quick_writes_tables_and_json_with_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench.json");
    let plots = dir.path().join("plots");
    let o = autobranch(&[
        "bench",
        "all",
        "--quick",
        "--reps",
        "1",
        "--json",
        out.to_str().unwrap(),
        "--plot",
        plots.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    for heading in ["## Selector step", "## Embeddings", "## Generation", "## Explore"] {
        assert!(table.contains(heading), "{heading} missing from {table}");
    }
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(v["machine"]["logical_cpus"].as_u64().unwrap() >= 1);
    assert!(v["machine"]["gpu"].is_null(), "no wgpu backend was asked for: {}", v["machine"]);
    let engines = &v["engines"];
    for engine in ["burn", "llama-cpp-2", "tokenizers"] {
        let version = engines[engine].as_str().unwrap_or_else(|| panic!("{engine} missing from {engines}"));
        assert!(version.split('.').count() == 3 && version.split('.').all(|p| p.parse::<u32>().is_ok()), "{version}");
    }
    assert_eq!(v["results"]["select"].as_array().unwrap().len(), 2);
    let generate = v["results"]["generate"].as_array().unwrap();
    assert!(generate.iter().any(|r| r["backend"] == "llamacpp") && generate.iter().any(|r| r["backend"] == "burn"));
    assert!(generate.iter().all(|r| r["batched_s"].as_f64().unwrap() > 0.0));
    let embed = v["results"]["embed"].as_array().unwrap();
    assert!(embed.iter().all(|r| r["texts_per_s"].as_f64().unwrap() > 0.0 && r["peak_rss_mib"].as_f64().is_some()));
    let models = v["models"].as_array().unwrap();
    assert!(models.iter().any(|m| m["path"].as_str().unwrap().ends_with("SmolLM2-135M-Instruct.Q4_1.gguf")
        && m["sha256"].as_str().unwrap().len() == 64));
    for svg in ["select.svg", "branching.svg"] {
        let text = std::fs::read_to_string(plots.join(svg)).unwrap();
        assert!(text.starts_with("<svg") && text.contains("<polyline"), "{svg}: {}", &text[..200.min(text.len())]);
    }
    let branching = std::fs::read_to_string(plots.join("branching.svg")).unwrap();
    assert!(branching.contains("llamacpp batched") && branching.contains("burn sequential"));
    if cfg!(feature = "burn-wgpu") {
        // The adapter wgpu found (lavapipe's "llvmpipe" on a machine without a GPU) is recorded.
        let o = autobranch(&[
            "bench",
            "embed",
            "--quick",
            "--reps",
            "1",
            "--backends",
            "burn:wgpu",
            "--json",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        let adapter = v["machine"]["gpu"].as_str().unwrap_or_else(|| panic!("no adapter in {}", v["machine"]));
        assert!(adapter.contains("(Vulkan") || adapter.contains("(Metal") || adapter.contains("(Dx12"), "{adapter}");
        assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("GPU adapter (wgpu): {adapter}")));
        assert!(v["results"]["embed"][0]["texts_per_s"].as_f64().unwrap() > 0.0, "{}", v["results"]);
    }
    assert_bad(&["bench", "--backends", "gpt5"], "unknown backend \"gpt5\"");
    assert_bad(&["bench", "--reps", "0"], "--reps 0 is out of range");
}

/// `autobranch devices`: this CPU-only build's llama.cpp sees the CPU and runs there; Burn
/// lists its backends with the default marked and wgpu's adapter (lavapipe here) named.
#[test]
fn devices_lists_each_backend_and_where_it_runs() {
    let report = json(&autobranch(&["devices", "--json"]));
    let l = &report["llamacpp"];
    assert_eq!((l["compiled"].as_bool(), l["build"].as_str()), (Some(true), Some("CPU")), "{report}");
    let devices = l["devices"].as_array().unwrap();
    assert!(devices.iter().any(|d| d["kind"] == "cpu"), "{report}");
    assert!(devices.iter().all(|d| d["kind"] == "cpu"), "a CPU build lists no GPU: {report}");
    assert_eq!(l["uses"], devices.iter().find(|d| d["kind"] == "cpu").unwrap()["name"]);
    let burn = report["burn"]["backends"].as_array().unwrap();
    let flex = burn.iter().find(|b| b["name"] == "flex").unwrap();
    assert_eq!((flex["compiled"].as_bool(), flex["default"].as_bool()), (Some(true), Some(true)), "{report}");
    let wgpu = burn.iter().find(|b| b["name"] == "wgpu").unwrap();
    assert!(wgpu["device"].as_str().is_some_and(|d| !d.is_empty()), "{report}");
    assert_eq!(report["servers"], serde_json::json!(["ollama", "openai"]));
    let text = autobranch(&["devices"]);
    let out = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(text.status.success() && out.contains("llama.cpp (CPU build)") && out.contains("← runs here"), "{out}");
    assert!(out.contains("flex") && out.contains("← default"), "{out}");
}

/// --threads, --ctx-size and --gpu-layers reach llama.cpp; out of range or on the wrong
/// backend, each is refused by name (exit 2).
#[test]
fn threads_context_and_gpu_layers_flags() {
    let ok = json(&autobranch(&[
        "generate",
        PROMPT,
        "--n",
        "1",
        "--max-tokens",
        "4",
        "--threads",
        "1",
        "--gpu-layers",
        "0",
        "--json",
    ]));
    assert_eq!(ok["candidates"].as_array().unwrap().len(), 1);
    let refused = |args: &[&str], wanted: &str| {
        let o = autobranch(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(wanted), "{args:?}: {}", stderr(&o));
    };
    // The prompt alone is longer than a 16-token context: the setting reached the model.
    refused(&["generate", PROMPT, "--ctx-size", "16"], "context holds 16");
    refused(&["generate", PROMPT, "--gpu-layers", "8"], "gpu_layers 8 needs a GPU build");
    refused(&["generate", PROMPT, "--threads", "0"], "0 is not in 1..=1024");
    refused(&["generate", PROMPT, "--gpu-layers", "1000"], "1000 is not in 0..=999");
    refused(
        &["generate", PROMPT, "--generator", "burn", "--threads", "2"],
        "--threads / generator.threads applies to the llamacpp backend",
    );
    refused(
        &["generate", PROMPT, "--generator", "ollama", "--model", "m", "--ctx-size", "64"],
        "applies to the llamacpp backend and the burn generator, not ollama",
    );
}
