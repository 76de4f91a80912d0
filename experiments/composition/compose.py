"""Composed training videos: new event sequences cut from the training videos' frame features.

A small corpus is memorised: on the cpu preset's 34 training videos the model learned "this video -> that
window" (the true start's rank among the 32 temporal tokens: median 2 on train, 14 on test) instead of
matching the query to the frames. A composed video strings together events of *different* training videos
(their frames, their captions) in a random order and at new positions, so a window can only be found by
looking at the frames. Composition happens on the cached features, at training time, with no decoding:

- ``train.<stage>.compose = k`` adds ``round(k · training videos)`` composed videos to the stage;
- each takes as many events as a randomly drawn training video has (2-4 on the sample corpus), every one
  from a different video and with its own caption, so every question has one answer;
- its instructions are written by the data engine's own generator, for the task types that need only the
  events and their captions (:data:`COMPOSABLE`): the instance types need the Instance-Event matrix, which
  a composition does not have.

The composed set is a pure function of (seed, stage, manifest): a resumed run reads the same examples.

Legend: m frames, f feature width.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from momentor.data.engine.filtering import conversation
from momentor.data.engine.instance_event import InstanceEventMatrix
from momentor.data.engine.instructions import (
    VideoStructure,
    generate_instructions,
    grounding_queries,
)
from momentor.data.manifest import read_table
from momentor.eval.intervals import iou_matrix

# task types written from events and captions alone
COMPOSABLE = (
    "gesm",
    "segment_captioning",
    "direct_segment_localization",
    "composite_segment_retrieval",
    "cross_segment_qa",
)
COMPOSED_PREFIX = "composed/"


@dataclass(frozen=True)
class Part:
    """One event of a composed video: [start, end] s of training video ``video_id`` (of ``duration`` s)."""

    video_id: str
    start: float
    end: float
    duration: float
    caption: str
    queries: tuple[str, ...] = ()  # annotated grounding queries of this event (window IoU >= 0.5)

    @property
    def length(self) -> float:
        return self.end - self.start


def training_events(manifest_dir: str | Path, split: str = "train") -> list[list[Part]]:
    """The events of each ``split`` video, in time order: the engine's segments (what the stage's own
    instructions are written from), or the annotated ones for a video the engine has not segmented; each
    with the annotated grounding queries whose window it mostly is."""
    videos = read_table(manifest_dir, "videos")
    videos = videos[videos["split"] == split]
    durations = dict(zip(videos["video_id"], videos["duration"]))
    segments = read_table(manifest_dir, "segments")
    segments = segments[segments["video_id"].isin(durations) & (segments["end"] > segments["start"])]
    queries = grounding_queries(read_table(manifest_dir, "queries"))
    out = []
    for video_id, rows in segments.groupby("video_id", sort=True):
        engine = rows[rows["origin"] == "engine"]
        rows = (engine if len(engine) else rows).sort_values(["start", "end"])
        duration = float(durations[video_id])
        asked = queries.get(str(video_id), [])
        overlap = iou_matrix(  # (events, queries)
            rows[["start", "end"]].to_numpy(float), np.array([w for _, w in asked], float).reshape(-1, 2)
        )
        out.append(
            [
                Part(
                    str(video_id),
                    float(s),
                    float(e),
                    duration,
                    str(c),
                    tuple(text for (text, _), iou in zip(asked, overlap[k]) if iou >= 0.5),
                )
                for k, (s, e, c) in enumerate(zip(rows["start"], rows["end"], rows["caption"]))
            ]
        )
    return out


def timeline(parts: tuple[Part, ...] | list[Part]) -> tuple[np.ndarray, np.ndarray]:
    """Where each event sits in the composed video: starts (k,) and ends (k,), s, end to end from 0."""
    ends = np.cumsum([p.length for p in parts])  # (k,)
    return np.concatenate([[0.0], ends[:-1]]), ends


def compose_videos(events: list[list[Part]], count: int, seed: int, stage_index: int) -> list[list[Part]]:
    """``count`` event sequences, each with events of different videos and different captions."""
    pool = [part for video in events for part in video]
    if count <= 0 or len({p.video_id for p in pool}) < 2:
        return []
    rng = np.random.default_rng([seed, stage_index, 0xC0])
    sizes = [len(video) for video in events]
    composed = []
    for _ in range(count):
        size = max(2, sizes[int(rng.integers(len(sizes)))])
        chosen: list[Part] = []
        for i in rng.permutation(len(pool)):
            part = pool[i]
            if all(part.video_id != c.video_id and part.caption != c.caption for c in chosen):
                chosen.append(part)
                if len(chosen) == size:
                    break
        if len(chosen) >= 2:
            composed.append(chosen)
    return composed


def composed_examples(
    manifest_dir: str | Path,
    compose: float,
    tasks: list[str],
    seed: int,
    stage_index: int,
    repeats: dict[str, int] | None = None,
) -> list:
    """Examples (:class:`momentor.train.dataset.Example` with ``parts``) of ``round(compose · videos)``
    composed videos, for the ``tasks`` that can be written from events alone."""
    from momentor.train.dataset import Example

    events = training_events(manifest_dir)
    kept_tasks = [t for t in tasks if t in COMPOSABLE]
    if not kept_tasks:
        return []
    examples = []
    for k, parts in enumerate(compose_videos(events, round(compose * len(events)), seed, stage_index)):
        video_id = f"{COMPOSED_PREFIX}{stage_index}/{k:05d}"
        starts, ends = timeline(parts)
        duration = float(ends[-1])
        segments = [(float(s), float(e)) for s, e in zip(starts, ends)]
        structure = VideoStructure(
            video_id,
            duration,
            "train",
            segments,
            [p.caption for p in parts],
            [1.0] * len(parts),  # the events' captions are the ones their own videos are trained on
            InstanceEventMatrix([], segments, np.zeros((0, len(parts)))),
            queries=[(q, segments[i]) for i, part in enumerate(parts) for q in part.queries],
        )
        for instruction in generate_instructions(structure, kept_tasks, seed):
            example = Example(video_id, json.dumps(conversation(instruction)), duration, tuple(parts))
            examples += [example] * int((repeats or {}).get(instruction.task, 1))
    return examples


def compose_features(
    parts: tuple[Part, ...], frames_of: Mapping[str, torch.Tensor], num_frames: int
) -> torch.Tensor:
    """The features (m, f) of a composed video: frame j at t_j = j·T/(m−1) takes the source frame nearest to
    its time inside its event (never a frame of the neighbouring event, where the event has one)."""
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

