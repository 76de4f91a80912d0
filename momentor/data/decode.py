"""Decoding with PyAV: M frames sampled uniformly over the video, both ends included.

The sample times are t_m = m·T/(M−1), m = 0..M−1 (the paper's uniform frame sampling; docs/method.md), T the duration of the video stream. The
frame taken at t is the one on screen at t: the last frame whose presentation time is <= t (so t = T gives
the last frame). Memory is flat in the video's length: frames are decoded as a stream and only the M kept
ones are converted to RGB; when the next sample time is more than ``seek_gap_s`` ahead, the decoder seeks
to the keyframe before it instead of decoding everything in between.

Every failure is a :class:`DecodeError` (a :class:`~momentor.data.quarantine.BadInput`) whose reason names
what is wrong with the file and whose hint says what to do, so callers can quarantine it and go on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from momentor.data.quarantine import BadInput

_EPS = 1e-4  # s; sample times that land on a frame's timestamp take that frame despite float rounding
_HINT_CORRUPT = (
    "the file is corrupt or not a video: re-download or re-encode it (check it with `ffprobe FILE`)"
)


class DecodeError(BadInput):
    """A video that cannot be decoded; ``reason`` says why, ``hint`` what to do."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about its first video stream."""

    duration: float  # s, of the video stream
    fps: float  # average frame rate (0.0 when the container does not say)
    width: int
    height: int


def sample_times(duration: float, num_frames: int) -> np.ndarray:
    """t_m = m·T/(M−1) for m = 0..M−1: uniform, both ends included. Shape (m,)."""
    if num_frames < 2:
        raise ValueError(f"num_frames={num_frames}: at least 2 frames are needed to include both ends")
    return np.arange(num_frames, dtype=np.float64) * (duration / (num_frames - 1))


def open_video(path: Path) -> av.container.InputContainer:
    """Open a video file; DecodeError when it is missing, empty, not a container or has no video stream."""
    if not path.exists():
        raise DecodeError(f"video file not found: {path}", "check the path, or put the video file there")
    if path.stat().st_size == 0:
        raise DecodeError(
            "empty file (0 bytes)", "the download or export did not finish: fetch the video again"
        )
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as err:
        raise DecodeError(f"not a readable video container: {err}", _HINT_CORRUPT) from err
    if not container.streams.video:
        container.close()
        raise DecodeError("the file has no video stream", "pass a video file, not an audio or subtitle file")
    return container


def _stream_duration(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    # neither the stream nor the container states it: find the last packet's end (demux only, no decoding),
    # in a second reader so that this one stays at the start (not every stream can seek back)
    end = None
    with av.open(container.name) as scan:
        scan_stream = scan.streams.video[0]
        for packet in scan.demux(scan_stream):
            if packet.pts is not None:
                packet_end = (
                    packet.pts + (packet.duration or 0) - (scan_stream.start_time or 0)
                ) * scan_stream.time_base
                end = float(packet_end) if end is None else max(end, float(packet_end))
    return end


def video_info(container: av.container.InputContainer) -> VideoInfo:
    """Duration, frame rate and size of the first video stream; DecodeError for a zero/unknown duration."""
    stream = container.streams.video[0]
    try:
        duration = _stream_duration(container, stream)
    except av.error.FFmpegError as err:
        raise DecodeError(f"could not read the stream's duration: {err}", _HINT_CORRUPT) from err
    if not duration or duration <= 0 or not np.isfinite(duration):
        raise DecodeError(
            f"zero or unknown duration ({duration!r})",
            "remux the file so that it states its duration (`ffmpeg -i IN -c copy OUT.mp4`) or re-encode it",
        )
    rate = stream.average_rate or stream.guessed_rate
    ctx = stream.codec_context
    return VideoInfo(duration=duration, fps=float(rate) if rate else 0.0, width=ctx.width, height=ctx.height)


def probe_video(path: str | Path) -> VideoInfo:
    """Open a video, read its duration and decode its first and last frame (catches truncated files)."""
    sample_frames(path, 2, short_side=16)
    with open_video(Path(path)) as container:
        return video_info(container)


def scaled_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(width, height) scaled so that the shorter side is ``short_side``, each rounded to an even number
    (even sizes keep swscale's chroma handling exact)."""
    scale = short_side / min(width, height)
    return tuple(max(2, round(side * scale / 2) * 2) for side in (width, height))


def _to_rgb(frame: av.VideoFrame, short_side: int | None) -> np.ndarray:
    if short_side is None:
        return frame.to_ndarray(format="rgb24")
    width, height = scaled_size(frame.width, frame.height, short_side)
    # AREA averages instead of aliasing when shrinking
    return frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")


def sample_frames(
    path: str | Path, num_frames: int, short_side: int | None = None, seek_gap_s: float = 4.0
) -> tuple[np.ndarray, np.ndarray]:
    """Decode ``num_frames`` frames at t_m = m·T/(M−1).

    Args:
        path: the video file.
        num_frames: M (>= 2).
        short_side: resize so that the shorter side has this many pixels (None: keep the decoded size).
        seek_gap_s: seek instead of decoding through when the next sample time is this far ahead.

    Returns:
        frames: uint8 (m, h, w, 3) RGB.
        times: float64 (m,) sample times in seconds.

    Raises:
        DecodeError: missing, empty, corrupt, undecodable or truncated file, or zero/unknown duration.
    """
    path = Path(path)
    with open_video(path) as container:
        info = video_info(container)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        times = sample_times(info.duration, num_frames)
        kept: list[np.ndarray] = []
        previous: av.VideoFrame | None = None  # the last decoded frame: on screen until the next one starts
        last_time = -1.0
        sought_for = -1
        try:
            frames = container.decode(stream)
            while len(kept) < num_frames:
                frame = next(frames, None)
                if frame is None:
                    break
                t = frame.time - start if frame.time is not None else last_time + 1 / max(info.fps, 1.0)
                while len(kept) < num_frames and t > times[len(kept)] + _EPS:
                    kept.append(_to_rgb(previous if previous is not None else frame, short_side))
                previous, last_time = frame, t
                i = len(kept)
                if i < num_frames and times[i] - t > seek_gap_s and sought_for != i:
                    sought_for = i  # seek once per target: a far keyframe must not make us seek in circles
                    container.seek(int((times[i] + start) / stream.time_base), stream=stream, backward=True)
                    frames = container.decode(stream)
        except av.error.FFmpegError as err:
            raise DecodeError(
                f"decoding failed near {max(last_time, 0):.2f} s: {err}", _HINT_CORRUPT
            ) from err
        if previous is None:
            raise DecodeError("no video frames could be decoded", _HINT_CORRUPT)
        frame_period = 1 / info.fps if info.fps else 0.0
        missing = info.duration - (last_time + frame_period)
        if len(kept) < num_frames and missing > 3 * frame_period + 0.1:
            raise DecodeError(
                f"truncated: frames end at {last_time + frame_period:.2f} s of a stated {info.duration:.2f} s",
                "the file was cut short (an interrupted download or copy): fetch the video again",
            )
        while len(kept) < num_frames:  # t = T and anything within the last frame's display time
            kept.append(_to_rgb(previous, short_side))
    return np.stack(kept), times
