"""Per-frame instance detectors behind one interface.

A detector is any callable ``detector(frame, time) -> list[Detection]`` for one video. Two ship here:

- :class:`OracleDetector` returns the known boxes of a video's annotated tracks (``tracks.parquet``) at the
  asked time: on the sample corpus it isolates the rest of the engine from detection errors.
- :class:`ColourShapeDetector` is a real, simple detector: bright saturated pixels are assigned to the nearest
  colour of a named palette, each colour's connected components above a minimum area become boxes, and the
  component's outline names its shape (circle, square, triangle, diamond). It knows nothing about the sample
  corpus beyond the colour names; on real footage it finds coloured blobs (cars, clothes) too.

The paper uses an open-vocabulary detector on sampled frames; any such model fits the same interface.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from momentor.data.colours import COLOURS


@dataclass(frozen=True)
class Detection:
    """One detected instance in one frame; ``box`` is (x0, y0, x1, y1) in fractions of width and height."""

    label: str
    box: tuple[float, float, float, float]
    score: float = 1.0


Detector = Callable[[np.ndarray, float], list[Detection]]

#: Named reference colours (RGB) of the colour detector.
PALETTE = {name: COLOURS[name] for name in ("red", "orange", "yellow", "green", "blue", "purple", "white")}


class OracleDetector:
    """The annotated boxes of a video's tracks at any time (the nearest annotated frame, ``max_offset_s``)."""

    def __init__(self, tracks: Sequence[dict], max_offset_s: float):
        self.tracks = [
            (str(t["label"]), np.asarray(t["times"], float), np.asarray([list(b) for b in t["boxes"]], float))
            for t in tracks
            if len(t["times"])
        ]
        self.max_offset_s = max_offset_s

    def __call__(self, frame: np.ndarray, time: float) -> list[Detection]:
        out = []
        for label, times, boxes in self.tracks:
            i = int(np.argmin(np.abs(times - time)))
            if abs(times[i] - time) <= self.max_offset_s:
                out.append(Detection(label, tuple(float(v) for v in boxes[i])))
        return out


class ColourShapeDetector:
    """Coloured blobs named by colour and outline, e.g. ``"red circle"``.

    Args:
        min_area: smallest blob, as a fraction of the frame area.
        min_value: smallest HSV value (0-255) of an object pixel; dark backgrounds fall below it.
        min_saturation: smallest HSV saturation (0-255) of a coloured object pixel.
        palette: colour name -> RGB reference.
    """

    def __init__(
        self,
        min_area: float = 0.004,
        min_value: int = 140,
        min_saturation: int = 110,
        palette: dict[str, tuple[int, int, int]] | None = None,
    ):
        self.min_area = min_area
        self.min_value = min_value
        self.min_saturation = min_saturation
        self.palette = dict(palette or PALETTE)
        self._names = list(self.palette)
        self._refs = cv2.cvtColor(np.array([list(self.palette.values())], np.uint8), cv2.COLOR_RGB2LAB)[
            0
        ].astype(np.float32)  # (colours, 3)

    def colour_map(self, frame: np.ndarray) -> np.ndarray:
        """Index of the nearest palette colour per pixel, -1 for background: (h, w, 3) -> (h, w) int."""
        hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
        s, v = hsv[..., 1].astype(np.int32), hsv[..., 2].astype(np.int32)
        # coloured objects are bright and saturated; white ones are bright and grey
        candidate = (v >= self.min_value) & ((s >= self.min_saturation) | ((s <= 40) & (v >= 215)))
        lab = cv2.cvtColor(frame, cv2.COLOR_RGB2LAB).astype(np.float32)  # (h, w, 3)
        distance = ((lab[..., None, :] - self._refs) ** 2).sum(-1)  # (h, w, colours)
        nearest = distance.argmin(-1)
        return np.where(candidate, nearest, -1)

    def __call__(self, frame: np.ndarray, time: float) -> list[Detection]:
        h, w = frame.shape[:2]
        colours = self.colour_map(frame)
        out = []
        for index, name in enumerate(self._names):
            # no morphological opening: it cuts the tips of diamonds and triangles that name the shape
            mask = (colours == index).astype(np.uint8)
            count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
            for k in range(1, count):
                x, y, bw, bh, area = stats[k]
                if area < self.min_area * h * w:
                    continue
                shape, solidity = outline_shape((labels[y : y + bh, x : x + bw] == k).astype(np.uint8))
                box = (x / w, y / h, (x + bw) / w, (y + bh) / h)
                out.append(Detection(f"{name} {shape}", box, round(solidity, 4)))
        return out


def outline_shape(mask: np.ndarray) -> tuple[str, float]:
    """Name the shape of a filled blob from its bounding-box crop (h, w) of 0/1; also return its solidity.

    Two measures separate the four shapes: how full the four corner cells of the bounding box are (square
    ~1, circle and triangle ~0.3, diamond ~0) and the circularity 4·pi·area/perimeter² (circle ~0.9,
    triangle ~0.55). Thresholds sit between the ranges measured on rendered shapes 13-32 px wide.
    """
    h, w = mask.shape
    qh, qw = max(1, h // 4), max(1, w // 4)
    corners = np.mean(
        [mask[:qh, :qw].mean(), mask[:qh, -qw:].mean(), mask[-qh:, :qw].mean(), mask[-qh:, -qw:].mean()]
    )
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)
    area = float(cv2.contourArea(contour))
    perimeter = float(cv2.arcLength(contour, True)) or 1.0
    circularity = 4 * np.pi * area / perimeter**2
    if corners < 0.15:
        shape = "diamond"
    elif corners > 0.6:
        shape = "square"
    else:
        shape = "circle" if circularity >= 0.7 else "triangle"
    hull = float(cv2.contourArea(cv2.convexHull(contour))) or 1.0
    return shape, area / hull
