"""Synthetic scenes for the engine tests: coloured shapes on plain backgrounds, drawn with OpenCV."""

from __future__ import annotations

import cv2
import numpy as np

from momentor.data.engine.detectors import PALETTE


def draw(frame: np.ndarray, colour: str, shape: str, box: tuple[float, float, float, float]) -> None:
    """Draw a filled shape inside ``box`` (fractions) in a palette colour."""
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = box[0] * w, box[1] * h, box[2] * w, box[3] * h
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    rgb = PALETTE[colour]
    if shape == "circle":
        cv2.circle(frame, (round(cx), round(cy)), round((x1 - x0) / 2), rgb, -1, cv2.LINE_AA)
        return
    corners = {
        "square": [(x0, y0), (x1, y0), (x1, y1), (x0, y1)],
        "triangle": [(cx, y0), (x1, y1), (x0, y1)],
        "diamond": [(cx, y0), (x1, cy), (cx, y1), (x0, cy)],
    }[shape]
    cv2.fillPoly(frame, [np.round(np.array(corners)).astype(np.int32)], rgb, cv2.LINE_AA)


def scene_video(
    backgrounds: list[tuple[int, int, int]],
    frames_per_scene: int,
    size: int = 96,
    actor: str | None = "red circle",
) -> tuple[np.ndarray, list[list[tuple[float, float, float, float]]]]:
    """Scenes of plain backgrounds; ``actor`` ("colour shape") moves left to right in every scene.

    Returns frames (m, size, size, 3) uint8 and, per frame, the actor's boxes.
    """
    frames, boxes = [], []
    for background in backgrounds:
        for f in range(frames_per_scene):
            frame = np.empty((size, size, 3), np.uint8)
            frame[:] = background
            u = f / max(frames_per_scene - 1, 1)
            box = (0.1 + 0.5 * u, 0.35, 0.35 + 0.5 * u, 0.6)
            if actor:
                draw(frame, *actor.split(), box)
            frames.append(frame)
            boxes.append([box] if actor else [])
    return np.stack(frames), boxes
