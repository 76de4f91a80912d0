"""A real tiny corpus for training tests: sample videos -> manifest -> tiny-encoder features -> data engine.

Built once per session with the data part's own functions (the same code ``momentor sample-data``, ``ingest``,
``features`` and ``engine`` run), 8 short videos, in a temporary folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from momentor import config as config_lib

NUM_VIDEOS = 8


def corpus_overrides(root: Path) -> list[str]:
    return [
        "model.preset=tiny",
        f"paths.raw={root / 'data'}",
        f"paths.work={root / 'work'}",
        f"data.sources=[{{format: sample, path: {root / 'data' / 'sample'}}}]",
        f"data.sample.num_videos={NUM_VIDEOS}",
    ]


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """Root folder of the corpus (``data/`` and ``work/`` with manifest and features)."""
    from momentor.data.engine.run import run_engine
    from momentor.data.features import extract_features
    from momentor.data.ingest import ingest
    from momentor.data.sample_corpus import build_sample_corpus

    root = tmp_path_factory.mktemp("tiny_corpus")
    cfg = config_lib.from_dict({}, corpus_overrides(root))
    build_sample_corpus(cfg.data.sample, root / "data" / "sample")
    ingest(cfg)
    extract_features(cfg, progress=False)
    run_engine(cfg)
    return root


@pytest.fixture
def tiny_overrides(tiny_corpus) -> list[str]:
    """``key=value`` overrides that point a config at the tiny corpus with the tiny preset."""
    return corpus_overrides(tiny_corpus)


@pytest.fixture
def tiny_cfg(tiny_corpus):
    def make(*overrides: str) -> config_lib.Config:
        return config_lib.from_dict({}, corpus_overrides(tiny_corpus) + list(overrides))

    return make
