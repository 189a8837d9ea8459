"""autobranch: controlled branching generation with LLMs.

A drop-in replacement for chatroutes-autobranch 1.3.1: replace ``chatroutes_autobranch``
with ``autobranch`` in the imports and the same program runs, with the same results, on
native kernels. ``autobranch.native`` adds the whole job in-process: embedded llama.cpp and
Burn models (or Ollama and OpenAI-compatible servers), the explorer, and the CLI's JSON.
"""

from autobranch._native import __version__
from autobranch.beam.selector import BeamSelector
from autobranch.branch_detection import BranchExtractor, BranchOption, BranchPoint, LLMBranchParser
from autobranch.budget.manager import Budget, BudgetExceededError, BudgetManager
from autobranch.config.loader import create_default_config, load_config
from autobranch.core.candidate import Candidate, ScoredCandidate
from autobranch.core.embeddings import DummyEmbeddingProvider
from autobranch.core.protocols import EmbeddingProvider, EntropyStopper, NoveltyFilter, Scorer
from autobranch.core.scorer import CompositeScorer, StaticScorer
from autobranch.core.selector import BranchSelector, SelectionResult
from autobranch.entropy.shannon import ShannonEntropyStopper
from autobranch.novelty.cosine import CosineNoveltyFilter
from autobranch.novelty.mmr import MMRNoveltyFilter

#: The chatroutes-autobranch release whose API and results this package reproduces.
COMPATIBLE_WITH = "chatroutes-autobranch 1.3.1"

__all__ = [
    "__version__",
    "Candidate",
    "ScoredCandidate",
    "EmbeddingProvider",
    "Scorer",
    "NoveltyFilter",
    "EntropyStopper",
    "BeamSelector",
    "CosineNoveltyFilter",
    "MMRNoveltyFilter",
    "ShannonEntropyStopper",
    "Budget",
    "BudgetManager",
    "BudgetExceededError",
    "BranchSelector",
    "SelectionResult",
    "DummyEmbeddingProvider",
    "CompositeScorer",
    "StaticScorer",
    "load_config",
    "create_default_config",
    "BranchExtractor",
    "BranchOption",
    "BranchPoint",
    "LLMBranchParser",
]
