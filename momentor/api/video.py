"""The three ways to hand the API a video: a file, its cached features, or its frames in memory.

Each becomes the model's input, features ``(m, f)`` of M frames sampled at t_m = m·T/(M−1) and the duration
T in seconds, with exactly the sampling and encoder of training (:mod:`momentor.data.decode`,
:mod:`momentor.data.features`), so an answer does not depend on how the video was handed over.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from momentor.config import Config
from momentor.data.quarantine import BadInput


@dataclass(frozen=True)
class VideoFeatures:
    """Features already extracted with the model's frame encoder (``momentor features``' files hold them)."""

    features: np.ndarray | torch.Tensor  # (m, f)
    duration: float  # seconds


@dataclass(frozen=True)
class Frames:
    """Decoded RGB frames in memory: ``frames`` uint8 (t, h, w, 3) at ``fps`` frames per second."""

    frames: np.ndarray
    fps: float


class BadVideo(BadInput):
    """A video the API cannot use; the message names it and says what to do."""


def features_of(cfg: Config, video, featurizer) -> tuple[torch.Tensor, float]:
    """(features (m, f) float32, duration s) of a path, :class:`VideoFeatures` or :class:`Frames`.

    ``featurizer``: a callable returning the model's :class:`momentor.data.features.FrameFeaturizer` (only
    built when frames must be encoded).
    """
    from momentor.data.features import num_frames

    m = num_frames(cfg.model)
    if isinstance(video, VideoFeatures):
        features = torch.as_tensor(np.asarray(video.features), dtype=torch.float32)
        if features.ndim != 2 or features.shape[0] != m:
            raise BadVideo(f"features of shape {tuple(features.shape)}",
                           f"this model takes ({m}, f): M = {m} frames sampled at t_m = m·T/(M−1), extracted with "
                           "its frame encoder (momentor features)")
        if not video.duration > 0:
            raise BadVideo(f"duration {video.duration}", "give the video's length in seconds (> 0)")
        return features, float(video.duration)
    if isinstance(video, Frames):
        return _frames_features(video, m, featurizer())
    if isinstance(video, str | Path):
        return _file_features(cfg, Path(video), m, featurizer())
    raise BadVideo(f"a video of type {type(video).__name__}",
                   "give a file path, VideoFeatures(features, duration) or Frames(frames, fps)")


def _file_features(cfg: Config, path: Path, m: int, featurizer) -> tuple[torch.Tensor, float]:
    """Decode M frames of any file PyAV reads (:func:`momentor.data.decode.sample_frames`, both ends
    included); a file that cannot be decoded is a :class:`momentor.data.decode.DecodeError` saying why."""
    from momentor.data.decode import sample_frames

    frames, times = sample_frames(path, m, short_side=featurizer.short_side, seek_gap_s=cfg.data.seek_gap_s)
    return featurizer(frames), float(times[-1])


def _frames_features(video: Frames, m: int, featurizer) -> tuple[torch.Tensor, float]:
    import cv2

    from momentor.data.decode import sample_times, scaled_size

    frames = np.asarray(video.frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise BadVideo(f"frames of shape {frames.shape} and dtype {frames.dtype}", "give uint8 RGB (t, h, w, 3)")
    if not video.fps > 0:
        raise BadVideo(f"fps {video.fps}", "give the frame rate the frames were decoded at (> 0)")
    duration = len(frames) / video.fps
    # the frame on screen at each sample time, as the decoder picks it
    index = np.minimum((sample_times(duration, m) * video.fps + 1e-6).astype(int), len(frames) - 1)
    height, width = frames.shape[1:3]
    size = scaled_size(width, height, featurizer.short_side)  # as the decoder resizes
    picked = np.stack([cv2.resize(frames[i], size, interpolation=cv2.INTER_AREA) for i in index])
    return featurizer(picked), float(duration)
