"""Maximal Marginal Relevance novelty filtering (chatroutes_autobranch.novelty.mmr)."""

from __future__ import annotations

from typing import Any, Optional

from autobranch import _native
from autobranch.core.candidate import ScoredCandidate
from autobranch.core.protocols import EmbeddingProvider  # noqa: F401 (importable from here, as in the original)


class MMRNoveltyFilter:
    """Orders candidates by MMR = λ·score − (1−λ)·max similarity to those already picked
    (scores min-max normalised; ties to the lower index), then, with a ``threshold``, drops
    those whose similarity to an earlier pick is above it. Without an embedding provider
    the input is returned unchanged."""

    def __init__(
        self,
        lambda_param: float = 0.5,
        threshold: Optional[float] = None,
        embedding_provider: Optional[Any] = None,
    ):
        if not 0.0 <= lambda_param <= 1.0:
            raise ValueError(f"lambda_param must be in [0,1], got {lambda_param}")
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0,1], got {threshold}")
        self.lambda_param = lambda_param
        self.threshold = threshold
        self.embedding_provider = embedding_provider

    def prune(self, candidates: list[ScoredCandidate]) -> list[ScoredCandidate]:
        if not candidates:
            return []
        if len(candidates) == 1:
            return candidates
        if self.embedding_provider is None:
            return candidates
        embeddings = self.embedding_provider.embed([c.text for c in candidates])
        order = _native.mmr_order([c.score for c in candidates], embeddings, self.lambda_param, self.threshold)
        return [candidates[i] for i in order]

    def _cosine_similarity(self, embedding1: list[float], embedding2: list[float]) -> float:
        """Cosine similarity in [-1, 1]; 0.0 when either vector is zero."""
        return _native.cosine_similarity(embedding1, embedding2)
