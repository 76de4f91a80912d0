"""A caption and a caption score for every engine event.

Two sources (``engine.caption_source``):

- ``gt``: the caption of the annotated segment that overlaps the event most (temporal IoU); the score is
  that IoU, a match score: an event that cuts across two annotated events, or covers only part of one,
  scores low and its instructions are filtered out. This is how a captioning model's output would be
  attached on a corpus with dense captions, and on the sample corpus it makes the instructions exact.
- ``instances``: a caption written from the Instance-Event matrix ("a red circle moves from left to right
  while a blue square stays in place"); the score is the mean support of the instances it names (0 when the
  event shows none, so such events give no instructions).

``auto`` takes ``gt`` for a video with annotated segments and ``instances`` otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from momentor.data.engine.instance_event import InstanceEventMatrix, describe_activity
from momentor.data.engine.templates import with_article
from momentor.intervals import iou_paired_hull

NO_INSTANCES = "a scene without any tracked object"


def captions_from_annotations(
    segments: Sequence[tuple[float, float]], annotated: Sequence[tuple[float, float, str]]
) -> tuple[list[str], list[float]]:
    """Caption of the most-overlapping annotated segment per event, and that IoU as the score."""
    captions, scores = [], []
    for segment in segments:
        truth = np.array([(s, e) for s, e, _ in annotated], dtype=np.float64).reshape(-1, 2)  # (g, 2)
        ious = iou_paired_hull(np.repeat(np.array([segment], dtype=np.float64), len(truth), axis=0), truth)  # (g,)
        best = int(np.argmax(ious))
        captions.append(annotated[best][2])
        scores.append(float(ious[best]))
    return captions, scores


def captions_from_instances(matrix: InstanceEventMatrix, threshold: float) -> tuple[list[str], list[float]]:
    """A caption naming what every present instance does, and the mean presence of those instances."""
    captions, scores = [], []
    for e in range(len(matrix.segments)):
        members = matrix.members(e, threshold)
        if not members:
            captions.append(NO_INSTANCES)
            scores.append(0.0)
            continue
        clauses = []
        for i in members:
            label = matrix.instances[i].label
            clauses.append(f"{with_article(label)} {describe_activity(matrix.boxes_in(i, e))}")
        captions.append(" while ".join(clauses))
        scores.append(float(np.mean(matrix.presence[members, e])))
    return captions, scores


def caption_events(
    matrix: InstanceEventMatrix,
    annotated: Sequence[tuple[float, float, str]],
    source: str,
    threshold: float,
) -> tuple[list[str], list[float], str]:
    """Captions and scores of the matrix's events from ``source`` (``auto``/``gt``/``instances``)."""
    if source not in ("auto", "gt", "instances"):
        raise ValueError(f"engine.caption_source={source!r}: use 'auto', 'gt' or 'instances'")
    use_gt = source == "gt" or (source == "auto" and len(annotated) > 0)
    if use_gt and annotated:
        return (*captions_from_annotations(matrix.segments, annotated), "gt")
    if use_gt:  # asked for gt but the video has none: say so through an empty caption set with zero scores
        return [NO_INSTANCES] * len(matrix.segments), [0.0] * len(matrix.segments), "gt-missing"
    return (*captions_from_instances(matrix, threshold), "instances")
