"""Fixtures of the server tests: the tiny real corpus, a tiny model with perturbed weights, a running server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))  # the shared corpus builder lives there
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


class RunningServer:
    """``momentor serve``'s app on uvicorn in a thread, on a free port: real HTTP on 127.0.0.1."""

    def __init__(self, app):
        import socket
        import threading

        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        import time

        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        return self

    def wait_ready(self, timeout: float = 120) -> None:
        import time

        import httpx

        deadline = time.monotonic() + timeout
        while httpx.get(f"{self.url}/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the model did not load"
            time.sleep(0.1)

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="session")
def running_server():
    return RunningServer
