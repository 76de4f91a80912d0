"""Temporal IoU of [start, end] windows, in the three arithmetic forms the reference evaluators use.

The forms agree on well-formed, overlapping windows but differ in the last bits of a float and on
degenerate input (zero-length or reversed windows). A threshold test such as ``iou >= 0.5`` can flip on
the last bit, so each evaluator here uses the exact form of its reference:

- :func:`iou_matrix` / :func:`iou_paired`: union = len(a) + len(b) - intersection (moment_detr's
  ``compute_temporal_iou_batch_cross``, used by its mAP; and our grounding metrics);
- :func:`iou_paired_hull`: union = convex hull of the two windows (moment_detr's
  ``compute_temporal_iou_batch_paired``, used by its R1); equal to the true union whenever the windows
  overlap, and the IoU is 0 when they do not;
- :func:`iou_matrix_densevid`: union = min(hull, len(a) + len(b)), divided with a 1e-8 guard (ActivityNet
  ``densevid_eval`` and the SODA repository).

Windows are float arrays of shape (k, 2) holding [start, end] in seconds.
"""

from __future__ import annotations

import numpy as np


def as_windows(windows, what: str = "windows") -> np.ndarray:
    """``windows`` as a float64 array of shape (k, 2); raises ValueError naming ``what`` otherwise."""
    arr = np.asarray(windows, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 2)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError(f"{what}: expected a list of [start, end] pairs, got shape {arr.shape}")
    return arr[:, :2]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every window of ``a`` (n, 2) against every window of ``b`` (m, 2): (n, m).

    A pair whose union is 0 (two zero-length windows at one instant) gives NaN, as in the reference.
    """
    len_a = a[:, 1] - a[:, 0]  # (n,)
    len_b = b[:, 1] - b[:, 0]  # (m,)
    left = np.maximum(a[:, None, 0], b[None, :, 0])  # (n, m)
    right = np.minimum(a[:, None, 1], b[None, :, 1])  # (n, m)
    inter = np.clip(right - left, 0, None)  # (n, m)
    union = len_a[:, None] + len_b[None, :] - inter  # (n, m)
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / union


def iou_paired(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of ``a[i]`` with ``b[i]`` (both (n, 2)), union = len(a) + len(b) - intersection: (n,).

    The diagonal of :func:`iou_matrix`, with the same arithmetic (NaN where the union is 0).
    """
    inter = np.clip(np.minimum(a[:, 1], b[:, 1]) - np.maximum(a[:, 0], b[:, 0]), 0, None)  # (n,)
    union = (a[:, 1] - a[:, 0]) + (b[:, 1] - b[:, 0]) - inter  # (n,)
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / union


def iou_paired_hull(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of ``a[i]`` with ``b[i]`` (both (n, 2)) with the hull as the union: (n,); 0 where the hull is 0."""
    inter = np.maximum(0, np.minimum(a[:, 1], b[:, 1]) - np.maximum(a[:, 0], b[:, 0]))  # (n,)
    hull = np.maximum(a[:, 1], b[:, 1]) - np.minimum(a[:, 0], b[:, 0])  # (n,)
    return np.divide(inter, hull, out=np.zeros_like(inter), where=hull != 0)


def iou_matrix_densevid(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU as ActivityNet's ``densevid_eval`` computes it, for predictions ``a`` (n, 2) against ground truth
    ``b`` (m, 2): (n, m).

    The argument order is the reference's and fixes the order of the float operations. Endpoints are taken
    as given: a reversed window has no intersection with anything.
    """
    inter = np.maximum(
        0.0, np.minimum(a[:, None, 1], b[None, :, 1]) - np.maximum(a[:, None, 0], b[None, :, 0])
    )  # (n, m)
    hull = np.maximum(a[:, None, 1], b[None, :, 1]) - np.minimum(a[:, None, 0], b[None, :, 0])  # (n, m)
    total = ((b[None, :, 1] - b[None, :, 0]) + a[:, None, 1]) - a[:, None, 0]  # (n, m), the reference's order
    return inter / (np.minimum(hull, total) + 1e-8)
