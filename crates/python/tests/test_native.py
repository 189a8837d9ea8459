"""The native layer on the real default models (fetched by scripts/fetch-models.sh into
$AUTOBRANCH_MODELS): the same vectors, selection and trees as the CLI, whose binary the test
runner names in $AUTOBRANCH_BIN."""

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

import autobranch
from autobranch import native

ROOT = Path(__file__).resolve().parents[3]
BIN = os.environ.get("AUTOBRANCH_BIN")
needs_cli = pytest.mark.skipif(not BIN, reason="AUTOBRANCH_BIN names the autobranch binary (scripts/test.sh sets it)")


def cli(*args, stdin=None):
    out = subprocess.run([BIN, *args], input=stdin, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def embedder():
    return native.Embedder()


@pytest.fixture(scope="module")
def generator():
    return native.Generator()


@needs_cli
def test_embeddings_are_the_cli_ones(embedder):
    texts = ["a plot twist on Mars", "the detective was the colony's AI", ""]
    ours = embedder.embed(texts)
    theirs = cli("embed", "--json", stdin="\n".join(texts) + "\n")
    assert theirs["dim"] == embedder.dimension == 384 and len(ours) == 3
    theirs = theirs["embeddings"]
    for a, b in zip(ours, theirs):
        assert max(abs(x - y) for x, y in zip(a, b)) < 1e-6


@needs_cli
def test_select_is_the_cli_step():
    lines = [json.loads(line) for line in (ROOT / "examples/select.jsonl").read_text().splitlines() if line.strip()]
    parent = next(line for line in lines if line.get("role") == "parent")
    candidates = [line for line in lines if line is not parent]
    parent = {k: v for k, v in parent.items() if k != "role"}
    config = str(ROOT / "examples/mars-twist.yaml")
    ours = native.select(parent, candidates, config=config)
    theirs = cli("select", "--input", str(ROOT / "examples/select.jsonl"), "--config", config, "--json")
    assert ours == theirs


def test_bad_input_names_what_is_wrong():
    with pytest.raises(ValueError, match="id"):
        native.select({"id": "", "text": "p"}, [])
    with pytest.raises(ValueError, match="beam.k"):
        native.select({"id": "p", "text": "p"}, [], config={"beam": {"k": 0}})
    with pytest.raises(ValueError, match="does not exist"):
        native.Embedder(model="/nonexistent/model-folder")
    with pytest.raises(ValueError, match="unknown generator backend"):
        native.Generator(backend="transformers")


def test_generation_is_seeded_and_releases_the_gil(generator):
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(1)
            stop.wait(0.005)

    t = threading.Thread(target=tick)
    t.start()
    try:
        first = generator.generate("Name a colour.", n=2, max_tokens=8, seed=7)
    finally:
        stop.set()
        t.join()
    again = generator.generate("Name a colour.", n=2, max_tokens=8, seed=7)
    assert [c["text"] for c in first] == [c["text"] for c in again]
    assert len(first) == 2 and all(c["tokens"] >= 1 for c in first)
    # Another thread ran while the model decoded.
    assert len(ticks) > 3


def test_explorer_gives_the_same_tree_for_the_same_seed(generator, embedder):
    config = {"explore": {"n": 3, "max_depth": 1}, "generation": {"max_tokens": 12, "seed": 5}, "beam": {"k": 2}}
    trees = [native.Explorer(config, generator, embedder).explore("Give a one-line plot twist.") for _ in range(2)]
    first, second = trees
    assert [n["text"] for n in first["nodes"]] == [n["text"] for n in second["nodes"]]
    assert len(first["nodes"]) == 4  # the root and its three children
    assert first["config"]["explore"]["n"] == 3


def test_the_native_embedder_plugs_into_the_compatibility_layer(embedder):
    scorer = autobranch.CompositeScorer(embedding_provider=embedder)
    selector = autobranch.BranchSelector(
        autobranch.BeamSelector(k=3, scorer=scorer),
        autobranch.CosineNoveltyFilter(threshold=0.9, embedding_provider=embedder),
    )
    parent = autobranch.Candidate("root", "Suggest a name for a cat.")
    result = selector.step(parent, [autobranch.Candidate(f"c{i}", t) for i, t in enumerate(["Whiskers", "Whiskers", "Luna"])])
    # The repeated name is a duplicate (cosine 1 > 0.9): one of each is kept.
    assert sorted(c.text for c in result.kept) == ["Luna", "Whiskers"]
