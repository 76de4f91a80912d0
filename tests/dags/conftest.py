"""Airflow test fixtures: a throw-away AIRFLOW_HOME with a migrated SQLite database (once per session)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_testing import airflow_env


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory) -> Path:
    """An AIRFLOW_HOME whose SQLite database ``airflow db migrate`` created (once per session)."""
    home = tmp_path_factory.mktemp("airflow-home")
    subprocess.run([str(Path(sys.executable).with_name("airflow")), "db", "migrate"], env=airflow_env(home),
                   check=True, capture_output=True, timeout=300)
    shutil.copy(home / "airflow.db", home / "pristine.db")
    return home


@pytest.fixture
def clean_airflow_home(airflow_home, tmp_path) -> Path:
    """An AIRFLOW_HOME of its own with a freshly migrated database: no Asset event of other tests in it."""
    home = tmp_path / "airflow-home"
    home.mkdir()
    shutil.copy(airflow_home / "pristine.db", home / "airflow.db")
    return home
