"""Branch points and their options (chatroutes_autobranch.branch_detection.models)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BRANCH_TYPES = ["enumeration", "disjunction", "conditional", "open_directive"]


@dataclass
class BranchOption:
    """One option of a branch point: a non-empty ``id`` and ``label``, the ``span`` of text
    it came from, and ``meta``."""

    id: str
    label: str
    span: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("BranchOption id cannot be empty")
        if not self.label:
            raise ValueError("BranchOption label cannot be empty")


@dataclass
class BranchPoint:
    """A place in a text with two or more mutually exclusive options."""

    id: str
    type: str
    options: list[BranchOption]
    depends_on: list[str] = field(default_factory=list)
    context: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("BranchPoint id cannot be empty")
        if self.type not in BRANCH_TYPES:
            raise ValueError(f"BranchPoint type must be one of {BRANCH_TYPES}, got '{self.type}'")
        if len(self.options) < 2:
            raise ValueError(f"BranchPoint must have at least 2 options, got {len(self.options)}")
        for option in self.options:
            if not isinstance(option, BranchOption):
                raise TypeError(f"All options must be BranchOption instances, got {type(option)}")

    @property
    def option_count(self) -> int:
        """Number of options."""
        return len(self.options)

    def get_option_labels(self) -> list[str]:
        """The options' labels, in order."""
        return [o.label for o in self.options]
