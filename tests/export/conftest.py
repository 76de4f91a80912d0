"""Shared fixtures: one tiny-preset export made through the CLI, reused by the tests that only read it."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from momentor import config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tiny_config(tmp_path):
    """A function: ``export`` overrides -> the tiny-preset Config with its ONNX cache under ``tmp_path``."""

    def make(**export) -> config.Config:
        return config.from_dict(
            {"model": {"preset": "tiny"}, "paths": {"cache": str(tmp_path / "cache")}, "export": export}
        )

    return make


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory) -> tuple[Path, dict, config.Config]:
    """``momentor export`` of the tiny preset (seeded initial model): (folder, printed summary, its config)."""
    from momentor.cli import main

    tmp = tmp_path_factory.mktemp("tiny_export")
    overrides = ["model.preset=tiny", f"paths.cache={tmp / 'cache'}"]
    argv = ["export", "--params", str(ROOT / "params.yaml"), "--out", str(tmp / "export")]
    for override in overrides:
        argv += ["-S", override]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(argv) == 0
    return tmp / "export", json.loads(printed.getvalue()), config.load(ROOT / "params.yaml", overrides)
