"""Per-item scores: each task's headline metric item by item, what the gate's paired bootstrap resamples.

A task result (``momentor evaluate TASK --out FILE``) of a gated task carries

    "items": {"metric": "R1@0.5", "unit": "query", "fingerprint": "<sha256>", "values": {item_id: value}}

with ``mean(values) == result[metric]`` (before the result's rounding to 2 decimals). ``fingerprint`` is a
hash of the ground truth the items were scored on (ids, windows, durations, texts): two results with the
same fingerprint were scored on the same split, so their items pair up; promotion stores it so that a
champion's stored predictions are reused only on an unchanged split.

The headline of each task, and why it decomposes exactly:

- ``grounding``: R1@0.5 (0 or 100 per query; the mean over queries is R1@0.5);
- ``dense_captioning``: METEOR (per video, averaged over the tIoU thresholds; the mean over videos equals
  the averaged-then-averaged METEOR). It is the score the paper reports for this task, and a video without
  prediction scores 0, so every video has an item. CIDEr-D weighs n-grams by the video's own document
  frequencies and SODA_c's ``corpus`` aggregation pools counts over videos, so neither is as plain a mean.

- ``qvhighlights``: HL-min-VeryGood-mAP (per query: the mean over the 3 annotators of the AP of the predicted
  saliency ranking against the clips rated VeryGood; the evaluator averages over queries and annotators, so
  the mean of the items is its value). It is the highlight-detection mAP the paper reports (7.6). Present
  when the predictions carry saliency scores.
- ``action_segmentation``: Edit (per video, averaged over videos by MS-TCN). MoF pools frames over all videos
  and F1 pools TP/FP/FN first, so neither is a mean of per-video values; they stay in the result.

The short headline file (``momentor evaluate --headline metrics/headline.json``) holds a handful of keys per
task, for ``dvc metrics show/diff`` and ``dvc exp show``; the full results stay in the ``--out`` files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from momentor.eval.jsonio import EvalInputError, read_json, write_json

if TYPE_CHECKING:
    import numpy as np

#: task -> (headline metric, item unit)
HEADLINES = {
    "grounding": ("R1@0.5", "query"),
    "dense_captioning": ("METEOR", "video"),
    "qvhighlights": ("HL-min-VeryGood-mAP", "query"),
    "action_segmentation": ("Edit", "video"),
}

#: task -> the result keys copied into the headline file (besides the headline's interval)
HEADLINE_KEYS = {
    "grounding": ("R1@0.3", "R1@0.5", "R1@0.7", "mIoU", "num_queries"),
    "dense_captioning": ("METEOR", "CIDEr", "SODA_c", "Precision", "Recall", "F1", "num_videos"),
    "qvhighlights": ("HL-min-VeryGood-mAP", "HL-min-VeryGood-Hit1", "MR-full-mAP", "MR-full-R1@0.5"),
    "action_segmentation": ("MoF", "Edit", "F1@10", "F1@25", "F1@50", "num_videos"),
}


def fingerprint(rows) -> str:
    """sha256 of the ground truth's rows (plain JSON data), in their order."""
    text = json.dumps(rows, sort_keys=True, separators=(",", ":"), default=float)
    return hashlib.sha256(text.encode()).hexdigest()


def items_block(task: str, ids: list[str], values, truth_fingerprint: str) -> dict:
    import numpy as np

    metric, unit = HEADLINES[task]
    return {
        "metric": metric,
        "unit": unit,
        "fingerprint": truth_fingerprint,
        "values": {i: float(v) for i, v in zip(ids, np.asarray(values, dtype=np.float64))},
    }


def highlight_items(submission: list[dict], truth: list[dict]) -> dict:
    """Per query HL-min-VeryGood AP (mean over the annotators), in percent."""
    from momentor.eval.qvhighlights import SALIENCY_LEVELS, highlight_scores

    _, aps = highlight_scores(submission, truth)  # (q, levels, 3)
    level = list(SALIENCY_LEVELS).index("VeryGood")
    return items_block("qvhighlights", [r["qid"] for r in submission], 100 * aps[:, level].mean(1),
                       highlight_fingerprint(truth))


def highlight_fingerprint(truth: list[dict]) -> str:
    return fingerprint([[r["qid"], r["duration"], r["relevant_windows"], r.get("relevant_clip_ids", []),
                         r.get("saliency_scores", [])] for r in truth])


def segmentation_items(truth: dict[str, list[str]], pred: dict[str, list[str]], background) -> dict:
    """Per video Edit score (their mean is the evaluator's Edit)."""
    from momentor.eval.action_segmentation import edit_score

    videos = list(truth)
    return items_block("action_segmentation", videos, [edit_score(pred[v], truth[v], background) for v in videos],
                       fingerprint(sorted(truth.items())))


def read_result(path: str | Path, task: str) -> dict:
    """A task result file with its per-item block; the error says how to make one."""
    path = Path(path)
    if not path.is_file():
        raise EvalInputError(f"{path}: no {task} result; run momentor evaluate {task} ... --out {path}")
    result = read_json(path)
    if not isinstance(result, dict) or "items" not in result:
        raise EvalInputError(
            f"{path}: no per-item scores ('items'); re-run momentor evaluate {task} with this version"
        )
    return result


def paired_values(candidate: dict, reference: dict, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The two results' item values on the same items, in the candidate's order.

    Raises EvalInputError when they were scored on different ground truth or different items: a paired
    comparison on other items would be a comparison of other things.
    """
    import numpy as np

    ours, theirs = candidate["items"], reference["items"]
    if ours["metric"] != theirs["metric"]:
        raise EvalInputError(f"{what}: compares {ours['metric']} with {theirs['metric']}")
    if ours["fingerprint"] != theirs["fingerprint"] or set(ours["values"]) != set(theirs["values"]):
        raise EvalInputError(
            f"{what}: scored on other ground truth than the candidate (fingerprint or item ids differ); "
            "score it on the candidate's split"
        )
    ids = list(ours["values"])
    return (np.array([ours["values"][i] for i in ids]), np.array([theirs["values"][i] for i in ids]))


def headline_entry(task: str, result: dict, gate_cfg) -> dict:
    """The task's handful of headline keys, with the headline's bootstrap interval when it has items."""
    from momentor.eval.bootstrap import mean_interval

    source = result.get("brief", result) if task == "qvhighlights" else result
    entry = {k: source[k] for k in HEADLINE_KEYS.get(task, ()) if isinstance(source.get(k), (int, float))}
    if "items" in result:
        metric = result["items"]["metric"]
        ci = mean_interval(
            list(result["items"]["values"].values()), gate_cfg.resamples, gate_cfg.seed, gate_cfg.confidence
        )
        entry[f"{metric}_low"], entry[f"{metric}_high"] = round(ci.low, 2), round(ci.high, 2)
    return entry


def merge_headline(path: str | Path, task: str, result: dict, gate_cfg) -> Path:
    """Put the task's headline entry into the short headline file, keeping the other tasks'."""
    path = Path(path)
    headline = read_json(path) if path.is_file() else {}
    headline[task] = headline_entry(task, result, gate_cfg)
    return write_json(path, headline)
