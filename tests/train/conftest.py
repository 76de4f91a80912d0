"""Fixtures of the training tests: the tiny real corpus (see momentor_tiny_corpus.py) and configs over it."""

from __future__ import annotations

from pathlib import Path

import pytest
from momentor_tiny_corpus import corpus_overrides, tiny_corpus_root

from momentor import config as config_lib


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    return tiny_corpus_root(tmp_path_factory)


@pytest.fixture
def tiny_overrides(tiny_corpus) -> list[str]:
    """``key=value`` overrides that point a config at the tiny corpus with the tiny preset."""
    return corpus_overrides(tiny_corpus)


@pytest.fixture
def tiny_cfg(tiny_corpus):
    def make(*overrides: str) -> config_lib.Config:
        return config_lib.from_dict({}, corpus_overrides(tiny_corpus) + list(overrides))

    return make
