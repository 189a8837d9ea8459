//! The `openai` backend through the binary, against the in-process OpenAI-compatible
//! stand-in (`autobranch_openai::mock`): the main job end to end, requests counted, and the
//! errors a user meets, with their exit codes. No model files are needed.

use std::process::{Command, Output, Stdio};

use autobranch_openai::mock::{MockConfig, MockOpenAi};
use serde_json::Value;

/// Runs the binary off the runtime's worker threads, so the stand-in keeps answering.
async fn autobranch(args: &[&str], env: &[(&str, &str)]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_autobranch"));
        cmd.args(&args).stdin(Stdio::null()).env_remove("OPENAI_API_KEY").env_remove("OPENAI_BASE_URL");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("binary runs")
    })
    .await
    .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "exit {:?}: {}", o.status.code(), stderr(o));
    serde_json::from_slice(&o.stdout).expect("stdout is JSON")
}

const SERVER: [&str; 8] =
    ["--generator", "openai", "--model", "mock-chat", "--embedder", "openai", "--embed-model", "mock-embed"];

#[tokio::test(flavor = "multi_thread")]
async fn explore_runs_end_to_end_with_one_request_per_expansion() {
    let server = MockOpenAi::start(MockConfig::default()).await.unwrap();
    let mut args = vec!["explore", "Give a plot twist.", "--n", "4", "--depth", "2", "--k", "2", "--max-tokens", "8"];
    args.extend(SERVER);
    args.push("--json");
    let tree = json(&autobranch(&args, &[("OPENAI_BASE_URL", &server.url)]).await);
    let nodes = tree["nodes"].as_array().unwrap();
    let expansions = nodes.iter().filter(|n| nodes.iter().any(|c| c["parent"] == n["id"])).count();
    assert!(expansions >= 1, "{tree}");
    assert_eq!(server.stats.bodies_to("/v1/chat/completions").len(), expansions, "native n: one request each");
    assert!(server.stats.bodies_to("/v1/chat/completions").iter().all(|b| b["n"] == 4));
    assert!(tree["models"]["generator"].as_str().unwrap().starts_with("openai:mock-chat@"), "{}", tree["models"]);
    // The same seed gives the same tree.
    let again = json(&autobranch(&args, &[("OPENAI_BASE_URL", &server.url)]).await);
    let texts = |t: &Value| t["nodes"].as_array().unwrap().iter().map(|n| n["text"].clone()).collect::<Vec<_>>();
    assert_eq!(texts(&again), texts(&tree));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_without_n_is_fanned_out_with_one_warning() {
    let server = MockOpenAi::start(MockConfig { native_n: false, ..MockConfig::default() }).await.unwrap();
    let args = ["generate", "Say hi.", "--generator", "openai", "--model", "mock-chat", "--n", "3", "--json"];
    let o = autobranch(&args, &[("OPENAI_BASE_URL", &server.url)]).await;
    let v = json(&o);
    assert_eq!(v["candidates"].as_array().unwrap().len(), 3);
    assert_eq!(server.stats.bodies_to("/v1/chat/completions").len(), 3, "one native try answered 1, then 2 more");
    let seeds: Vec<u64> =
        server.stats.bodies_to("/v1/chat/completions").iter().filter_map(|b| b["seed"].as_u64()).collect();
    assert_eq!(seeds, [42, 43, 44], "distinct seeds, seed + i");
    assert_eq!(stderr(&o).matches("WARN").count(), 1, "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn embed_and_select_use_the_servers_embeddings() {
    let server = MockOpenAi::start(MockConfig { embed_dim: 16, ..MockConfig::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let texts = dir.path().join("t.txt");
    std::fs::write(&texts, "a red moon\nthe quiet colony\n").unwrap();
    let v = json(
        &autobranch(
            &["embed", texts.to_str().unwrap(), "--embedder", "openai", "--embed-model", "mock-embed", "--json"],
            &[("OPENAI_BASE_URL", &server.url)],
        )
        .await,
    );
    assert_eq!(v["dim"], 16);
    assert_eq!(v["embeddings"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_name_what_to_fix_with_their_exit_codes() {
    let server =
        MockOpenAi::start(MockConfig { api_key: Some("sk-right".into()), ..MockConfig::default() }).await.unwrap();
    let gen_args = |model: &'static str| ["generate", "Hi.", "--generator", "openai", "--model", model, "--json"];
    // No key: the variable to set is named.
    let o = autobranch(&gen_args("mock-chat"), &[("OPENAI_BASE_URL", &server.url)]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("OPENAI_API_KEY"), "{}", stderr(&o));
    // A wrong key is never echoed, even though the server does.
    let o = autobranch(&gen_args("mock-chat"), &[("OPENAI_BASE_URL", &server.url), ("OPENAI_API_KEY", "sk-wrong-123")])
        .await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!stderr(&o).contains("sk-wrong-123") && !String::from_utf8_lossy(&o.stdout).contains("sk-wrong-123"));
    // An unknown model is bad input, and the message lists what the server offers.
    let keyed = [("OPENAI_BASE_URL", server.url.as_str()), ("OPENAI_API_KEY", "sk-right")];
    let o = autobranch(&gen_args("gpt-9"), &keyed).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("gpt-9") && stderr(&o).contains("mock-chat"), "{}", stderr(&o));
    // The right key works, and a missing model name is a usage error.
    assert!(autobranch(&gen_args("mock-chat"), &keyed).await.status.success());
    let o = autobranch(&["generate", "Hi.", "--generator", "openai"], &keyed).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("the openai generator needs a model name: --model NAME"), "{}", stderr(&o));
    // Nothing listens: the URL is named.
    let o = autobranch(&gen_args("mock-chat"), &[("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("http://127.0.0.1:9/v1"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_configuration_names_the_server_and_the_key_variable() {
    let server =
        MockOpenAi::start(MockConfig { api_key: Some("sk-cfg".into()), ..MockConfig::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.yaml");
    let yaml = format!(
        "generator: {{type: openai, model: mock-chat, base_url: '{}', api_key_env: MY_SERVER_KEY, concurrency: 2}}\n",
        server.url
    );
    std::fs::write(&config, yaml).unwrap();
    let args = ["generate", "Hi.", "--config", config.to_str().unwrap(), "--n", "2", "--json"];
    let o = autobranch(&args, &[("MY_SERVER_KEY", "sk-cfg")]).await;
    assert_eq!(json(&o)["candidates"].as_array().unwrap().len(), 2);
    let o = autobranch(&args, &[]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("MY_SERVER_KEY"), "{}", stderr(&o));
}
