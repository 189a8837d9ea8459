"""Compares `autobranch embed` with sentence-transformers on the same model folder, live:
the texts of fixtures/minilm_reference.json (short, long beyond 256 tokens, punctuation,
non-English, emoji, duplicates, the empty string) through both, cosine per text.

    python benches/reference/embed_parity.py --model ~/.cache/autobranch/models/all-minilm-l6-v2 \\
        --autobranch target/release/autobranch --embed-device wgpu --torch-device cuda

The committed fixture is the reference in CI; this script is for machines where the
fixture's own weights are not what is loaded (another GPU, another copy of the model) and
for checking a backend on hardware CI does not have. Texts holding a newline are left out
(`autobranch embed` reads one text per line). Exit status 1 when any cosine is below
--min-cosine.
"""

import argparse
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="sentence-transformers folder")
    parser.add_argument("--autobranch", default=str(ROOT / "target/release/autobranch"), help="the binary")
    parser.add_argument("--embed-device", default="flex", help="Burn backend: flex, ndarray, wgpu")
    parser.add_argument("--torch-device", default="cpu", help="torch device for sentence-transformers")
    parser.add_argument("--min-cosine", type=float, default=0.999)
    parser.add_argument("--json", help="write the cosines here")
    args = parser.parse_args()

    import numpy as np
    from sentence_transformers import SentenceTransformer

    texts = [t for t in json.loads((ROOT / "fixtures/minilm_reference.json").read_text())["texts"] if "\n" not in t]
    run = subprocess.run(
        [args.autobranch, "embed", "--json", "--embedder", "burn", "--embed-model", args.model,
         "--embed-device", args.embed_device, "-"],
        input="".join(t + "\n" for t in texts), capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"autobranch embed failed ({run.returncode}): {run.stderr.strip()}")
    ours = np.array(json.loads(run.stdout)["embeddings"], dtype=np.float64)
    model = SentenceTransformer(args.model, device=args.torch_device)
    theirs = model.encode(texts, batch_size=32, normalize_embeddings=True).astype(np.float64)
    if ours.shape != theirs.shape:
        sys.exit(f"shapes differ: autobranch {ours.shape}, sentence-transformers {theirs.shape}")
    cosines = (ours * theirs).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
    worst = int(cosines.argmin())
    print(f"burn:{args.embed_device} vs sentence-transformers ({args.torch_device}) on {len(texts)} texts: "
          f"min cosine {cosines.min():.6f} (text {worst}: {texts[worst][:40]!r}), mean {cosines.mean():.6f}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(
            {"embed_device": args.embed_device, "torch_device": args.torch_device, "texts": len(texts),
             "min_cosine": float(cosines.min()), "mean_cosine": float(cosines.mean()),
             "cosines": [float(c) for c in cosines]}, indent=2))
    if cosines.min() < args.min_cosine:
        sys.exit(f"below --min-cosine {args.min_cosine}")


if __name__ == "__main__":
    main()
