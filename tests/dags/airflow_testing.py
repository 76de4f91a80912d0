"""Airflow test helpers: environment of a throw-away AIRFLOW_HOME, DAGs loaded and run in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
RUNNER = Path(__file__).with_name("dag_runner.py")


def airflow_env(home: Path) -> dict:
    # a worker starts without a launcher's variables (RANK, MASTER_PORT, ...): its training picks its own port
    launcher = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MOMENTOR_")) and k not in launcher}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False", AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
               AIRFLOW__CORE__UNIT_TEST_MODE="False", PYTHONUNBUFFERED="1")
    return env


def run_dag_runner(home: Path, *args: str, timeout: float = 600, env: dict | None = None) -> dict:
    """``dag_runner.py ARGS`` with the project as working directory; its RESULT, or a failure with its log."""
    done = subprocess.run([sys.executable, str(RUNNER), *args], env={**airflow_env(home), **(env or {})}, cwd=ROOT,
                          text=True, capture_output=True, timeout=timeout)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        pytest.fail(f"dag_runner {args[0]} failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-8000:]}")
    return json.loads(lines[-1][len("RESULT "):])
