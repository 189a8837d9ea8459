"""Embedding providers (chatroutes_autobranch.core.embeddings)."""

from __future__ import annotations

import random
from typing import Optional


class DummyEmbeddingProvider:
    """Random unit vectors of ``dimension`` for tests and offline work, as the original
    draws them: with a ``seed``, each text's vector comes from ``random.Random(hash(text) +
    seed)`` (so it is stable within a process, and across processes only with a fixed
    ``PYTHONHASHSEED``), and the global ``random`` module is seeded too; without one, from the
    global ``random`` module."""

    def __init__(self, dimension: int = 1536, seed: Optional[int] = None):
        self.dimension = dimension
        self.seed = seed
        if seed is not None:
            random.seed(seed)

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            draw = random.Random(hash(text) + self.seed).random if self.seed is not None else random.random
            v = [draw() for _ in range(self.dimension)]
            norm = sum(x**2 for x in v) ** 0.5
            vectors.append([x / norm for x in v] if norm > 0 else v)
        return vectors
