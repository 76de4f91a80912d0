"""Event clips from the cached frame features: an event of a training video shown as a video of its own.

The align stage (``momentor train --stage align``, an ablation: off in every preset and in no pipeline)
pairs each event's frames with its caption. The clip is cut from the video's cached features, without
decoding: frame j of the clip, at t_j = j·T/(m−1) of its T seconds, takes the source frame nearest to that
time inside the event (never one of the neighbouring event, where the event has a frame of its own).
:func:`clip_features` takes a sequence of events, so a clip may also string several together.

Legend: m frames, f feature width.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from momentor.data.manifest import read_table


@dataclass(frozen=True)
class Part:
    """One event: [start, end] s of training video ``video_id`` (of ``duration`` s), with its caption."""

    video_id: str
    start: float
    end: float
    duration: float
    caption: str

    @property
    def length(self) -> float:
        return self.end - self.start


def training_events(manifest_dir: str | Path, split: str = "train") -> list[list[Part]]:
    """The events of each ``split`` video, in time order: the engine's segments (what the stage's own
    instructions are written from), or the annotated ones for a video the engine has not segmented."""
    videos = read_table(manifest_dir, "videos")
    videos = videos[videos["split"] == split]
    durations = dict(zip(videos["video_id"], videos["duration"]))
    segments = read_table(manifest_dir, "segments")
    segments = segments[segments["video_id"].isin(durations) & (segments["end"] > segments["start"])]
    out = []
    for video_id, rows in segments.groupby("video_id", sort=True):
        engine = rows[rows["origin"] == "engine"]
        rows = (engine if len(engine) else rows).sort_values(["start", "end"])
        duration = float(durations[video_id])
        out.append([Part(str(video_id), float(s), float(e), duration, str(c))
                    for s, e, c in zip(rows["start"], rows["end"], rows["caption"])])
    return out


def timeline(parts: tuple[Part, ...] | list[Part]) -> tuple[np.ndarray, np.ndarray]:
    """Where each event sits in the clip: starts (k,) and ends (k,), s, end to end from 0."""
    ends = np.cumsum([p.length for p in parts])  # (k,)
    return np.concatenate([[0.0], ends[:-1]]), ends


def clip_features(parts: tuple[Part, ...], frames_of: Mapping[str, torch.Tensor], num_frames: int) -> torch.Tensor:
    """The features (m, f) of the clip of ``parts`` (see the module docstring)."""
    starts, ends = timeline(parts)
    duration = float(ends[-1])
    times = np.arange(num_frames) * duration / (num_frames - 1)  # (m,)
    which = np.minimum(np.searchsorted(ends, times, side="right"), len(parts) - 1)  # (m,)
    rows = []
    for j, i in enumerate(which):
        part = parts[i]
        step = part.duration / (num_frames - 1)  # source frame spacing, s
        local = part.start + times[j] - starts[i]  # time in the source video
        first, last = int(np.ceil(part.start / step - 1e-6)), int(np.floor(part.end / step + 1e-6))
        index = int(np.rint(local / step))
        if first <= last:
            index = min(max(index, first), last)
        rows.append(frames_of[part.video_id][min(max(index, 0), num_frames - 1)])
    return torch.stack(rows)  # (m, f)
