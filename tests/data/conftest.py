"""Fixtures of the data tests: a small counter video, a tiny sample corpus config."""

from __future__ import annotations

from pathlib import Path

import pytest
from video_files import write_counter_video

from momentor.config import SampleCorpusConfig


@pytest.fixture
def counter_video(tmp_path) -> Path:
    """A 3 s, 8 frames/s H.264 mp4 of 24 frames that show their own index."""
    return write_counter_video(tmp_path / "counter.mp4")


@pytest.fixture
def tiny_corpus_cfg() -> SampleCorpusConfig:
    """The sample corpus config with small frames (fast), same generator as the real one."""
    return SampleCorpusConfig(seed=0, num_videos=2, size=64, fps=8)
