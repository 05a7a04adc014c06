#!/usr/bin/env bash
# Create (idempotently) the Python 3.13 virtualenv that runs the emupos ESC/POS simulator.
#
# Why a separate venv: emupos needs Python >= 3.13 while the app targets 3.11+, and the
# simulator must stay an independent decoder of our bytes, so it never shares our interpreter.
# The tests find it through DOSEKEEPER_EMUPOS_PYTHON (default: .venv-emupos/bin/python).
#
# Usage: scripts/emupos-venv.sh            -> prints the interpreter path on stdout
#        EMUPOS_VENV=/tmp/emu scripts/emupos-venv.sh   (relative paths: from the repo root)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

venv="${EMUPOS_VENV:-.venv-emupos}"
# Pinned: tests rely on emupos' device model and control API, which are alpha-quality.
emupos_spec="${EMUPOS_SPEC:-emupos==0.4.0}"
python="$venv/bin/python"

if [[ ! -x "$python" ]]; then
    export PYENV_VERSION="${EMUPOS_PYENV_VERSION:-3.13.0}"
    if ! python3.13 -c '' 2>/dev/null; then
        echo "emupos-venv.sh: no python3.13 here (emupos needs Python >= 3.13)" >&2
        exit 3
    fi
    python3.13 -m venv "$venv" >&2
fi

installed="$("$python" -m pip show emupos 2>/dev/null | sed -n 's/^Version: //p' || true)"
if [[ "$installed" != "${emupos_spec#emupos==}" ]]; then
    "$python" -m pip install --quiet --disable-pip-version-check "$emupos_spec" >&2
fi

# Absolute path so the caller can export it as-is.
(cd "$(dirname "$python")" && echo "$(pwd)/$(basename "$python")")
