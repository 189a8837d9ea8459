"""The original's public API exists in autobranch under the same names, paths and
signatures, so a program runs after replacing `chatroutes_autobranch` with `autobranch`."""

import importlib
import inspect

import chatroutes_autobranch as original
import pytest

import autobranch

SUBMODULES = [
    "core.candidate",
    "core.protocols",
    "core.embeddings",
    "core.scorer",
    "core.selector",
    "beam.selector",
    "novelty.cosine",
    "novelty.mmr",
    "entropy.shannon",
    "budget.manager",
    "config.loader",
    "branch_detection",
    "branch_detection.models",
    "branch_detection.extractor",
    "branch_detection.parser",
]


def test_every_public_name_exists():
    missing = [name for name in original.__all__ if not hasattr(autobranch, name)]
    assert missing == []
    assert set(original.__all__) <= set(autobranch.__all__)


@pytest.mark.parametrize("path", SUBMODULES)
def test_submodules_export_the_same_names(path):
    theirs = importlib.import_module(f"chatroutes_autobranch.{path}")
    ours = importlib.import_module(f"autobranch.{path}")
    public = [n for n, v in vars(theirs).items() if not n.startswith("_") and getattr(v, "__module__", "").startswith("chatroutes_autobranch")]
    wanted = set(getattr(theirs, "__all__", public)) - {"ConversationFlowAnalyzer", "ConversationTurn", "SemanticBranch", "IntelligentRouter", "AutoRouter", "RouterDecision"}
    assert sorted(n for n in wanted if not hasattr(ours, n)) == []


@pytest.mark.parametrize("name", [n for n in original.__all__ if inspect.isclass(getattr(original, n)) or inspect.isfunction(getattr(original, n))])
def test_constructors_take_the_same_arguments(name):
    theirs, ours = getattr(original, name), getattr(autobranch, name)
    if getattr(theirs, "_is_protocol", False):
        return
    sig_theirs = inspect.signature(theirs)
    sig_ours = inspect.signature(ours)
    for p in sig_theirs.parameters.values():
        assert p.name in sig_ours.parameters, f"{name} lacks {p.name}"
        q = sig_ours.parameters[p.name]
        assert q.default == p.default, f"{name}({p.name}=) default {q.default!r} != {p.default!r}"
        assert q.kind in (p.kind, inspect.Parameter.POSITIONAL_OR_KEYWORD), f"{name}({p.name}) kind"
    # Anything we add is keyword-only with a default, so positional calls mean the same.
    for q in sig_ours.parameters.values():
        if q.name not in sig_theirs.parameters:
            assert q.kind is inspect.Parameter.KEYWORD_ONLY and q.default is not inspect.Parameter.empty, name


def test_dataclasses_stay_dataclasses():
    import dataclasses

    c = autobranch.ScoredCandidate(id="a", text="t", meta={"k": 1}, score=0.3)
    assert dataclasses.asdict(c) == {"id": "a", "text": "t", "meta": {"k": 1}, "score": 0.3}
    assert isinstance(c, autobranch.Candidate)
    assert repr(c) == repr(original.ScoredCandidate(id="a", text="t", meta={"k": 1}, score=0.3))
