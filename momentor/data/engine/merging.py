"""Merging of adjacent sub-segments that are semantically consistent.

Scene scores over-segment: a camera pan, a flash or a cut between two views of one scene all make peaks.
Two adjacent sub-segments are one event when they look alike to the frozen frame encoder (cosine similarity
of their mean frame features >= ``min_similarity``) **and** show the same instances (Jaccard overlap of the
instances that appear in them >= ``min_instance_overlap``; two segments with no instances at all share
them trivially). The most similar qualifying pair is merged first and the similarities are recomputed, until
no adjacent pair qualifies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from momentor.data.engine.instance_event import segment_index


@dataclass(frozen=True)
class MergeDecision:
    """One adjacent pair as it was judged: its similarity, its instance overlap, and whether it merged."""

    boundary: float
    similarity: float
    instance_overlap: float
    merged: bool


def mean_features(
    features: np.ndarray, times: np.ndarray, segments: Sequence[tuple[float, float]]
) -> np.ndarray:
    """Mean L2-normalised frame feature per segment: features (m, d), times (m,) -> (segments, d).

    A segment with no frame inside takes the frame nearest to its middle.
    """
    unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)  # (m, d)
    index = segment_index(np.asarray(times, float), segments)
    out = np.zeros((len(segments), features.shape[1]), np.float64)
    for e, (start, end) in enumerate(segments):
        rows = unit[index == e]
        if len(rows) == 0:
            rows = unit[[int(np.argmin(np.abs(times - (start + end) / 2)))]]
        out[e] = rows.mean(axis=0)
    return out


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def merge_segments(
    segments: Sequence[tuple[float, float]],
    features: np.ndarray,
    feature_times: np.ndarray,
    instances_in: Callable[[Sequence[tuple[float, float]]], list[set]],
    min_similarity: float,
    min_instance_overlap: float,
) -> tuple[list[tuple[float, float]], list[MergeDecision]]:
    """Merge adjacent consistent segments.

    Args:
        segments: the sub-segments in order, tiling the video.
        features: frozen-encoder frame features (m, d) of the video.
        feature_times: their times (m,).
        instances_in: segments -> the set of instance ids that appear in each (the Instance-Event matrix).
        min_similarity: cosine similarity of mean features a pair needs to merge.
        min_instance_overlap: Jaccard overlap of instances a pair needs to merge.

    Returns:
        The merged segments and the decision about every boundary of the input (merged or kept).
    """
    segments = list(segments)
    decisions: dict[float, MergeDecision] = {}
    while len(segments) > 1:
        means = mean_features(features, feature_times, segments)
        members = instances_in(segments)
        best, best_similarity = None, -np.inf
        for k in range(len(segments) - 1):
            similarity = cosine(means[k], means[k + 1])
            overlap = jaccard(members[k], members[k + 1])
            boundary = segments[k][1]
            decisions[boundary] = MergeDecision(boundary, similarity, overlap, merged=False)
            if (
                similarity >= min_similarity
                and overlap >= min_instance_overlap
                and similarity > best_similarity
            ):
                best, best_similarity = k, similarity
        if best is None:
            break
        boundary = segments[best][1]
        decisions[boundary] = MergeDecision(boundary, *_scores(decisions[boundary]), merged=True)
        segments[best : best + 2] = [(segments[best][0], segments[best + 1][1])]
    return segments, sorted(decisions.values(), key=lambda d: d.boundary)


def _scores(decision: MergeDecision) -> tuple[float, float]:
    return decision.similarity, decision.instance_overlap
