"""Scene scores, smoothed peaks and boundary matching on synthetic scenes with hand-worked numbers."""

import numpy as np
import pytest
from scenes import scene_video

from momentor.data.engine.boundaries import (
    MatchCounts,
    detect_boundaries,
    match_boundaries,
    scene_scores,
    segments_from_boundaries,
)

NAVY, TEAL, BROWN = (20, 30, 80), (20, 95, 100), (90, 55, 30)


def test_scene_score_is_zero_for_equal_frames_and_one_for_disjoint_colours():
    frames = np.zeros((3, 8, 8, 3), np.uint8)
    frames[2] = (250, 250, 250)
    scores = scene_scores(frames)
    assert scores[0] == pytest.approx(0.0, abs=1e-6)
    assert scores[1] == pytest.approx(1.0, abs=1e-6)


def test_boundaries_fall_between_the_frames_of_each_cut():
    frames, _ = scene_video([NAVY, TEAL, BROWN], frames_per_scene=8)
    times = np.arange(len(frames)) * 0.25  # 4 frames/s
    found = detect_boundaries(frames, times, sigma=0.5, threshold=0.5, min_gap_s=1.0)
    # cuts between frames 7|8 and 15|16: halfway is 1.875 s and 3.875 s
    np.testing.assert_allclose(found.times, [1.875, 3.875])
    assert np.all(found.strengths > 0.5)
    # the moving circle alone never comes close to the threshold
    inside = np.delete(found.smoothed, [6, 7, 8, 14, 15, 16])
    assert inside.max() < 0.2


def test_threshold_and_min_gap_decide_what_is_a_boundary():
    frames, _ = scene_video([NAVY, TEAL, NAVY], frames_per_scene=3)
    times = np.arange(len(frames)) * 0.25
    assert len(detect_boundaries(frames, times, 0.5, 0.5, min_gap_s=0.5).times) == 2
    # cuts 0.75 s apart: a minimum gap of 1 s keeps only one of them
    assert len(detect_boundaries(frames, times, 0.5, 0.5, min_gap_s=1.0).times) == 1
    assert len(detect_boundaries(frames, times, 0.5, 0.99, min_gap_s=0.5).times) == 0


def test_segments_tile_the_video():
    assert segments_from_boundaries(np.array([2.0, 5.0, 12.0]), 10.0) == [(0.0, 2.0), (2.0, 5.0), (5.0, 10.0)]
    assert segments_from_boundaries(np.array([]), 4.0) == [(0.0, 4.0)]


def test_matching_is_one_to_one_within_the_tolerance():
    # 3 detected, 3 true: 2.1 matches 2.0; 2.4 is a second detection of the same boundary (FP);
    # 9.0 is 1.5 s from 7.5 (FN + FP at tolerance 1); 5.0 is missed
    counts = match_boundaries(np.array([2.1, 2.4, 9.0]), np.array([2.0, 5.0, 7.5]), tolerance_s=1.0)
    assert (counts.true_positives, counts.detected, counts.actual) == (1, 3, 3)
    assert counts.precision == pytest.approx(1 / 3) and counts.recall == pytest.approx(1 / 3)
    assert match_boundaries(np.array([9.0]), np.array([7.5]), tolerance_s=1.5).true_positives == 1
    total = MatchCounts(3, 4, 3) + MatchCounts(1, 1, 2)
    assert total.precision == pytest.approx(0.8) and total.recall == pytest.approx(0.8)
    assert total.f1 == pytest.approx(0.8)
