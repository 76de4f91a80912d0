"""Evaluation speed: the QVHighlights val set (1550 queries) and the Charades-STA test set (3720 queries).

Predictions are generated (seeded): ground-truth windows jittered plus random windows with tied scores, and
per-clip saliency scores with ties, so every code path of the metrics runs. Rows:

- end to end (read the ground truth and prediction files, score, format), seconds;
- scoring only, against a naive pure-Python implementation of the same definitions timed in the same run
  (scalar IoU, per-threshold greedy loops, per-annotator sort); the two must agree to the reported 2
  decimals, which the script checks.

    .venv/bin/python bench/bench_eval.py
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, report, row  # noqa: E402

from momentor.eval import grounding, qvhighlights  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
QVH_GT = FIXTURES / "qvhighlights" / "highlight_val_release.jsonl"
CHARADES_GT = FIXTURES / "charades_sta" / "charades_sta_test.txt"


# ---------------------------------------------------------------------------------------------------------
# generated predictions


def qvh_predictions(gt: list[dict], rng) -> list[dict]:
    preds = []
    for d in gt:
        windows = []
        for _ in range(int(rng.integers(3, 12))):
            if rng.random() < 0.4:
                s, e = d["relevant_windows"][int(rng.integers(len(d["relevant_windows"])))]
                s, e = (
                    max(0, s + float(rng.choice([-4, -2, 0, 2]))),
                    min(d["duration"], e + float(rng.choice([-2, 0, 2, 4]))),
                )
            else:
                s = float(rng.integers(0, d["duration"] // 2) * 2)
                e = min(float(d["duration"]), s + float(rng.integers(1, 30) * 2))
            windows.append([s, e, round(float(rng.random()), 1)])
        saliency = np.round(rng.standard_normal(int(d["duration"] / 2)), 1).tolist()
        preds.append({"qid": d["qid"], "pred_relevant_windows": windows, "pred_saliency_scores": saliency})
    return preds


def charades_predictions(queries, rng) -> list[dict]:
    out = []
    for q in queries:
        s, e = q.windows[0]
        jitter = (e - s) / 3
        windows = [[float(s + rng.normal(0, jitter)), float(e + rng.normal(0, jitter)), 0.9]]
        windows += [[float(a), float(a + 5), 0.1] for a in rng.uniform(0, q.duration, 4)]
        out.append({"query_id": q.query_id, "video_id": q.video_id, "pred_windows": windows})
    return out


# ---------------------------------------------------------------------------------------------------------
# naive baselines: the same definitions, written plainly


def naive_iou(a, b) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter / union if union else float("nan")


def naive_detection_ap(gt, pred, threshold) -> float:
    pred = sorted(pred, key=lambda w: -w[2])
    taken, hits = set(), []
    for window in pred:
        ious = [naive_iou(window, g) for g in gt]
        # highest IoU first; a NaN IoU (0/0, e.g. a reversed window) first of all, as numpy's argsort puts it
        order = sorted(
            range(len(gt)), key=lambda j: (math.isnan(ious[j]), 0.0 if math.isnan(ious[j]) else ious[j])
        )[::-1]
        hit = False
        for j in order:
            if ious[j] < threshold:
                break
            if j not in taken:
                taken.add(j)
                hit = True
                break
        hits.append(hit)
    tp = np.cumsum(hits)
    precision = [t / (k + 1) for k, t in enumerate(tp)]
    recall = [t / len(gt) for t in tp]
    ap, previous = 0.0, 0.0
    for k, r in enumerate(recall):
        if r != previous:
            ap += (r - previous) * max(precision[k:])
            previous = r
    return ap


def naive_ranking_ap(labels, scores) -> float:
    if len(set(labels)) == 1:
        return float(labels[0])
    points, tp, seen = [], 0, 0
    ranked = sorted(zip(scores, labels), key=lambda x: -x[0])
    positives = sum(labels)
    for k, (score, label) in enumerate(ranked):
        tp, seen = tp + label, seen + 1
        if k + 1 == len(ranked) or ranked[k + 1][0] != score:
            points.append((tp / seen, tp / positives))
    steps = [p for k, p in enumerate(points) if k == 0 or points[k][1] != points[k - 1][1]]
    return float(np.mean([max(q for q, r in points if r >= step[1]) for step in steps if step[1] > 0]))


def naive_qvhighlights(preds, gt) -> dict:
    """The ``brief`` block: MR mAP of the four length ranges, R1, HL at the three levels."""
    thresholds = qvhighlights.IOU_THRESHOLDS
    brief = {}
    for name, (low, high) in qvhighlights.LENGTH_RANGES.items():
        windows = {
            d["qid"]: [w for w in d["relevant_windows"] if name == "full" or low < w[1] - w[0] <= high]
            for d in gt
        }
        kept = [p for p in preds if windows[p["qid"]]]
        ap = np.mean(
            [
                [
                    naive_detection_ap(windows[p["qid"]], p["pred_relevant_windows"][:10], t)
                    for t in thresholds
                ]
                for p in kept
            ],
            axis=0,
        )
        brief[f"MR-{name}-mAP"] = round(100 * float(np.mean(ap)), 2)
        if name == "full":
            brief["MR-full-mAP@0.5"], brief["MR-full-mAP@0.75"] = (
                round(100 * float(ap[k]), 2) for k in (0, 5)
            )
            top1 = []
            for p in preds:
                first = p["pred_relevant_windows"][0]
                best = max(windows[p["qid"]], key=lambda g: naive_iou(first, g))  # first max wins, as argmax
                inter = max(0.0, min(first[1], best[1]) - max(first[0], best[0]))
                hull = max(first[1], best[1]) - min(first[0], best[0])
                top1.append(inter / hull if hull else 0.0)
            for t in (0.5, 0.7):
                brief[f"MR-full-R1@{t}"] = round(100 * sum(i >= t for i in top1) / len(top1), 2)
    gt_by_qid = {d["qid"]: d for d in gt}
    for name, minimum in qvhighlights.SALIENCY_LEVELS.items():
        hits, aps = [], []
        for p in preds:
            clips = qvhighlights.clip_scores(gt_by_qid[p["qid"]]).tolist()
            scores = (p["pred_saliency_scores"] + [0.0] * len(clips))[: len(clips)]
            top = max(range(len(p["pred_saliency_scores"])), key=lambda k: (p["pred_saliency_scores"][k], -k))
            hits.append(top < len(clips) and max(clips[top]) >= minimum)
            aps += [naive_ranking_ap([int(c[w] >= minimum) for c in clips], scores) for w in range(3)]
        brief[f"HL-min-{name}-mAP"] = round(100 * float(np.mean(aps)), 2)
        brief[f"HL-min-{name}-Hit1"] = round(100 * float(np.mean(hits)), 2)
    return brief


def naive_grounding(queries, predictions: dict) -> dict:
    ious = []
    for q in queries:
        windows = sorted(predictions[q.query_id]["pred_windows"], key=lambda w: -w[2])
        top = [min(max(x, 0.0), q.duration) for x in windows[0][:2]]
        truth = [[min(max(x, 0.0), q.duration) for x in w] for w in q.windows.tolist()]
        ious.append(max(0.0 if math.isnan(v) else v for v in (naive_iou(top, g) for g in truth)))
    return {f"R1@{t}": round(100 * sum(i >= t for i in ious) / len(ious), 2) for t in (0.3, 0.5, 0.7)} | {
        "mIoU": round(100 * sum(ious) / len(ious), 2)
    }


# ---------------------------------------------------------------------------------------------------------


def main() -> None:
    if not FIXTURES.is_dir():
        sys.exit(f"benchmark annotation fixtures not found at {FIXTURES}")
    rng = np.random.default_rng(0)
    rows, checks = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        gt = qvhighlights.load_ground_truth(QVH_GT)
        preds = qvh_predictions(gt, rng)
        pred_file = Path(tmp) / "qvh.jsonl"
        pred_file.write_text("".join(json.dumps(p) + "\n" for p in preds))
        seconds = best_of(lambda: qvhighlights.evaluate_files(QVH_GT, pred_file))
        rows.append(row("QVHighlights val, 1550 queries, end to end", seconds, "s", higher_is_better=False))
        ours = qvhighlights.evaluate(preds, gt)
        naive = naive_qvhighlights(preds, gt)
        checks["qvhighlights"] = {"ours": {k: ours["brief"][k] for k in naive}, "naive": naive}
        assert all(abs(ours["brief"][k] - v) <= 0.011 for k, v in naive.items()), checks["qvhighlights"]
        t_ours = best_of(lambda: qvhighlights.evaluate(preds, gt))
        t_naive = best_of(lambda: naive_qvhighlights(preds, gt), repeats=1)
        rows.append(
            row(
                "QVHighlights val, scoring only",
                t_ours,
                "s",
                "naive Python loops",
                t_naive,
                higher_is_better=False,
                note="both compute the whole brief block",
            )
        )

        queries = grounding.load_ground_truth(CHARADES_GT)
        records = charades_predictions(queries, rng)
        pred_file = Path(tmp) / "charades.jsonl"
        pred_file.write_text("".join(json.dumps(p) + "\n" for p in records))
        convention = grounding.GroundingConvention()
        seconds = best_of(lambda: grounding.evaluate_files(CHARADES_GT, pred_file, convention))
        rows.append(row("Charades-STA test, 3720 queries, end to end", seconds, "s", higher_is_better=False))
        loaded = grounding.load_predictions(pred_file)
        by_id = {r["query_id"]: r for r in records}
        ours = grounding.score(queries, loaded, convention)
        naive = naive_grounding(queries, by_id)
        checks["grounding"] = {"ours": {k: ours[k] for k in naive}, "naive": naive}
        assert all(abs(ours[k] - v) <= 0.011 for k, v in naive.items()), checks["grounding"]
        t_ours = best_of(lambda: grounding.score(queries, loaded, convention))
        t_naive = best_of(lambda: naive_grounding(queries, by_id))
        rows.append(
            row(
                "Charades-STA test, scoring only",
                t_ours,
                "s",
                "naive Python loop",
                t_naive,
                higher_is_better=False,
            )
        )
    report("bench_eval", rows, {"agreement": checks})


if __name__ == "__main__":
    main()
