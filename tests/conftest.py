"""Shared test fixtures: paths to ../shared/fixtures and small helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = ROOT.parent / "shared" / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The real benchmark annotation files beside the checkout; skip when absent (a user's fresh clone)."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"benchmark annotation fixtures not found at {SHARED_FIXTURES} (they sit beside the checkout in CI)")
    return SHARED_FIXTURES


@pytest.fixture(autouse=True)
def _launcher_variables_do_not_leak():
    """A test that trains in this process sets RANK, MASTER_PORT, ... here (as a single process does) while its
    process group still listens on that port; a later test's subprocess (a DVC stage, an Airflow task, a KFP
    local task) would inherit them and try to listen on the same port. Each test leaves them as it found them."""
    from momentor.train.launch import LAUNCHER_VARIABLES

    before = {name: os.environ.get(name) for name in LAUNCHER_VARIABLES}
    yield
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
