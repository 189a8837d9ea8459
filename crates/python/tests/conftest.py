"""Shared helpers: the original library (chatroutes-autobranch 1.3.1, from PyPI) next to
autobranch's compatibility layer, and a way to run the same call through both."""

import chatroutes_autobranch as original
import pytest

import autobranch as compat


class Table:
    """An embedding provider that looks vectors up by text, and counts its calls."""

    def __init__(self, table):
        self.table = table
        self.calls = 0

    def embed(self, texts):
        self.calls += 1
        return [self.table[t] for t in texts]


def outcome(fn):
    """``("ok", value)`` or ``("error", exception type name, message)``."""
    try:
        return ("ok", fn())
    except Exception as e:  # compared across the two libraries
        return ("error", type(e).__name__, str(e))


@pytest.fixture
def libs():
    return original, compat
