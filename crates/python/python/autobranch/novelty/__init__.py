"""Novelty filtering components."""

from autobranch.novelty.cosine import CosineNoveltyFilter
from autobranch.novelty.mmr import MMRNoveltyFilter

__all__ = ["CosineNoveltyFilter", "MMRNoveltyFilter"]
