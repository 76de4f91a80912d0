"""Fixtures of the evaluation tests: one METEOR process for the whole session."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def meteor():
    """A running METEOR 1.5 (its JVM loads the paraphrase table once, ~10 s)."""
    if shutil.which("java") is None:
        pytest.skip("java is not installed; METEOR 1.5 needs it")
    from momentor.eval.caption_scorers import Meteor

    with Meteor() as scorer:
        yield scorer
