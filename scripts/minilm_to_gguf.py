#!/usr/bin/env python3
"""Convert a sentence-transformers BERT model (all-MiniLM-L6-v2) to a GGUF file that
llama.cpp loads as a BERT embedding model with mean pooling.

    pip install gguf numpy safetensors
    python3 scripts/minilm_to_gguf.py MODEL_DIR OUT.gguf

MODEL_DIR holds config.json, tokenizer.json and model.safetensors. Weights stay float32
so the vectors match sentence-transformers closely (checked by the llama.cpp backend's
tests: cosine >= 0.999 on 50+ texts).
"""
import json
import pathlib
import sys

import gguf
import numpy as np
from safetensors.numpy import load_file

TENSORS = {
    "embeddings.word_embeddings.weight": "token_embd.weight",
    "embeddings.position_embeddings.weight": "position_embd.weight",
    "embeddings.token_type_embeddings.weight": "token_types.weight",
    "embeddings.LayerNorm.weight": "token_embd_norm.weight",
    "embeddings.LayerNorm.bias": "token_embd_norm.bias",
}
LAYER = {
    "attention.self.query": "attn_q",
    "attention.self.key": "attn_k",
    "attention.self.value": "attn_v",
    "attention.output.dense": "attn_output",
    "attention.output.LayerNorm": "attn_output_norm",
    "intermediate.dense": "ffn_up",
    "output.dense": "ffn_down",
    "output.LayerNorm": "layer_output_norm",
}


def gguf_name(hf: str):
    if hf in TENSORS:
        return TENSORS[hf]
    parts = hf.split(".")
    if parts[:2] == ["encoder", "layer"]:
        block, rest, kind = parts[2], ".".join(parts[3:-1]), parts[-1]
        if rest in LAYER:
            return f"blk.{block}.{LAYER[rest]}.{kind}"
    return None


def phantom(token: str) -> str:
    # llama.cpp's WordPiece marks word starts with U+2581 and drops the "##" of pieces.
    if token.startswith("[") and token.endswith("]"):
        return token
    if token.startswith("##"):
        return token[2:]
    return "\u2581" + token


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    cfg = json.loads((src / "config.json").read_text())
    if cfg.get("model_type") != "bert":
        sys.exit(f"{src}/config.json: model_type is {cfg.get('model_type')!r}; this converter handles 'bert'")
    tok = json.loads((src / "tokenizer.json").read_text())
    vocab = tok["model"]["vocab"]
    tokens = [None] * len(vocab)
    for piece, idx in vocab.items():
        tokens[idx] = piece
    special = {t["content"]: t["id"] for t in tok.get("added_tokens", []) if t.get("special")}
    types = [gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL for t in tokens]

    w = gguf.GGUFWriter(str(out), "bert")
    w.add_name("all-MiniLM-L6-v2")
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_layer_norm_eps(cfg["layer_norm_eps"])
    w.add_token_type_count(cfg["type_vocab_size"])
    w.add_causal_attention(False)
    w.add_pooling_type(gguf.PoolingType.MEAN)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("bert")
    w.add_tokenizer_pre("default")
    w.add_token_list([phantom(t) for t in tokens])
    w.add_token_types(types)
    w.add_bos_token_id(special["[CLS]"])
    w.add_sep_token_id(special["[SEP]"])
    w.add_unk_token_id(special["[UNK]"])
    w.add_pad_token_id(special["[PAD]"])
    w.add_mask_token_id(special["[MASK]"])
    w.add_add_bos_token(True)
    w.add_add_sep_token(True)
    w.add_add_eos_token(False)
    # Record BertNormalizer's settings: autobranch tokenises BERT models with Hugging
    # Face's pipeline (llama.cpp's WordPiece normalises some scripts differently).
    norm = tok.get("normalizer") or {}
    if norm.get("type") == "BertNormalizer":
        lowercase = bool(norm.get("lowercase", True))
        strip = norm.get("strip_accents")
        w.add_bool("tokenizer.bert.lowercase", lowercase)
        w.add_bool("tokenizer.bert.strip_accents", lowercase if strip is None else bool(strip))

    weights = load_file(str(src / "model.safetensors"))
    written = 0
    for hf, arr in weights.items():
        name = gguf_name(hf)
        if name is None:
            continue  # position_ids, pooler: not used for mean-pooled sentence embeddings
        w.add_tensor(name, np.ascontiguousarray(arr.astype(np.float32)))
        written += 1
    expected = len(TENSORS) + 16 * cfg["num_hidden_layers"]
    if written != expected:
        sys.exit(f"{src}/model.safetensors: mapped {written} tensors, expected {expected}")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {out} ({written} tensors)")


if __name__ == "__main__":
    main()
