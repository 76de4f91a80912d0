"""Event boundaries from frame-difference scene scores (the first step of the Moment-10M data engine).

The score between consecutive sampled frames is the Bhattacharyya distance of their HSV colour histograms
(0 = same colours, 1 = disjoint), the quantity PySceneDetect-style content detectors threshold. Objects that
move over a steady background barely change the histogram; a cut or a new scene changes most of it. The
score sequence is smoothed with a Gaussian filter (so a single noisy frame pair does not make a boundary)
and every local peak above ``threshold`` becomes a boundary, placed halfway between the two frames it lies
between. Peaks closer than ``min_gap_s`` keep only the highest.

Adjacent sub-segments are merged afterwards when they are semantically consistent
(:mod:`momentor.data.engine.merging`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

HIST_BINS = (16, 4, 4)  # hue, saturation, value: hue carries most of a scene's identity
HIST_RANGES = (0, 180, 0, 256, 0, 256)  # OpenCV's 8-bit HSV ranges


@dataclass(frozen=True)
class Boundaries:
    """Detected boundaries of one video.

    Attributes:
        times: boundary times in seconds, increasing, strictly inside (0, duration).
        strengths: smoothed scene score at each boundary (0..1).
        scores: raw scene score between consecutive frames, shape (m-1,).
        smoothed: the Gaussian-smoothed scores, shape (m-1,).
        score_times: the time each score belongs to (midpoint of its frame pair), shape (m-1,).
    """

    times: np.ndarray
    strengths: np.ndarray
    scores: np.ndarray
    smoothed: np.ndarray
    score_times: np.ndarray


def colour_histograms(frames: np.ndarray) -> np.ndarray:
    """L1-normalised HSV histograms of uint8 RGB frames (m, h, w, 3) -> (m, bins) float32."""
    out = []
    for frame in frames:
        hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
        hist = cv2.calcHist([hsv], [0, 1, 2], None, list(HIST_BINS), list(HIST_RANGES)).ravel()
        out.append(hist / max(float(hist.sum()), 1.0))
    return np.stack(out).astype(np.float32)


def scene_scores(frames: np.ndarray) -> np.ndarray:
    """Bhattacharyya distance between the colour histograms of consecutive frames: (m, h, w, 3) -> (m-1,)."""
    hists = colour_histograms(frames)  # (m, bins)
    overlap = np.sqrt(hists[1:] * hists[:-1]).sum(axis=1)  # Bhattacharyya coefficient, 1 = identical
    return np.sqrt(np.clip(1.0 - overlap, 0.0, 1.0))


def detect_boundaries(
    frames: np.ndarray, times: np.ndarray, sigma: float, threshold: float, min_gap_s: float
) -> Boundaries:
    """Boundaries of a video from its sampled frames.

    Args:
        frames: uint8 RGB frames (m, h, w, 3) sampled uniformly over the video.
        times: their times in seconds, shape (m,).
        sigma: Gaussian smoothing of the score sequence, in frames (0 = no smoothing).
        threshold: smoothed score a peak must exceed to be a boundary (0..1).
        min_gap_s: boundaries closer than this keep only the stronger one.
    """
    if len(frames) != len(times):
        raise ValueError(f"{len(frames)} frames but {len(times)} times; pass one time per frame")
    if len(frames) < 2:
        empty = np.zeros(0)
        return Boundaries(empty, empty, empty, empty, empty)
    scores = scene_scores(frames)
    smoothed = gaussian_filter1d(scores, sigma, mode="nearest") if sigma > 0 else scores
    score_times = (times[1:] + times[:-1]) / 2
    step = float(np.median(np.diff(times)))
    distance = max(1, round(min_gap_s / step)) if step > 0 else 1
    # pad with zeros so that a peak on the first or last frame pair is still a local maximum
    peaks, _ = find_peaks(np.pad(smoothed, 1), height=threshold, distance=distance)
    peaks = peaks - 1
    return Boundaries(score_times[peaks], smoothed[peaks], scores, smoothed, score_times)


def segments_from_boundaries(boundaries: np.ndarray, duration: float) -> list[tuple[float, float]]:
    """The segments [0, b1], [b1, b2], ..., [bk, duration] that the boundary times cut a video into."""
    cuts = [0.0, *[float(b) for b in boundaries if 0.0 < b < duration], float(duration)]
    return [(a, b) for a, b in pairwise(cuts) if b > a]


@dataclass(frozen=True)
class MatchCounts:
    """Counts of a one-to-one matching of detected to true items (boundaries, instance labels)."""

    true_positives: int
    detected: int
    actual: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.detected if self.detected else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.actual if self.actual else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: MatchCounts) -> MatchCounts:
        return MatchCounts(
            self.true_positives + other.true_positives,
            self.detected + other.detected,
            self.actual + other.actual,
        )

    def as_dict(self) -> dict:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "true_positives": self.true_positives,
            "detected": self.detected,
            "actual": self.actual,
        }


def match_boundaries(detected: np.ndarray, actual: np.ndarray, tolerance_s: float) -> MatchCounts:
    """Match detected to true boundaries one to one, closest pairs first; a pair counts if |d - a| <= tol."""
    detected, actual = np.asarray(detected, float), np.asarray(actual, float)
    if len(detected) == 0 or len(actual) == 0:
        return MatchCounts(0, len(detected), len(actual))
    distance = np.abs(detected[:, None] - actual[None, :])  # (detected, actual)
    pairs = sorted(zip(*np.nonzero(distance <= tolerance_s)), key=lambda ij: distance[ij])
    used_d, used_a = set(), set()
    for i, j in pairs:
        if i not in used_d and j not in used_a:
            used_d.add(i)
            used_a.add(j)
    return MatchCounts(len(used_d), len(detected), len(actual))
