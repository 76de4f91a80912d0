"""The Instance-Event matrix, activity descriptions and the merging of consistent sub-segments."""

import numpy as np
import pytest

from momentor.data.engine.instance_event import build_matrix, describe_activity, describe_position
from momentor.data.engine.merging import merge_segments
from momentor.data.engine.tracks import Track


def _track(tid, label, times, box=(0.1, 0.1, 0.2, 0.2)):
    return Track(tid, label, list(times), [box] * len(times), [1.0] * len(times))


def test_presence_is_the_fraction_of_an_events_frames_with_the_instance():
    frame_times = np.arange(0, 10.0, 1.0)  # 10 frames; events [0,4) [4,10]
    red = _track("i0", "red circle", [0, 1, 2, 3, 4])  # all of event 0, 1 of 6 frames of event 1
    blue = _track("i1", "blue square", [6, 7, 8])
    matrix = build_matrix([red, blue], [(0.0, 4.0), (4.0, 10.0)], frame_times)
    np.testing.assert_allclose(matrix.presence, [[1.0, 1 / 6], [0.0, 0.5]])
    assert matrix.members(0, 0.3) == [0] and matrix.members(1, 0.3) == [1]
    assert matrix.events_of(0, 0.1) == [0, 1]
    assert len(matrix.boxes_in(0, 1)) == 1


@pytest.mark.parametrize(
    "start,end,size_end,expected",
    [
        ((0.2, 0.5), (0.8, 0.5), 1.0, "moves from left to right"),
        ((0.8, 0.5), (0.2, 0.5), 1.0, "moves from right to left"),
        ((0.5, 0.2), (0.5, 0.8), 1.0, "moves downward"),
        ((0.5, 0.8), (0.5, 0.2), 1.0, "moves upward"),
        ((0.2, 0.2), (0.8, 0.8), 1.0, "moves diagonally to the bottom right"),
        ((0.5, 0.5), (0.5, 0.5), 2.0, "grows larger"),
        ((0.5, 0.5), (0.5, 0.5), 0.5, "shrinks"),
        ((0.5, 0.5), (0.52, 0.5), 1.0, "stays in place"),
    ],
)
def test_activity_is_read_off_the_boxes(start, end, size_end, expected):
    def box(c, s):
        return [c[0] - 0.05 * s, c[1] - 0.05 * s, c[0] + 0.05 * s, c[1] + 0.05 * s]

    boxes = np.array(
        [box(start, 1.0), box(((start[0] + end[0]) / 2, (start[1] + end[1]) / 2), 1.0), box(end, size_end)]
    )
    assert describe_activity(boxes) == expected


def test_position_names_the_part_of_the_frame():
    assert describe_position(np.array([[0.0, 0.0, 0.2, 0.2]])) == "at the top left"
    assert describe_position(np.array([[0.4, 0.4, 0.6, 0.6]])) == "in the centre"
    assert describe_position(np.array([[0.7, 0.4, 0.9, 0.6]])) == "on the right"


def _features(pattern):
    """One unit feature per second; pattern[k] picks the direction of second k."""
    basis = np.eye(4)
    return np.stack([basis[p] for p in pattern]), np.arange(len(pattern), dtype=float) + 0.5


def test_similar_neighbours_merge_and_different_ones_stay():
    features, times = _features([0, 0, 0, 0, 1, 1, 1, 1])
    segments = [(0.0, 2.0), (2.0, 4.0), (4.0, 6.0), (6.0, 8.0)]  # a false cut at 2 and at 6
    merged, decisions = merge_segments(segments, features, times, lambda s: [set()] * len(s), 0.9, 0.5)
    assert merged == [(0.0, 4.0), (4.0, 8.0)]
    assert [(d.boundary, d.merged) for d in decisions] == [(2.0, True), (4.0, False), (6.0, True)]
    assert [d.similarity for d in decisions if not d.merged] == [pytest.approx(0.0)]


def test_different_instances_block_a_merge_of_similar_segments():
    features, times = _features([0, 0, 0, 0])
    segments = [(0.0, 2.0), (2.0, 4.0)]

    def instances_in(segs):
        return [{"a"}, {"b"}] if len(segs) == 2 else [{"a", "b"}]

    merged, decisions = merge_segments(segments, features, times, instances_in, 0.9, 0.5)
    assert merged == segments and decisions[0].instance_overlap == 0.0
    merged, _ = merge_segments(segments, features, times, instances_in, 0.9, 0.0)
    assert merged == [(0.0, 4.0)]
