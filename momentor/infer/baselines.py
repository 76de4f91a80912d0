"""Grounding baselines that never look at the video, written in the same format as the model's predictions.

- ``random``: a uniformly random window per query (two uniform times in [0, T], sorted), seeded;
- ``fixed``: one window in relative time [a·T, b·T] for every query, with (a, b) the best R@1 at IoU 0.5 on
  the **train** split's queries (a grid of 0.05), so the baseline knows where events tend to lie in this
  corpus but nothing about the video at hand.

A model that learned to ground beats both; ``momentor predict --baseline random|fixed`` writes them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from momentor.data.manifest import read_table

GRID = np.round(np.arange(0.0, 1.0001, 0.05), 2)


def split_queries(manifest_dir: Path, split: str) -> list[tuple[str, str, float, np.ndarray]]:
    """(query_id, video_id, duration, windows (g, 2)) of a split's queries."""
    videos = read_table(manifest_dir, "videos")
    videos = videos[videos["split"] == split]
    durations = dict(zip(videos["video_id"].astype(str), videos["duration"].astype(float)))
    queries = read_table(manifest_dir, "queries")
    queries = queries[queries["video_id"].isin(durations)]
    return [
        (str(q), str(v), durations[str(v)], np.array([list(map(float, w)) for w in ws]).reshape(-1, 2))
        for q, v, ws in zip(queries["query_id"], queries["video_id"], queries["windows"])
    ]


def best_iou(window: np.ndarray, truth: np.ndarray) -> float:
    """Largest IoU of one window (2,) with any of the ground-truth windows (g, 2)."""
    inter = np.clip(np.minimum(window[1], truth[:, 1]) - np.maximum(window[0], truth[:, 0]), 0, None)
    union = np.maximum(window[1], truth[:, 1]) - np.minimum(window[0], truth[:, 0])
    return float(np.max(np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)))


def best_fixed_window(queries, threshold: float = 0.5) -> tuple[float, float]:
    """The relative window (a, b) with the most queries at IoU >= threshold (ties: the first on the grid)."""
    best, best_hits = (0.0, 1.0), -1
    for a in GRID:
        for b in GRID[GRID > a]:
            hits = sum(best_iou(np.array([a * d, b * d]), w) >= threshold for _, _, d, w in queries)
            if hits > best_hits:
                best, best_hits = (float(a), float(b)), hits
    return best


def baseline_grounding(manifest_dir: str | Path, split: str, kind: str, seed: int = 0) -> list[dict]:
    """Prediction rows (the grounding evaluator's format) of baseline ``kind`` for a split's queries."""
    manifest_dir = Path(manifest_dir)
    queries = split_queries(manifest_dir, split)
    if kind == "random":
        rng = np.random.default_rng(seed)
        windows = [np.sort(rng.uniform(0, d, 2)) for _, _, d, _ in queries]
    elif kind == "fixed":
        a, b = best_fixed_window(split_queries(manifest_dir, "train"))
        windows = [np.array([a * d, b * d]) for _, _, d, _ in queries]
    else:
        raise ValueError(f"unknown baseline {kind!r}; use random or fixed")
    return [
        {"query_id": q, "video_id": v, "pred_windows": [[float(w[0]), float(w[1]), 1.0]]}
        for (q, v, _, _), w in zip(queries, windows)
    ]
