"""Branch points found by a language model (chatroutes_autobranch.branch_detection.parser):
the model is used as a parser that must answer strict JSON, never as a generator."""

from __future__ import annotations

import json
from typing import Any, Callable, Optional

from autobranch import _native
from autobranch.branch_detection.models import BranchOption, BranchPoint


class LLMBranchParser:
    """Asks ``llm`` (any callable from a prompt string to its answer) for the branch points
    of a text, retrying up to ``max_retries`` times on an answer that is not valid JSON of
    the expected shape."""

    def __init__(self, llm: Optional[Callable[[str], str]] = None, temperature: float = 0.1, max_retries: int = 2):
        self.llm = llm
        self.temperature = temperature
        self.max_retries = max_retries
        # The prompt autobranch's own parser sends (crates/core, conversation::llm_parser).
        self.system_prompt = _native.LLM_PARSER_SYSTEM_PROMPT

    def parse(self, text: str, fallback_to_empty: bool = True) -> list[BranchPoint]:
        """The branch points of ``text``; on failure an empty list, or with
        ``fallback_to_empty=False`` a ``ValueError``."""
        if self.llm is None:
            if fallback_to_empty:
                return []
            raise ValueError("LLM not configured. Provide llm parameter to constructor.")
        user_prompt = (
            f"Extract branch points from this text:\n\nTEXT:\n{text}\n\nReturn JSON only (no markdown, no explanation):"
        )
        prompt = f"{self.system_prompt}\n\n{user_prompt}"
        for attempt in range(self.max_retries + 1):
            try:
                return self._parse_response(self.llm(prompt))
            except (json.JSONDecodeError, KeyError, ValueError) as e:
                if attempt == self.max_retries:
                    if fallback_to_empty:
                        return []
                    raise ValueError(f"Failed to parse LLM response after {self.max_retries} retries: {e}")
        return []

    def _parse_response(self, response: str) -> list[BranchPoint]:
        """Branch points from an answer: a fenced code block is unwrapped, then the JSON read
        and each point validated."""
        response = response.strip()
        if response.startswith("```"):
            response = "\n".join(response.split("\n")[1:-1])
        data = json.loads(response)
        if "branch_points" not in data:
            raise KeyError("Response missing 'branch_points' field")
        return [
            BranchPoint(
                id=p["id"],
                type=p["type"],
                options=[
                    BranchOption(id=o["id"], label=o["label"], span=o.get("span", o["label"]), meta=o.get("meta", {}))
                    for o in p["options"]
                ],
                depends_on=p.get("depends_on", []),
                context=p.get("context", ""),
                meta=p.get("meta", {}),
            )
            for p in data["branch_points"]
        ]

    def parse_with_confidence(self, text: str) -> tuple[list[BranchPoint], dict[str, Any]]:
        """``parse`` with a report: success, error and attempts."""
        try:
            return self.parse(text, fallback_to_empty=False), {"success": True, "error": None, "attempts": 1}
        except Exception as e:
            return [], {"success": False, "error": str(e), "attempts": self.max_retries + 1}
