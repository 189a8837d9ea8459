"""Beam selection (chatroutes_autobranch.beam.selector)."""

from __future__ import annotations

from autobranch import _native
from autobranch.core.candidate import Candidate, ScoredCandidate
from autobranch.core.protocols import Scorer  # noqa: F401 (importable from here, as in the original)
from autobranch.core.scorer import CompositeScorer


class BeamSelector:
    """Scores candidates with ``scorer`` and keeps the top ``k`` by (score descending, id
    ascending as strings: "c10" < "c2"), stable."""

    def __init__(self, k: int, scorer):
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.k = k
        self.scorer = scorer

    def select(self, parent: Candidate, candidates: list[Candidate]) -> list[ScoredCandidate]:
        if not candidates:
            return []
        if type(self.scorer).score is CompositeScorer.score:
            # The built-in scorer: only the k winners become objects.
            candidates = list(candidates)
            scores = self.scorer._scores(parent, candidates)
            order = _native.beam_order(scores, [c.id for c in candidates], self.k)
            return _native.scored_candidates(ScoredCandidate, candidates, scores, order)
        return self.select_scored(self.scorer.score(parent, candidates))

    def select_scored(self, scored: list[ScoredCandidate]) -> list[ScoredCandidate]:
        """The top ``k`` of already scored candidates."""
        order = _native.beam_order([c.score for c in scored], [c.id for c in scored], self.k)
        return [scored[i] for i in order]
