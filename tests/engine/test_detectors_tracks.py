"""The colour-shape detector on drawn shapes, the oracle detector, IoU linking, instance re-identification."""

import numpy as np
import pytest
from scenes import draw, scene_video

from momentor.data.engine.detectors import ColourShapeDetector, Detection, OracleDetector
from momentor.data.engine.tracks import box_iou, join_instances, link_detections

SHAPES = {
    "red circle": (0.05, 0.05, 0.35, 0.35),
    "blue square": (0.6, 0.05, 0.9, 0.35),
    "green triangle": (0.05, 0.6, 0.35, 0.9),
    "yellow diamond": (0.6, 0.6, 0.9, 0.9),
}


def test_colour_detector_names_colour_and_shape_and_finds_the_box():
    frame = np.empty((96, 96, 3), np.uint8)
    frame[:] = (20, 30, 80)  # navy: too dark to be an object
    for label, box in SHAPES.items():
        draw(frame, *label.split(), box)
    found = {d.label: d for d in ColourShapeDetector()(frame, 0.0)}
    assert set(found) == set(SHAPES)
    for label, box in SHAPES.items():
        iou = box_iou(np.array([found[label].box]), np.array([box]))[0, 0]
        assert iou > 0.8, (label, found[label].box)


def test_colour_detector_ignores_specks_and_dark_backgrounds():
    frame = np.empty((96, 96, 3), np.uint8)
    frame[:] = (90, 55, 30)
    frame[10:12, 10:12] = (220, 40, 40)  # 4 pixels: below min_area
    assert ColourShapeDetector(min_area=0.004)(frame, 0.0) == []


def test_oracle_returns_annotated_boxes_near_their_times_only():
    track = {"label": "red square", "times": [0.0, 0.125, 0.25], "boxes": [[0, 0, 0.1, 0.1]] * 3}
    oracle = OracleDetector([track], max_offset_s=0.07)
    assert [d.label for d in oracle(None, 0.13)] == ["red square"]
    assert oracle(None, 0.5) == []


def test_linking_follows_a_moving_object_and_reidentifies_it_after_a_cut():
    frames, _ = scene_video([(20, 30, 80), (90, 55, 30)], frames_per_scene=8)
    times = np.arange(len(frames)) * 0.25
    detector = ColourShapeDetector()
    detections = [detector(f, t) for f, t in zip(frames, times)]
    assert all(len(d) == 1 and d[0].label == "red circle" for d in detections)
    tracks = link_detections(detections, times, min_iou=0.1, max_gap=1, prefix="t")
    # the circle jumps back to the left at the cut: IoU 0 there, so two tracks
    assert [len(t.times) for t in tracks] == [8, 8]
    instances = join_instances(tracks, min_frames=3, prefix="i")
    assert len(instances) == 1 and instances[0].track_id == "i0" and len(instances[0].times) == 16


def test_tracks_survive_short_gaps_and_flicker_is_dropped():
    box = (0.1, 0.1, 0.3, 0.3)
    per_frame = [
        [Detection("red square", box)],
        [],
        [Detection("red square", box)],
        [],
        [],
        [],
        [Detection("red square", box)],
        [Detection("blue circle", (0.6, 0.6, 0.8, 0.8))],
    ]
    tracks = link_detections(per_frame, np.arange(8.0), min_iou=0.3, max_gap=1, prefix="t")
    # frames 0 and 2 join (one missed frame); frame 6 comes after 3 misses: a new track
    assert [(t.label, t.times) for t in tracks] == [
        ("red square", [0.0, 2.0]),
        ("red square", [6.0]),
        ("blue circle", [7.0]),
    ]
    instances = join_instances(tracks, min_frames=2, prefix="i")
    assert [(i.label, i.times) for i in instances] == [("red square", [0.0, 2.0, 6.0])]


def test_two_objects_of_one_label_at_once_stay_two_instances():
    a, b = (0.1, 0.1, 0.3, 0.3), (0.6, 0.6, 0.8, 0.8)
    per_frame = [[Detection("red square", a), Detection("red square", b)] for _ in range(4)]
    tracks = link_detections(per_frame, np.arange(4.0), min_iou=0.3, max_gap=0)
    assert len(join_instances(tracks, min_frames=1)) == 2


def test_box_iou_hand_worked():
    iou = box_iou(np.array([[0, 0, 2, 2]], float), np.array([[1, 1, 3, 3], [5, 5, 6, 6]], float))
    assert iou[0, 0] == pytest.approx(1 / 7) and iou[0, 1] == 0.0
