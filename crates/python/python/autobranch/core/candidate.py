"""Candidates and scored candidates (chatroutes_autobranch.core.candidate)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Candidate:
    """A candidate branch: a non-empty ``id``, its ``text`` and a ``meta`` dict.

    Meta keys the pipeline reads: ``logprobs`` (confidence), ``intent`` (on a parent),
    ``target_intent`` (on a candidate), ``template_id`` and ``tenant_id`` (passed to a
    reward provider). Other keys pass through.
    """

    id: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("Candidate id cannot be empty")
        if not isinstance(self.meta, dict):
            raise TypeError(f"meta must be dict, got {type(self.meta)}")


@dataclass
class ScoredCandidate(Candidate):
    """A candidate with a ``score`` in [0, 1]; NaN or infinite scores become 0.0 with a
    ``UserWarning``, others are clamped."""

    score: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if math.isnan(self.score) or math.isinf(self.score):
            warnings.warn(
                f"Invalid score for candidate {self.id}: {self.score}, setting to 0.0",
                UserWarning,
            )
            self.score = 0.0
        self.score = max(0.0, min(1.0, self.score))
