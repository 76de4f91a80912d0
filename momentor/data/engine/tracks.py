"""Instance tracks: per-frame detections joined across frames, then into instances.

Linking is frame to frame within a label: the live tracks of a label and the frame's detections of that
label are matched one to one by the Hungarian algorithm on 1 − IoU, a pair counting when IoU >=
``min_iou``; a track that finds no match for more than ``max_gap`` frames ends.

A moving object that jumps (a cut, a fast motion between sampled frames) breaks into several tracks.
Tracks of the same label that never overlap in time are then joined into one **instance**: the label
(colour and shape here, a class name for an open-vocabulary detector) is the appearance cue that
re-identifies it, as the same person or object returns in a later event. Instances seen in fewer than
``min_frames`` frames are dropped as flicker (after joining, so that a fast object whose track breaks at
every sampled frame is not lost).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from momentor.data.engine.detectors import Detection


@dataclass
class Track:
    """One instance over time: boxes (x0, y0, x1, y1) in fractions of the frame, one per time."""

    track_id: str
    label: str
    times: list[float] = field(default_factory=list)
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)

    def add(self, time: float, detection: Detection) -> None:
        self.times.append(float(time))
        self.boxes.append(tuple(float(v) for v in detection.box))
        self.scores.append(float(detection.score))


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (p, 4) with every box in ``b`` (q, 4) -> (p, q)."""
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def link_detections(
    detections: Sequence[Sequence[Detection]],
    times: Sequence[float],
    min_iou: float,
    max_gap: int,
    prefix: str = "track",
) -> list[Track]:
    """Join per-frame detections (one list per sampled frame, at ``times``) into tracks."""
    finished: list[Track] = []
    live: list[tuple[Track, int]] = []  # (track, index of the frame it was last seen in)
    count = 0
    for f, (frame_detections, time) in enumerate(zip(detections, times)):
        # a track ends once it has missed more than max_gap frames in a row
        finished.extend(track for track, last in live if f - last - 1 > max_gap)
        live = [(track, last) for track, last in live if f - last - 1 <= max_gap]
        for label in sorted({d.label for d in frame_detections}):
            new = [d for d in frame_detections if d.label == label]
            candidates = [i for i, (t, _) in enumerate(live) if t.label == label]
            pairs: list[tuple[int, int]] = []
            if candidates:
                last_boxes = np.array([live[i][0].boxes[-1] for i in candidates])
                iou = box_iou(last_boxes, np.array([d.box for d in new]))  # (tracks, detections)
                rows, cols = linear_sum_assignment(1.0 - iou)
                pairs = [(candidates[r], c) for r, c in zip(rows, cols) if iou[r, c] >= min_iou]
            taken = {c for _, c in pairs}
            for i, c in pairs:
                live[i][0].add(time, new[c])
                live[i] = (live[i][0], f)
            for c, detection in enumerate(new):
                if c not in taken:
                    track = Track(f"{prefix}{count}", label)
                    count += 1
                    track.add(time, detection)
                    live.append((track, f))
    finished.extend(track for track, _ in live)
    return sorted(finished, key=lambda t: (t.times[0], t.track_id))


def join_instances(tracks: Sequence[Track], min_frames: int, prefix: str = "instance") -> list[Track]:
    """Join tracks of the same label that never overlap in time into instances (label = appearance cue);
    keep the instances seen in at least ``min_frames`` frames."""
    instances: list[Track] = []
    for track in sorted(tracks, key=lambda t: t.times[0]):
        home = next(
            (i for i in instances if i.label == track.label and i.times[-1] < track.times[0]),
            None,
        )
        if home is None:
            home = Track(f"{prefix}{len(instances)}", track.label)
            instances.append(home)
        home.times.extend(track.times)
        home.boxes.extend(track.boxes)
        home.scores.extend(track.scores)
    kept = [i for i in instances if len(i.times) >= min_frames]
    for k, instance in enumerate(kept):  # ids without gaps from dropped flicker
        instance.track_id = f"{prefix}{k}"
    return kept
