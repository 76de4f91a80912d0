#!/usr/bin/env bash
# Headless browser for the Airflow UI test (tests/dags/test_airflow_ui.py, marked slow): Debian's chromium and
# its chromedriver, plus selenium in .venv (4.50: 4.52 needs a certifi newer than the index serves). Needs root (or sudo) for apt-get; idempotent.
#   bash scripts/install_browser.sh && .venv/bin/python -m pytest -m slow tests/dags/test_airflow_ui.py
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver
fi
.venv/bin/python -m pip install -q "selenium==4.50.0"
chromium --version && chromedriver --version
