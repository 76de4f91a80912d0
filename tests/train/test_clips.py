"""Event clips from cached frame features (the align stage's examples): frames in order, inside their event."""

from __future__ import annotations

import torch

from momentor.train.clips import Part, clip_features


def test_clip_frames_come_from_their_event_in_order():
    # 10 source frames at 0, 1, ..., 9 s; each feature row holds (video, frame index)
    frames = {v: torch.tensor([[i, k] for k in range(10)], dtype=torch.float32) for i, v in enumerate("abc")}
    parts = (Part("a", 5.0, 9.0, 9.0, "x"), Part("b", 0.0, 2.0, 9.0, "y"), Part("c", 3.0, 6.0, 9.0, "z"))
    out = clip_features(parts, frames, 10)  # 10 frames over 4 + 2 + 3 = 9 s: one per second
    assert out.shape == (10, 2)
    # t = 0..3: a at 5..8 s; t = 4, 5: b at 0, 1 s; t = 6 (b's end) starts c: 3, 4, 5 s; t = 9, the end: c at 6 s
    assert out.tolist() == [[0, 5], [0, 6], [0, 7], [0, 8], [1, 0], [1, 1], [2, 3], [2, 4], [2, 5], [2, 6]]


def test_clip_frames_stay_inside_their_event():
    frames = {"a": torch.arange(5.0)[:, None]}  # 5 frames at 0, 2.5, 5, 7.5, 10 s
    parts = (Part("a", 4.0, 8.0, 10.0, "x"), Part("a", 0.0, 1.0, 10.0, "y"))
    out = clip_features(parts, frames, 5)  # at 0, 1.25, 2.5, 3.75, 5 s
    # the first 4 s are [4, 8] s of the source (frames 2 and 3): 4 -> 2, 5.25 -> 2, 6.5 -> 3, 7.75 -> 3;
    # the last frame, 5 s, is the source's 1 s, nearest to frame 0 (2.5 s would be the neighbouring event)
    assert out[:, 0].tolist() == [2.0, 2.0, 3.0, 3.0, 0.0]
    # an event with no frame inside takes the nearest one
    assert clip_features((Part("a", 5.5, 7.4, 10.0, "x"), Part("a", 0.0, 1.0, 10.0, "y")), frames, 5)[0, 0].item() == 2.0
