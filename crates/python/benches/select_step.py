"""One `BranchSelector.step` from Python: autobranch's compatibility layer against the original
chatroutes-autobranch 1.3.1, in the same process on the same inputs (the workload of
benches/reference/select_reference.py: N candidates with cached 384-d vectors around eight
topics, composite scoring, beam K 5, cosine novelty 0.85, Shannon entropy k_max 5).

    python crates/python/benches/select_step.py --n 10,100,500 [--json out.json]

Before timing, every N is checked: the same kept ids, scores within 1e-9 and the same entropy.
`embed_once` is autobranch's switch that scores once and embeds each text once per step.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benches" / "reference"))

import autobranch  # noqa: E402
import chatroutes_autobranch  # noqa: E402
from select_reference import workload  # noqa: E402

WEIGHTS = {"confidence": 0.3, "relevance": 0.25, "novelty_parent": 0.2, "intent_alignment": 0.15, "historical_reward": 0.1}


def selector(lib, embeddings, **switches):
    scorer = lib.CompositeScorer(embedding_provider=embeddings, weights=WEIGHTS)
    return lib.BranchSelector(
        beam_selector=lib.BeamSelector(k=5, scorer=scorer),
        novelty_filter=lib.CosineNoveltyFilter(threshold=0.85, embedding_provider=embeddings),
        entropy_stopper=lib.ShannonEntropyStopper(min_entropy=0.6, k_max=5, embedding_provider=embeddings),
        **switches,
    )


def median_steps(runs, embeddings, reps):
    """The median step time of each `(lib, parent, candidates, switches)` run. The runs take
    turns, rep by rep, so a slow spell of a shared machine hits them alike."""
    for lib, parent, candidates, switches in runs:
        selector(lib, embeddings, **switches).step(parent, candidates)  # warm-up
    times = [[] for _ in runs]
    for _ in range(reps):
        for (lib, parent, candidates, switches), out in zip(runs, times):
            s = selector(lib, embeddings, **switches)
            start = time.perf_counter()
            s.step(parent, candidates)
            out.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="10,100,500", help="comma-separated candidate counts")
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    rows = []
    print("| N | original | autobranch | speed-up | autobranch, embed_once | speed-up |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in [int(x) for x in args.n.split(",")]:
        parent, candidates, embeddings = workload(n)
        mine_parent = autobranch.Candidate(id=parent.id, text=parent.text)
        mine = [autobranch.Candidate(id=c.id, text=c.text, meta=dict(c.meta)) for c in candidates]
        theirs = selector(chatroutes_autobranch, embeddings).step(parent, candidates)
        ours = selector(autobranch, embeddings).step(mine_parent, mine)
        assert [c.id for c in ours.kept] == [c.id for c in theirs.kept]
        assert all(abs(a.score - b.score) <= 1e-9 for a, b in zip(ours.scored, theirs.scored))
        assert abs(ours.entropy_decision["entropy"] - theirs.entropy_decision["entropy"]) <= 1e-9
        original, compat, once = median_steps(
            [
                (chatroutes_autobranch, parent, candidates, {}),
                (autobranch, mine_parent, mine, {}),
                (autobranch, mine_parent, mine, {"embed_once": True}),
            ],
            embeddings,
            args.reps,
        )
        rows.append({"n": n, "original_s": original, "autobranch_s": compat, "embed_once_s": once})
        print(
            f"| {n} | {original * 1e3:.2f} ms | {compat * 1e3:.3f} ms | {original / compat:.0f}x "
            f"| {once * 1e3:.3f} ms | {original / once:.0f}x |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows}, indent=2))


if __name__ == "__main__":
    main()
