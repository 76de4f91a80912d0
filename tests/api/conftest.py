"""Fixtures of the API and server tests: the tiny real corpus, a tiny model with perturbed weights, and a
running server (running_server.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))  # the shared corpus builder lives there
sys.path.insert(0, str(Path(__file__).resolve().parent))  # running_server.py
from momentor_tiny_corpus import corpus_overrides, tiny_corpus_root

from momentor import config as config_lib


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    return tiny_corpus_root(tmp_path_factory)


@pytest.fixture(scope="session")
def corpus_video(tiny_corpus) -> Path:
    return sorted((tiny_corpus / "data" / "sample").rglob("*.mp4"))[0]


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_corpus, tmp_path_factory) -> Path:
    """A tiny checkpoint whose trainable tensors are not the builder's: a load that dropped them would show."""
    import torch

    from momentor.model import checkpoint
    from momentor.model.builders import build_model

    cfg = config_lib.from_dict({}, corpus_overrides(tiny_corpus))
    model = build_model(cfg.model, seed=cfg.seed, with_encoder=False)
    generator = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for tensor in model.trainable_parameters().values():
            tensor.add_(torch.randn(tensor.shape, generator=generator) * 0.5)
    return checkpoint.save(model, cfg, tmp_path_factory.mktemp("ckpt") / "model")


@pytest.fixture(scope="session")
def running_server():
    from running_server import RunningServer

    return RunningServer
