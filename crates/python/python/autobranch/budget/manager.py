"""Budgets of nodes, tokens and time (chatroutes_autobranch.budget.manager)."""

from __future__ import annotations

from dataclasses import dataclass


class BudgetExceededError(Exception):
    """Raised by a strict budget that would be exceeded; ``details`` holds every cap, its
    usage and the request."""

    def __init__(self, message: str, details: dict):
        super().__init__(message)
        self.details = details


@dataclass
class Budget:
    """Caps on a tree: nodes, tokens (input + output) and cumulative milliseconds, each ≥ 1."""

    max_nodes: int
    max_tokens: int
    max_ms: int

    def __post_init__(self) -> None:
        for name in ("max_nodes", "max_tokens", "max_ms"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")


class BudgetManager:
    """Tracks usage against a ``Budget``: ``admit`` before generating (strict mode raises
    ``BudgetExceededError``, soft mode returns False), ``update`` with actuals after."""

    def __init__(self, budget: Budget, mode: str = "strict"):
        if mode not in ("strict", "soft"):
            raise ValueError(f"mode must be 'strict' or 'soft', got {mode}")
        self.budget = budget
        self.mode = mode
        self._used_nodes = 0
        self._used_tokens = 0
        self._used_ms = 0

    def admit(self, n_new: int, est_tokens: int, est_ms: int) -> bool:
        """Whether ``n_new`` nodes costing about ``est_tokens`` and ``est_ms`` still fit."""
        b = self.budget
        if (
            self._used_nodes + n_new > b.max_nodes
            or self._used_tokens + est_tokens > b.max_tokens
            or self._used_ms + est_ms > b.max_ms
        ):
            if self.mode == "strict":
                raise BudgetExceededError(
                    "Budget would be exceeded",
                    {
                        "max_nodes": b.max_nodes,
                        "used_nodes": self._used_nodes,
                        "requested": n_new,
                        "max_tokens": b.max_tokens,
                        "used_tokens": self._used_tokens,
                        "est_tokens": est_tokens,
                        "max_ms": b.max_ms,
                        "used_ms": self._used_ms,
                        "est_ms": est_ms,
                    },
                )
            return False
        return True

    def update(self, actual_tokens: int, actual_ms: int) -> None:
        """Adds the tokens and milliseconds actually spent."""
        self._used_tokens += actual_tokens
        self._used_ms += actual_ms

    def record_nodes(self, n_nodes: int) -> None:
        """Adds nodes (the selector calls this for what it keeps)."""
        self._used_nodes += n_nodes

    def get_state(self) -> dict:
        return {"used_nodes": self._used_nodes, "used_tokens": self._used_tokens, "used_ms": self._used_ms}

    def set_state(self, state: dict) -> None:
        self._used_nodes = state.get("used_nodes", 0)
        self._used_tokens = state.get("used_tokens", 0)
        self._used_ms = state.get("used_ms", 0)

    @property
    def usage(self) -> dict:
        """Used and maximum of each cap."""
        b = self.budget
        return {
            "used_nodes": self._used_nodes,
            "max_nodes": b.max_nodes,
            "used_tokens": self._used_tokens,
            "max_tokens": b.max_tokens,
            "used_ms": self._used_ms,
            "max_ms": b.max_ms,
        }
