"""The selection pipeline (chatroutes_autobranch.core.selector): score → beam → novelty →
entropy → budget, one ``step`` per parent."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

from autobranch.beam.selector import BeamSelector
from autobranch.budget.manager import BudgetManager
from autobranch.core.candidate import Candidate, ScoredCandidate
from autobranch.core.protocols import EntropyStopper, NoveltyFilter, Scorer  # noqa: F401 (as in the original)


@dataclass
class SelectionResult:
    """What one ``step`` kept and what each stage saw."""

    kept: list[ScoredCandidate]
    scored: list[ScoredCandidate]
    after_beam: list[ScoredCandidate]
    after_novelty: list[ScoredCandidate]
    entropy_decision: dict[str, Any]
    should_continue: bool
    details: dict[str, Any] = field(default_factory=dict)


class _EmbedOnce:
    """An embedding provider that embeds each distinct text once while it is installed."""

    def __init__(self, provider: Any):
        self.provider = provider
        self.vectors: dict[str, Any] = {}

    def embed(self, texts: list[str]) -> list[Any]:
        missing = list(dict.fromkeys(t for t in texts if t not in self.vectors))
        if missing:
            self.vectors.update(zip(missing, self.provider.embed(missing)))
        return [self.vectors[t] for t in texts]


class BranchSelector:
    """The pipeline: score all candidates, keep the beam's top k, prune near-duplicates,
    ask the entropy stopper whether to go on, and admit the kept ones to the budget.

    ``embed_once=True`` turns on what autobranch does better than the original: the
    candidates are scored once per step (the original scores them twice: once for the
    result's ``scored`` and again inside the beam) and every distinct text is embedded once,
    its vector shared by the scorer, the novelty filter and the entropy stopper (the original
    embeds the same texts up to five times). Results are the same for a deterministic
    embedding provider; it is off by default so that a provider sees the original's calls.
    """

    def __init__(
        self,
        beam_selector: BeamSelector,
        novelty_filter: Optional[Any] = None,
        entropy_stopper: Optional[Any] = None,
        budget_manager: Optional[BudgetManager] = None,
        *,
        embed_once: bool = False,
    ):
        self.beam_selector = beam_selector
        self.novelty_filter = novelty_filter
        self.entropy_stopper = entropy_stopper
        self.budget_manager = budget_manager
        self.embed_once = embed_once

    @contextmanager
    def _shared_embeddings(self) -> Iterator[None]:
        """Installs one embed-once cache per distinct provider on the stages for one step."""
        stages = [self.beam_selector.scorer, self.novelty_filter, self.entropy_stopper]
        caches: dict[int, _EmbedOnce] = {}
        swapped = []
        for stage in stages:
            provider = getattr(stage, "embedding_provider", None)
            if provider is None:
                continue
            cache = caches.setdefault(id(provider), _EmbedOnce(provider))
            stage.embedding_provider = cache
            swapped.append((stage, provider))
        try:
            yield
        finally:
            for stage, provider in swapped:
                stage.embedding_provider = provider

    def step(self, parent: Candidate, candidates: list[Candidate]) -> SelectionResult:
        """One selection step. Raises ``BudgetExceededError`` when a strict budget would be
        exceeded."""
        if self.embed_once:
            with self._shared_embeddings():
                return self._step(parent, candidates)
        return self._step(parent, candidates)

    def _step(self, parent: Candidate, candidates: list[Candidate]) -> SelectionResult:
        details: dict[str, Any] = {}
        scored = self.beam_selector.scorer.score(parent, candidates)
        details["total_candidates"] = len(scored)
        if self.embed_once:
            after_beam = self.beam_selector.select_scored(scored) if candidates else []
        else:
            after_beam = self.beam_selector.select(parent, candidates)
        details["after_beam"] = len(after_beam)

        if self.novelty_filter:
            after_novelty = self.novelty_filter.prune(after_beam)
            details["after_novelty"] = len(after_novelty)
        else:
            after_novelty = after_beam
            details["novelty_filter"] = "disabled"

        should_continue = True
        if self.entropy_stopper:
            decision = self.entropy_stopper.should_continue(after_novelty)
            entropy_decision = {
                "should_continue": decision.should_continue,
                "entropy": decision.entropy,
                "delta_entropy": decision.delta_entropy,
                "details": decision.details,
            }
            should_continue = decision.should_continue
            details["entropy"] = decision.entropy
        else:
            entropy_decision = {"disabled": True}
            details["entropy_stopper"] = "disabled"

        if self.budget_manager and after_novelty:
            n = len(after_novelty)
            # The original's estimate: 100 tokens and 50 ms per kept candidate.
            if not self.budget_manager.admit(n_new=n, est_tokens=n * 100, est_ms=n * 50):
                should_continue = False
                details["budget_exceeded"] = True
            self.budget_manager.record_nodes(n)
            details["budget_usage"] = self.budget_manager.usage
        else:
            details["budget_manager"] = "disabled"

        return SelectionResult(
            kept=after_novelty,
            scored=scored,
            after_beam=after_beam,
            after_novelty=after_novelty,
            entropy_decision=entropy_decision,
            should_continue=should_continue,
            details=details,
        )

    @classmethod
    def from_config(cls, config: dict[str, Any], **switches: Any) -> "BranchSelector":
        """A selector from a configuration dict (see ``autobranch.config.loader``). Keyword
        ``switches`` (``embed_once``) go to the constructor."""
        from autobranch.budget.manager import Budget
        from autobranch.core.embeddings import DummyEmbeddingProvider
        from autobranch.core.scorer import CompositeScorer, StaticScorer
        from autobranch.entropy.shannon import ShannonEntropyStopper
        from autobranch.novelty.cosine import CosineNoveltyFilter
        from autobranch.novelty.mmr import MMRNoveltyFilter

        provider = None
        if "embedding" in config:
            emb = config["embedding"]
            kind = emb.get("type", "dummy")
            if kind != "dummy":
                raise ValueError(f"Unsupported embedding type: {kind}")
            provider = DummyEmbeddingProvider(dimension=emb.get("dimension", 1536), seed=emb.get("seed", 42))

        scorer_config = config.get("scorer", {})
        scorer_type = scorer_config.get("type", "composite")
        if scorer_type == "static":
            scorer = StaticScorer(scorer_config.get("scores", {}))
        elif scorer_type == "composite":
            weights = scorer_config.get(
                "weights",
                {
                    "confidence": 0.3,
                    "relevance": 0.25,
                    "novelty_parent": 0.2,
                    "intent_alignment": 0.15,
                    "historical_reward": 0.1,
                },
            )
            scorer = CompositeScorer(weights=weights, embedding_provider=provider)
        else:
            raise ValueError(f"Unsupported scorer type: {scorer_type}")

        beam = BeamSelector(scorer=scorer, k=config.get("beam", {}).get("k", 5))

        novelty = None
        if config.get("novelty"):
            n = config["novelty"]
            kind = n.get("type")
            if kind == "cosine":
                novelty = CosineNoveltyFilter(threshold=n.get("threshold", 0.85), embedding_provider=provider)
            elif kind == "mmr":
                novelty = MMRNoveltyFilter(
                    lambda_param=n.get("lambda_param", 0.5), threshold=n.get("threshold"), embedding_provider=provider
                )
            elif kind is not None:
                raise ValueError(f"Unsupported novelty type: {kind}")

        entropy = None
        if config.get("entropy"):
            e = config["entropy"]
            kind = e.get("type")
            if kind == "shannon":
                entropy = ShannonEntropyStopper(
                    min_entropy=e.get("min_entropy", 0.6),
                    k_max=e.get("k_max", 5),
                    delta_epsilon=e.get("delta_epsilon"),
                    embedding_provider=provider,
                    random_seed=e.get("random_seed", 42),
                )
            elif kind is not None:
                raise ValueError(f"Unsupported entropy type: {kind}")

        budget = None
        if config.get("budget"):
            b = config["budget"]
            budget = BudgetManager(
                Budget(max_nodes=b.get("max_nodes", 32), max_tokens=b.get("max_tokens", 30000), max_ms=b.get("max_ms", 12000)),
                mode=b.get("mode", "strict"),
            )
        return cls(beam_selector=beam, novelty_filter=novelty, entropy_stopper=entropy, budget_manager=budget, **switches)

    def reset(self) -> None:
        """Clears the entropy history (a new tree)."""
        if self.entropy_stopper:
            self.entropy_stopper.reset()

    def get_state(self) -> dict[str, Any]:
        """The entropy and budget state, for a checkpoint."""
        state: dict[str, Any] = {}
        if self.entropy_stopper:
            state["entropy_stopper"] = self.entropy_stopper.get_state()
        if self.budget_manager:
            state["budget_manager"] = self.budget_manager.get_state()
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores ``get_state()``'s result."""
        if self.entropy_stopper and "entropy_stopper" in state:
            self.entropy_stopper.set_state(state["entropy_stopper"])
        if self.budget_manager and "budget_manager" in state:
            self.budget_manager.set_state(state["budget_manager"])
