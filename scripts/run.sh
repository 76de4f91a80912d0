#!/usr/bin/env bash
# The main job (README's first command): the whole pipeline on the embedded default, the cpu preset and the
# sample corpus, with DVC. Builds the corpus if it is not there, versions it (data.dvc), then `dvc repro`.
# Extra arguments go to `dvc repro` (e.g. a stage name, or --force).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "scripts/run.sh: DVC needs a git checkout; run it from a clone of the momentor repository" >&2
  exit 2
fi
if [ ! -f data/sample/annotations.json ]; then
  momentor sample-data
fi
dvc add -q data            # record the raw data's version in data.dvc (a no-op when it is unchanged)
dvc repro "$@"
dvc metrics show
echo "report: work/report/index.html   champion: work/champion   exported encoder: work/export"
