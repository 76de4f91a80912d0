"""Ground truth for highlight detection and action segmentation, derived from the events the corpus knows.

Benchmarks such as QVHighlights (clip saliency) and Breakfast (a label per frame) bring this ground truth;
the other sources (the sample corpus, Charades-STA, ActivityNet Captions, ...) know their events' windows and
captions, and that is enough to derive both, exactly:

- **Clip saliency** of a query, in QVHighlights' layout: the video is cut into 2 s clips, ``int(T / 2)`` of
  them (QVHighlights' clip count: a last partial clip is dropped); a clip is relevant when it overlaps one of
  the query's windows, and its score is ``round(4 * f)`` with ``f`` the covered fraction of the clip, so a
  clip wholly inside the moment is "VeryGood" (4) and a clip half in it "Fair" (2). The three annotator
  columns QVHighlights has hold the same score (one exact truth, not three opinions).
- **Frame labels** of a video: one label per frame at the video's own frame rate, ``round(T * fps)``
  frames; frame ``i`` (at its centre ``(i + 0.5) / fps``) takes the class of the annotated event that covers
  it (the caption: a source's event has no other class; where events overlap, the one that started last),
  and ``background`` where no event does.

Rows the sources already hold (QVHighlights' saliency, Breakfast's frame labels) are kept as they are.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from momentor.data.manifest import read_table, write_table

CLIP_SECONDS = 2.0  # QVHighlights' clip length
TOP_SCORE = 4  # QVHighlights' "VeryGood"
BACKGROUND = "background"  # the evaluator's default background label (eval.segmentation_background)


def clip_saliency(windows, duration: float) -> tuple[list[int], list[list[int]]]:
    """(relevant clip ids, one ``[s, s, s]`` score row per relevant clip) of a query with ``windows``.

    The covered fraction of a clip counts the union of the windows (overlapping windows are not counted twice).
    """
    covered = np.zeros(num_clips(duration))  # (c,) fraction of each clip inside the union of the windows
    for start, end in _union(windows):
        covered += clip_coverage(start, end, duration)
    ids = [int(c) for c in np.flatnonzero(covered > 0)]
    scores = [[int(math.floor(TOP_SCORE * covered[c] + 0.5))] * 3 for c in ids]
    return ids, scores


def num_clips(duration: float) -> int:
    return int(duration / CLIP_SECONDS)


def clip_coverage(start: float, end: float, duration: float) -> np.ndarray:
    """(c,) the fraction of each 2 s clip of a ``duration`` s video that ``[start, end]`` covers."""
    edges = np.arange(num_clips(duration) + 1) * CLIP_SECONDS  # (c + 1,)
    return np.clip(np.minimum(edges[1:], end) - np.maximum(edges[:-1], start), 0.0, None) / CLIP_SECONDS


def _union(windows) -> list[tuple[float, float]]:
    merged: list[list[float]] = []
    for start, end in sorted((float(w[0]), float(w[1])) for w in windows):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def frame_labels(events, num_frames: int, fps: float, background: str = BACKGROUND) -> list[str]:
    """``num_frames`` labels at ``fps`` from ``events`` ``[(start, end, label)]``: frame ``i`` takes the event
    covering its centre ``(i + 0.5) / fps`` (the one that started last where they overlap), else ``background``."""
    centres = (np.arange(num_frames) + 0.5) / fps  # (frames,)
    labels = np.full(len(centres), background, dtype=object)
    for start, end, label in sorted(events, key=lambda e: e[0]):  # a later start overwrites: the newest event
        labels[(centres >= start) & (centres < end)] = label
    return [str(x) for x in labels]


def add_ground_truth(manifest_dir: str | Path) -> dict:
    """Derive the saliency of every query that has windows but no saliency, and the frame labels of every
    video with a frame rate and annotated events but no labels; rewrite the two tables. Returns counts."""
    manifest_dir = Path(manifest_dir)
    videos = read_table(manifest_dir, "videos")
    duration = dict(zip(videos["video_id"], videos["duration"].astype(float)))
    fps = dict(zip(videos["video_id"], videos["fps"].astype(float)))

    queries = read_table(manifest_dir, "queries")
    derive = [len(ids) == 0 and len(w) > 0 for ids, w in zip(queries["relevant_clip_ids"], queries["windows"])]
    saliency = [clip_saliency(w, duration[v]) if d else (list(ids), [list(r) for r in rows])
                for d, w, v, ids, rows in zip(derive, queries["windows"], queries["video_id"],
                                              queries["relevant_clip_ids"], queries["saliency_scores"])]
    queries["relevant_clip_ids"] = [ids for ids, _ in saliency]
    queries["saliency_scores"] = [rows for _, rows in saliency]
    write_table(manifest_dir, "queries", queries)

    labelled = read_table(manifest_dir, "frame_labels")
    segments = read_table(manifest_dir, "segments")
    annotated = segments[segments["origin"] == "gt"]
    known = set(labelled["video_id"])
    rows = [
        {"video_id": video, "labels": frame_labels(list(zip(group["start"], group["end"], group["caption"])),
                                                   round(duration[video] * fps[video]), fps[video]),
         "fps": fps[video]}
        for video, group in annotated.groupby("video_id")
        if video not in known and fps.get(video, 0.0) > 0
    ]
    write_table(manifest_dir, "frame_labels", pd.concat([labelled, pd.DataFrame(rows, columns=labelled.columns)],
                                                         ignore_index=True) if rows else labelled)
    return {"queries_with_derived_saliency": int(sum(d and len(s[0]) > 0 for d, s in zip(derive, saliency))),
            "videos_with_derived_frame_labels": len(rows)}
