"""Scorers (chatroutes_autobranch.core.scorer): fixed scores, and the composite scorer whose
arithmetic runs natively in the original's f64 rules."""

from __future__ import annotations

import warnings
from typing import Any, Optional

from autobranch import _native
from autobranch.core.candidate import Candidate, ScoredCandidate
from autobranch.core.protocols import EmbeddingProvider  # noqa: F401 (importable from here, as in the original)

_DEFAULT_WEIGHTS = {
    "confidence": 0.40,
    "relevance": 0.30,
    "novelty_parent": 0.20,
    "intent_alignment": 0.10,
}

_INTENT_MODES = ("neutral", "embedding")
_EMBEDDING_ERROR_MODES = ("fallback", "warn", "raise")


class StaticScorer:
    """Fixed scores by candidate id (0.5 for an id not in ``scores``)."""

    def __init__(self, scores: dict[str, float]):
        self.scores = scores

    def score(self, parent: Candidate, candidates: list[Candidate]) -> list[ScoredCandidate]:
        return [
            ScoredCandidate(id=c.id, text=c.text, meta=c.meta.copy(), score=self.scores.get(c.id, 0.5))
            for c in candidates
        ]


class CompositeScorer:
    """A weighted sum of confidence (exp of ``meta["logprobs"]`` clamped to [-10, 0]),
    relevance and novelty to the parent (from cosine similarity), intent alignment and, with
    a ``reward_provider``, historical reward; weights are normalised by the sum of the
    positive ones (the defaults when none is positive).

    Two switches turn on what autobranch does better than the original (both off by
    default, so scores are the original's):

    - ``intent_alignment="embedding"``: where an intent exists (the candidate's
      ``target_intent``, else the parent's ``intent``), intent alignment is
      (cos(embed(intent), candidate) + 1) / 2 instead of the original's constant 0.5;
    - ``on_embedding_error="warn"`` or ``"raise"``: when the embedding provider fails, warn
      (``UserWarning``) or raise instead of silently scoring relevance and novelty 0.5.
    """

    def __init__(
        self,
        embedding_provider: Any,
        weights: Optional[dict[str, float]] = None,
        reward_provider: Any = None,
        *,
        intent_alignment: str = "neutral",
        on_embedding_error: str = "fallback",
    ):
        if intent_alignment not in _INTENT_MODES:
            raise ValueError(f"intent_alignment must be one of {_INTENT_MODES}, got {intent_alignment!r}")
        if on_embedding_error not in _EMBEDDING_ERROR_MODES:
            raise ValueError(f"on_embedding_error must be one of {_EMBEDDING_ERROR_MODES}, got {on_embedding_error!r}")
        self.embedding_provider = embedding_provider
        self.reward_provider = reward_provider
        self.intent_alignment = intent_alignment
        self.on_embedding_error = on_embedding_error
        self.weights_raw = weights if weights is not None else dict(_DEFAULT_WEIGHTS)
        total = sum(w for w in self.weights_raw.values() if w > 0)
        if total > 0:
            self.weights = {k: v / total for k, v in self.weights_raw.items()}
        else:
            self.weights = dict(_DEFAULT_WEIGHTS)

    def score(self, parent: Candidate, candidates: list[Candidate]) -> list[ScoredCandidate]:
        if not candidates:
            return []
        candidates = list(candidates)
        return _native.scored_candidates(ScoredCandidate, candidates, self._scores(parent, candidates))

    def _scores(self, parent: Candidate, candidates: list[Candidate]) -> list[float]:
        """The score of each candidate, embedding as the original does (the parent, then the
        candidates, one call each)."""
        try:
            parent_vec = self.embedding_provider.embed([parent.text])[0]
            candidate_vecs = self.embedding_provider.embed([c.text for c in candidates])
        except Exception as e:  # the original falls back on any failure
            if self.on_embedding_error == "raise":
                raise
            if self.on_embedding_error == "warn":
                warnings.warn(
                    f"embedding failed ({type(e).__name__}: {e}); relevance and novelty_parent scored 0.5",
                    UserWarning,
                    stacklevel=3,
                )
            parent_vec, candidate_vecs = None, None
        rewards = None
        if self.reward_provider is not None and "historical_reward" in self.weights:
            rewards = [self._reward(parent, c) for c in candidates]
        intents = None
        if self.intent_alignment == "embedding" and candidate_vecs is not None:
            intents = self._intents(parent, candidates, candidate_vecs)
        return _native.composite_score(
            list(self.weights.items()), candidates, parent_vec, candidate_vecs, rewards, intents
        )

    def _reward(self, parent: Candidate, candidate: Candidate) -> float:
        context = {
            "tenant_id": candidate.meta.get("tenant_id") or parent.meta.get("tenant_id"),
            "intent": parent.meta.get("intent"),
            "template_id": candidate.meta.get("template_id"),
            "parent_id": parent.id,
        }
        try:
            return float(self.reward_provider.get_reward(candidate, context))
        except Exception:
            return 0.5

    def _intents(self, parent: Candidate, candidates: list[Candidate], candidate_vecs: Any) -> list[float]:
        """(cos(intent, candidate) + 1) / 2 where an intent exists, else 0.5; each distinct
        intent text is embedded once."""
        texts = [c.meta.get("target_intent") or parent.meta.get("intent") for c in candidates]
        distinct = sorted({t for t in texts if t})
        if not distinct:
            return [0.5] * len(candidates)
        vectors = dict(zip(distinct, self.embedding_provider.embed(distinct)))
        out = []
        for text, vec in zip(texts, candidate_vecs):
            if not text or vec is None:
                out.append(0.5)
                continue
            out.append((_native.cosine_similarity(vectors[text], vec) + 1.0) / 2.0)
        return out
