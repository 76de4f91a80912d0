#!/usr/bin/env bash
# Every benchmark, one table (bench/results/all.json). About 10 minutes on 2 cores; not part of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python bench/run_all.py "$@"
