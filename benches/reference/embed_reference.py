"""Embedding throughput of sentence-transformers (PyTorch) on the workload of
benches/benches/embed_throughput.rs: the same short texts, batch 32, for any
sentence-transformers folder (all-MiniLM-L6-v2, all-mpnet-base-v2).

    python benches/reference/embed_reference.py --model ~/.cache/autobranch/models/all-minilm-l6-v2 --threads 2
    python benches/reference/embed_reference.py --model ~/.cache/autobranch/models/all-mpnet-base-v2 --threads 2

Needs sentence-transformers and torch. `--device cuda` measures PyTorch on an NVIDIA GPU
(the comparison for Burn's wgpu backend on the same machine). Prints one markdown row and, with --json,
writes the numbers.
"""

import argparse
import json
import resource
import statistics
import time

SUBJECTS = ["The detective", "A tired engineer", "The colony governor", "An old robot", "The youngest pilot",
            "A quiet botanist", "The ship's doctor", "A curious child", "The night guard", "An AI archivist",
            "The supply captain", "A retired miner"]
VERBS = ["finds", "hides", "repairs", "questions", "remembers", "follows", "opens", "forgets", "signals", "measures"]
OBJECTS = ["a broken oxygen valve", "the sealed airlock", "a letter from Earth", "the water reclaimer",
           "a map of the third dome", "an encrypted log", "the greenhouse lights", "a frozen footprint",
           "the governor's diary", "a cracked helmet", "the last supply crate", "a strange red crystal"]
ENDINGS = ["before dawn.", "while the storm rages outside.", "and tells no one.", "for the second time today.",
           "under the flickering lights.", "as the alarms begin to sound.", "with trembling hands.",
           "near the old landing pad."]


def short_texts(n):
    """The same list as autobranch_benches::short_texts."""
    return [f"{SUBJECTS[i % 12]} {VERBS[(i // 12) % 10]} {OBJECTS[(i * 7 + i // 120) % 12]} "
            f"{ENDINGS[(i * 5 + i // 12) % 8]}" for i in range(n)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="sentence-transformers folder (all-minilm-l6-v2, all-mpnet-base-v2)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda, mps")
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", help="write the result here")
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    model = SentenceTransformer(args.model, device=args.device)
    load_s = time.perf_counter() - start
    texts = short_texts(args.texts)
    model.encode(texts[: args.batch], batch_size=args.batch)
    rates = []
    for _ in range(args.reps):
        start = time.perf_counter()
        vectors = model.encode(texts, batch_size=args.batch, normalize_embeddings=True)
        rates.append(len(texts) / (time.perf_counter() - start))
    assert vectors.shape[0] == len(texts)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "embedder": f"sentence-transformers (torch {torch.__version__}, "
                    + (f"{args.threads} threads)" if args.device == "cpu" else f"{args.device})"),
        "texts_per_s": statistics.median(rates),
        "min": min(rates),
        "max": max(rates),
        "peak_rss_mib": peak,
        "load_s": load_s,
    }
    print(f"| {result['embedder']} | {result['texts_per_s']:.1f} | {result['min']:.1f}–{result['max']:.1f} "
          f"| {peak:.0f} | {load_s:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
