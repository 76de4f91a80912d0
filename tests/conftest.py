"""Shared test fixtures: paths to ../shared/fixtures and small helpers."""

from __future__ import annotations

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
