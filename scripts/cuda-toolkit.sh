#!/usr/bin/env bash
# Installs the CUDA 13.0 toolkit that llama.cpp's CUDA build needs from NVIDIA's PyPI wheels
# (no system toolkit, no root) into $AUTOBRANCH_CUDA (default ~/.cache/autobranch/cuda-13.0),
# verifying SHA-256 sums; a no-op when it is there. Then prints the environment to build with.
# CUDA 13.0 matches NVIDIA driver 580 and newer.
#
#   scripts/cuda-toolkit.sh          install, then print the build environment as `export` lines
#   eval "$(scripts/cuda-toolkit.sh)"
#   cargo build --release -p autobranch-cli --features cuda
#
# CMAKE_CUDA_ARCHITECTURES defaults to 75;80;86;89;90 (T4, A100, RTX 30xx/A10, L4/RTX 40xx,
# H100/H200); set it before running this to build fewer (faster) or others. The wheels ship
# cuBLAS and the CUDA runtime as shared libraries only, so the build links them dynamically:
# the binary finds them (and llama.cpp's own shared libraries, beside it) through its rpath.
# The Burn CUDA backend (feature burn-cuda) needs no toolkit to build; at run time it loads
# libnvrtc from the same folder (or LD_LIBRARY_PATH) and the driver's libcuda.
#
# Exit codes: 0 ready; 1 a step failed (the message names it and the command to run by hand).
set -euo pipefail

case "${1:-}" in
    "") ;;
    -h | --help)
        sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        printf 'cuda-toolkit: unknown argument %s; allowed: --help\n' "$1" >&2
        exit 2
        ;;
esac

DEST="${AUTOBRANCH_CUDA:-$HOME/.cache/autobranch/cuda-13.0}"
WHEELS="$DEST/.wheels"
ROOT="$DEST/nvidia/cu13"
ARCHS="${CMAKE_CUDA_ARCHITECTURES:-75;80;86;89;90}"

log() { printf 'cuda-toolkit: %s\n' "$*" >&2; }
WHEEL_KIND="CUDA package"
# shellcheck source=wheels.sh
source "$(dirname "$0")/wheels.sh"

# package==version sha256 (the sums pip verified against PyPI's index when they were pinned)
PACKAGES=(
    "nvidia-cuda-nvcc==13.0.88 56fe502eb77625a12f25172caa3cdddb4e4c8ba2c8c17dba44b164761b380f03"
    "nvidia-cuda-crt==13.0.88 2c8043c7c9e02492716426e9919fc78d2c5b3b2a7a768a88e952676b08aa55a4"
    "nvidia-nvvm==13.0.88 c5f41ffeb6466944a026dfa5317d7d85355c119bbec279205d22f1869d1054e0"
    "nvidia-cuda-runtime==13.0.96 7f82250d7782aa23b6cfe765ecc7db554bd3c2870c43f3d1821f1d18aebf0548"
    "nvidia-cuda-cccl==13.0.85 e0da7ad981f3a8aff08241b5bfc1af868742a63e2762f53a5171c492ef242649"
    "nvidia-cublas==13.0.2.14 0cf238ffdbe46c00cb9aa98e7bca745c223a5ca5a53e686ac8b3e5a08fe80d6c"
    "nvidia-cuda-nvrtc==13.0.88 ad9b6d2ead2435f11cbb6868809d2adeeee302e9bb94bcf0539c7a40d80e8575"
)

if [ ! -f "$DEST/.installed" ]; then
    mkdir -p "$WHEELS"
    for entry in "${PACKAGES[@]}"; do
        wheel "${entry%% *}" "${entry##* }" > /dev/null
    done
    # Every wheel unpacks into one tree, nvidia/cu13/{bin,include,lib,nvvm}; a zip keeps the
    # executable bits, which Python's zipfile drops unless told.
    python3 - "$DEST" "$WHEELS"/*.whl <<'PY'
import os, sys, zipfile
dest = sys.argv[1]
for wheel in sys.argv[2:]:
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            if not info.filename.startswith("nvidia/"):
                continue
            path = z.extract(info, dest)
            mode = info.external_attr >> 16
            if mode:
                os.chmod(path, mode & 0o7777)
PY
    chmod +x "$ROOT"/bin/* "$ROOT"/nvvm/bin/* 2> /dev/null || true
    # CMake's FindCUDAToolkit and the linker look for the unversioned names.
    for lib in cudart cublas cublasLt nvrtc; do
        so="$(ls "$ROOT/lib/lib$lib.so."* 2> /dev/null | grep -E "lib$lib\.so\.[0-9]+$" | head -n1 || true)"
        [ -n "$so" ] && ln -sf "$(basename "$so")" "$ROOT/lib/lib$lib.so"
    done
    [ -e "$ROOT/lib64" ] || ln -s lib "$ROOT/lib64"
    if ! "$ROOT/bin/nvcc" --version > /dev/null; then
        log "the installed nvcc does not run: $ROOT/bin/nvcc --version"
        exit 1
    fi
    touch "$DEST/.installed"
    log "CUDA toolkit ready in $ROOT ($("$ROOT/bin/nvcc" --version | grep -o 'release [0-9.]*'))"
fi

# The build environment. GGML_CUDA_NO_VMM is set by the cuda feature itself (the wheels have
# no driver library to link against; the driver is loaded at run time).
cat << EOF
export CUDA_PATH="$ROOT"
export CUDAToolkit_ROOT="$ROOT"
export CUDACXX="$ROOT/bin/nvcc"
export PATH="$ROOT/bin:\$PATH"
export CMAKE_CUDA_ARCHITECTURES="$ARCHS"
export LD_LIBRARY_PATH="$ROOT/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
EOF
