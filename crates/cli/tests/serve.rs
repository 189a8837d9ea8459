//! `autobranch serve` on the real default models, driven by the official `openai` Python
//! client (`serve_client.py`, in the venv scripts/fetch-models.sh --tests prepares): every
//! endpoint, the errors through the client's exception types, an API-key server, a bounded
//! load test, and a graceful SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn models_dir() -> PathBuf {
    std::env::var_os("AUTOBRANCH_MODELS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/autobranch/models")
    })
}

/// A server on a free loopback port; killed if the test fails before it exits.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_autobranch"))
            .args(["serve", "--port", "0", "--max-batch", "16"])
            .args(extra)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the binary starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout is piped")).read_line(&mut line).expect("a first line");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        Self { child, url }
    }

    fn wait(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_openai_client_uses_every_endpoint() {
    let python = models_dir().join(".venv/bin/python");
    let has_client = Command::new(&python)
        .args(["-c", "import openai, sys; sys.exit(openai.__version__ != '3.51.0')"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(has_client, "{} has no openai 3.51.0; run scripts/setup.sh --tests", python.display());

    let mut main = Server::start(&[], &[]);
    let key = "test-key-4b1d";
    let guarded = Server::start(
        &[],
        &[
            ("SERVE_TEST_KEY", key),
            ("AUTOBRANCH_SERVER__API_KEY_ENV", "SERVE_TEST_KEY"),
            ("AUTOBRANCH_SERVER__MAX_QUEUE", "2"),
            ("AUTOBRANCH_SERVER__TIMEOUT_S", "2"),
        ],
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/serve_client.py");
    let status = Command::new(&python)
        .args([script, &main.url, &main.child.id().to_string(), &guarded.url, key])
        .env("AUTOBRANCH_BIN", env!("CARGO_BIN_EXE_autobranch"))
        .status()
        .expect("python runs");
    assert!(status.success(), "serve_client.py failed: {status}");
    // The script ends with SIGTERM to the main server: it finishes and exits 0.
    let exit = main.wait(Duration::from_secs(20)).expect("the server exits after SIGTERM");
    assert!(exit.success(), "serve exited with {exit}");
}

#[test]
fn bad_settings_are_refused_before_listening() {
    let run = |args: &[&str], env: &[(&str, &str)]| {
        Command::new(env!("CARGO_BIN_EXE_autobranch"))
            .arg("serve")
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("the binary runs")
    };
    let o = run(&["--max-batch", "0"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--max-batch 0 is out of range"));
    let o = run(&[], &[("AUTOBRANCH_SERVER__API_KEY_ENV", "NO_SUCH_KEY_VAR_8c1")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("NO_SUCH_KEY_VAR_8c1 is unset"));
    let o = run(&[], &[("AUTOBRANCH_SERVER__PORT", "70000")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("server.port"));
}

/// The openai backend end to end against a real server: `explore` generates through
/// `autobranch serve` with native `n` (one request per expansion) on the real model.
#[test]
fn explore_runs_through_the_openai_backend_on_serve() {
    let server = Server::start(&[], &[]);
    // Every kept child is expanded: no novelty or entropy stop to make the count vary.
    let dir = tempfile::tempdir().expect("a temporary folder");
    let config = dir.path().join("tree.yaml");
    std::fs::write(&config, "novelty: null\nentropy: null\n").expect("config written");
    let output = Command::new(env!("CARGO_BIN_EXE_autobranch"))
        .args([
            "explore",
            "Give a plot twist for a detective story set in a Mars colony, in one sentence.",
            "--generator",
            "openai",
            "--model",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            "--n",
            "4",
            "--k",
            "2",
            "--depth",
            "2",
            "--max-tokens",
            "16",
            "--seed",
            "9",
            "--config",
            config.to_str().expect("a UTF-8 path"),
            "--json",
        ])
        .env("OPENAI_BASE_URL", format!("{}/v1", server.url))
        .env_remove("OPENAI_API_KEY")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let tree: serde_json::Value = serde_json::from_slice(&output.stdout).expect("a tree");
    let nodes = tree["nodes"].as_array().expect("nodes");
    // The root's 4 children, then 4 children of each kept child.
    let depth = |d: u64| nodes.iter().filter(|n| n["depth"] == d).count();
    assert_eq!(depth(1), 4);
    let kept = nodes.iter().filter(|n| n["depth"] == 1 && n["status"] == "kept").count();
    assert_eq!(kept, 2);
    assert_eq!(depth(2), 4 * kept);
    assert!(nodes.iter().skip(1).all(|n| n["tokens"].as_u64().unwrap() >= 1 && n["logprob_mean"].is_number()));
    let generator = tree["models"]["generator"].as_str().unwrap();
    assert!(generator.starts_with("openai:SmolLM2-135M-Instruct.Q4_1.gguf@127.0.0.1:"), "{generator}");
    // Native n: the server counted one chat request per expansion.
    let metrics = http_get(&server.url, "/metrics");
    let chats: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("autobranch_requests_total{route=\"/v1/chat/completions\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(chats, 1 + kept as u64, "{metrics}");
}

/// The openai embedder against `autobranch serve` gives the vectors of the local embedder.
#[test]
fn the_openai_embedder_on_serve_matches_the_local_one() {
    use std::io::Write;
    let server = Server::start(&[], &[]);
    let embed = |extra: &[&str]| -> Vec<Vec<f64>> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_autobranch"))
            .args(["embed", "--json", "-"])
            .args(extra)
            .env("OPENAI_BASE_URL", format!("{}/v1", server.url))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        child.stdin.take().expect("stdin").write_all(b"A detective on Mars.\nThe ledger was forged.\n").expect("write");
        let out = child.wait_with_output().expect("output");
        assert!(out.status.success());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        serde_json::from_value(v["embeddings"].clone()).expect("rows")
    };
    let remote = embed(&["--embedder", "openai", "--embed-model", "all-minilm-l6-v2"]);
    let local = embed(&[]);
    assert_eq!(remote.len(), 2);
    for (a, b) in remote.iter().zip(&local) {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!(dot / (norm(a) * norm(b)) >= 0.9999);
    }
}

/// GET over a plain TCP stream (the test needs no HTTP client crate).
fn http_get(base: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let host = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()
}
