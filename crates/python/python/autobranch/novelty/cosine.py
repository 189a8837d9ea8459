"""Cosine-threshold novelty filtering (chatroutes_autobranch.novelty.cosine)."""

from __future__ import annotations

from typing import Any, Optional

from autobranch import _native
from autobranch.core.candidate import ScoredCandidate
from autobranch.core.protocols import EmbeddingProvider  # noqa: F401 (importable from here, as in the original)


class CosineNoveltyFilter:
    """Walks a score-descending list and keeps a candidate unless its cosine similarity to
    one already kept is above ``threshold`` (in [0, 1]); the first is always kept."""

    def __init__(self, threshold: float = 0.85, embedding_provider: Optional[Any] = None):
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0,1], got {threshold}")
        self.threshold = threshold
        self.embedding_provider = embedding_provider

    def prune(self, candidates: list[ScoredCandidate]) -> list[ScoredCandidate]:
        if not candidates:
            return []
        if len(candidates) == 1:
            return candidates
        if self.embedding_provider is None:
            raise ValueError("embedding_provider is required for cosine novelty filtering")
        embeddings = self.embedding_provider.embed([c.text for c in candidates])
        return [candidates[i] for i in _native.cosine_keep(embeddings, self.threshold)]

    def _cosine_similarity(self, embedding1: list[float], embedding2: list[float]) -> float:
        """Cosine similarity in [-1, 1]; 0.0 when either vector is zero."""
        return _native.cosine_similarity(embedding1, embedding2)
