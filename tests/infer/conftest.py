"""Fixtures of the inference tests: the tiny real corpus of tests/train, and an untrained tiny checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(
    0, str(Path(__file__).resolve().parents[1] / "train")
)  # the shared corpus builder lives there
from momentor_tiny_corpus import corpus_overrides, tiny_corpus_root

from momentor import config as config_lib


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    return tiny_corpus_root(tmp_path_factory)


@pytest.fixture
def tiny_cfg(tiny_corpus):
    def make(*overrides: str) -> config_lib.Config:
        return config_lib.from_dict({}, corpus_overrides(tiny_corpus) + list(overrides))

    return make


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_corpus, tmp_path_factory) -> Path:
    """A tiny model checkpoint (untrained: inference plumbing does not need a good model)."""
    from momentor.model import checkpoint
    from momentor.model.builders import build_model

    cfg = config_lib.from_dict({}, corpus_overrides(tiny_corpus))
    return checkpoint.save(
        build_model(cfg.model, seed=cfg.seed, with_encoder=False),
        cfg,
        tmp_path_factory.mktemp("ckpt") / "model",
    )
