mod support;

use autobranch_core::beam::BeamSelector;
use autobranch_core::budget::{Budget, BudgetManager, BudgetMode};
use autobranch_core::config::{Config, ExploreConfig};
use autobranch_core::entropy::ShannonEntropyStopper;
use autobranch_core::explore::{Exploration, Explorer};
use autobranch_core::novelty::{CosineNoveltyFilter, MmrNoveltyFilter, NoveltyFilter};
use autobranch_core::vectors::SimilarityMatrix;
use autobranch_core::{Candidate, Embeddings, ScoredCandidate};
use proptest::prelude::*;
use support::{HashEmbedder, WordGenerator};

fn scored(scores: &[f64]) -> Vec<ScoredCandidate> {
    scores
        .iter()
        .enumerate()
        .map(|(i, &s)| ScoredCandidate::new(Candidate::new(format!("c{i}"), "").unwrap(), s).0)
        .collect()
}

fn vectors(n: usize, dim: usize) -> impl Strategy<Value = Vec<Vec<f32>>> {
    prop::collection::vec(prop::collection::vec(-1.0f32..1.0, dim), n)
}

proptest! {
    #[test]
    fn beam_output_is_sorted_and_is_the_top_k(scores in prop::collection::vec(prop_oneof![Just(0.5), 0.0f64..1.0], 0..40), k in 1usize..10) {
        let sc = scored(&scores);
        let kept = BeamSelector::new(k).select(&sc);
        prop_assert_eq!(kept.len(), k.min(sc.len()));
        for w in kept.windows(2) {
            let (a, b) = (&sc[w[0]], &sc[w[1]]);
            prop_assert!(a.score > b.score || (a.score == b.score && a.id() < b.id()));
        }
        if let Some(&last) = kept.last() {
            for (i, c) in sc.iter().enumerate().filter(|(i, _)| !kept.contains(i)) {
                let l = &sc[last];
                prop_assert!(c.score < l.score || (c.score == l.score && c.id() > l.id()), "{} beats a kept candidate", i);
            }
        }
    }

    #[test]
    fn kept_candidates_are_pairwise_below_the_threshold(rows in vectors(12, 6), threshold in 0.0f64..1.0, lambda in 0.0f64..1.0) {
        let m = Embeddings::from_rows(&rows).unwrap();
        let refs: Vec<&[f32]> = m.rows().collect();
        let sims = SimilarityMatrix::new(&refs);
        let sc = scored(&(0..12).map(|i| 1.0 - i as f64 / 20.0).collect::<Vec<_>>());
        let filters: [Box<dyn NoveltyFilter>; 2] =
            [Box::new(CosineNoveltyFilter::new(threshold)), Box::new(MmrNoveltyFilter::new(lambda, Some(threshold)))];
        for f in filters {
            let kept = f.prune(&sc, Some(&sims), &mut Vec::new()).unwrap();
            prop_assert!(!kept.is_empty());
            for (x, &i) in kept.iter().enumerate() {
                for &j in &kept[x + 1..] {
                    prop_assert!(f64::from(sims.get(i, j)) <= threshold);
                }
            }
        }
    }

    #[test]
    fn mmr_without_threshold_is_a_permutation(rows in vectors(8, 4), lambda in 0.0f64..1.0) {
        let m = Embeddings::from_rows(&rows).unwrap();
        let refs: Vec<&[f32]> = m.rows().collect();
        let sims = SimilarityMatrix::new(&refs);
        let mut order = MmrNoveltyFilter::new(lambda, None).prune(&scored(&[0.9, 0.8, 0.8, 0.5, 0.4, 0.3, 0.2, 0.1]), Some(&sims), &mut Vec::new()).unwrap();
        prop_assert_eq!(order[0], 0, "the best-scored candidate is picked first");
        order.sort();
        prop_assert_eq!(order, (0..8).collect::<Vec<_>>());
    }

    #[test]
    fn entropy_is_in_the_unit_interval(rows in vectors(10, 3), n in 0usize..10, k_max in 1usize..8, seed in any::<u64>()) {
        let refs: Vec<&[f32]> = rows[..n].iter().map(|r| r.as_slice()).collect();
        let d = ShannonEntropyStopper::new(0.6, k_max, None, seed).decide(&refs);
        prop_assert!((0.0..=1.0).contains(&d.value));
        prop_assert_eq!(d.cluster_sizes.iter().sum::<usize>(), n);
        prop_assert_eq!(d.should_continue, d.reason.is_none());
    }

    #[test]
    fn strict_budget_is_never_exceeded(ops in prop::collection::vec((0u64..5, 0u64..300, 0u64..200), 1..60)) {
        let budget = Budget { max_nodes: 20, max_tokens: 2000, max_ms: 1000 };
        let mut m = BudgetManager::new(budget, BudgetMode::Strict);
        for (nodes, tokens, ms) in ops {
            if m.admit(nodes, tokens, ms) == Ok(true) {
                m.record_nodes(nodes);
                m.update(tokens, ms);
            }
            let u = m.usage();
            prop_assert!(u.used_nodes <= u.max_nodes && u.used_tokens <= u.max_tokens && u.used_ms <= u.max_ms);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn checkpoint_then_resume_gives_the_same_tree(n in 1usize..5, depth in 1usize..4, k in 1usize..4, seed in 0u64..1000, stop_after in 1usize..6) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let cfg = || {
            let mut c = Config { explore: ExploreConfig { n, max_depth: depth, ..ExploreConfig::default() }, beam_k: k, ..Config::default() };
            c.generation.seed = seed;
            c
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ckpt.json");
        rt.block_on(async {
            let (g, e) = (WordGenerator::default(), HashEmbedder::default());
            let mut x = Explorer::new(&g, Some(&e), cfg());
            let mut whole = x.start("Once upon a time");
            x.run(&mut whole, None).await.unwrap();

            let mut x = Explorer::new(&g, Some(&e), cfg());
            let mut part = x.start("Once upon a time");
            for _ in 0..stop_after {
                let more = x.expand_next(&mut part).await.unwrap();
                part.save(&path).unwrap();
                if !more { break; }
            }
            let (g2, e2) = (WordGenerator::default(), HashEmbedder::default());
            let mut y = Explorer::new(&g2, Some(&e2), cfg());
            let mut resumed = Exploration::load(&path).unwrap();
            y.resume(&resumed).unwrap();
            y.run(&mut resumed, Some(&path)).await.unwrap();
            assert_eq!(resumed, whole);
        });
    }
}
