"""The Instance-Event matrix: which instance appears in which event, and what it does there.

``presence[i, e]`` is the fraction of event ``e``'s sampled frames in which instance ``i`` was detected
(0..1). An instance *appears* in an event when its presence reaches ``threshold``. The cross-segment tasks
(instance activity summarization, cross-segment QA) and the merging of sub-segments read it.

What an instance does in an event is read off its boxes there: where its centre goes (left/right, up/down),
whether it grows or shrinks, or whether it stays in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from momentor.data.engine.tracks import Track

MOVE_MIN = 0.15  # centre displacement (fraction of the frame) that counts as moving
SCALE_MIN = 1.35  # size ratio that counts as growing or shrinking


@dataclass
class InstanceEventMatrix:
    """Instances (rows) against events (columns) of one video."""

    instances: list[Track]
    segments: list[tuple[float, float]]
    presence: np.ndarray  # (instances, events) float in [0, 1]

    def members(self, event: int, threshold: float) -> list[int]:
        """Indices of the instances that appear in ``event``."""
        return (
            [int(i) for i in np.flatnonzero(self.presence[:, event] >= threshold)]
            if len(self.instances)
            else []
        )

    def events_of(self, instance: int, threshold: float) -> list[int]:
        """Indices of the events that ``instance`` appears in."""
        return [int(e) for e in np.flatnonzero(self.presence[instance] >= threshold)]

    def boxes_in(self, instance: int, event: int) -> np.ndarray:
        """The instance's boxes (k, 4) inside the event's time span."""
        start, end = self.segments[event]
        track = self.instances[instance]
        times = np.asarray(track.times)
        keep = (times >= start) & (times <= end)
        return np.asarray(track.boxes, float).reshape(-1, 4)[keep]


def segment_index(times: np.ndarray, segments: Sequence[tuple[float, float]]) -> np.ndarray:
    """The segment each time falls in ([start, end), the last one closed), -1 outside all: (m,) -> (m,)."""
    starts = np.array([s for s, _ in segments])
    index = np.searchsorted(starts, times, side="right") - 1
    end = segments[-1][1] if segments else 0.0
    return np.where((index >= 0) & (times <= end + 1e-9), index, -1)


def build_matrix(
    instances: Sequence[Track], segments: Sequence[tuple[float, float]], frame_times: np.ndarray
) -> InstanceEventMatrix:
    """Presence of every instance in every segment, counted over the sampled ``frame_times``."""
    frame_times = np.asarray(frame_times, float)
    frames_per_event = np.bincount(segment_index(frame_times, segments).clip(0), minlength=len(segments))
    presence = np.zeros((len(instances), len(segments)))
    for i, track in enumerate(instances):
        seen = segment_index(np.unique(np.asarray(track.times, float)), segments)
        counts = np.bincount(seen[seen >= 0], minlength=len(segments))
        presence[i] = counts / np.maximum(frames_per_event, 1)
    return InstanceEventMatrix(list(instances), list(segments), presence.clip(0, 1))


def describe_activity(boxes: np.ndarray) -> str:
    """What a box sequence (k, 4) does, as a verb phrase: "moves from left to right", "grows larger", ..."""
    if len(boxes) < 2:
        return "appears briefly"
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2  # (k, 2)
    sizes = np.sqrt(np.clip((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1e-9, None))
    dx, dy = centres[-1] - centres[0]
    travel = np.abs(np.diff(centres, axis=0)).sum()
    scale = sizes[-1] / sizes[0]
    if max(abs(dx), abs(dy)) >= MOVE_MIN:
        if abs(dx) >= 2 * abs(dy):
            return "moves from left to right" if dx > 0 else "moves from right to left"
        if abs(dy) >= 2 * abs(dx):
            return "moves downward" if dy > 0 else "moves upward"
        return f"moves diagonally to the {'bottom' if dy > 0 else 'top'} {'right' if dx > 0 else 'left'}"
    if scale >= SCALE_MIN:
        return "grows larger"
    if scale <= 1 / SCALE_MIN:
        return "shrinks"
    if travel >= 2 * MOVE_MIN:
        return "moves around and comes back"
    return "stays in place"


def describe_position(boxes: np.ndarray) -> str:
    """Where a box sequence (k, 4) mostly is: "on the left", "in the centre", "at the top right", ..."""
    cx, cy = ((boxes[:, :2] + boxes[:, 2:]) / 2).mean(axis=0)
    col = "left" if cx < 0.4 else "right" if cx > 0.6 else ""
    row = "top" if cy < 0.4 else "bottom" if cy > 0.6 else ""
    if row and col:
        return f"at the {row} {col}"
    if row or col:
        return f"{'at' if row else 'on'} the {row or col}"
    return "in the centre"
