"""Configuration files for ``BranchSelector.from_config`` (chatroutes_autobranch.config.loader).

YAML or JSON, then environment overrides with the original's prefix: ``CHATROUTES_`` and
``__`` between levels, lowercased (``CHATROUTES_BEAM__K=10``); values parse as int, then
float, then stay strings.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Union

ENV_PREFIX = "CHATROUTES_"

DEFAULT_CONFIG: dict[str, Any] = {
    "beam": {"k": 5},
    "scorer": {
        "type": "composite",
        "weights": {
            "confidence": 0.3,
            "relevance": 0.25,
            "novelty_parent": 0.2,
            "intent_alignment": 0.15,
            "historical_reward": 0.1,
        },
    },
    "novelty": {"type": "cosine", "threshold": 0.85},
    "entropy": {"type": "shannon", "min_entropy": 0.6, "k_max": 5},
    "budget": {"max_nodes": 32, "max_tokens": 30000, "max_ms": 12000, "mode": "strict"},
}


def _yaml():
    import yaml  # PyYAML, a dependency of the package (as of the original)

    return yaml


def load_config(config_path: Union[str, Path]) -> dict[str, Any]:
    """Reads a ``.yaml``/``.yml`` or ``.json`` file and applies ``CHATROUTES_*`` overrides."""
    config_path = Path(config_path)
    if not config_path.exists():
        raise FileNotFoundError(f"Config file not found: {config_path}")
    suffix = config_path.suffix.lower()
    with open(config_path, "r", encoding="utf-8") as f:
        if suffix in (".yaml", ".yml"):
            config = _yaml().safe_load(f)
        elif suffix == ".json":
            config = json.load(f)
        else:
            raise ValueError(f"Unsupported config format: {suffix}")
    return _apply_env_overrides(config)


def _parse_env_value(value: str) -> Any:
    for parse in (int, float):
        try:
            return parse(value)
        except ValueError:
            pass
    return value


def _apply_env_overrides(config: dict[str, Any]) -> dict[str, Any]:
    for key, value in os.environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        path = key[len(ENV_PREFIX):].lower().split("__")
        node = config
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _parse_env_value(value)
    return config


def create_default_config(output_path: Union[str, Path]) -> None:
    """Writes the default configuration as ``.yaml``/``.yml`` or ``.json``."""
    output_path = Path(output_path)
    suffix = output_path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        with open(output_path, "w", encoding="utf-8") as f:
            _yaml().safe_dump(DEFAULT_CONFIG, f, default_flow_style=False)
    elif suffix == ".json":
        with open(output_path, "w", encoding="utf-8") as f:
            json.dump(DEFAULT_CONFIG, f, indent=2)
    else:
        raise ValueError(f"Unsupported output format: {suffix}")
