mod support;

use autobranch_core::budget::{Budget, BudgetMode};
use autobranch_core::config::{BudgetConfig, Config, ExploreConfig};
use autobranch_core::explore::{CheckpointError, Exploration, ExploreError, Explorer, NodeStatus, StopReason};
use autobranch_core::model::Prompt;
use support::{HashEmbedder, WordGenerator};

fn config(n: usize, depth: usize) -> Config {
    Config { explore: ExploreConfig { n, max_depth: depth }, entropy: None, beam_k: 2, ..Config::default() }
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
