"""The same inputs through chatroutes-autobranch 1.3.1 and autobranch: the same kept ids,
scores (1e-9), entropies, cluster sizes, budget usage and errors, over generated inputs and
the original's documented examples."""

import math
import random
import warnings

import pytest
from conftest import Table, outcome
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import autobranch as compat
import chatroutes_autobranch as original

TEXTS = [f"text {i}" for i in range(10)]
WEIGHT_NAMES = ["confidence", "relevance", "novelty_parent", "intent_alignment", "historical_reward", "other"]


def vectors(seed, dim, zero_share):
    rng = random.Random(seed)
    table = {}
    for t in TEXTS + ["parent"]:
        if rng.random() < zero_share:
            table[t] = [0.0] * dim
        else:
            table[t] = [rng.gauss(0, 1) for _ in range(dim)]
    return table


@st.composite
def scenarios(draw):
    n = draw(st.integers(0, 12))
    candidates = []
    for _ in range(n):
        meta = {}
        if draw(st.booleans()):
            meta["logprobs"] = draw(st.one_of(st.floats(-30, 5, allow_nan=False), st.integers(-20, 3)))
        candidates.append(
            (draw(st.text(alphabet="abc0123", min_size=1, max_size=3)), draw(st.sampled_from(TEXTS)), meta)
        )
    weights = None
    if draw(st.booleans()):
        names = draw(st.lists(st.sampled_from(WEIGHT_NAMES), unique=True, max_size=6))
        weights = {name: draw(st.floats(-1, 1)) for name in names}
    config = {
        "seed": draw(st.integers(0, 2**31)),
        "dim": draw(st.integers(1, 6)),
        "zero_share": draw(st.sampled_from([0.0, 0.0, 0.2])),
        "k": draw(st.integers(1, 9)),
        "weights": weights,
        "static": draw(st.booleans()) and draw(st.dictionaries(st.text(alphabet="abc0123", min_size=1, max_size=3), st.floats(-0.5, 1.5), max_size=5)),
        "novelty": draw(
            st.one_of(
                st.none(),
                st.tuples(st.just("cosine"), st.floats(0, 1)),
                st.tuples(st.just("mmr"), st.floats(0, 1), st.one_of(st.none(), st.floats(0, 1))),
            )
        ),
        "entropy": draw(
            st.one_of(
                st.none(),
                st.tuples(st.floats(0, 1), st.integers(1, 6), st.one_of(st.none(), st.floats(0, 0.5)), st.integers(0, 2**32 - 1)),
            )
        ),
        "budget": draw(st.one_of(st.none(), st.tuples(st.integers(1, 12), st.sampled_from(["strict", "soft"])))),
        "parent_meta": draw(st.sampled_from([{}, {"intent": "be brief"}])),
    }
    return candidates, config


def build(lib, config, provider):
    if config["static"]:
        scorer = lib.StaticScorer(config["static"])
    else:
        scorer = lib.CompositeScorer(embedding_provider=provider, weights=config["weights"])
    novelty = None
    if config["novelty"] and config["novelty"][0] == "cosine":
        novelty = lib.CosineNoveltyFilter(threshold=config["novelty"][1], embedding_provider=provider)
    elif config["novelty"]:
        novelty = lib.MMRNoveltyFilter(lambda_param=config["novelty"][1], threshold=config["novelty"][2], embedding_provider=provider)
    entropy = None
    if config["entropy"]:
        min_entropy, k_max, delta, seed = config["entropy"]
        entropy = lib.ShannonEntropyStopper(min_entropy=min_entropy, k_max=k_max, delta_epsilon=delta, embedding_provider=provider, random_seed=seed)
    budget = None
    if config["budget"]:
        budget = lib.BudgetManager(lib.Budget(max_nodes=config["budget"][0], max_tokens=30000, max_ms=12000), mode=config["budget"][1])
    return lib.BranchSelector(lib.BeamSelector(k=config["k"], scorer=scorer), novelty, entropy, budget)


def summary(result):
    """What a step decided, in plain values."""
    decision = dict(result.entropy_decision)
    return {
        "kept": [c.id for c in result.kept],
        "scored": [(c.id, c.text, c.meta, c.score) for c in result.scored],
        "after_beam": [c.id for c in result.after_beam],
        "after_novelty": [c.id for c in result.after_novelty],
        "entropy": decision,
        "should_continue": result.should_continue,
        "details": result.details,
    }


def close(a, b):
    """Equal, floats within 1e-9, recursively."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and (a == b or abs(a - b) <= 1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    return a == b


def plus_plus_tie(points, k, seed):
    """Whether scikit-learn's k-means++ (replayed draw for draw) met two different trial
    centres with the same potential: symmetric pairs tie exactly, and which one wins is
    decided by BLAS's rounding, which autobranch cannot reproduce bit for bit."""
    import numpy as np
    from sklearn.metrics.pairwise import _euclidean_distances

    x = np.array(points, dtype=float)
    x = x - x.mean(axis=0)
    norms = (x * x).sum(axis=1)
    rng = np.random.RandomState(seed)
    n, trials = len(x), 2 + int(np.log(k))
    for _ in range(10):
        first = rng.choice(n, p=np.ones(n) / n)
        closest = _euclidean_distances(x[[first]], x, Y_norm_squared=norms, squared=True)[0]
        for _ in range(1, k):
            draws = rng.uniform(size=trials) * closest.sum()
            ids = np.minimum(np.searchsorted(np.cumsum(closest), draws), n - 1)
            d = np.minimum(closest, _euclidean_distances(x[ids], x, Y_norm_squared=norms, squared=True))
            pots = d.sum(axis=1)
            best = pots.min()
            if len({i for i, p in zip(ids, pots) if abs(p - best) <= 1e-9 * max(1.0, abs(best))}) > 1:
                return True
            closest = d[pots.argmin()]
    return False


def degenerate(result, config, table):
    """Whether the entropy stage met one of the two cases where scikit-learn's result hangs
    on the last bits of numpy's kernels (README: differences): fewer distinct vectors than
    clusters (the point an emptied cluster takes is picked by numpy's SIMD argpartition) or
    an exact tie between k-means++ trials."""
    if not config["entropy"] or len(result.after_novelty) < 2:
        return False
    points = [table[c.text] for c in result.after_novelty]
    k = min(len(points), config["entropy"][1])
    return len({tuple(p) for p in points}) < k or plus_plus_tie(points, k, config["entropy"][3])


def run(lib, candidates, config, table):
    provider = Table(table)
    selector = build(lib, config, provider)
    parent = lib.Candidate(id="root", text="parent", meta=dict(config["parent_meta"]))
    steps = []
    # Two steps on the same selector: the second sees the first's entropy and budget.
    for half in (candidates, candidates[::-1][: len(candidates) // 2 + 1]):
        cands = [lib.Candidate(id=i, text=t, meta=dict(m)) for i, t, m in half]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            step = outcome(lambda: selector.step(parent, cands))
        if step[0] == "ok" and degenerate(step[1], config, table):
            # Compare what comes before the entropy stage, then stop.
            kept = summary(step[1])
            steps.append(("degenerate", {k: kept[k] for k in ("scored", "after_beam", "after_novelty")}))
            return steps, None
        steps.append(step if step[0] == "error" else ("ok", summary(step[1])))
    return steps, selector.get_state()


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_steps_match_the_original(scenario):
    candidates, config = scenario
    table = vectors(config["seed"], config["dim"], config["zero_share"])
    theirs = run(original, candidates, config, table)
    ours = run(compat, candidates, config, table)
    assert close(ours, theirs), (ours, theirs)


def test_embed_once_gives_the_same_step_with_fewer_calls():
    table = vectors(3, 8, 0.0)
    candidates = [(f"c{i:02d}", TEXTS[i % 10], {"logprobs": -0.1 * i}) for i in range(30)]
    config = {"static": None, "weights": None, "k": 8, "novelty": ("cosine", 0.5), "entropy": (0.6, 3, None, 42), "budget": None, "parent_meta": {}}
    results = []
    for switches in ({}, {"embed_once": True}):
        provider = Table(table)
        s = build(compat, config, provider)
        s = compat.BranchSelector(s.beam_selector, s.novelty_filter, s.entropy_stopper, **switches)
        cands = [compat.Candidate(id=i, text=t, meta=m) for i, t, m in candidates]
        results.append((summary(s.step(compat.Candidate(id="root", text="parent"), cands)), provider.calls))
    (plain, plain_calls), (once, once_calls) = results
    assert close(plain, once)
    assert plain_calls == 6 and once_calls == 2  # the parent, then the candidates


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 40), st.integers(1, 8), st.integers(1, 16), st.integers(0, 2**32 - 1), st.booleans())
# Two k-means++ trials whose potentials tie but for BLAS's order of additions.
@example(n=30, k_max=7, dim=6, seed=14, duplicates=False)
def test_kmeans_clusters_match_scikit_learn(n, k_max, dim, seed, duplicates):
    rng = random.Random(seed)
    points = [[rng.gauss(0, 1) for _ in range(dim)] for _ in range(n)]
    if duplicates:
        # Repeated points, but never fewer distinct ones than clusters (see `degenerate`).
        k = min(n, k_max)
        distinct = points[: max(k, n // 2)]
        points = distinct + [distinct[rng.randrange(len(distinct))] for _ in range(n - len(distinct))]
    texts = [f"t{i}" for i in range(n)]
    table = dict(zip(texts, points))
    decisions = []
    for lib in (original, compat):
        stopper = lib.ShannonEntropyStopper(min_entropy=0.5, k_max=k_max, embedding_provider=Table(table), random_seed=seed)
        kept = [lib.ScoredCandidate(id=t, text=t, score=0.5) for t in texts]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            decisions.append(stopper.should_continue(kept))
    theirs, ours = decisions
    assert ours.details == theirs.details
    assert math.isclose(ours.entropy, theirs.entropy, abs_tol=1e-9)


def _openblas_kernels():
    import threadpoolctl

    archs = {i.get("architecture") for i in threadpoolctl.threadpool_info() if i.get("internal_api") == "openblas"}
    return archs <= {"Haswell", "Zen"} and archs


@pytest.mark.skipif(not _openblas_kernels(), reason="numpy's OpenBLAS runs kernels other than Haswell/Zen here")
@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4200), st.integers(1, 9), st.integers(0, 2**32 - 1))
def test_k_means_sums_add_in_numpys_order(length, rows, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    # Magnitudes apart, so the order of additions shows in the last bits.
    m = rng.random((rows, length)) * rng.choice([1.0, -1e3, 1e-3], size=(rows, length))
    from autobranch import _native

    from sklearn.utils.extmath import row_norms

    dot, gemv, pairwise, norms, pair = _native._openblas_sums(m.tolist())
    assert pair == float(m[0] @ m[-1])
    assert norms == row_norms(m, squared=True).tolist()
    assert dot == float(m[0] @ np.ones(length))
    assert gemv == (m @ np.ones(length).reshape(-1, 1)).ravel().tolist()
    assert pairwise == float(np.sum(m[0]))


@pytest.mark.parametrize("module", ["original", "compat"])
def test_documented_examples(module):
    lib = original if module == "original" else compat
    # BeamSelector's docstring example.
    scorer = lib.StaticScorer({"c1": 0.9, "c2": 0.5, "c3": 0.7})
    beam = lib.BeamSelector(k=2, scorer=scorer)
    kept = beam.select(lib.Candidate(id="root", text="Question"), [lib.Candidate(id=f"c{i}", text=f"A{i}") for i in (1, 2, 3)])
    assert [c.id for c in kept] == ["c1", "c3"]
    # DummyEmbeddingProvider's.
    provider = lib.DummyEmbeddingProvider(dimension=128, seed=42)
    embeddings = provider.embed(["Hello", "World"])
    assert len(embeddings) == 2 and len(embeddings[0]) == 128
    # Budget's.
    manager = lib.BudgetManager(lib.Budget(max_nodes=32, max_tokens=30000, max_ms=12000), mode="strict")
    assert manager.admit(n_new=5, est_tokens=1000, est_ms=2000)
    manager.update(actual_tokens=1200, actual_ms=1800)
    assert manager.usage["used_tokens"] == 1200
    # BranchExtractor's.
    extractor = lib.BranchExtractor()
    points = extractor.extract("\nOptions:\n1. Flask\n2. FastAPI\nDatabase: Postgres or Mongo\n")
    assert len(points) == 2 and extractor.count_max_leaves(points) == 4
    # LLMBranchParser's.
    parser = lib.LLMBranchParser(llm=lambda p: '{"branch_points": []}')
    assert parser.parse_with_confidence("Some text")[1]["success"]


def test_dummy_provider_vectors_are_the_original_ones():
    a = original.DummyEmbeddingProvider(dimension=16, seed=7).embed(["x", "y", "x"])
    b = compat.DummyEmbeddingProvider(dimension=16, seed=7).embed(["x", "y", "x"])
    assert a == b


@pytest.mark.parametrize(
    "make",
    [
        lambda lib: lib.BeamSelector(k=0, scorer=None),
        lambda lib: lib.CosineNoveltyFilter(threshold=1.5),
        lambda lib: lib.MMRNoveltyFilter(lambda_param=-0.1),
        lambda lib: lib.MMRNoveltyFilter(threshold=2),
        lambda lib: lib.ShannonEntropyStopper(min_entropy=2),
        lambda lib: lib.ShannonEntropyStopper(k_max=0),
        lambda lib: lib.Budget(max_nodes=0, max_tokens=1, max_ms=1),
        lambda lib: lib.BudgetManager(lib.Budget(1, 1, 1), mode="lenient"),
        lambda lib: lib.Candidate(id="", text="x"),
        lambda lib: lib.Candidate(id="a", text="x", meta=[]),
        lambda lib: lib.CosineNoveltyFilter().prune([lib.ScoredCandidate("a", "x"), lib.ScoredCandidate("b", "y")]),
        lambda lib: lib.ShannonEntropyStopper().should_continue([lib.ScoredCandidate("a", "x"), lib.ScoredCandidate("b", "y")]),
        lambda lib: lib.BranchPoint(id="p", type="maybe", options=[]),
        lambda lib: lib.BranchSelector.from_config({"scorer": {"type": "learned"}}),
        lambda lib: lib.BranchSelector.from_config({"novelty": {"type": "dpp"}}),
        lambda lib: lib.BranchSelector.from_config({"embedding": {"type": "openai"}}),
        lambda lib: lib.LLMBranchParser().parse("x", fallback_to_empty=False),
        lambda lib: lib.LLMBranchParser(llm=lambda p: "not json").parse("x", fallback_to_empty=False),
    ],
)
def test_errors_match(make):
    assert outcome(lambda: make(compat)) == outcome(lambda: make(original))


def test_strict_budget_raises_the_same_error():
    errors = []
    for lib in (original, compat):
        manager = lib.BudgetManager(lib.Budget(max_nodes=2, max_tokens=30000, max_ms=12000))
        with pytest.raises(lib.BudgetExceededError) as e:
            manager.admit(n_new=3, est_tokens=300, est_ms=150)
        errors.append((str(e.value), e.value.details))
    assert errors[0] == errors[1]


def test_nan_and_infinite_scores_warn_and_clamp():
    for lib in (original, compat):
        with pytest.warns(UserWarning, match="Invalid score"):
            assert lib.ScoredCandidate(id="a", text="t", score=float("nan")).score == 0.0
        assert lib.ScoredCandidate(id="a", text="t", score=7).score == 1.0


def test_embedding_failure_falls_back_silently_or_warns_when_asked():
    class Broken:
        def embed(self, texts):
            raise ConnectionError("server down")

    parent, cands = compat.Candidate("r", "p"), [compat.Candidate("a", "x")]
    theirs = original.CompositeScorer(embedding_provider=Broken()).score(original.Candidate("r", "p"), [original.Candidate("a", "x")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = compat.CompositeScorer(embedding_provider=Broken()).score(parent, cands)
    assert ours[0].score == theirs[0].score
    with pytest.warns(UserWarning, match="server down"):
        compat.CompositeScorer(embedding_provider=Broken(), on_embedding_error="warn").score(parent, cands)
    with pytest.raises(ConnectionError):
        compat.CompositeScorer(embedding_provider=Broken(), on_embedding_error="raise").score(parent, cands)


def test_real_intent_alignment_is_a_switch():
    table = {"p": [1.0, 0.0], "near": [0.9, 0.1], "far": [-1.0, 0.2], "be near": [1.0, 0.05]}
    parent = compat.Candidate("r", "p", meta={"intent": "be near"})
    cands = [compat.Candidate("a", "near"), compat.Candidate("b", "far")]
    weights = {"intent_alignment": 1.0}
    neutral = compat.CompositeScorer(embedding_provider=Table(table), weights=weights).score(parent, cands)
    assert [c.score for c in neutral] == [0.5, 0.5]
    real = compat.CompositeScorer(embedding_provider=Table(table), weights=weights, intent_alignment="embedding").score(parent, cands)
    assert real[0].score > 0.95 and real[1].score < 0.1


class _FloatList(list):
    """A list subclass: not an exact list, so read through the API."""


@pytest.mark.parametrize(
    "kind", ["floats", "ints", "mixed", "numpy_scalars", "list_subclass", "tuples", "numpy_arrays", "string"]
)
def test_embeddings_of_every_element_type_read_as_the_original_reads_them(kind):
    """Exact lists of exact floats are read straight from CPython's objects; every other
    shape and element type takes the API's conversion. Both give the original's step."""
    import numpy as np

    rng = random.Random(7)
    base = {t: [rng.gauss(0, 1) for _ in range(5)] for t in TEXTS + ["parent"]}
    shape = {
        "floats": lambda v: v,
        "ints": lambda v: [int(x * 10) for x in v],
        "mixed": lambda v: [int(x * 10) if i % 2 else x for i, x in enumerate(v)],
        "numpy_scalars": lambda v: [np.float64(x) for x in v],
        "list_subclass": lambda v: _FloatList(v),
        "tuples": tuple,
        "numpy_arrays": np.array,
        "string": lambda v: v[:2] + ["0.5"] + v[3:],
    }[kind]
    table = {t: shape(v) for t, v in base.items()}
    config = {"static": None, "weights": None, "k": 4, "novelty": ("cosine", 0.9), "entropy": (0.6, 3, None, 42), "budget": None, "parent_meta": {}}
    candidates = [(f"c{i}", TEXTS[i % 10], {"logprobs": -0.2 * i}) for i in range(12)]
    theirs = run(original, candidates, config, table)
    ours = run(compat, candidates, config, table)
    if kind == "string":
        # README, differences: the element is named, where numpy fails on its dtype.
        assert [s[:2] for s in theirs[0]] == [("error", "ValueError")] * 2, theirs
        assert ours[0] == [("error", "TypeError", "an embedding holds '0.5'; every element must be a number")] * 2
        return
    assert close(ours, theirs), (ours, theirs)
