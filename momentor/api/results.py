"""What the API's task methods return: plain, typed, in seconds; ``as_dict`` gives the JSON the server sends."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """A time window of the video that answers a query, with the model's confidence (higher first)."""

    start: float  # seconds
    end: float
    score: float


@dataclass(frozen=True)
class Event:
    """One event of a dense caption: when it happens and what happens."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Segment:
    """A stretch of the video with one action label (``background`` where no action was recognised)."""

    start: float
    end: float
    label: str


@dataclass(frozen=True)
class Highlights:
    """How well each clip of the video matches a query, and the matching windows ranked.

    ``saliency[i]`` scores the clip ``[i * clip_seconds, (i + 1) * clip_seconds)`` (QVHighlights' 2 s clips).
    """

    saliency: list[float]
    windows: list[Window]
    clip_seconds: float


def as_dict(result):
    """A result (or a list or tuple of them) as JSON-ready dicts; plain values pass through."""
    if isinstance(result, list | tuple):
        return [as_dict(r) for r in result]
    return dataclasses.asdict(result) if dataclasses.is_dataclass(result) else result
