"""The pluggable components' protocols (chatroutes_autobranch.core.protocols).

Any object with the right methods plugs in: an embedding provider is anything with
``embed(texts) -> list[list[float]]`` (``autobranch.native.Embedder`` is one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Protocol

from autobranch.core.candidate import Candidate, ScoredCandidate


class EmbeddingProvider(Protocol):
    """Embeds a batch of texts: one vector (a list of floats) per text."""

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class Scorer(Protocol):
    """Scores candidates against their parent: one ScoredCandidate per candidate, in order."""

    def score(self, parent: Candidate, candidates: list[Candidate]) -> list[ScoredCandidate]: ...


class NoveltyFilter(Protocol):
    """Prunes near-duplicates from a score-descending list, keeping that order."""

    def prune(self, candidates: list[ScoredCandidate]) -> list[ScoredCandidate]: ...


@dataclass
class EntropyDecision:
    """Whether to keep branching, the normalised entropy, its change since the previous
    decision (None for the first) and details (clusters, cluster_sizes, reason)."""

    should_continue: bool
    entropy: float
    delta_entropy: Optional[float]
    details: dict[str, Any]


class EntropyStopper(Protocol):
    """Decides from the kept candidates' diversity whether to keep branching."""

    def should_continue(self, kept: list[ScoredCandidate]) -> EntropyDecision: ...

    def reset(self) -> None: ...

    def get_state(self) -> dict: ...

    def set_state(self, state: dict) -> None: ...
