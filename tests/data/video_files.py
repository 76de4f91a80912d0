"""Small real H.264 files for the data tests: frames that show their own index, and broken files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from momentor.data.sample_render import write_mp4


def counter_frames(count: int, size: int = 32) -> np.ndarray:
    """Frames whose red channel encodes their index (index * 8), so a decoded frame tells which one it is."""
    frames = np.zeros((count, size, size, 3), np.uint8)
    frames[..., 0] = (np.arange(count) * 8).astype(np.uint8)[:, None, None]
    return frames


def frame_index(image: np.ndarray) -> int:
    return round(float(image[..., 0].mean()) / 8)


def write_counter_video(path: Path, count: int = 24, fps: int = 8, size: int = 32) -> Path:
    write_mp4(path, counter_frames(count, size), fps)
    return path


def make_broken_videos(folder: Path) -> dict[str, Path]:
    """Files that must be quarantined, by kind: empty, not a video, truncated (moov lost), cut mid-stream."""
    folder.mkdir(parents=True, exist_ok=True)
    good = write_counter_video(folder / "good_source.mp4", count=48)
    data = good.read_bytes()
    files = {
        "empty": folder / "empty.mp4",
        "garbage": folder / "garbage.mp4",
        "truncated": folder / "truncated.mp4",
    }
    files["empty"].write_bytes(b"")
    files["garbage"].write_bytes(b"this is not a video\n" * 64)
    files["truncated"].write_bytes(data[: len(data) // 2])
    good.unlink()
    return files
