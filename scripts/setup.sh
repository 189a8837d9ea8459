#!/usr/bin/env bash
# Sets up a machine for autobranch: the system packages the build needs (and, with --tests,
# those the tests need), a Rust toolchain check, and the models. A fast no-op when everything
# is there. The README's two commands and CI's .ci/run all start with it.
#
#   scripts/setup.sh           build packages + the default models (the main job)
#   scripts/setup.sh --tests   also the test packages and every test model
#
# Exit codes: 0 ready; 2 something must be installed by hand (the message gives the exact
# command); 1 a step failed (the message names it and what to do by hand).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*" >&2; }
fail() { # exit-code message...
    local code="$1"
    shift
    printf 'setup: %s\n' "$@" >&2
    exit "$code"
}

tests=0
for arg in "$@"; do
    case "$arg" in
        --tests) tests=1 ;;
        -h | --help)
            sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) fail 2 "unknown argument '$arg'; allowed: --tests" ;;
    esac
done

# What each package is for. Build: llama.cpp is compiled from llama-cpp-sys-2's vendored
# source (cmake), bindgen needs libclang, the model fetcher uses pip and a virtual
# environment. Tests: Chromium renders the HTML tree view; Burn's wgpu backend runs on Mesa's
# lavapipe (a Vulkan driver on the CPU).
DEB_BUILD=(cmake libclang-dev python3-pip python3-venv)
DEB_TESTS=(chromium mesa-vulkan-drivers libvulkan1)
RPM_BUILD="cmake clang-devel python3-pip"
RPM_TESTS="chromium mesa-vulkan-drivers vulkan-loader"
PACMAN_BUILD="cmake clang python-pip"
PACMAN_TESTS="chromium vulkan-swrast vulkan-icd-loader"

# Rust: rustup is the only supported way; nothing here installs a toolchain.
if ! command -v cargo > /dev/null || ! command -v rustc > /dev/null; then
    fail 2 "cargo is not installed; install a Rust toolchain (1.95 or newer) with rustup, then run this again"
fi
rust_version="$(rustc --version | cut -d' ' -f2)"
IFS=. read -r rust_major rust_minor _ <<< "$rust_version"
if [ "$rust_major" -lt 1 ] || { [ "$rust_major" -eq 1 ] && [ "$rust_minor" -lt 95 ]; }; then
    fail 2 "rustc $rust_version is too old; the Burn backend needs 1.95 or newer: rustup update stable"
fi
if ! command -v python3 > /dev/null; then
    fail 2 "python3 is not installed; the model fetcher needs it (Debian/Ubuntu: apt-get install python3 python3-pip python3-venv)"
fi

wanted=("${DEB_BUILD[@]}")
[ "$tests" -eq 1 ] && wanted+=("${DEB_TESTS[@]}")

if command -v dpkg > /dev/null && command -v apt-get > /dev/null; then
    missing=()
    for pkg in "${wanted[@]}"; do
        dpkg -s "$pkg" 2> /dev/null | grep -q '^Status: install ok installed' || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        if [ "$(id -u)" -eq 0 ]; then
            as_root=()
        elif command -v sudo > /dev/null && sudo -n true 2> /dev/null; then
            as_root=(sudo)
        else
            fail 2 "these packages are missing: ${missing[*]}" \
                "run as root (or with sudo), then run this script again:" \
                "  apt-get update && apt-get install -y ${missing[*]}"
        fi
        log "installing ${missing[*]}"
        if ! "${as_root[@]}" apt-get update -qq; then
            fail 1 "apt-get update failed (no network to the package mirrors?); fix that, or install by hand:" \
                "  apt-get update && apt-get install -y ${missing[*]}"
        fi
        if ! DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${missing[@]}" > /dev/null; then
            fail 1 "apt-get install failed; install by hand, then run this script again:" \
                "  apt-get install -y ${missing[*]}"
        fi
    fi
else
    # Not Debian or Ubuntu: check the tools themselves and name the packages.
    have_libclang() { ldconfig -p 2> /dev/null | grep -q 'libclang' || [ -n "${LIBCLANG_PATH:-}" ]; }
    problems=()
    command -v cmake > /dev/null || problems+=(cmake)
    have_libclang || problems+=(libclang)
    python3 -m venv --help > /dev/null 2>&1 || problems+=(python3-venv)
    python3 -m pip --version > /dev/null 2>&1 || problems+=(pip)
    if [ "$tests" -eq 1 ]; then
        command -v chromium > /dev/null || command -v chromium-browser > /dev/null || problems+=(chromium)
    fi
    if [ "${#problems[@]}" -gt 0 ]; then
        build="$RPM_BUILD" extra="$RPM_TESTS"
        fail 2 "this is not a Debian/Ubuntu system, and these are missing: ${problems[*]}" \
            "install them with your package manager, then run this script again, e.g.:" \
            "  Fedora/RHEL: dnf install $build$([ "$tests" -eq 1 ] && echo " $extra")" \
            "  Arch:        pacman -S $PACMAN_BUILD$([ "$tests" -eq 1 ] && echo " $PACMAN_TESTS")" \
            "(if libclang lives outside the linker path, set LIBCLANG_PATH to its folder)"
    fi
fi

# Models, outside the repository; fetch-models.sh names the step that failed.
if [ "$tests" -eq 1 ]; then
    scripts/fetch-models.sh --tests
else
    scripts/fetch-models.sh
fi
