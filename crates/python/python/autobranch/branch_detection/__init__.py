"""Branch detection: decision points in a text (lists, "or" choices, if/then/else), found
deterministically or by a language model used as a parser."""

from autobranch.branch_detection.extractor import BranchExtractor
from autobranch.branch_detection.models import BranchOption, BranchPoint
from autobranch.branch_detection.parser import LLMBranchParser

__all__ = ["BranchOption", "BranchPoint", "BranchExtractor", "LLMBranchParser"]
