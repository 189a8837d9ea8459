"""Deterministic branch-point extraction (chatroutes_autobranch.branch_detection.extractor):
numbered and bulleted lists, "or" choices and if/then/else, found by autobranch's Rust
extractor (the one `autobranch detect` runs)."""

from __future__ import annotations

import re
from math import prod
from typing import Any

from autobranch import _native
from autobranch.branch_detection.models import BranchOption, BranchPoint


class BranchExtractor:
    """Finds branch points in a text: enumerations, then disjunctions, then conditionals."""

    def __init__(self):
        # The original's patterns, kept as attributes for code that reads them.
        self.enumeration_pattern = re.compile(r"^(\d+\.\s+|[-*•]\s+)", re.MULTILINE)
        self.disjunction_pattern = re.compile(r"\b(or|either|alternatively)\b", re.IGNORECASE)
        self.conditional_pattern = re.compile(r"\b(if\b.*?\bthen\b|unless\b|otherwise\b)", re.IGNORECASE)
        self.directive_pattern = re.compile(
            r"\b(choose|pick|select|decide)\b.*?\b(from|between|among)\b", re.IGNORECASE
        )

    def extract(self, text: str) -> list[BranchPoint]:
        """Every branch point of ``text``."""
        return [
            BranchPoint(
                id=p["id"],
                type=p["type"],
                options=[BranchOption(id=o["id"], label=o["label"], span=o["span"], meta=o.get("meta", {})) for o in p["options"]],
                depends_on=p.get("depends_on", []),
                context=p.get("context", ""),
                meta=p.get("meta", {}),
            )
            for p in _native.extract_branch_points(text)
        ]

    def count_max_leaves(self, branch_points: list[BranchPoint]) -> int:
        """The product of the option counts (1 for none): the most leaves independent
        choices give. Python integers do not overflow."""
        return prod(bp.option_count for bp in branch_points) if branch_points else 1

    def count_unique_leaves(self, branch_points: list[BranchPoint], consider_dependencies: bool = False) -> int:
        """As ``count_max_leaves`` (dependencies are not modelled, as in the original)."""
        return self.count_max_leaves(branch_points)

    def get_statistics(self, branch_points: list[BranchPoint]) -> dict[str, Any]:
        """Counts by type, total options, leaves and options per branch point."""
        if not branch_points:
            return {
                "total_branch_points": 0,
                "total_options": 0,
                "max_leaves": 1,
                "by_type": {},
                "avg_options_per_branch": 0.0,
            }
        by_type: dict[str, int] = {}
        for bp in branch_points:
            by_type[bp.type] = by_type.get(bp.type, 0) + 1
        total = sum(bp.option_count for bp in branch_points)
        return {
            "total_branch_points": len(branch_points),
            "total_options": total,
            "max_leaves": self.count_max_leaves(branch_points),
            "by_type": by_type,
            "avg_options_per_branch": total / len(branch_points),
        }
