mod support;

use autobranch_core::budget::{Budget, BudgetMode};
use autobranch_core::config::{BudgetConfig, Config, ExpandMode, ExploreConfig};
use autobranch_core::explore::{CheckpointError, Exploration, ExploreError, Explorer, NodeStatus, StopReason};
use autobranch_core::model::Prompt;
use support::{HashEmbedder, WordGenerator};

fn config(n: usize, depth: usize) -> Config {
    Config {
        explore: ExploreConfig { n, max_depth: depth, ..ExploreConfig::default() },
        entropy: None,
        beam_k: 2,
        ..Config::default()
    }
}

async fn explore(cfg: Config) -> Exploration {
    let (g, e) = (WordGenerator::default(), HashEmbedder::default());
    let mut x = Explorer::new(&g, Some(&e), cfg);
    let mut state = x.start("Tell a story");
    x.run(&mut state, None).await.unwrap();
    state
}

#[tokio::test]
async fn explores_breadth_first_to_max_depth() {
    let state = explore(config(4, 2)).await;
    assert_eq!(state.stop_reason, Some(StopReason::MaxDepth));
    let root = &state.nodes[0];
    assert_eq!((root.status, root.depth, root.parent.as_deref()), (NodeStatus::Root, 0, None));
    let depth1: Vec<_> = state.nodes.iter().filter(|n| n.depth == 1).collect();
    assert_eq!(depth1.len(), 4);
    let kept1 = depth1.iter().filter(|n| n.status == NodeStatus::Kept).count();
    assert!((1..=2).contains(&kept1));
    assert_eq!(state.nodes.iter().filter(|n| n.depth == 2).count(), 4 * kept1);
    assert!(state.nodes.iter().all(|n| n.depth <= 2));
    for n in &state.nodes[1..] {
        assert!(n.score.is_some() && n.tokens > 0 && n.logprob_mean.is_some());
        assert_ne!(n.status, NodeStatus::NotExpanded);
    }
    assert_eq!(state.models.generator, "word-generator");
    assert_eq!(state.models.embedder.as_deref(), Some("hash-embedder"));
}

#[tokio::test]
async fn prompts_follow_the_path_and_seeds_never_repeat() {
    let (g, e) = (WordGenerator::default(), HashEmbedder::default());
    let mut cfg = config(3, 2);
    cfg.system = Some("Be brief.".into());
    let mut x = Explorer::new(&g, Some(&e), cfg);
    let mut state = x.start("Tell a story");
    x.run(&mut state, None).await.unwrap();
    let requests = g.requests.lock().unwrap();
    let Prompt::Chat(first) = &requests[0].prompt else { panic!("chat prompt expected") };
    assert_eq!(first.len(), 2, "system + user");
    let Prompt::Chat(second) = &requests[1].prompt else { panic!("chat prompt expected") };
    assert_eq!(second.len(), 4, "system + user + assistant + continue");
    assert_eq!(second[3].content, "Continue.");
    let seeds: Vec<u64> = requests.iter().map(|r| r.sampling.seed).collect();
    assert_eq!(seeds, (0..requests.len() as u64).map(|i| 42 + 3 * i).collect::<Vec<_>>());
}

#[tokio::test]
async fn same_seed_same_tree() {
    let a = explore(config(4, 3)).await;
    let b = explore(config(4, 3)).await;
    assert_eq!(a, b);
}

#[tokio::test]
async fn soft_budget_stops_and_marks_queued_nodes_not_expanded() {
    let mut cfg = config(4, 5);
    cfg.budget = Some(BudgetConfig {
        budget: Budget { max_nodes: 5, max_tokens: 100_000, max_ms: 100_000 },
        mode: BudgetMode::Soft,
    });
    let state = explore(cfg).await;
    assert_eq!(state.stop_reason, Some(StopReason::BudgetExceeded));
    assert!(state.budget.unwrap().used_nodes <= 6);
    assert!(state.nodes.iter().any(|n| n.status == NodeStatus::NotExpanded));
}

#[tokio::test]
async fn strict_budget_refusal_is_an_error_and_the_tree_survives() {
    let mut cfg = config(4, 5);
    cfg.budget = Some(BudgetConfig {
        budget: Budget { max_nodes: 1000, max_tokens: 2000, max_ms: 100_000 },
        mode: BudgetMode::Strict,
    });
    let (g, e) = (WordGenerator::default(), HashEmbedder::default());
    let mut x = Explorer::new(&g, Some(&e), cfg);
    let mut state = x.start("Tell a story");
    let err = x.run(&mut state, None).await.unwrap_err();
    assert!(matches!(err, ExploreError::Budget(_)), "{err}");
    assert!(err.to_string().contains("tokens"));
    assert_eq!(state.stop_reason, Some(StopReason::BudgetExceeded));
    assert!(state.nodes.len() > 1);
}

#[tokio::test]
async fn entropy_stop_ends_exploration() {
    let mut cfg = config(4, 4);
    // Distinct candidates give entropy 1 at every step, so the delta rule stops the second step.
    cfg.entropy = Some(autobranch_core::config::EntropyConfig {
        min_entropy: 0.5,
        delta_epsilon: Some(0.5),
        ..Default::default()
    });
    let state = explore(cfg).await;
    assert_eq!(state.stop_reason, Some(StopReason::LowDeltaEntropy));
    assert_eq!(state.entropy_history.len(), 2);
    assert_eq!(state.entropy_history[0].decision.value, 1.0);
    assert!(state.nodes.iter().any(|n| n.status == NodeStatus::NotExpanded));
    assert!(state.nodes.iter().all(|n| n.depth <= 2));
}

#[tokio::test]
async fn checkpoint_then_resume_gives_the_same_tree() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.json");
    let uninterrupted = explore(config(3, 3)).await;
    for stop_after in 1..4 {
        let (g, e) = (WordGenerator::default(), HashEmbedder::default());
        let mut x = Explorer::new(&g, Some(&e), config(3, 3));
        let mut state = x.start("Tell a story");
        for _ in 0..stop_after {
            x.expand_next(&mut state).await.unwrap();
            state.save(&path).unwrap();
        }
        drop(x);
        let (g, e) = (WordGenerator::default(), HashEmbedder::default());
        let mut x = Explorer::new(&g, Some(&e), config(3, 3));
        let mut resumed = Exploration::load(&path).unwrap();
        x.resume(&resumed).unwrap();
        x.run(&mut resumed, Some(&path)).await.unwrap();
        assert_eq!(resumed, uninterrupted, "resumed after {stop_after} expansions");
        assert_eq!(Exploration::load(&path).unwrap(), uninterrupted);
    }
}

#[tokio::test]
async fn resume_under_another_config_names_what_differs() {
    let (g, e) = (WordGenerator::default(), HashEmbedder::default());
    let mut x = Explorer::new(&g, Some(&e), config(3, 3));
    let state = x.start("Tell a story");
    let mut other = Explorer::new(&g, Some(&e), config(4, 3));
    let err = other.resume(&state).unwrap_err();
    assert!(err.to_string().contains("config.explore.n (checkpoint 3, now 4)"), "{err}");
}

#[test]
fn corrupt_checkpoints_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    std::fs::write(&path, b"{not json").unwrap();
    assert!(matches!(Exploration::load(&path), Err(CheckpointError::Corrupt { .. })));
    let missing = dir.path().join("missing.json");
    assert!(matches!(Exploration::load(&missing), Err(CheckpointError::Io { .. })));
}

#[tokio::test]
async fn inconsistent_checkpoints_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.json");
    let mut state = explore(config(2, 1)).await;
    state.nodes[1].parent = Some("n99".into());
    state.save(&path).unwrap();
    let err = Exploration::load(&path).unwrap_err();
    assert!(err.to_string().contains("unknown parent n99"), "{err}");
}

// Hostile checkpoints (issue #15): everything `Exploration::load` must refuse.

/// A checkpoint after one expansion of a depth-3 tree (kept children queued), as JSON.
async fn one_expansion(path: &std::path::Path) -> serde_json::Value {
    let (g, e) = (WordGenerator::default(), HashEmbedder::default());
    let mut x = Explorer::new(&g, Some(&e), config(3, 3));
    let mut state = x.start("Tell a story");
    x.expand_next(&mut state).await.unwrap();
    assert!(!state.queue.is_empty());
    state.save(path).unwrap();
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn load_error(path: &std::path::Path, state: &serde_json::Value) -> CheckpointError {
    std::fs::write(path, serde_json::to_vec(state).unwrap()).unwrap();
    Exploration::load(path).unwrap_err()
}

#[tokio::test]
async fn checkpoint_configs_are_validated_like_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.json");
    let good = one_expansion(&path).await;
    let entropy = serde_json::json!({"min_entropy": 0.6, "k_max": 0, "delta_epsilon": null, "random_seed": 42});
    let cases = [
        ("/config/config/beam_k", serde_json::json!(0), "`beam_k` = 0 is out of range; allowed: an integer ≥ 1"),
        ("/config/config/entropy", entropy, "`entropy.k_max` = 0 is out of range; allowed: an integer ≥ 1"),
        (
            "/config/config/novelty/threshold",
            serde_json::json!(5),
            "`novelty.threshold` = 5 is out of range; allowed: [0, 1]",
        ),
        (
            "/config/config/explore/max_depth",
            serde_json::json!(0),
            "`explore.max_depth` = 0 is out of range; allowed: an integer ≥ 1",
        ),
    ];
    for (pointer, bad, message) in cases {
        let mut state = good.clone();
        *state.pointer_mut(pointer).unwrap() = bad;
        let err = load_error(&path, &state);
        assert!(matches!(err, CheckpointError::InvalidConfig { .. }), "{err:?}");
        assert_eq!(err.to_string(), format!("checkpoint {} holds an invalid configuration: {message}", path.display()));
    }
    let mut state = good.clone();
    state["config"].as_object_mut().unwrap().remove("config");
    assert!(load_error(&path, &state).to_string().contains("`config` must be the configuration"), "no config");
}

#[tokio::test]
async fn checkpoint_config_is_a_result_that_resumes_to_the_same_tree() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.json");
    one_expansion(&path).await;
    let mut state = Exploration::load(&path).unwrap();
    let cfg = Explorer::checkpoint_config(&state).unwrap();
    assert_eq!(cfg, config(3, 3));
    let (g, e) = (WordGenerator::default(), HashEmbedder::default());
    let mut x = Explorer::new(&g, Some(&e), cfg);
    x.resume(&state).unwrap();
    x.run(&mut state, None).await.unwrap();
    // Timings are wall-clock shares, so they differ between runs.
    let untimed = |mut s: Exploration| {
        s.nodes.iter_mut().for_each(|n| n.gen_ms = 0.0);
        s
    };
    assert_eq!(untimed(state.clone()), untimed(explore(config(3, 3)).await));
    state.config["config"]["beam_k"] = 0.into();
    let err = Explorer::checkpoint_config(&state).unwrap_err();
    assert_eq!(err.to_string(), "`beam_k` = 0 is out of range; allowed: an integer ≥ 1");
}

#[tokio::test]
async fn checkpoint_queues_hold_only_expandable_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.json");
    let good = one_expansion(&path).await;
    let first = good["queue"][0].as_u64().unwrap() as usize;
    let pruned = good["nodes"].as_array().unwrap().iter().position(|n| n["status"] == "pruned_beam").unwrap();
    let id = |i: usize| good["nodes"][i]["id"].as_str().unwrap().to_owned();
    let cases: Vec<(&str, serde_json::Value, String)> = vec![
        // A hand-edited max depth turns the queued depth-1 nodes into nodes at max depth.
        (
            "/config/config/explore/max_depth",
            1.into(),
            format!("queue names node {} at depth 1; nodes at explore.max_depth = 1 are not expanded", id(first)),
        ),
        ("/queue", serde_json::json!([first, first]), format!("queue names node {} twice", id(first))),
        (
            "/queue",
            serde_json::json!([pruned]),
            format!(
                "queue names node {} with status PrunedBeam; only the root and kept nodes wait for expansion",
                id(pruned)
            ),
        ),
        ("/queue", serde_json::json!([0]), "queue names node n0, which has been expanded already".into()),
        ("/queue", serde_json::json!([99]), "queue names node index 99, but there are 4 nodes".into()),
        ("/stop_reason", "max_depth".into(), "it has ended (MaxDepth) but its queue still names".into()),
    ];
    for (pointer, bad, message) in cases {
        let mut state = good.clone();
        *state.pointer_mut(pointer).unwrap() = bad;
        let err = load_error(&path, &state);
        assert!(matches!(err, CheckpointError::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains(&message), "{err}\nexpected: {message}");
    }
}

#[tokio::test]
async fn checkpoint_counters_and_numbers_must_match_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.json");
    let good = one_expansion(&path).await;
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        ("/expansions", u64::MAX.into(), "expansions is 18446744073709551615, but 1 node(s) have children"),
        ("/expansions", 0.into(), "expansions is 0, but 1 node(s) have children"),
        ("/nodes/1/score", 5.0.into(), "node n1 has score 5; scores lie in [0, 1]"),
        ("/nodes/1/gen_ms", (-1.0).into(), "node n1 has gen_ms -1; it must be a finite number ≥ 0"),
        ("/nodes/1/depth", 2.into(), "node n1 has depth 2 under a parent of depth 0"),
    ];
    for (pointer, bad, message) in cases {
        let mut state = good.clone();
        *state.pointer_mut(pointer).unwrap() = bad;
        let err = load_error(&path, &state).to_string();
        assert!(err.contains(message), "{err}\nexpected: {message}");
    }
    // Three children per expansion: a fourth under the root breaks the count.
    let mut state = good.clone();
    let mut extra = state["nodes"][1].clone();
    extra["id"] = "n9".into();
    state["nodes"].as_array_mut().unwrap().push(extra);
    let err = load_error(&path, &state).to_string();
    assert!(err.contains("node n0 has 4 children; every expansion adds explore.n = 3"), "{err}");
    // JSON has no NaN: a file that spells one does not parse.
    let text = serde_json::to_string(&good).unwrap().replacen("\"gen_ms\":", "\"gen_ms\":NaN,\"x\":", 1);
    std::fs::write(&path, text).unwrap();
    assert!(matches!(Exploration::load(&path), Err(CheckpointError::Corrupt { .. })));
}

/// Reports a NaN mean logprob for the second candidate of every batch.
struct NanLogprobs(WordGenerator);

#[async_trait::async_trait]
impl autobranch_core::Generator for NanLogprobs {
    fn model_id(&self) -> &str {
        "nan-logprobs"
    }
    async fn generate(
        &self,
        request: &autobranch_core::model::GenerationRequest,
    ) -> Result<autobranch_core::model::Generation, autobranch_core::ModelError> {
        let mut generation = self.0.generate(request).await?;
        generation.candidates[1].logprob_mean = Some(f64::NAN);
        Ok(generation)
    }
}

#[tokio::test]
async fn a_nan_logprob_is_refused_before_the_tree_changes() {
    let (g, e) = (NanLogprobs(WordGenerator::default()), HashEmbedder::default());
    let mut x = Explorer::new(&g, Some(&e), config(3, 2));
    let mut state = x.start("Tell a story");
    let before = state.clone();
    let err = x.expand_next(&mut state).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "selection failed at node n0: candidate \"n2\" has meta.logprobs = NaN; it must be a finite number \
         (JSON writes NaN and infinities as null), or be left out"
    );
    assert_eq!(state, before);
}

#[tokio::test]
async fn an_expansion_counter_that_cannot_give_seeds_is_an_error() {
    let (g, e) = (WordGenerator::default(), HashEmbedder::default());
    let mut x = Explorer::new(&g, Some(&e), config(3, 2));
    let mut state = x.start("Tell a story");
    state.expansions = u64::MAX;
    let err = x.expand_next(&mut state).await.unwrap_err();
    assert!(matches!(err, ExploreError::InconsistentState(_)), "{err}");
    assert!(g.requests.lock().unwrap().is_empty(), "nothing was generated");
}

/// Counts generator calls: (requests per call) in call order; and records each prompt-cache
/// hint: (root, next).
#[derive(Default)]
struct Counting {
    inner: WordGenerator,
    calls: std::sync::Mutex<Vec<usize>>,
    hints: std::sync::Mutex<Vec<(Prompt, Vec<Prompt>)>>,
}

#[async_trait::async_trait]
impl autobranch_core::Generator for Counting {
    fn model_id(&self) -> &str {
        "counting"
    }
    async fn generate(
        &self,
        request: &autobranch_core::model::GenerationRequest,
    ) -> Result<autobranch_core::model::Generation, autobranch_core::ModelError> {
        self.calls.lock().unwrap().push(1);
        self.inner.generate(request).await
    }
    async fn generate_batch(
        &self,
        requests: &[autobranch_core::model::GenerationRequest],
    ) -> Vec<Result<autobranch_core::model::Generation, autobranch_core::ModelError>> {
        self.calls.lock().unwrap().push(requests.len());
        let mut out = Vec::new();
        for r in requests {
            out.push(self.inner.generate(r).await);
        }
        out
    }
    async fn expect_prompts(&self, root: &Prompt, next: &[Prompt]) {
        self.hints.lock().unwrap().push((root.clone(), next.to_vec()));
    }
}

/// After each expansion the generator hears which prompts come next (the queue's paths, all
/// under the root's prompt); the last hint, with nothing queued, lets the whole tree go.
#[tokio::test]
async fn each_expansion_tells_the_generator_the_queued_prompts() {
    for mode in [ExpandMode::Level, ExpandMode::Node] {
        let mut cfg = config(3, 3);
        cfg.explore.expand = mode;
        let (g, e) = (Counting::default(), HashEmbedder::default());
        let mut x = Explorer::new(&g, Some(&e), cfg);
        let mut state = x.start("Tell a story");
        let mut requests_seen = 0;
        while x.expand_next(&mut state).await.unwrap() {
            let hints = g.hints.lock().unwrap();
            let (root, next) = hints.last().unwrap();
            assert_eq!(hints.len(), g.calls.lock().unwrap().len(), "{mode:?}: one hint per call");
            let Prompt::Chat(root) = root else { panic!("a chat root") };
            assert_eq!(root.last().unwrap().content, "Tell a story");
            assert_eq!(next.len(), state.queue.len());
            // Each queued node's prompt is its request's: root messages, then its path.
            for (p, &i) in next.iter().zip(&state.queue) {
                let Prompt::Chat(messages) = p else { panic!("a chat prompt") };
                assert_eq!(messages[..root.len()], root[..]);
                assert_eq!(messages.len(), root.len() + 2 * state.nodes[i].depth);
            }
            requests_seen += 1;
        }
        assert!(requests_seen > 1);
        let hints = g.hints.lock().unwrap();
        assert!(hints.last().unwrap().1.is_empty(), "{mode:?}: the finished tree keeps nothing");
    }
}

async fn explore_counted(mut cfg: Config, mode: ExpandMode) -> (Exploration, Vec<usize>) {
    cfg.explore.expand = mode;
    let (g, e) = (Counting::default(), HashEmbedder::default());
    let mut x = Explorer::new(&g, Some(&e), cfg);
    let mut state = x.start("Tell a story");
    x.run(&mut state, None).await.unwrap();
    let calls = g.calls.lock().unwrap().clone();
    (state, calls)
}

#[tokio::test]
async fn level_mode_expands_each_depth_in_one_call_and_builds_the_node_mode_tree() {
    let cfg = config(3, 3);
    let (level, level_calls) = explore_counted(cfg.clone(), ExpandMode::Level).await;
    let (node, node_calls) = explore_counted(cfg, ExpandMode::Node).await;
    // beam k = 2: 1 node at depth 0, 2 at depth 1, 4 at depth 2.
    assert_eq!(level_calls, vec![1, 2, 4]);
    assert_eq!(node_calls, vec![1; 7]);
    assert_eq!(level.nodes, node.nodes);
    assert_eq!((level.expansions, level.stop_reason), (node.expansions, node.stop_reason));
}

#[tokio::test]
async fn a_level_that_partly_fits_the_budget_expands_what_fits_in_queue_order() {
    let mut cfg = config(3, 3);
    // The budget counts kept nodes: 2 + 2·2 = 6 after depth 1, and each expansion of
    // depth 2 asks for 3 more: a cap of 12 admits two of its four expansions.
    cfg.novelty = None;
    cfg.budget = Some(BudgetConfig {
        budget: Budget { max_nodes: 12, max_tokens: 100_000, max_ms: 100_000 },
        mode: BudgetMode::Soft,
    });
    let (level, calls) = explore_counted(cfg.clone(), ExpandMode::Level).await;
    let (node, _) = explore_counted(cfg, ExpandMode::Node).await;
    assert_eq!(calls, vec![1, 2, 2]);
    assert_eq!(level.stop_reason, Some(StopReason::BudgetExceeded));
    assert_eq!(level.nodes.iter().filter(|n| n.depth == 3).count(), 6);
    assert_eq!(level.nodes.iter().filter(|n| n.status == NodeStatus::NotExpanded).count(), 2);
    assert_eq!(level.nodes, node.nodes);
}

#[tokio::test]
async fn node_mode_is_written_to_the_checkpoint_and_level_mode_is_not() {
    let mut cfg = config(2, 1);
    let (level, _) = explore_counted(cfg.clone(), ExpandMode::Level).await;
    assert!(level.config["config"]["explore"].get("expand").is_none());
    cfg.explore.expand = ExpandMode::Node;
    let (node, _) = explore_counted(cfg, ExpandMode::Node).await;
    assert_eq!(node.config["config"]["explore"]["expand"], "node");
}
