"""Composed training videos (train.<stage>.compose): events, frames and instructions of new sequences."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from momentor import config as config_lib
from momentor.model.prompt import TIME_PATTERN
from momentor.train import checkpointing
from momentor.train.compose import (
    COMPOSABLE,
    Part,
    compose_features,
    compose_videos,
    composed_examples,
    training_events,
)
from momentor.train.dataset import STAGE_TASKS, stage_examples
from momentor.train.loop import train


def test_composed_frames_come_from_their_event_in_order():
    # 10 source frames at 0, 1, ..., 9 s; each feature row holds (video, frame index)
    frames = {v: torch.tensor([[i, k] for k in range(10)], dtype=torch.float32) for i, v in enumerate("abc")}
    parts = (Part("a", 5.0, 9.0, 9.0, "x"), Part("b", 0.0, 2.0, 9.0, "y"), Part("c", 3.0, 6.0, 9.0, "z"))
    out = compose_features(parts, frames, 10)  # 10 frames over 4 + 2 + 3 = 9 s: one per second
    assert out.shape == (10, 2)
    # t = 0..3: a at 5..8 s; t = 4, 5: b at 0, 1 s; t = 6 (b's end) starts c: 3, 4, 5 s;
    # t = 9, the end: c at 6 s
    assert out.tolist() == [[0, 5], [0, 6], [0, 7], [0, 8], [1, 0], [1, 1], [2, 3], [2, 4], [2, 5], [2, 6]]


def test_composed_frames_stay_inside_their_event():
    frames = {"a": torch.arange(5.0)[:, None]}  # 5 frames at 0, 2.5, 5, 7.5, 10 s
    parts = (Part("a", 4.0, 8.0, 10.0, "x"), Part("a", 0.0, 1.0, 10.0, "y"))
    out = compose_features(parts, frames, 5)  # at 0, 1.25, 2.5, 3.75, 5 s
    # the first 4 s are [4, 8] s of the source (frames 2 and 3): 4 -> 2, 5.25 -> 2, 6.5 -> 3, 7.75 -> 3;
    # the last frame, 5 s, is the source's 1 s, nearest to frame 0 (2.5 s would be the neighbouring event)
    assert out[:, 0].tolist() == [2.0, 2.0, 3.0, 3.0, 0.0]
    # an event with no frame inside takes the nearest one
    assert compose_features((Part("a", 5.5, 7.4, 10.0, "x"), Part("a", 0.0, 1.0, 10.0, "y")), frames, 5)[
        0, 0
    ].item() == 2.0


def test_sequences_mix_videos_with_distinct_captions_and_are_seeded():
    events = [
        [Part(f"v{v}", e * 2.0, e * 2.0 + 2, 8.0, f"caption {v}-{e % 2}") for e in range(2 + v % 3)]
        for v in range(6)
    ]
    videos = compose_videos(events, 40, seed=3, stage_index=1)
    assert len(videos) == 40 and videos == compose_videos(events, 40, seed=3, stage_index=1)
    assert videos != compose_videos(events, 40, seed=4, stage_index=1)
    for parts in videos:
        assert 2 <= len(parts) <= 4
        assert len({p.video_id for p in parts}) == len(parts)
        assert len({p.caption for p in parts}) == len(parts)
    # not just the source order: events move to other positions
    assert any(parts[0].start > 0 for parts in videos)
    assert compose_videos(events[:1], 5, seed=3, stage_index=1) == []  # one video: nothing to mix


def test_composed_instructions_time_the_new_positions(tiny_cfg):
    manifest = tiny_cfg().paths.work + "/manifest"
    videos = len(training_events(manifest))
    assert videos >= 2
    tasks = [*STAGE_TASKS["instruct"], "gesm"]
    examples = composed_examples(manifest, 2, tasks, seed=0, stage_index=2)
    assert examples == composed_examples(manifest, 2, tasks, seed=0, stage_index=2)  # resumable
    assert len({e.video_id for e in examples}) == 2 * videos
    for example in examples:
        ends = np.cumsum([p.length for p in example.parts])
        assert example.duration == pytest.approx(ends[-1])
        grid = np.concatenate([[0.0], ends])
        turns = json.loads(example.conversations)
        times = [float(t) for turn in turns for t in TIME_PATTERN.findall(turn["value"])]
        # every timestamp is a boundary of the composed video (2 decimals, rounded down at its end)
        assert times and all(np.min(np.abs(grid - t)) <= 0.01 for t in times), (example, grid)

    # one event sequence per composed video: its captions in their new order, with their new times
    gesm = composed_examples(manifest, 2, ["gesm"], seed=0, stage_index=2, repeats={"gesm": 3})
    assert len(gesm) == 3 * 2 * videos
    answer = json.loads(gesm[0].conversations)[1]["value"]
    captions = [answer.index(p.caption) for p in gesm[0].parts]
    assert captions == sorted(captions) and answer.startswith("<t=0> ~ ")
    # localization from each event's caption and from each of its annotated queries (3 per sample event)
    events = training_events(manifest)
    assert all(len(part.queries) == 3 for video in events for part in video)
    local = composed_examples(manifest, 1, ["direct_segment_localization"], seed=0, stage_index=2)
    videos = {e.video_id: e.parts for e in local}
    assert len(local) == sum(len(parts) + sum(len(p.queries) for p in parts) for parts in videos.values())
    # the instance task types are never written for a composition (it has no Instance-Event matrix)
    assert composed_examples(manifest, 2, ["segment_qa", "instance_qa"], seed=0, stage_index=2) == []
    assert set(COMPOSABLE) < set(tasks)


def test_training_with_composition_adds_its_examples(tiny_cfg, tmp_path):
    cfg = tiny_cfg("train.micro_batch_size=2", "train.gesm.max_steps=2", "train.gesm.compose=3")
    out = train(cfg, "gesm", tmp_path / "gesm", show_progress=False)
    state = json.loads((out / checkpointing.STATE_JSON).read_text())
    manifest = cfg.paths.work + "/manifest"
    real = len(stage_examples(manifest, "gesm"))
    assert state["plan"]["num_examples"] == real + round(3 * len(training_events(manifest)))
    assert "segments.parquet" in state["data_version"]


@pytest.mark.parametrize(
    ("override", "message"),
    [("train.gesm.compose=-1", "train.gesm.compose"), ("train.align.compose=2", "train.align.compose")],
)
def test_compose_settings_are_checked(override, message):
    with pytest.raises(config_lib.ConfigError, match=message):
        config_lib.from_dict({}, [override])
