"""The two AP forms of the QVHighlights reference, on cases worked by hand (ties and degenerate windows)."""

from __future__ import annotations

import numpy as np
import pytest

from momentor.eval.average_precision import detection_ap, ranking_ap
from momentor.intervals import iou_matrix_densevid, iou_paired_hull


def test_ranking_ap_groups_tied_scores_into_one_threshold():
    # thresholds 0.9 (tp 1, fp 1), 0.5 (tp 2, fp 1), 0.1 (tp 2, fp 2): the precision envelope is 2/3 at both
    # recall steps (0.5 and 1), so AP = 2/3; ranking the tie in either order would give 1/2 or 5/6 instead
    assert ranking_ap([1, 0, 1, 0], [0.9, 0.9, 0.5, 0.1]) == pytest.approx(2 / 3)


@pytest.mark.parametrize("labels, expected", [([0, 0, 0], 0.0), ([1, 1, 1], 1.0)])
def test_ranking_ap_of_one_class_labels(labels, expected):
    assert ranking_ap(labels, [0.3, 0.2, 0.1]) == expected


def test_detection_ap_matches_each_ground_truth_once():
    thresholds = np.array([0.5])
    gt = np.array([[0.0, 10.0]])
    # two copies of the same window: the second finds the ground truth taken -> precision 1, then 1/2
    twice = detection_ap(gt, np.array([[0.0, 10.0], [0.0, 10.0]]), np.array([0.9, 0.8]), thresholds)
    assert twice.tolist() == [1.0]
    # a false positive ranked first halves the precision at the only recall step
    late = detection_ap(gt, np.array([[20.0, 30.0], [0.0, 10.0]]), np.array([0.9, 0.8]), thresholds)
    assert late.tolist() == [0.5]


def test_detection_ap_keeps_the_reference_behaviour_on_zero_length_windows():
    # IoU 0/0 is NaN; the reference's "IoU < threshold" is False for NaN, so the match is a true positive
    ap = detection_ap(np.array([[5.0, 5.0]]), np.array([[5.0, 5.0]]), np.array([1.0]), np.array([0.5, 0.95]))
    assert ap.tolist() == [1.0, 1.0]


def test_iou_forms_agree_on_overlapping_windows_and_differ_on_reversed_ones():
    pred, gt = np.array([[2.0, 8.0]]), np.array([[4.0, 10.0]])
    assert iou_paired_hull(pred, gt)[0] == pytest.approx(0.5)
    assert iou_matrix_densevid(pred, gt)[0, 0] == pytest.approx(0.5)
    # densevid takes endpoints as given: a reversed prediction overlaps nothing
    assert iou_matrix_densevid(np.array([[8.0, 2.0]]), gt)[0, 0] == 0.0
