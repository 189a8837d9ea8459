"""Selector-step latency of the original Python library, chatroutes-autobranch 1.3.1, on
the workload shape of benches/benches/selector_step.rs: N candidates with cached 384-d
unit vectors drawn around eight topics (spread 0.05 to 0.6, so novelty has near-duplicates
to prune), composite scoring with the configuration defaults, beam K 5, cosine novelty
0.85, Shannon entropy with k_max 5, no budget.

    pip install chatroutes-autobranch==1.3.1 numpy
    python benches/reference/select_reference.py --n 10,50,100,500 --json select.json

The vectors are drawn with numpy, so they are the same shape as the Rust workload, not
the same numbers. Embeddings come from a dictionary (as a caller with cached vectors
would), so the time is the library's own: scoring, beam, novelty, entropy.
"""

import argparse
import json
import statistics
import time

import numpy as np
from chatroutes_autobranch import BeamSelector, BranchSelector, Candidate
from chatroutes_autobranch.core.scorer import CompositeScorer
from chatroutes_autobranch.entropy.shannon import ShannonEntropyStopper
from chatroutes_autobranch.novelty.cosine import CosineNoveltyFilter


class CachedEmbeddings:
    """An embedding provider that looks vectors up by text."""

    def __init__(self, table):
        self.table = table

    def embed(self, texts):
        return [self.table[t] for t in texts]


def unit(v):
    return v / np.linalg.norm(v)


def workload(n, dim=384, seed=7):
    rng = np.random.default_rng(seed)
    topics = [unit(rng.standard_normal(dim)) for _ in range(8)]
    table = {"the parent prompt": unit(rng.standard_normal(dim)).tolist()}
    candidates = []
    for i in range(n):
        spread = rng.uniform(0.05, 0.6)
        vector = unit(topics[rng.integers(8)] + spread * unit(rng.standard_normal(dim)))
        text = f"candidate {i} about topic {spread:.3f}"
        table[text] = vector.tolist()
        candidates.append(Candidate(id=f"c{i}", text=text, meta={"logprobs": -rng.uniform(0.05, 3.0)}))
    return Candidate(id="root", text="the parent prompt"), candidates, CachedEmbeddings(table)


def selector(embeddings):
    weights = {"confidence": 0.3, "relevance": 0.25, "novelty_parent": 0.2, "intent_alignment": 0.15,
               "historical_reward": 0.1}
    scorer = CompositeScorer(embedding_provider=embeddings, weights=weights)
    return BranchSelector(
        beam_selector=BeamSelector(k=5, scorer=scorer),
        novelty_filter=CosineNoveltyFilter(threshold=0.85, embedding_provider=embeddings),
        entropy_stopper=ShannonEntropyStopper(min_entropy=0.6, k_max=5, embedding_provider=embeddings),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="10,50,100,500", help="comma-separated candidate counts")
    parser.add_argument("--reps", type=int, default=20, help="timed steps per N (fewer for N > 1000)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    rows = []
    for n in [int(x) for x in args.n.split(",")]:
        parent, candidates, embeddings = workload(n)
        reps = args.reps if n <= 1000 else max(3, args.reps // 10)
        times = []
        selector(embeddings).step(parent, candidates)  # warm-up
        for _ in range(reps):
            s = selector(embeddings)
            start = time.perf_counter()
            s.step(parent, candidates)
            times.append(time.perf_counter() - start)
        rows.append({"n": n, "median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)})
        print(f"| {n} | {statistics.median(times) * 1e3:.2f} ms | {min(times) * 1e3:.2f}–{max(times) * 1e3:.2f} ms |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"library": "chatroutes-autobranch 1.3.1", "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
