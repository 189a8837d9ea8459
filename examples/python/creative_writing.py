"""The notebook this project replaces, as a script: four creative-writing scenarios, each
generating candidates with the embedded SmolLM2 (llama.cpp), embedding them with
all-MiniLM-L6-v2 (Burn), and selecting with the drop-in `BranchSelector`.

    pip install ./crates/python && scripts/fetch-models.sh
    python examples/python/creative_writing.py [--max-tokens 48]

The only change from a chatroutes-autobranch notebook is the import line (and that the
models run in-process instead of behind an Ollama server called once per candidate).
"""

import argparse
import time

from autobranch import (
    BeamSelector,
    BranchSelector,
    Candidate,
    CompositeScorer,
    CosineNoveltyFilter,
    MMRNoveltyFilter,
    ShannonEntropyStopper,
)
from autobranch.native import Embedder, Generator

# name, prompt, n, temperature, beam k, novelty, (min_entropy, k_max): the settings of
# `autobranch scenarios`.
SCENARIOS = [
    ("ai-memory", "Write one sentence, the opening of a story about an AI that slowly regains its memory. Reply with the sentence only.",
     10, 1.3, 7, ("mmr", 0.6, 0.80), (0.7, 5)),
    ("mars-twist", "Write one plot twist, in one sentence, for a detective story set in a Mars colony. Reply with the twist only.",
     12, 1.4, 8, ("cosine", 0.75), (0.65, 4)),
    ("romcom-endings", "Write one ending, in one or two sentences, for a romantic comedy; it may be tragic, absurd or heartwarming. Reply with the ending only.",
     15, 1.2, 10, ("mmr", 0.5, 0.78), (0.6, 3)),
    ("style-continuation", "Continue this paragraph with one sentence in the style of Hemingway, Austen or Murakami: \"The train stopped at a station with no name, and nobody got off.\" Reply with the sentence only.",
     12, 1.1, 5, ("cosine", 0.85), (0.6, 5)),
]


def selector(embedder, k, novelty, entropy):
    scorer = CompositeScorer(embedding_provider=embedder)
    if novelty[0] == "mmr":
        filt = MMRNoveltyFilter(lambda_param=novelty[1], threshold=novelty[2], embedding_provider=embedder)
    else:
        filt = CosineNoveltyFilter(threshold=novelty[1], embedding_provider=embedder)
    stopper = ShannonEntropyStopper(min_entropy=entropy[0], k_max=entropy[1], embedding_provider=embedder)
    # embed_once: each text embedded once per step (the original embeds up to five times).
    return BranchSelector(BeamSelector(k=k, scorer=scorer), filt, stopper, embed_once=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    generator, embedder = Generator(), Embedder()
    for name, prompt, n, temperature, k, novelty, entropy in SCENARIOS:
        start = time.perf_counter()
        drafts = generator.generate(prompt, n=n, max_tokens=args.max_tokens, temperature=temperature, seed=args.seed)
        candidates = [
            Candidate(id=d["id"], text=d["text"].strip(), meta={} if d["logprob_mean"] is None else {"logprobs": d["logprob_mean"]})
            for d in drafts
            if d["text"].strip()
        ]
        result = selector(embedder, k, novelty, entropy).step(Candidate(id="prompt", text=prompt), candidates)
        took = time.perf_counter() - start
        entropy_value = result.entropy_decision.get("entropy", 0.0)
        print(f"## {name}: kept {len(result.kept)} of {len(candidates)} "
              f"(beam {len(result.after_beam)}, novelty {len(result.after_novelty)}), "
              f"entropy {entropy_value:.3f}, continue {result.should_continue}, {took:.1f} s")
        for c in result.kept:
            print(f"  {c.score:.3f}  {c.text}")
        print()


if __name__ == "__main__":
    main()
