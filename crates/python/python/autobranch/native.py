"""The whole job in-process, with the models and configuration the ``autobranch`` CLI uses.

- ``Generator(backend=None, model=None, device=None, config=None)``: llama.cpp (default, the
  fetched SmolLM2-135M-Instruct), Burn, Ollama or an OpenAI-compatible server;
  ``generate(prompt, n=4, ...)`` returns candidates as dicts.
- ``Embedder(backend=None, model=None, device=None, config=None)``: Burn (default, the
  fetched all-MiniLM-L6-v2), llama.cpp, Ollama or OpenAI; ``embed(texts)`` returns unit
  vectors, so it is also an embedding provider for the compatibility layer.
- ``Explorer(config=None, generator=None, embedder=None).explore(prompt)``: a branching
  tree, the dict ``autobranch explore --json`` prints.
- ``select(parent, candidates, config=None, embedder=None)``: one selection step, the dict
  ``autobranch select --json`` prints.

``config`` is None (defaults and ``AUTOBRANCH_*`` overrides), a dict in a configuration
file's shape, or a path to a YAML, JSON or TOML file (docs/configuration.md). Bad input
raises ``ValueError``, a failure while running ``RuntimeError``; model work releases the
GIL, so other Python threads run meanwhile.
"""

from autobranch._native import Embedder, Explorer, Generator, select

__all__ = ["Embedder", "Explorer", "Generator", "select"]
