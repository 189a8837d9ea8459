"""Shannon entropy over k-means clusters (chatroutes_autobranch.entropy.shannon)."""

from __future__ import annotations

import random
from typing import Any, Optional

from autobranch import _native
from autobranch.core.candidate import ScoredCandidate
from autobranch.core.protocols import EmbeddingProvider, EntropyDecision  # noqa: F401 (as in the original)


class ShannonEntropyStopper:
    """Clusters the kept candidates' embeddings with k = min(len(kept), k_max) (scikit-learn's
    k-means, reproduced natively: the same seeds give the same clusters), and stops when the
    normalised entropy of the cluster sizes is below ``min_entropy``, or when it changed by
    less than ``delta_epsilon`` since the previous decision."""

    def __init__(
        self,
        min_entropy: float = 0.6,
        k_max: int = 5,
        delta_epsilon: Optional[float] = None,
        embedding_provider: Optional[Any] = None,
        random_seed: Optional[int] = 42,
    ):
        if not 0.0 <= min_entropy <= 1.0:
            raise ValueError(f"min_entropy must be in [0,1], got {min_entropy}")
        if k_max < 1:
            raise ValueError(f"k_max must be >= 1, got {k_max}")
        self.min_entropy = min_entropy
        self.k_max = k_max
        self.delta_epsilon = delta_epsilon
        self.embedding_provider = embedding_provider
        self.random_seed = random_seed
        self._previous_entropy: Optional[float] = None

    def should_continue(self, kept: list[ScoredCandidate]) -> EntropyDecision:
        if not kept:
            return EntropyDecision(False, 0.0, None, {"reason": "no_candidates_remaining", "clusters": 0})
        if len(kept) == 1:
            return EntropyDecision(False, 0.0, None, {"reason": "singleton", "clusters": 1})
        if self.embedding_provider is None:
            raise ValueError("embedding_provider is required for entropy computation")
        embeddings = self.embedding_provider.embed([c.text for c in kept])
        k = min(len(kept), self.k_max)
        seed = self.random_seed
        if seed is None:
            # scikit-learn draws from numpy's global state here: an unseeded run.
            seed = random.getrandbits(32)
        elif not 0 <= seed <= 2**32 - 1:
            raise ValueError("Seed must be between 0 and 2**32 - 1")
        entropy, sizes = _native.shannon_entropy(embeddings, k, seed)
        delta = abs(entropy - self._previous_entropy) if self._previous_entropy is not None else None
        should_continue, reason = True, None
        if entropy < self.min_entropy:
            should_continue, reason = False, "low_entropy"
        if should_continue and self.delta_epsilon is not None and delta is not None and delta < self.delta_epsilon:
            should_continue, reason = False, "low_delta_entropy"
        self._previous_entropy = entropy
        return EntropyDecision(
            should_continue=should_continue,
            entropy=float(entropy),
            delta_entropy=float(delta) if delta is not None else None,
            details={"clusters": k, "cluster_sizes": sizes, "reason": reason},
        )

    def reset(self) -> None:
        """Forgets the previous entropy (a new tree)."""
        self._previous_entropy = None

    def get_state(self) -> dict:
        return {"previous_entropy": self._previous_entropy}

    def set_state(self, state: dict) -> None:
        self._previous_entropy = state.get("previous_entropy")
