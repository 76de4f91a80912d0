"""QVHighlights moment retrieval (MR) and highlight detection (HL), as moment_detr's ``standalone_eval``.

Inputs (JSON Lines, one query per line):

- ground truth: the QVHighlights release (``qid``, ``duration``, ``relevant_windows`` [[st, ed], ...],
  ``relevant_clip_ids``, ``saliency_scores`` [[a1, a2, a3], ...] in 0..4), or a manifest folder: the rows of
  ``queries.parquet`` that carry clip saliency (QVHighlights' own, or what ``momentor engine`` derives for
  the other sources), optionally of one ``source`` (durations from ``videos.parquet``);
- predictions: ``{"qid", "pred_relevant_windows": [[st, ed, score], ...], "pred_saliency_scores": [...]}``,
  windows ranked best first, one saliency score per 2 s clip.

Conventions, pinned to the reference:

- MR mAP per query at tIoU 0.5:0.05:0.95 over the first 10 predicted windows, ActivityNet greedy matching,
  averaged over queries, then over thresholds; ``short``/``middle``/``long`` keep the ground-truth windows of
  length in (0, 10], (10, 30], (30, 150] s and the queries that still have one.
- MR R1@t takes the first predicted window against the ground-truth window it overlaps most.
- HL works on 2 s clips, ``int(duration / 2)`` of them; a clip is positive at ``Fair``/``Good``/``VeryGood``
  when an annotator rated it >= 2/3/4. HIT@1 counts the top-scored clip when any annotator rated it
  positive; HL-mAP is per (query, annotator). Predicted saliency is cut or zero-padded to the clip count.
- Values in percent, rounded to 2 decimals; the output JSON has the reference's structure and key names.

Where the reference crashes instead of scoring, this module decides and says so:

- the query sets of predictions and ground truth must be equal (an error names the differing qids);
- a query with no predicted window scores 0 in mAP and R1 (the reference's R1 indexes the empty list);
- a length range with no query gives ``null`` values (the reference averages an empty array);
- a ``relevant_clip_id`` past the clip count is an input error naming the qid.
"""

from __future__ import annotations

import copy
import logging
from collections import OrderedDict
from pathlib import Path

import numpy as np

from momentor.eval import manifest_tables
from momentor.eval.average_precision import detection_ap, ranking_aps
from momentor.intervals import as_windows, iou_matrix, iou_paired_hull
from momentor.eval.jsonio import EvalInputError, check_same_ids, describe_ids, read_records

log = logging.getLogger(__name__)

IOU_THRESHOLDS = [float(f"{e:.2f}") for e in np.linspace(0.5, 0.95, 10)]
LENGTH_RANGES = {"short": (0, 10), "middle": (10, 30), "long": (30, 150), "full": (0, 150)}
SALIENCY_LEVELS = {"Fair": 2, "Good": 3, "VeryGood": 4}
CLIP_SECONDS = 2
MAX_PRED_WINDOWS = 10


def percent(value: float | None) -> float | None:
    """The reference's formatting: percent, rounded to 2 decimals through a string."""
    return None if value is None else float(f"{100 * value:.2f}")


# ---------------------------------------------------------------------------------------------------------
# inputs


def load_ground_truth(path: str | Path, split: str | None = None, source: str | None = None) -> list[dict]:
    """QVHighlights ground truth from the release jsonl or from a manifest folder (its queries with saliency)."""
    if manifest_tables.is_manifest(path, "queries"):
        frame = manifest_tables.read_table(path, "queries", split=split, source=source)
        frame = frame[frame["relevant_clip_ids"].map(len) > 0]
        duration = manifest_tables.durations(path)
        records = [
            {
                "qid": row.query_id,
                "duration": duration[str(row.video_id)],
                "relevant_windows": manifest_tables.nested_floats(row.windows),
                "relevant_clip_ids": [int(c) for c in row.relevant_clip_ids],
                "saliency_scores": [[int(s) for s in r] for r in row.saliency_scores],
            }
            for row in frame.itertuples()
        ]
    else:
        records = read_records(path)
    for number, record in enumerate(records, start=1):
        missing = {"qid", "duration", "relevant_windows"} - set(record)
        if missing:
            raise EvalInputError(
                f"{path}: record {number} lacks {sorted(missing)}; is this QVHighlights ground truth?"
            )
        if not record["relevant_windows"]:
            raise EvalInputError(
                f"{path}: qid {record['qid']} has no relevant window; drop it from the ground truth"
            )
        record["qid"] = str(record["qid"])
    return records


def load_predictions(path: str | Path) -> list[dict]:
    records = read_records(path)
    for number, record in enumerate(records, start=1):
        if "qid" not in record:
            raise EvalInputError(f"{path}: record {number} has no qid")
        record["qid"] = str(record["qid"])
        windows = record.get("pred_relevant_windows")
        if windows is not None and any(len(w) != 3 for w in windows):
            raise EvalInputError(
                f"{path}: qid {record['qid']}: pred_relevant_windows must hold [start, end, score] triples"
            )
    return records


def check_inputs(
    submission: list[dict], ground_truth: list[dict], gt_path="ground truth", pred_path="predictions"
):
    """Same query sets, no duplicates, and the same prediction fields on every line."""
    for records, where in ((submission, pred_path), (ground_truth, gt_path)):
        qids = [r["qid"] for r in records]
        if len(set(qids)) != len(qids):
            dupes = {q for q in qids if qids.count(q) > 1}
            raise EvalInputError(
                f"{where}: qids appear more than once: {describe_ids(dupes)}; keep one line per qid"
            )
    check_same_ids(
        [r["qid"] for r in ground_truth], [r["qid"] for r in submission], "qid", gt_path, pred_path
    )
    for key in ("pred_relevant_windows", "pred_saliency_scores"):
        lacking = [r["qid"] for r in submission if key not in r]
        if lacking and len(lacking) != len(submission):
            raise EvalInputError(
                f"{pred_path}: {key} is missing for qids {describe_ids(lacking)}; "
                "give it on every line or on none"
            )


# ---------------------------------------------------------------------------------------------------------
# moment retrieval


def _in_range(submission, ground_truth, low: float, high: float):
    """Keep ground-truth windows with length in (low, high] and the queries that still have one."""
    if (low, high) == LENGTH_RANGES["full"]:
        return submission, ground_truth
    kept = []
    for record in ground_truth:
        windows = [w for w in record["relevant_windows"] if low < w[1] - w[0] <= high]
        if windows:
            record = copy.copy(record)
            record["relevant_windows"] = windows
            kept.append(record)
    qids = {r["qid"] for r in kept}
    return [s for s in submission if s["qid"] in qids], kept


def _mr_map(submission, ground_truth) -> dict | None:
    if not ground_truth:
        return None
    gt_windows = {r["qid"]: as_windows(r["relevant_windows"], f"qid {r['qid']}") for r in ground_truth}
    thresholds = np.array(IOU_THRESHOLDS)
    rows = []
    for record in submission:
        top = np.asarray(record["pred_relevant_windows"][:MAX_PRED_WINDOWS], dtype=np.float64).reshape(-1, 3)
        rows.append(detection_ap(gt_windows[record["qid"]], top[:, :2], top[:, 2], thresholds))
    per_threshold = np.array(rows).mean(0)  # (t,)
    result = {str(t): percent(v) for t, v in zip(IOU_THRESHOLDS, per_threshold)}
    result["average"] = percent(np.mean(per_threshold))
    return result


def _mr_r1(submission, ground_truth) -> dict | None:
    if not ground_truth:
        return None
    gt_by_qid = {r["qid"]: r["relevant_windows"] for r in ground_truth}
    ious = []
    for record in submission:
        if not record["pred_relevant_windows"]:
            ious.append(0.0)  # no window: a miss (the reference cannot score this case)
            continue
        top1 = np.array([record["pred_relevant_windows"][0][:2]], dtype=np.float64)  # (1, 2)
        gts = np.array(gt_by_qid[record["qid"]], dtype=np.float64)  # (g, 2)
        best = gts[np.argmax(iou_matrix(top1, gts)[0])]  # the ground-truth window it overlaps most
        ious.append(iou_paired_hull(top1, best[None, :])[0])
    ious = np.array(ious)
    return {str(t): float(f"{np.mean(ious >= t) * 100:.2f}") for t in IOU_THRESHOLDS}


def eval_moment_retrieval(submission, ground_truth) -> dict:
    metrics = {}
    for name, (low, high) in LENGTH_RANGES.items():
        sub, gt = _in_range(submission, ground_truth, low, high)
        log.info("MR %s (%s, %s]: %d/%d queries", name, low, high, len(gt), len(ground_truth))
        metrics[name] = {"MR-mAP": _mr_map(sub, gt), "MR-R1": _mr_r1(sub, gt)}
    return metrics


# ---------------------------------------------------------------------------------------------------------
# highlight detection


def clip_scores(record: dict) -> np.ndarray:
    """(c, 3) annotator scores of every 2 s clip of the video, zero where not annotated."""
    num_clips = int(record["duration"] / CLIP_SECONDS)
    scores = np.zeros((num_clips, 3))
    clip_ids = np.array(record.get("relevant_clip_ids", []), dtype=int)
    if clip_ids.size and clip_ids.max() >= num_clips:
        raise EvalInputError(
            f"qid {record['qid']}: relevant_clip_id {clip_ids.max()} is past the {num_clips} clips of a "
            f"{record['duration']} s video; fix its duration or clip ids"
        )
    if clip_ids.size:
        scores[clip_ids] = np.array(record["saliency_scores"], dtype=np.float64).reshape(-1, 3)
    return scores


def _fit_length(scores: np.ndarray, length: int) -> np.ndarray:
    """Cut or zero-pad predicted clip scores to the clip count of the ground truth."""
    if len(scores) >= length:
        return scores[:length]
    return np.concatenate([scores, np.zeros(length - len(scores))])


def highlight_scores(submission, ground_truth) -> tuple[np.ndarray, np.ndarray]:
    """Per query of ``submission`` (in its order): HIT@1 (q, levels) and AP (q, levels, 3 annotators), 0..1."""
    gt_scores = {r["qid"]: clip_scores(r) for r in ground_truth}
    minimums = np.array(list(SALIENCY_LEVELS.values()))  # (levels,)
    hits, aps = [], []  # per query: (levels,) and (levels, 3 annotators)
    for record in submission:
        pred = np.asarray(record["pred_saliency_scores"], dtype=np.float64)
        scores = gt_scores[record["qid"]]  # (c, 3)
        positive = (scores[:, None, :] >= minimums[None, :, None]).astype(float)  # (c, levels, 3)
        top = int(np.argmax(pred))
        hits.append(positive[top].max(1) if top < len(positive) else np.zeros(len(minimums)))
        fitted = _fit_length(pred, len(positive))
        aps.append(ranking_aps(positive.reshape(len(positive), -1), fitted).reshape(len(minimums), 3))
    return np.array(hits).reshape(-1, len(minimums)), np.array(aps).reshape(-1, len(minimums), 3)


def eval_highlight(submission, ground_truth) -> dict:
    hits, aps = highlight_scores(submission, ground_truth)  # (q, levels), (q, levels, 3)
    return {
        f"HL-min-{name}": {"HL-mAP": percent(np.mean(aps[:, k])), "HL-Hit1": percent(np.mean(hits[:, k]))}
        for k, name in enumerate(SALIENCY_LEVELS)
    }


# ---------------------------------------------------------------------------------------------------------
# the whole evaluation


def evaluate(
    submission: list[dict], ground_truth: list[dict], gt_path="ground truth", pred_path="predictions"
) -> dict:
    """The reference's output: ``brief`` first, then the detailed blocks sorted by key."""
    check_inputs(submission, ground_truth, gt_path, pred_path)
    if not submission:
        raise EvalInputError(f"{gt_path}: no query to evaluate; check the file (and --split for a manifest)")
    gt_order = {r["qid"]: r for r in ground_truth}
    metrics, brief = {}, OrderedDict()
    if "pred_relevant_windows" in submission[0]:
        empty = [r["qid"] for r in submission if not r["pred_relevant_windows"]]
        if empty:
            log.warning(
                "%d queries have no predicted window and score 0: %s", len(empty), describe_ids(empty)
            )
        mr = eval_moment_retrieval(submission, [gt_order[r["qid"]] for r in submission])
        metrics.update(mr)
        mr_brief = {
            "MR-full-mAP": _pick(mr["full"]["MR-mAP"], "average"),
            "MR-full-mAP@0.5": _pick(mr["full"]["MR-mAP"], "0.5"),
            "MR-full-mAP@0.75": _pick(mr["full"]["MR-mAP"], "0.75"),
            "MR-short-mAP": _pick(mr["short"]["MR-mAP"], "average"),
            "MR-middle-mAP": _pick(mr["middle"]["MR-mAP"], "average"),
            "MR-long-mAP": _pick(mr["long"]["MR-mAP"], "average"),
            "MR-full-R1@0.5": _pick(mr["full"]["MR-R1"], "0.5"),
            "MR-full-R1@0.7": _pick(mr["full"]["MR-R1"], "0.7"),
        }
        brief.update(sorted(mr_brief.items()))
    if "pred_saliency_scores" in submission[0]:
        hl = eval_highlight(submission, ground_truth)
        metrics.update(hl)
        brief.update((f"{k}-{sub.split('-')[1]}", v[sub]) for k, v in hl.items() for sub in v)
    result = OrderedDict(brief=brief)
    result.update(sorted(metrics.items()))
    return result


def _pick(block: dict | None, key: str):
    return None if block is None else block[key]


def evaluate_files(
    gt_path: str | Path, pred_path: str | Path, split: str | None = None, source: str | None = None
) -> dict:
    return evaluate(load_predictions(pred_path), load_ground_truth(gt_path, split, source), gt_path, pred_path)
