"""The questions inference asks, and how answers turn into windows and timed events.

The questions are the data engine's own phrasings (:mod:`momentor.data.engine.templates`): the first
``direct_segment_localization`` template for grounding ("When does this happen: {caption}?") and the first
``gesm`` template for dense captioning ("Localize every event in the video and describe each one."), so a
model is asked what it was trained on.

Answers come back from :func:`momentor.model.generate.generate` as text with timestamps written "12.4 s" and
the exact values in ``Answer.timestamps`` (the same order). Grounding reads consecutive timestamps as
windows ("From 3.2 s to 7.9 s." -> [[3.2, 7.9, 1.0]]); dense captioning reads "s ~ e: caption." runs.
"""

from __future__ import annotations

import re

from momentor.data.engine.templates import TEMPLATES
from momentor.model.generate import Answer
from momentor.model.prompt import VIDEO_TAG

GROUNDING_TEMPLATE = TEMPLATES["direct_segment_localization"]["caption"][0][0]
GESM_QUESTION = TEMPLATES["gesm"]["all"][0][0]
# a rendered timestamp, as momentor.model.prompt.format_seconds writes it (and the text baseline too)
SECONDS = re.compile(r"(\d+(?:\.\d+)?)\s*s\b")


def with_video(question: str) -> list[dict]:
    """A one-turn conversation about the video (``<video>`` first unless the question places it)."""
    text = question if VIDEO_TAG in question else f"{VIDEO_TAG}\n{question}"
    return [{"from": "human", "value": text}]


def grounding_question(query: str) -> list[dict]:
    return with_video(GROUNDING_TEMPLATE.format(caption=query.strip().rstrip(".")))


def gesm_question() -> list[dict]:
    return with_video(GESM_QUESTION)


def _stamps(answer: Answer) -> tuple[list[float], list[re.Match]]:
    """Timestamps of an answer with their places in its text; exact values when the model gave them."""
    matches = list(SECONDS.finditer(answer.text))
    values = [float(m.group(1)) for m in matches]
    if len(answer.timestamps) == len(matches):
        values = list(answer.timestamps)
    return values, matches


def clip(t: float, duration: float) -> float:
    return min(max(t, 0.0), duration)


def answer_windows(answer: Answer, duration: float) -> list[list[float]]:
    """Consecutive timestamp pairs as ``[start, end, score]`` windows, first = best (score 1, 1/2, ...).

    A lone last timestamp is a window of length 0 (it scores IoU 0, as a wrong guess should); no timestamp
    gives no window (the evaluator counts the query as missed).
    """
    values, _ = _stamps(answer)
    windows = []
    for rank, i in enumerate(range(0, len(values), 2)):
        s = clip(values[i], duration)
        e = clip(values[i + 1], duration) if i + 1 < len(values) else s
        windows.append([min(s, e), max(s, e), 1.0 / (rank + 1)])
    return windows


def answer_events(answer: Answer, duration: float) -> list[dict]:
    """GESM-style answers ("0.0 s ~ 4.5 s: a man opens a fridge. 4.5 s ~ ...") as dense-captioning events
    ``{"timestamp": [s, e], "sentence": str}``; a pair without text gets an empty sentence."""
    values, matches = _stamps(answer)
    events = []
    for i in range(0, len(values) - 1, 2):
        text_end = matches[i + 2].start() if i + 2 < len(matches) else len(answer.text)
        sentence = answer.text[matches[i + 1].end() : text_end].strip().lstrip(":~ ").strip()
        s, e = clip(values[i], duration), clip(values[i + 1], duration)
        events.append({"timestamp": [min(s, e), max(s, e)], "sentence": sentence})
    return events
