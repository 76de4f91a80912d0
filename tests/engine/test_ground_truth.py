"""The engine's derived ground truth for highlight detection (clip saliency) and action segmentation (frame
labels), hand-worked, and on the tiny real corpus through the engine."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from momentor.data.engine.ground_truth import clip_coverage, clip_saliency, frame_labels

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))  # the shared tiny corpus builder
from momentor_tiny_corpus import tiny_corpus_root  # noqa: E402


@pytest.fixture(scope="module")
def tiny_corpus_manifest(tmp_path_factory) -> Path:
    """The manifest of the tiny real corpus (built by ingest, features and the engine, once per session)."""
    return tiny_corpus_root(tmp_path_factory) / "work" / "manifest"


def test_clip_saliency_is_the_covered_fraction_of_each_2s_clip_in_quarters():
    # 11.5 s: int(11.5 / 2) = 5 clips [0,2] ... [8,10]; the window [1, 5] covers 1/2, 1, 1/2 of clips 0, 1, 2
    assert clip_saliency([[1.0, 5.0]], 11.5) == ([0, 1, 2], [[2, 2, 2], [4, 4, 4], [2, 2, 2]])
    # two windows: the union counts once ([3, 4] twice is still half of clip 1); a window in the dropped
    # partial last clip (10.2 s on) is no clip at all
    assert clip_saliency([[3.0, 4.0], [3.0, 4.0], [10.2, 11.5]], 11.5) == ([1], [[2, 2, 2]])
    # 0.25 of a clip: round(4 * 0.25) = 1 ("bad" but relevant)
    assert clip_saliency([[7.5, 8.0]], 11.5) == ([3], [[1, 1, 1]])
    assert clip_coverage(1.0, 5.0, 11.5).tolist() == [0.5, 1.0, 0.5, 0.0, 0.0]


def test_frame_labels_take_the_event_at_each_frame_centre_and_background_elsewhere():
    # 10 frames at 2 fps, centres 0.25, 0.75, ..., 4.75
    labels = frame_labels([(0.5, 2.0, "pour"), (1.5, 3.0, "stir")], 10, 2.0)
    assert labels == ["background", "pour", "pour", "stir", "stir", "stir", "background", "background",
                      "background", "background"]


def test_the_engine_writes_saliency_and_frame_labels_of_the_sample_corpus(tiny_corpus_manifest):
    import pandas as pd

    videos = pd.read_parquet(tiny_corpus_manifest / "videos.parquet")
    queries = pd.read_parquet(tiny_corpus_manifest / "queries.parquet")
    labelled = pd.read_parquet(tiny_corpus_manifest / "frame_labels.parquet")
    segments = pd.read_parquet(tiny_corpus_manifest / "segments.parquet")
    assert set(labelled.video_id) == set(videos.video_id)
    for video in videos.itertuples():
        row = labelled[labelled.video_id == video.video_id].iloc[0]
        assert len(row.labels) == round(video.duration * video.fps) and row.fps == video.fps
        events = segments[(segments.video_id == video.video_id) & (segments.origin == "gt")]
        assert set(row.labels) == set(events.caption)  # the events tile the video: no background frame
    for q in queries.itertuples():
        expected = clip_saliency(q.windows, float(videos.set_index("video_id").duration[q.video_id]))
        assert (list(q.relevant_clip_ids), [list(r) for r in q.saliency_scores]) == expected
