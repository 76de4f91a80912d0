"""Instruction generation for the 8 Moment-10M task types and GESM, from one video's structure.

The structure is what the engine found: the events (segments with a caption and a caption score) and the
Instance-Event matrix. Every instruction carries a **score** in [0, 1], the support the structure gives it:
an event's score is how well its caption matches it (:mod:`momentor.data.engine.captions`); an instance's
support in an event is its presence there times its mean detection score; an instruction built from several
parts takes the weakest part's score. :mod:`momentor.data.engine.filtering` drops those below the threshold.

A video's annotated grounding queries (``VideoStructure.queries``, a benchmark's training queries) become
``direct_segment_localization`` instructions too (:func:`query_localization`).

Single-segment tasks: ``segment_captioning``, ``segment_qa``, ``instance_qa``,
``direct_segment_localization``, ``inferential_segment_localization``; cross-segment:
``composite_segment_retrieval``, ``instance_activity_summarization``, ``cross_segment_qa``; plus one ``gesm``
event sequence per video.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from momentor.data.engine.instance_event import InstanceEventMatrix, describe_activity, describe_position
from momentor.data.engine.templates import TEMPLATES, count_words, fill
from momentor.data.formats.record import format_time

SINGLE_SEGMENT = (
    "segment_captioning",
    "segment_qa",
    "instance_qa",
    "direct_segment_localization",
    "inferential_segment_localization",
)
CROSS_SEGMENT = ("composite_segment_retrieval", "instance_activity_summarization", "cross_segment_qa")
TASK_TYPES = SINGLE_SEGMENT + CROSS_SEGMENT


@dataclass
class VideoStructure:
    """What the engine knows about one video: events with captions, and the Instance-Event matrix."""

    video_id: str
    duration: float
    split: str
    segments: list[tuple[float, float]]
    captions: list[str]
    event_scores: list[float]
    matrix: InstanceEventMatrix
    presence_threshold: float = 0.3
    origin: dict = field(default_factory=dict)  # free-form provenance (detector, caption source, ...)
    queries: list[tuple[str, tuple[float, float]]] = field(default_factory=list)  # annotated (text, window)


@dataclass(frozen=True)
class Instruction:
    task: str
    question: str  # without <video>
    answer: str
    score: float


def timestamp(t: float, duration: float) -> str:
    """``<t=12.34>`` (the manifest's way, at most 2 decimals), rounded down onto the video where it would
    otherwise print past the end."""
    return format_time(min(max(float(t), 0.0), np.floor(duration * 100) / 100))


def seeded_rng(seed: int, video_id: str) -> np.random.Generator:
    """The phrasing generator of one video: the same (seed, video) always picks the same phrasings."""
    return np.random.default_rng([seed, zlib.crc32(video_id.encode())])


class _Writer:
    """Fills templates for one video; shared by the task functions below."""

    def __init__(self, video: VideoStructure, rng: np.random.Generator):
        self.video, self.rng, self.m = video, rng, video.matrix

    def ts(self, e: int) -> tuple[str, str]:
        s, t = self.video.segments[e]
        return timestamp(s, self.video.duration), timestamp(t, self.video.duration)

    def pick(self, task: str, kind: str, score: float, **fields: str) -> Instruction:
        options = TEMPLATES[task][kind]
        question, answer = fill(options[int(self.rng.integers(len(options)))], **fields)
        return Instruction(task, question, answer, float(np.clip(score, 0.0, 1.0)))

    def support(self, i: int, e: int) -> float:
        """Presence of instance i in event e times its mean detection score there."""
        s, t = self.video.segments[e]
        track = self.m.instances[i]
        scores = [sc for time, sc in zip(track.times, track.scores) if s <= time <= t]
        return float(self.m.presence[i, e] * (np.mean(scores) if scores else 0.0))

    def members(self, e: int) -> list[int]:
        return self.m.members(e, self.video.presence_threshold)

    def activity(self, i: int, e: int) -> str:
        return describe_activity(self.m.boxes_in(i, e))


def gesm(w: _Writer) -> Iterator[Instruction]:
    v = w.video
    answer = " ".join(f"{w.ts(e)[0]} ~ {w.ts(e)[1]}: {v.captions[e]}." for e in range(len(v.segments)))
    yield w.pick("gesm", "all", float(np.mean(v.event_scores)) if v.event_scores else 0.0, answer=answer)


def segment_captioning(w: _Writer) -> Iterator[Instruction]:
    for e, caption in enumerate(w.video.captions):
        s, t = w.ts(e)
        yield w.pick("segment_captioning", "caption", w.video.event_scores[e], s=s, e=t, caption=caption)


def segment_qa(w: _Writer) -> Iterator[Instruction]:
    labels = {inst.label for inst in w.m.instances}
    for e in range(len(w.video.segments)):
        s, t = w.ts(e)
        members = w.members(e)
        yield w.pick(
            "segment_qa", "count", w.video.event_scores[e], s=s, e=t, count=count_words(len(members))
        )
        if members:
            i = members[int(w.rng.integers(len(members)))]
            label, position = w.m.instances[i].label, describe_position(w.m.boxes_in(i, e))
            yield w.pick(
                "segment_qa",
                "present",
                w.support(i, e),
                s=s,
                e=t,
                label=label,
                activity=w.activity(i, e),
                position=position,
            )
        present = (
            {w.m.instances[i].label for i in np.flatnonzero(w.m.presence[:, e] > 0)} if len(labels) else set()
        )
        absent = sorted(labels - present)
        if absent:
            label = absent[int(w.rng.integers(len(absent)))]
            yield w.pick("segment_qa", "absent", w.video.event_scores[e], s=s, e=t, label=label)


def instance_qa(w: _Writer) -> Iterator[Instruction]:
    for e in range(len(w.video.segments)):
        s, t = w.ts(e)
        for i in w.members(e):
            label, boxes = w.m.instances[i].label, w.m.boxes_in(i, e)
            kind = ("activity", "position")[int(w.rng.integers(2))]
            yield w.pick(
                "instance_qa",
                kind,
                w.support(i, e),
                s=s,
                e=t,
                label=label,
                activity=describe_activity(boxes),
                position=describe_position(boxes),
            )


def direct_segment_localization(w: _Writer) -> Iterator[Instruction]:
    for e, caption in enumerate(w.video.captions):
        s, t = w.ts(e)
        yield w.pick(
            "direct_segment_localization", "caption", w.video.event_scores[e], s=s, e=t, caption=caption
        )


def inferential_segment_localization(w: _Writer) -> Iterator[Instruction]:
    """Localize an event from what an instance does in it (unique in the video), or its first appearance."""
    seen = [
        (i, e, w.m.instances[i].label, w.activity(i, e))
        for e in range(len(w.video.segments))
        for i in w.members(e)
    ]
    counts: dict[tuple[str, str], int] = {}
    for _, _, label, activity in seen:
        counts[label, activity] = counts.get((label, activity), 0) + 1
    for i, e, label, activity in seen:
        if counts[label, activity] == 1 and activity != "appears briefly":
            s, t = w.ts(e)
            yield w.pick(
                "inferential_segment_localization",
                "activity",
                w.support(i, e),
                s=s,
                e=t,
                label=label,
                activity=activity,
            )
    for i, inst in enumerate(w.m.instances):
        events = w.m.events_of(i, w.video.presence_threshold)
        if events:
            s, t = w.ts(events[0])
            yield w.pick(
                "inferential_segment_localization",
                "first",
                w.support(i, events[0]),
                s=s,
                e=t,
                label=inst.label,
            )


def composite_segment_retrieval(w: _Writer) -> Iterator[Instruction]:
    v = w.video
    for a, b in combinations(range(len(v.segments)), 2):
        (s, t), (s2, t2) = w.ts(a), w.ts(b)
        kind = ("span", "both")[int(w.rng.integers(2))]
        yield w.pick(
            "composite_segment_retrieval",
            kind,
            min(v.event_scores[a], v.event_scores[b]),
            s=s,
            e=t,
            s2=s2,
            e2=t2,
            caption=v.captions[a],
            caption2=v.captions[b],
        )


def instance_activity_summarization(w: _Writer) -> Iterator[Instruction]:
    for i, inst in enumerate(w.m.instances):
        events = w.m.events_of(i, w.video.presence_threshold)
        if not events:
            continue
        answer = " ".join(
            f"{w.ts(e)[0]} ~ {w.ts(e)[1]}: the {inst.label} {w.activity(i, e)}." for e in events
        )
        score = min(w.support(i, e) for e in events)
        yield w.pick("instance_activity_summarization", "summary", score, label=inst.label, answer=answer)


def cross_segment_qa(w: _Writer) -> Iterator[Instruction]:
    v = w.video
    for a in range(len(v.segments) - 1):
        b = a + 1
        (s, t), (s2, t2) = w.ts(a), w.ts(b)
        pair = {"s": s, "e": t, "s2": s2, "e2": t2, "caption": v.captions[a], "caption2": v.captions[b]}
        score = min(v.event_scores[a], v.event_scores[b])
        yield w.pick("cross_segment_qa", "after", score, **pair)
        yield w.pick("cross_segment_qa", "before", score, **pair)
        for i in w.members(a):
            if w.m.presence[i, b] >= v.presence_threshold:
                yield w.pick(
                    "cross_segment_qa",
                    "shared",
                    min(w.support(i, a), w.support(i, b)),
                    label=w.m.instances[i].label,
                    **pair,
                )
            elif w.m.presence[i, b] == 0:
                yield w.pick(
                    "cross_segment_qa",
                    "not_shared",
                    min(w.support(i, a), score),
                    label=w.m.instances[i].label,
                    **pair,
                )


GENERATORS = {
    "gesm": gesm,
    "segment_captioning": segment_captioning,
    "segment_qa": segment_qa,
    "instance_qa": instance_qa,
    "direct_segment_localization": direct_segment_localization,
    "inferential_segment_localization": inferential_segment_localization,
    "composite_segment_retrieval": composite_segment_retrieval,
    "instance_activity_summarization": instance_activity_summarization,
    "cross_segment_qa": cross_segment_qa,
}


def grounding_queries(queries: pd.DataFrame) -> dict[str, list[tuple[str, tuple[float, float]]]]:
    """The annotated queries with one window, by video: (text, (start, end)). A query with several windows
    (QVHighlights) has no one answer to a "when" question and is left to the evaluation."""
    out: dict[str, list] = {}
    for video_id, text, windows in zip(queries["video_id"], queries["text"], queries["windows"]):
        windows = [tuple(float(x) for x in w) for w in windows]
        if len(windows) == 1 and windows[0][1] > windows[0][0] and str(text).strip():
            out.setdefault(str(video_id), []).append((str(text), windows[0]))
    return out


def query_localization(
    video: VideoStructure, queries: list[tuple[str, tuple[float, float]]], seed: int
) -> list[Instruction]:
    """``direct_segment_localization`` instructions from a video's annotated grounding queries (text, window):
    a benchmark's training queries, worded as people worded them and not as the event captions. Score 1:
    they are annotations, not the engine's guesses."""
    writer = _Writer(video, seeded_rng(seed + 1, video.video_id))  # its own stream: the tasks' stay as they were
    out = []
    for text, (start, end) in queries:
        s, e = timestamp(start, video.duration), timestamp(end, video.duration)
        caption = text.strip().rstrip(".")
        out.append(writer.pick("direct_segment_localization", "caption", 1.0, s=s, e=e, caption=caption))
    return out


def generate_instructions(video: VideoStructure, tasks: list[str], seed: int) -> list[Instruction]:
    """Instructions of the given task types (plus ``gesm`` if listed) for one video, in a seeded order."""
    unknown = sorted(set(tasks) - set(GENERATORS))
    if unknown:
        raise ValueError(
            f"engine.tasks: unknown task type {unknown[0]!r}; use any of {', '.join(GENERATORS)}"
        )
    if not video.segments:
        return []
    writer = _Writer(video, seeded_rng(seed, video.video_id))
    out = [instruction for task in GENERATORS if task in tasks for instruction in GENERATORS[task](writer)]
    if "direct_segment_localization" in tasks:
        out += query_localization(video, video.queries, seed)
    return out
