#!/usr/bin/env bash
# Build (once; a stamp skips a finished build) .venv-airflow: the production Airflow image's Python
# environment (Dockerfile, target airflow) without the image, for the KubernetesPodOperator pod-spec tests.
# The cncf.kubernetes provider and kfp cannot share an environment (kubernetes-client pins), so this is a
# second venv next to .venv: Airflow + the provider, no momentor, kfp or torch. The Dockerfile names the pins;
# requirements/lock.txt constrains every other shared package, so pip resolves fast and the two venvs agree
# (minus the kubernetes client, which the provider needs newer). ~25 s here; pip's wheel cache makes a
# rebuild quicker. Prints the venv's python.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
venv=.venv-airflow
pins=$(grep -oE 'apache-airflow(-providers-cncf-kubernetes)?==[0-9.]+' Dockerfile | sort -u)
[ "$(wc -l <<<"$pins")" = 2 ] || { echo "Dockerfile: expected the airflow target's two pins, found: $pins" >&2; exit 1; }
want=$( (echo "$pins"; cat requirements/lock.txt "$0") | sha256sum | cut -c1-16)
if [ -f "$venv/.stamp" ] && [ "$(cat "$venv/.stamp")" = "$want" ]; then
  echo "$PWD/$venv/bin/python"
  exit 0
fi
echo "building $venv (Airflow image environment: $(tr '\n' ' ' <<<"$pins")) ..." >&2
rm -rf "$venv"
"$PY" -m venv "$venv"
constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
grep -vE '^(kubernetes|kubernetes-validate|kfp|kfp-[a-z-]+|torch)==' requirements/lock.txt > "$constraints"
"$venv/bin/python" -m pip install -q --upgrade pip >&2
# shellcheck disable=SC2086  # one pin per word
"$venv/bin/python" -m pip install -q -c "$constraints" $pins >&2
"$venv/bin/python" -m pip check >&2
echo "$want" > "$venv/.stamp"
echo "$PWD/$venv/bin/python"
