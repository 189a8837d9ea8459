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
