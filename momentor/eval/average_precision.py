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

from momentor.intervals import iou_matrix


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
    # The reference visits ground truth in this order (numpy's default argsort, reversed; NaN first), stops at
    # the first window below the threshold and skips windows already matched. The sizes are tiny (p <= 10),
    # so plain Python loops over thresholds beat array operations here.
    visits = tiou.argsort(axis=1)[:, ::-1].tolist()  # (p, g)
    ious = tiou.tolist()
    tp = np.zeros((num_t, num_p))
    for t, threshold in enumerate(thresholds.tolist()):
        locked = [False] * num_g
        for k in range(num_p):
            for j in visits[k]:
                if ious[k][j] < threshold:
                    break
                if not locked[j]:
                    locked[j] = True
                    tp[t, k] = 1
                    break
    tp_cum = np.cumsum(tp, axis=1)  # (t, p)
    fp_cum = np.cumsum(1 - tp, axis=1)  # (t, p)
    return _voc_interpolated_ap(tp_cum / (tp_cum + fp_cum), tp_cum / float(num_g))


def _voc_interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """Area under the precision envelope (VOC 2011 style) of each (t, p) curve row, as in the reference."""
    rows = len(precision)
    mprecision = np.hstack([np.zeros((rows, 1)), precision, np.zeros((rows, 1))])  # (t, p + 2)
    mrecall = np.hstack([np.zeros((rows, 1)), recall, np.ones((rows, 1))])  # (t, p + 2)
    envelope = np.maximum.accumulate(mprecision[:, ::-1], axis=1)[
        :, ::-1
    ]  # best precision at any higher recall
    areas = (mrecall[:, 1:] - mrecall[:, :-1]) * envelope[:, 1:]  # (t, p + 1)
    steps = mrecall[:, 1:] != mrecall[:, :-1]
    # summed over the recall steps only, row by row: numpy's summation order depends on the count of terms
    return np.array([np.sum(a[m]) for a, m in zip(areas, steps)])


def ranking_ap(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Interpolated AP of scores ``y_score`` (k,) against binary labels ``y_true`` (k,).

    All-negative labels give 0 and all-positive labels give 1, as in the reference.
    """
    return float(ranking_aps(np.asarray(y_true, dtype=np.float64)[:, None], y_score)[0])


def ranking_aps(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """:func:`ranking_ap` of one ranking ``scores`` (c,) against label columns ``labels`` (c, k): (k,).

    The curve is scikit-learn's ``precision_recall_curve`` (tied scores form one threshold), lowest threshold
    first, then the (precision 1, recall 0) end point.
    """
    labels = np.asarray(labels, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if len(labels) != len(scores):
        raise ValueError(f"ranking_ap: {len(labels)} labels but {len(scores)} scores")
    if not np.isin(labels, (0.0, 1.0)).all():
        raise ValueError("ranking_ap: labels must be 0 or 1")
    desc = np.argsort(scores, kind="mergesort")[::-1]
    last_of_tie = np.r_[np.where(np.diff(scores[desc]))[0], len(scores) - 1]  # (n,) one per distinct score
    tps = np.cumsum(labels[desc], axis=0)[last_of_tie]  # (n, k)
    fps = 1 + last_of_tie[:, None] - tps  # (n, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.vstack([(tps / (tps + fps))[::-1], np.ones((1, labels.shape[1]))])  # (n + 1, k)
        recall = np.vstack([(tps / tps[-1])[::-1], np.zeros((1, labels.shape[1]))]).astype(np.float32)
    precision = np.maximum.accumulate(precision, axis=0)  # interpolation, from high recall towards low recall
    steps = np.diff(recall, axis=0) != 0  # (n, k)
    aps = np.empty(labels.shape[1])
    for c in range(labels.shape[1]):
        if labels[0, c] == labels[:, c].min() == labels[:, c].max():
            aps[c] = labels[0, c]  # one class only: 0 or 1, as the reference
        else:
            aps[c] = np.mean(precision[:-1, c][steps[:, c]])
    return aps
