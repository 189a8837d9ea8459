"""The seed's pipeline for `autobranch scenarios`, timed in the same run as autobranch.

The pipeline users run today in a notebook: one llama.cpp call per candidate
(llama-cpp-python, the model's own chat template), sentence-transformers embeddings, and
the original chatroutes-autobranch 1.3.1 for the selection step. Each round runs
`autobranch scenarios --json` and then this pipeline on the same scenarios (the prompts,
sampling settings and selection settings come from autobranch's JSON, so the two cannot
drift apart), alternating which goes first, after an untimed warm-up run. Both sides' times are wall clock with model
loading, as a user waits for them.

    pip install llama-cpp-python==0.3.36 sentence-transformers==6.3.0 chatroutes-autobranch==1.3.1
    python benches/reference/scenarios_reference.py --autobranch target/release/autobranch \\
        --model models/SmolLM2-135M-Instruct.Q4_1.gguf --embed-model models/all-minilm-l6-v2
"""

import argparse
import json
import re
import statistics
import subprocess
import sys
import time

PREAMBLE = re.compile(r"(?i)^(here (are|is)|here's|sure\b|certainly\b|of course\b|okay\b|ok\b)")
LIST_MARKER = re.compile(r"^(\d+[.)]|[-*•])\s+")


def single_item(text):
    """The single item a candidate offers, as `autobranch scenarios` reduces it (scenarios.rs)."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    for i, line in enumerate(lines):
        more = i + 1 < len(lines)
        colon = line.endswith(":")
        if not (PREAMBLE.match(line) and (colon or more) or colon and more):
            item = LIST_MARKER.sub("", line, count=1).strip().strip("\"*“”'").strip()
            if not item or PREAMBLE.match(item) and item.endswith(":"):
                return None
            return item
    return None


def ours(args):
    """`autobranch scenarios --json`: its report and the wall time with model loading."""
    command = [args.autobranch, "scenarios", "--json", "--model", args.model, "--embed-model", args.embed_model,
               "--threads", str(args.threads), "--max-tokens", str(args.max_tokens)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()}")
    report = json.loads(done.stdout)
    return report, {"wall_s": wall, "generation_s": report["generation_batch_ms"] / 1000,
                    "kept": sum(len(s["kept"]) for s in report["scenarios"])}


class SentenceTransformerEmbeddings:
    """chatroutes' embedding provider protocol over a sentence-transformers model."""

    def __init__(self, model):
        self.model = model

    def embed(self, texts):
        return self.model.encode(list(texts), convert_to_numpy=True).tolist()


def selector(settings, embeddings):
    from chatroutes_autobranch import (BeamSelector, BranchSelector, CosineNoveltyFilter, MMRNoveltyFilter,
                                       ShannonEntropyStopper)
    from chatroutes_autobranch.core.scorer import CompositeScorer

    weights = {"confidence": 0.3, "relevance": 0.25, "novelty_parent": 0.2, "intent_alignment": 0.15,
               "historical_reward": 0.1}
    novelty = settings["novelty"]
    if novelty["type"] == "mmr":
        novelty_filter = MMRNoveltyFilter(lambda_param=novelty["lambda_param"], threshold=novelty["threshold"],
                                          embedding_provider=embeddings)
    else:
        novelty_filter = CosineNoveltyFilter(threshold=novelty["threshold"], embedding_provider=embeddings)
    entropy = settings["entropy"]
    return BranchSelector(
        beam_selector=BeamSelector(k=settings["k"], scorer=CompositeScorer(embedding_provider=embeddings,
                                                                          weights=weights)),
        novelty_filter=novelty_filter,
        entropy_stopper=ShannonEntropyStopper(min_entropy=entropy["min_entropy"], k_max=entropy["k_max"],
                                              random_seed=entropy["random_seed"], embedding_provider=embeddings),
    )


def seed_pipeline(args, scenarios):
    """One llama.cpp call per candidate, sentence-transformers, the original library."""
    from chatroutes_autobranch import Candidate
    from llama_cpp import Llama
    from sentence_transformers import SentenceTransformer

    start = time.perf_counter()
    # logits_all: the chat completion's logprobs need them; the scorer's confidence reads them.
    llm = Llama(model_path=args.model, n_ctx=2048, n_threads=args.threads, n_threads_batch=args.threads,
                logits_all=True, verbose=False)
    embeddings = SentenceTransformerEmbeddings(SentenceTransformer(args.embed_model, device="cpu"))
    generation = 0.0
    kept = 0
    for s in scenarios:
        p = s["sampling"]
        candidates = []
        for i in range(s["settings"]["n"]):
            t = time.perf_counter()
            out = llm.create_chat_completion(
                messages=[{"role": "user", "content": s["prompt"]}], max_tokens=p["max_tokens"],
                temperature=p["temperature"], top_k=p["top_k"], top_p=p["top_p"], min_p=p["min_p"],
                repeat_penalty=p["repeat_penalty"], seed=p["seed"] + i, logprobs=True)
            generation += time.perf_counter() - t
            choice = out["choices"][0]
            text = single_item(choice["message"]["content"] or "")
            if text is None:
                continue
            tokens = (choice.get("logprobs") or {}).get("content") or []
            meta = {"logprobs": statistics.fmean(x["logprob"] for x in tokens)} if tokens else {}
            candidates.append(Candidate(id=f"c{i}", text=text, meta=meta))
        parent = Candidate(id="prompt", text=s["prompt"])
        result = selector(s["settings"], embeddings).step(parent, candidates)
        kept += len(result.kept)
    return {"wall_s": time.perf_counter() - start, "generation_s": generation, "kept": kept}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--autobranch", default="autobranch", help="the autobranch binary")
    parser.add_argument("--model", required=True, help="the chat GGUF both sides generate with")
    parser.add_argument("--embed-model", required=True, help="a sentence-transformers folder")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads of both sides' llama.cpp")
    parser.add_argument("--max-tokens", type=int, default=48, help="most new tokens per candidate")
    parser.add_argument("--rounds", type=int, default=2, help="rounds; each runs both sides, the order alternating")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    # A first, untimed run gives the scenarios' settings and warms the page cache for both.
    scenarios = ours(args)[0]["scenarios"]
    rows = {"autobranch": [], "seed": []}
    for r in range(args.rounds):
        if r % 2 == 0:
            mine = ours(args)[1]
            theirs = seed_pipeline(args, scenarios)
        else:
            theirs = seed_pipeline(args, scenarios)
            mine = ours(args)[1]
        rows["autobranch"].append(mine)
        rows["seed"].append(theirs)
        print(f"round {r + 1}: autobranch {mine['wall_s']:.2f} s (generation {mine['generation_s']:.2f} s, "
              f"{mine['kept']} kept), seed pipeline {theirs['wall_s']:.2f} s (generation "
              f"{theirs['generation_s']:.2f} s, {theirs['kept']} kept): {theirs['wall_s'] / mine['wall_s']:.2f}x",
              flush=True)
    median = {side: statistics.median(x["wall_s"] for x in runs) for side, runs in rows.items()}
    print(f"| four scenarios, wall with loading | autobranch {median['autobranch']:.2f} s | seed pipeline "
          f"{median['seed']:.2f} s | {median['seed'] / median['autobranch']:.2f}x |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rounds": rows, "median_wall_s": median}, f, indent=2)


if __name__ == "__main__":
    main()
