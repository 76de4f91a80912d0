"""Temporal grounding: R@1 at IoU thresholds and mIoU (Charades-STA, ActivityNet Captions, the manifest).

There is no official evaluator for these benchmarks and the common scripts disagree, so the convention is a
config (``eval`` section of ``params.yaml``) and is written into every result:

- ``iou_inclusive`` (default true): a query counts at threshold t when IoU >= t (false: IoU > t);
- ``iou_round`` (default null): round the IoU to this many decimals before thresholding (2 in some scripts);
- ``clip_to_duration`` (default true): clip ground truth and predicted windows to [0, duration] first.
  Charades-STA has annotations that end after the video (562 of its 3720 test lines); clipping scores them
  against what the video can show. The count is reported as ``gt_windows_past_end``.

The top-1 window is the highest-scored predicted window (the first on ties; windows without a score keep
their order). A query with several ground-truth windows takes its best IoU. A query with no predicted
window scores IoU 0. mIoU is the mean top-1 IoU. Values are percent, rounded to 2 decimals.
``items`` holds each query's R1@0.5 hit (0 or 100; their mean is R1@0.5), for the gate's paired bootstrap
(:mod:`momentor.eval.items`).

``moments`` tells *which* moment of its video each top-1 window lands on (IoU >= 0.5, inclusive, after
the clipping above), from the annotated windows of all the queries of that video:

- ``own``: its own moment (the R1@0.5 hit under the default convention);
- ``other``: another annotated moment of the same video (the query was not told apart from it);
- ``none``: no annotated moment;
- ``first``: the video's earliest moment, against ``first_prior``, the share of queries that ask for it.
  A model that answers every query with the first moment of its video (the prior of a small corpus, or of
  Charades-STA's early moments) shows ``first`` near 100 whatever R1 says;
- ``videos_with_several_moments``: on how many videos ``other`` could happen at all.

Ground truth (one query per annotated sentence; ``query_id`` = ``"<video_id>_q<k>"``, k counting that
video's sentences from 0 in file order, the ids the manifest's readers give them too):

- Charades-STA ``*.txt``: lines ``VIDEO start end##sentence``; durations from the ``length`` column of
  ``Charades_v1_test.csv`` (``--durations``, by default found beside the txt);
- ActivityNet Captions ``*.json``: ``{video_id: {"duration", "timestamps", "sentences"}}``;
- a manifest folder (or its ``queries.parquet``): ``query_id``, ``video_id``, ``windows``; durations from
  ``videos.parquet``.

Predictions, JSON Lines (or one JSON array):
``{"query_id": str, "video_id": str, "pred_windows": [[start, end, score], ...]}``.
The query sets of predictions and ground truth must be equal.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from momentor.eval import manifest_tables
from momentor.intervals import as_windows, iou_matrix, iou_paired
from momentor.eval.items import fingerprint, items_block
from momentor.eval.jsonio import EvalInputError, check_same_ids, describe_ids, read_json, read_records


@dataclass(frozen=True)
class GroundingConvention:
    thresholds: tuple[float, ...] = (0.3, 0.5, 0.7)
    inclusive: bool = True
    round_to: int | None = None
    clip_to_duration: bool = True

    @classmethod
    def from_config(cls, eval_cfg) -> GroundingConvention:
        return cls(
            thresholds=tuple(eval_cfg.iou_thresholds),
            inclusive=eval_cfg.iou_inclusive,
            round_to=eval_cfg.iou_round,
            clip_to_duration=eval_cfg.clip_to_duration,
        )


@dataclass
class GroundingQuery:
    query_id: str
    video_id: str
    duration: float
    windows: np.ndarray  # (g, 2) seconds
    text: str = ""


# ---------------------------------------------------------------------------------------------------------
# ground truth


def read_charades_durations(path: str | Path) -> dict[str, float]:
    with Path(path).open(newline="") as f:
        return {row["id"]: float(row["length"]) for row in csv.DictReader(f)}


def read_charades_sta(txt: str | Path, durations: str | Path | None = None) -> list[GroundingQuery]:
    txt = Path(txt)
    csv_path = Path(durations) if durations else _beside(txt, "Charades_v1_test.csv")
    length = read_charades_durations(csv_path)
    queries, count = [], {}
    for number, line in enumerate(txt.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        head, sep, sentence = line.partition("##")
        parts = head.split()
        if not sep or len(parts) != 3:
            raise EvalInputError(f"{txt}:{number}: expected 'VIDEO start end##sentence', got {line!r}")
        video, start, end = parts[0], float(parts[1]), float(parts[2])
        if video not in length:
            raise EvalInputError(
                f"{txt}:{number}: video {video} has no length in {csv_path}; pass --durations"
            )
        k = count[video] = count.get(video, -1) + 1
        queries.append(
            GroundingQuery(f"{video}_q{k}", video, length[video], np.array([[start, end]]), sentence.strip())
        )
    return queries


def read_activitynet_captions(path: str | Path) -> list[GroundingQuery]:
    data = read_json(path)
    queries = []
    for video, entry in data.items():
        for k, (window, sentence) in enumerate(zip(entry["timestamps"], entry["sentences"])):
            windows = as_windows([window], f"{path}: {video}")
            queries.append(
                GroundingQuery(f"{video}_q{k}", video, float(entry["duration"]), windows, sentence.strip())
            )
    return queries


def read_manifest_queries(
    path: str | Path, split: str | None = None, source: str | None = None
) -> list[GroundingQuery]:
    frame = manifest_tables.read_table(path, "queries", split=split, source=source)
    duration = manifest_tables.durations(path)
    return [
        GroundingQuery(
            str(row.query_id),
            str(row.video_id),
            duration[str(row.video_id)],
            as_windows(manifest_tables.nested_floats(row.windows), f"query {row.query_id}"),
            str(row.text),
        )
        for row in frame.itertuples()
    ]


def load_ground_truth(
    path: str | Path, durations: str | Path | None = None, split: str | None = None, source: str | None = None
) -> list[GroundingQuery]:
    """Ground truth from any of the supported forms, chosen by what ``path`` is."""
    path = Path(path)
    if manifest_tables.is_manifest(path, "queries"):
        return read_manifest_queries(path, split, source)
    if path.suffix == ".txt":
        return read_charades_sta(path, durations)
    if path.suffix == ".json":
        return read_activitynet_captions(path)
    raise EvalInputError(
        f"{path}: not a grounding ground truth; give a Charades-STA .txt, an ActivityNet Captions .json "
        "or a manifest folder"
    )


def _beside(path: Path, name: str) -> Path:
    candidate = path.parent / name
    if not candidate.is_file():
        raise EvalInputError(f"{path}: no durations file {candidate}; pass --durations Charades_v1_test.csv")
    return candidate


def count_past_end(queries: list[GroundingQuery]) -> int:
    """Ground-truth windows that end after their video's duration."""
    return int(sum((q.windows[:, 1] > q.duration).sum() for q in queries))


# ---------------------------------------------------------------------------------------------------------
# scoring


def load_predictions(path: str | Path) -> dict[str, np.ndarray]:
    """query_id -> (p, 3) predicted windows [start, end, score] (score 0 where absent), ranked best first."""
    predictions = {}
    for number, record in enumerate(read_records(path), start=1):
        if "query_id" not in record or "pred_windows" not in record:
            raise EvalInputError(f"{path}: record {number} needs query_id and pred_windows")
        qid = str(record["query_id"])
        if qid in predictions:
            raise EvalInputError(f"{path}: query_id {qid} appears more than once; keep one line per query")
        predictions[qid] = rank_windows(record["pred_windows"], f"{path}: query {qid}")
    return predictions


def rank_windows(windows, what: str) -> np.ndarray:
    """(p, 3) windows sorted by descending score, stable; missing scores count as equal."""
    rows = [list(map(float, w)) + [0.0] * (3 - len(w)) for w in windows]
    if any(len(r) != 3 for r in rows):
        raise EvalInputError(f"{what}: each predicted window must be [start, end] or [start, end, score]")
    arr = np.array(rows, dtype=np.float64).reshape(-1, 3)
    return arr[np.argsort(-arr[:, 2], kind="stable")]


def top1_windows(
    queries: list[GroundingQuery], predictions: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """(q, 2) top-1 window of each query (0, 0 where there is none) and (q,) whether there is one."""
    top1 = np.zeros((len(queries), 2))  # (q, 2)
    predicted = np.zeros(len(queries), dtype=bool)
    for i, query in enumerate(queries):
        pred = predictions[query.query_id]
        if len(pred):
            top1[i], predicted[i] = pred[0, :2], True
    return top1, predicted


def top1_ious(queries: list[GroundingQuery], predictions: dict[str, np.ndarray], clip: bool) -> np.ndarray:
    """(q,) IoU of each query's top-1 window with its best-matching ground-truth window."""
    top1, predicted = top1_windows(queries, predictions)
    owner = np.repeat(
        np.arange(len(queries)), [len(q.windows) for q in queries]
    )  # (w,) query of each gt window
    gt = np.concatenate([q.windows for q in queries]) if len(owner) else np.zeros((0, 2))  # (w, 2)
    if clip:
        duration = np.array([q.duration for q in queries])  # (q,)
        top1 = np.clip(top1, 0, duration[:, None])
        gt = np.clip(gt, 0, duration[owner][:, None])
    ious = np.nan_to_num(iou_paired(top1[owner], gt))  # (w,)
    best = np.zeros(len(queries))
    np.maximum.at(best, owner, ious)  # a query's best ground-truth window
    return np.where(predicted, best, 0.0)  # no predicted window: IoU 0


MOMENT_IOU = 0.5
HEADLINE_IOU = 0.5  # R1@0.5: the gated metric (momentor.eval.items)


def moment_confusion(queries: list[GroundingQuery], predictions: dict[str, np.ndarray], clip: bool) -> dict:
    """Which moment of its video each top-1 window lands on; see the module docstring."""
    top1, predicted = top1_windows(queries, predictions)
    by_video: dict[str, list[int]] = {}
    for i, query in enumerate(queries):
        by_video.setdefault(query.video_id, []).append(i)
    own = other = first = first_prior = several = 0
    for members in by_video.values():
        duration = queries[members[0]].duration
        windows = [np.clip(queries[i].windows, 0, duration) if clip else queries[i].windows for i in members]
        moments = np.unique(np.concatenate(windows), axis=0)  # (k, 2) the video's distinct moments, by start
        several += len(moments) > 1
        for i, mine in zip(members, windows):
            is_mine = (moments[:, None, :] == mine[None]).all(-1).any(1)  # (k,)
            first_prior += bool(is_mine[0])
            if not predicted[i]:
                continue
            window = np.clip(top1[i], 0, duration) if clip else top1[i]
            hits = np.nan_to_num(iou_matrix(window[None], moments)[0]) >= MOMENT_IOU  # (k,)
            on_mine = bool((hits & is_mine).any())
            own += on_mine
            other += bool(hits.any()) and not on_mine
            first += bool(hits[0])
    n = max(len(queries), 1)
    return {
        "own": round(100 * own / n, 2),
        "other": round(100 * other / n, 2),
        "none": round(100 * (len(queries) - own - other) / n, 2),
        "first": round(100 * first / n, 2),
        "first_prior": round(100 * first_prior / n, 2),
        "videos_with_several_moments": several,
    }


def score(
    queries: list[GroundingQuery], predictions: dict[str, np.ndarray], convention: GroundingConvention
) -> dict:
    ious = top1_ious(queries, predictions, convention.clip_to_duration)
    judged = np.round(ious, convention.round_to) if convention.round_to is not None else ious
    result = {}
    for t in convention.thresholds:
        result[f"R1@{t}"] = round(float(hits(judged, t, convention).mean()), 2)
    result["mIoU"] = round(100 * float(ious.mean()), 2)
    result["num_queries"] = len(queries)
    result["gt_windows_past_end"] = count_past_end(queries)
    result["moments"] = moment_confusion(queries, predictions, convention.clip_to_duration)
    result["convention"] = {
        "iou_inclusive": convention.inclusive,
        "iou_round": convention.round_to,
        "clip_to_duration": convention.clip_to_duration,
    }
    # the headline's per-query hits (0 or 100), whatever the thresholds listed: the gate resamples them
    result["items"] = items_block(
        "grounding", [q.query_id for q in queries], hits(judged, HEADLINE_IOU, convention),
        truth_fingerprint(queries),
    )
    return result


def truth_fingerprint(queries: list[GroundingQuery]) -> str:
    """What the queries ask and where their answers are: equal fingerprints, same evaluation."""
    return fingerprint([[q.query_id, q.video_id, q.duration, q.windows.tolist(), q.text] for q in queries])


def hits(judged: np.ndarray, threshold: float, convention: GroundingConvention) -> np.ndarray:
    """(q,) 100 where the top-1 IoU counts at ``threshold`` under the convention, else 0."""
    hit = judged >= threshold if convention.inclusive else judged > threshold
    return 100.0 * hit


def evaluate_files(
    gt_path, pred_path, convention: GroundingConvention, durations=None, split=None, source=None
) -> dict:
    queries = load_ground_truth(gt_path, durations, split, source)
    if not queries:
        raise EvalInputError(
            f"{gt_path}: no query to evaluate; check the file (and --split/--source for a manifest)"
        )
    ids = [q.query_id for q in queries]
    if len(set(ids)) != len(ids):
        raise EvalInputError(
            f"{gt_path}: query ids repeat: {describe_ids({i for i in ids if ids.count(i) > 1})}"
        )
    predictions = load_predictions(pred_path)
    check_same_ids(ids, predictions, "query_id", gt_path, pred_path)
    return score(queries, predictions, convention)
