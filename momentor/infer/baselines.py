"""Baselines that never look at the video, written in the same format as the model's predictions.

Grounding:

- ``random``: a uniformly random window per query (two uniform times in [0, T], sorted), seeded;
- ``fixed``: one window in relative time [a·T, b·T] for every query, with (a, b) the best R@1 at IoU 0.5 on
  the **train** split's queries (a grid of 0.05), so the baseline knows where events tend to lie in this
  corpus but nothing about the video at hand.

Dense captioning (``k`` = the train split's median number of events per video):

- ``random``: ``k`` uniformly random windows per video, each with a caption drawn from the train split's
  captions, seeded;
- ``fixed``: the train split's mean relative window of the i-th event (events in start order), for
  i < ``k``, each with the train split's most frequent caption.

Highlight detection (the queries with clip saliency, :mod:`momentor.infer.highlights`):

- ``random``: a uniformly random window, and a uniformly random saliency per 2 s clip, seeded;
- ``fixed``: the grounding ``fixed`` window, and the saliency the model's recipe derives from a window.

Action segmentation (the videos with frame labels, :mod:`momentor.infer.segmentation`):

- ``random``: ``k`` (the train split's median number of label runs per video) runs cut at uniformly random
  frames, each with a uniformly random label of the dataset's label set (background excluded), seeded;
- ``fixed``: every frame the train split's most frequent frame label (the majority class).

A model that learned the task beats both; ``momentor predict --baseline random|fixed`` writes them, and the
promotion gate compares the candidate with them on the same items (:mod:`momentor.eval.gate`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from momentor.data.manifest import read_table
from momentor.intervals import iou_paired_hull

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
    """Largest IoU of one window (2,) with any of the ground-truth windows (g, 2) (hull union, 0 where empty)."""
    return float(np.max(iou_paired_hull(np.repeat(window[None, :2], len(truth), axis=0), truth)))


def best_fixed_window(queries, threshold: float = 0.5) -> tuple[float, float]:
    """The relative window (a, b) with the most queries at IoU >= threshold (ties: the first on the grid)."""
    best, best_hits = (0.0, 1.0), -1
    for a in GRID:
        for b in GRID[GRID > a]:
            hits = sum(best_iou(np.array([a * d, b * d]), w) >= threshold for _, _, d, w in queries)
            if hits > best_hits:
                best, best_hits = (float(a), float(b)), hits
    return best


def baseline_dense_captioning(manifest_dir: str | Path, split: str, kind: str, seed: int = 0) -> dict:
    """The dense-captioning predictions (``{"results": {video: [{"timestamp", "sentence"}]}}``) of baseline
    ``kind`` for a split's videos."""
    from collections import Counter

    from momentor.eval.dense_captioning import load_ground_truth

    train = load_ground_truth(manifest_dir, "train")
    videos = load_ground_truth(manifest_dir, split)
    if not train:
        raise ValueError(f"{manifest_dir}: no train-split events; the dense-captioning baselines learn from them")
    k = max(1, int(np.median([len(e.sentences) for e in train.values()])))
    captions = [c for e in train.values() for c in e.sentences]
    results = {}
    if kind == "random":
        rng = np.random.default_rng(seed)
        for video, events in videos.items():
            d = float(events.duration or events.timestamps.max())
            windows = np.sort(rng.uniform(0, d, (k, 2)), axis=1)
            picks = rng.integers(0, len(captions), k)
            results[video] = [{"timestamp": [float(a), float(b)], "sentence": captions[i]}
                              for (a, b), i in zip(windows, picks)]
    elif kind == "fixed":
        relative = np.zeros((k, 2))
        counts = np.zeros(k)
        for events in train.values():
            d = float(events.duration or events.timestamps.max())
            ordered = events.timestamps[np.argsort(events.timestamps[:, 0])][:k] / d  # (<=k, 2)
            relative[: len(ordered)] += ordered
            counts[: len(ordered)] += 1
        relative /= np.maximum(counts, 1)[:, None]
        caption = Counter(captions).most_common(1)[0][0]
        for video, events in videos.items():
            d = float(events.duration or events.timestamps.max())
            results[video] = [{"timestamp": [float(a * d), float(b * d)], "sentence": caption} for a, b in relative]
    else:
        raise ValueError(f"unknown baseline {kind!r}; use random or fixed")
    return {"results": results}


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


def baseline_highlights(manifest_dir: str | Path, split: str, kind: str, seed: int = 0) -> list[dict]:
    """QVHighlights prediction lines of baseline ``kind`` for a split's queries with clip saliency."""
    from momentor.infer.highlights import highlight_queries, highlight_record

    rows = highlight_queries(manifest_dir, split)
    if kind == "random":
        rng = np.random.default_rng(seed)
        lines = []
        for qid, video, text, d in rows:
            a, b = np.sort(rng.uniform(0, d, 2))
            line = highlight_record(qid, video, text, [[a, b, 1.0]], d)
            clips = len(line["pred_saliency_scores"])
            line["pred_saliency_scores"] = [round(float(x), 6) for x in rng.uniform(0, 1, clips)]
            lines.append(line)
        return lines
    if kind == "fixed":
        a, b = best_fixed_window(split_queries(Path(manifest_dir), "train"))
        return [highlight_record(qid, video, text, [[a * d, b * d, 1.0]], d) for qid, video, text, d in rows]
    raise ValueError(f"unknown baseline {kind!r}; use random or fixed")


def baseline_segmentation(manifest_dir: str | Path, split: str, kind: str, seed: int = 0,
                          background=("background",)) -> dict[str, list[str]]:
    """``{video_id: [label per frame]}`` of baseline ``kind`` for a split's videos with frame labels."""
    from collections import Counter

    from momentor.eval.action_segmentation import load_ground_truth, segments
    from momentor.infer.segmentation import segmentation_truth

    frames, label_set = segmentation_truth(manifest_dir, split, background)
    train = load_ground_truth(manifest_dir, "train")
    if not train:
        raise ValueError(f"{manifest_dir}: no train-split frame labels; the segmentation baselines learn from them")
    if kind == "fixed":
        majority = Counter(x for labels in train.values() for x in labels).most_common(1)[0][0]
        return {v: [majority] * n for v, (n, _) in frames.items()}
    if kind == "random":
        rng = np.random.default_rng(seed)
        k = max(1, int(np.median([len(segments(labels)[0]) for labels in train.values()])))
        out = {}
        for video, (n, _) in frames.items():
            cuts = np.sort(rng.integers(1, max(n, 2), k - 1)) if n > 1 else np.array([], int)
            runs = np.diff(np.concatenate([[0], cuts, [n]]))  # (k,) frames per run
            out[video] = [label_set[i] for i, r in zip(rng.integers(0, len(label_set), k), runs) for _ in range(r)]
        return out
    raise ValueError(f"unknown baseline {kind!r}; use random or fixed")


def write_baseline(task: str, manifest_dir, split: str, kind: str, out, seed: int = 0,
                   background=("background",)) -> Path:
    """Predict ``task`` with baseline ``kind`` and write it as ``momentor predict`` would (``<out>/<task>.json``)."""
    from momentor.infer import predict

    if task == "grounding":
        return predict.write_grounding(out, baseline_grounding(manifest_dir, split, kind, seed))
    if task == "dense_captioning":
        return predict.write_dense_captioning(out, baseline_dense_captioning(manifest_dir, split, kind, seed))
    if task == "qvhighlights":
        return predict.write_highlights(out, baseline_highlights(manifest_dir, split, kind, seed))
    if task == "action_segmentation":
        labels = baseline_segmentation(manifest_dir, split, kind, seed, background)
        return predict.write_segmentation(out, labels)
    raise ValueError(f"unknown task {task!r}; use one of {', '.join(predict.TASK_FILES)}")
