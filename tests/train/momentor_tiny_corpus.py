"""A real tiny corpus for training and inference tests: videos -> manifest -> tiny-encoder features -> engine.

Built with the data part's own functions (the code ``momentor sample-data``, ``ingest``, ``features`` and
``engine`` run): 8 short H.264 videos in a temporary folder, once per test session (tests/train and
tests/infer share it through this module).
"""

from __future__ import annotations

from pathlib import Path

from momentor import config as config_lib

NUM_VIDEOS = 8
_built: dict[str, Path] = {}


def corpus_overrides(root: Path) -> list[str]:
    return [
        "model.preset=tiny",
        f"paths.raw={root / 'data'}",
        f"paths.work={root / 'work'}",
        f"data.sources=[{{format: sample, path: {root / 'data' / 'sample'}}}]",
        f"data.sample.num_videos={NUM_VIDEOS}",
    ]


def tiny_corpus_root(tmp_path_factory) -> Path:
    """Root folder of the corpus (``data/`` and ``work/`` with manifest and features), built on first use."""
    if "root" not in _built:
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
        _built["root"] = root
    return _built["root"]
