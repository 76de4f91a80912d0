"""Average precision in the two forms the QVHighlights reference uses.

- :func:`detection_ap`: ActivityNet-style detection AP of one query's predicted windows against its ground
  truth windows at several tIoU thresholds (greedy matching in score order, VOC-interpolated precision);
  moment_detr's ``compute_average_precision_detection`` (itself from MMAction2).
- :func:`ranking_ap`: AP of a ranking of clips against binary relevance, interpolated, at every recalled
  positive (the video2gif ``get_ap`` that moment_detr's highlight mAP calls, which builds on scikit-learn's
  ``precision_recall_curve``; the curve is computed here with numpy).
"""

from __future__ import annotations

import numpy as np

from momentor.eval.intervals import iou_matrix


def detection_ap(gt: np.ndarray, pred: np.ndarray, scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """AP at each tIoU threshold for one query.

    Args:
        gt: (g, 2) ground-truth windows, g >= 1.
        pred: (p, 2) predicted windows, in the order they were given.
        scores: (p,) confidence of each prediction; ties keep the given order.
        thresholds: (t,) tIoU thresholds.

    Returns:
        (t,) average precision at each threshold; zeros when there is no prediction.
    """
    num_t, num_p, num_g = len(thresholds), len(pred), len(gt)
    if num_p == 0:
        return np.zeros(num_t)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    tiou = iou_matrix(pred[order], gt)  # (p, g)
    locked = np.zeros((num_t, num_g), dtype=bool)  # gt already matched, per threshold
    tp = np.zeros((num_t, num_p))
    for k in range(num_p):
        # The reference visits ground truth in this order (numpy's default argsort, reversed; NaN first) and
        # stops at the first window below the threshold, skipping windows that are already matched.
        visit = tiou[k].argsort()[::-1]  # (g,)
        ious = tiou[k][visit]  # (g,)
        reachable = np.logical_and.accumulate(~(ious[None, :] < thresholds[:, None]), axis=1)  # (t, g)
        free = reachable & ~locked[:, visit]  # (t, g)
        hit = free.any(axis=1)  # (t,)
        first = free.argmax(axis=1)  # (t,)
        tp[hit, k] = 1
        locked[np.flatnonzero(hit), visit[first[hit]]] = True
    tp_cum = np.cumsum(tp, axis=1)  # (t, p)
    fp_cum = np.cumsum(1 - tp, axis=1)  # (t, p)
    recall = tp_cum / float(num_g)
    precision = tp_cum / (tp_cum + fp_cum)
    return np.array([_voc_interpolated_ap(precision[t], recall[t]) for t in range(num_t)])


def _voc_interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """Area under the precision envelope (VOC 2011 style), as in the reference."""
    mprecision = np.hstack([[0], precision, [0]])
    mrecall = np.hstack([[0], recall, [1]])
    mprecision = np.maximum.accumulate(mprecision[::-1])[::-1]  # best precision at any higher recall
    idx = np.where(mrecall[1::] != mrecall[0:-1])[0] + 1
    return float(np.sum((mrecall[idx] - mrecall[idx - 1]) * mprecision[idx]))


def ranking_ap(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Interpolated AP of scores ``y_score`` (k,) against binary labels ``y_true`` (k,).

    All-negative labels give 0 and all-positive labels give 1, as in the reference.
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    y_score = np.asarray(y_score, dtype=np.float64)
    if len(y_true) != len(y_score):
        raise ValueError(f"ranking_ap: {len(y_true)} labels but {len(y_score)} scores")
    if len(set(y_true.tolist())) == 1:
        return 0.0 if y_true[0] == 0 else 1.0
    if not set(y_true.tolist()) <= {0.0, 1.0}:
        raise ValueError("ranking_ap: labels must be 0 or 1")
    precision, recall = _precision_recall_curve(y_true, y_score)
    recall = recall.astype(np.float32)  # the reference casts before looking for recall steps
    precision = np.maximum.accumulate(precision)  # interpolation, from high recall towards low recall
    steps = np.where(np.diff(recall))
    return float(np.mean(precision[steps]))


def _precision_recall_curve(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall at every distinct score, lowest threshold first, then the (1, 0) end point.

    The same arrays as scikit-learn's ``precision_recall_curve`` (tied scores form one threshold).
    """
    desc = np.argsort(y_score, kind="mergesort")[::-1]
    score, label = y_score[desc], y_true[desc]
    last_of_tie = np.r_[np.where(np.diff(score))[0], label.size - 1]
    tps = np.cumsum(label)[last_of_tie]
    fps = 1 + last_of_tie - tps
    predicted = tps + fps
    precision = np.divide(tps, predicted, out=np.zeros_like(tps), where=predicted != 0)
    recall = tps / tps[-1]
    return np.hstack((precision[::-1], 1)), np.hstack((recall[::-1], 0))
