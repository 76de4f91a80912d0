"""Dense-captioning localisation: Precision and Recall at tIoU thresholds, their means and F1.

As ``evaluate_detection`` of ActivityNet's ``densevid_eval`` (ranjaykrishna/densevid_eval, ``evaluate.py``;
PDVC's ``evaluate2018.py`` is the same code), per video and threshold t:

- a predicted event is *valid* and a ground-truth event is *covered* when some pair of them has
  tIoU **>** t (strict, unlike the caption metrics' ``>=``); the tIoU's union is the smaller of the hull
  and the sum of the two lengths, divided with a 1e-8 guard (:func:`momentor.intervals.iou_matrix_densevid`);
- Precision = #valid predictions / #predictions (all of them, up to the 1000 read), Recall = #covered
  ground-truth events / #ground-truth events;
- with several reference files (ActivityNet's val_1 and val_2), the video's Precision is the best over the
  files that annotate it, and its Recall too, each on its own (the two may come from different files);
- a video of the ground truth without predictions scores 0 for both.

Precision and Recall are averaged over the videos of the ground truth (the union of the files' videos),
then over the thresholds. F1 = 2PR / (P + R) of those two means, as PDVC's ``train.py`` computes it
(``2 / (1/P + 1/R)``); 0 when both are 0. Vid2Seq's code (scenic ``dvc_eval.py``) instead takes this
harmonic mean per video and averages it over videos; that figure is not the one reported here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from momentor.intervals import iou_matrix_densevid


def per_video(
    references: Sequence[Mapping[str, np.ndarray]], pred: Mapping[str, np.ndarray], tious: Sequence[float]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Precision and Recall of every video of the ground truth, at each threshold.

    Args:
        references: per reference file, video id -> its events' windows (g, 2).
        pred: video id -> the predicted windows (p, 2); a video may be absent.
        tious: the thresholds (t,).

    Returns:
        the videos (the union of the files', in file order), precision (v, t), recall (v, t).
    """
    videos = list(dict.fromkeys(video for ref in references for video in ref))
    precision, recall = np.zeros((len(videos), len(tious))), np.zeros((len(videos), len(tious)))
    for v, video in enumerate(videos):
        windows = pred.get(video, np.zeros((0, 2)))
        ious = [iou_matrix_densevid(windows, ref[video]) for ref in references if video in ref]  # (p, g) each
        precision[v], recall[v] = best_precision_recall(ious, tious)
    return videos, precision, recall


def best_precision_recall(
    ious: Sequence[np.ndarray], tious: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """One video's Precision and Recall at each threshold, each the best over its reference files.

    Args:
        ious: per reference file annotating the video, the tIoU of every prediction against every event
            of that file, (p, g); p is 0 when the video has no predictions.
        tious: the thresholds (t,).

    Returns:
        precision (t,), recall (t,) as fractions.
    """
    thresholds = np.asarray(tious, dtype=np.float64)
    precision = np.zeros(len(thresholds))
    recall = np.zeros(len(thresholds))
    for iou in ious:
        n_pred, n_truth = iou.shape
        if n_pred == 0 or n_truth == 0:
            continue  # nothing valid, nothing covered (densevid divides by zero on a file without events)
        above = iou[None] > thresholds[:, None, None]  # (t, p, g)
        precision = np.maximum(precision, above.any(2).sum(1) / n_pred)
        recall = np.maximum(recall, above.any(1).sum(1) / n_truth)
    return precision, recall


def summary(precision: np.ndarray, recall: np.ndarray, tious: Sequence[float]) -> dict:
    """Percent values of the per-video fractions ``precision`` and ``recall`` (v, t).

    Returns ``{"Precision", "Recall", "F1", "per_tiou": {str(t): {"Precision", "Recall"}}}``, means over
    videos then thresholds, rounded to 2 decimals (F1 from the unrounded means).
    """
    p_tiou, r_tiou = precision.mean(0), recall.mean(0)  # (t,) each
    p, r = float(p_tiou.mean()), float(r_tiou.mean())
    f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return {
        "Precision": round(100 * p, 2),
        "Recall": round(100 * r, 2),
        "F1": round(100 * f1, 2),
        "per_tiou": {
            str(t): {"Precision": round(100 * float(pt), 2), "Recall": round(100 * float(rt), 2)}
            for t, pt, rt in zip(tious, p_tiou, r_tiou)
        },
    }
