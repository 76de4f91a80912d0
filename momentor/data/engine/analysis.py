"""One video through the engine's structure steps: boundaries, detections, instances, merging, the matrix.

sampled frames ─► scene scores ─► smoothed peaks ─► sub-segments ──┐
      │                                                            ├─► merged events ─► Instance-Event matrix
      └─► detector ─► IoU tracks ─► instances (label re-id) ───────┤
                                           frozen-encoder features ┘
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from momentor.config import EngineConfig
from momentor.data.engine.boundaries import (
    Boundaries,
    MatchCounts,
    detect_boundaries,
    segments_from_boundaries,
)
from momentor.data.engine.detectors import ColourShapeDetector, Detector, OracleDetector
from momentor.data.engine.instance_event import InstanceEventMatrix, build_matrix
from momentor.data.engine.merging import MergeDecision, merge_segments
from momentor.data.engine.tracks import Track, join_instances, link_detections


@dataclass
class VideoAnalysis:
    """The structure the engine found in one video."""

    boundaries: Boundaries  # scene-score peaks (before merging)
    sub_segments: list[tuple[float, float]]  # what the peaks cut the video into
    decisions: list[MergeDecision]  # per peak: similarity, instance overlap, merged or kept
    segments: list[tuple[float, float]]  # the events after merging
    instances: list[Track]
    matrix: InstanceEventMatrix  # instances x events

    @property
    def boundary_times(self) -> np.ndarray:
        """Event boundaries after merging (inner cuts only)."""
        return np.array([end for _, end in self.segments[:-1]])


def oracle_for(annotated_tracks: Sequence[dict], fps: float) -> OracleDetector:
    """The annotated boxes of a video; a box counts for a sampled time within half a frame of the video."""
    return OracleDetector(annotated_tracks, max_offset_s=0.5 / fps + 1e-6 if fps > 0 else 0.1)


def make_detector(cfg: EngineConfig, annotated_tracks: Sequence[dict], fps: float) -> Detector:
    """The configured detector for one video (the oracle needs the video's annotated tracks)."""
    if cfg.detector == "oracle":
        return oracle_for(annotated_tracks, fps)
    if cfg.detector == "colour":
        return ColourShapeDetector(min_area=cfg.detector_min_area)
    raise ValueError(f"engine.detector={cfg.detector!r}: use 'colour' or 'oracle'")


def analyse_video(
    video_id: str,
    duration: float,
    frames: np.ndarray,
    times: np.ndarray,
    features: np.ndarray,
    feature_times: np.ndarray,
    detector: Detector,
    cfg: EngineConfig,
) -> VideoAnalysis:
    """Boundaries, instances, merged events and their matrix for one video.

    Args:
        frames: uint8 RGB frames (m, h, w, 3) sampled at ``cfg.sample_fps`` over the video.
        times: their times in seconds (m,).
        features: frozen-encoder frame features (k, d) of the video (the ``momentor features`` cache).
        feature_times: their times (k,).
    """
    boundaries = detect_boundaries(
        frames, times, cfg.boundary_sigma, cfg.boundary_threshold, cfg.boundary_min_gap_s
    )
    sub_segments = segments_from_boundaries(boundaries.times, duration)
    tracks = link_detections(
        [detector(frame, float(t)) for frame, t in zip(frames, times)],
        times,
        min_iou=cfg.track_min_iou,
        max_gap=cfg.track_max_gap,
        prefix=f"{video_id}/track",
    )
    instances = join_instances(tracks, cfg.track_min_frames, prefix=f"{video_id}/instance")

    def instances_in(segments: Sequence[tuple[float, float]]) -> list[set]:
        matrix = build_matrix(instances, segments, times)
        return [set(matrix.members(e, cfg.presence_threshold)) for e in range(len(segments))]

    segments, decisions = merge_segments(
        sub_segments, features, feature_times, instances_in, cfg.merge_similarity, cfg.merge_instance_overlap
    )
    matrix = build_matrix(instances, segments, times)
    return VideoAnalysis(boundaries, sub_segments, decisions, segments, instances, matrix)


def instance_label_match(
    instances: Sequence[Track], annotated: OracleDetector, times: np.ndarray
) -> MatchCounts:
    """Frame by frame: instance labels the engine saw against the annotated tracks' labels at each time."""
    counts = MatchCounts(0, 0, 0)
    seen: dict[float, set] = {}
    for instance in instances:
        for t in instance.times:
            seen.setdefault(round(t, 6), set()).add(instance.label)
    for t in times:
        found, truth = seen.get(round(float(t), 6), set()), {d.label for d in annotated(None, float(t))}
        counts += MatchCounts(len(found & truth), len(found), len(truth))
    return counts


def engine_frame_count(duration: float, sample_fps: float) -> int:
    """Frames to sample for scene scores: ``sample_fps`` per second, both ends included (at least 2)."""
    return max(2, round(duration * sample_fps) + 1)
