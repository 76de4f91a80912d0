"""What a format reader yields: one :class:`SourceVideo` per video, before ingest checks and writes it.

Readers only parse. The checks that every source shares (is the file there and decodable, is the duration
known, is every window a pair of seconds and every caption text, do annotations end after the video) happen
once, in :mod:`momentor.data.ingest`; the policy for annotations past the video end is :func:`fit_window`.
So a reader passes windows and texts on as the file has them: one bad item is quarantined by ingest, and
the rest of its video and of its file are still ingested.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from momentor.data.quarantine import BadInput

PastEndPolicy = Literal["clip", "drop", "keep"]
Window = tuple[float, float]


def format_time(t: float) -> str:
    """A timestamp inside conversation text: ``<t=12.4>`` (seconds, at most 2 decimals)."""
    text = f"{t:.2f}".rstrip("0").rstrip(".")
    return f"<t={'0' if text in ('', '-0') else text}>"


def format_window(window: Window) -> str:
    return f"{format_time(window[0])} ~ {format_time(window[1])}"


def fit_window(window: Window, duration: float, policy: PastEndPolicy) -> Window | None:
    """Apply ``data.past_end_policy`` to a window that may end after the video.

    ``clip`` ends it at the duration (and drops it when it then starts at or after the end), ``drop`` drops
    it, ``keep`` keeps it as annotated. Windows inside the video come back unchanged.
    """
    start, end = window
    if end <= duration or policy == "keep":
        return window
    if policy == "drop" or start >= duration:
        return None
    return (start, duration)


def check_window(window, what: str) -> Window:
    """``[start, end]`` as floats, or BadInput naming ``what`` when it is not a finite, ordered pair >= 0."""
    try:
        start, end = (float(v) for v in window)
    except (TypeError, ValueError) as err:
        raise BadInput(
            f"{what}: {window!r} is not a [start, end] pair of seconds", "fix the annotation"
        ) from err
    if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end <= start:
        raise BadInput(
            f"{what}: window [{start}, {end}] is not ordered within [0, inf)",
            "fix the annotation: start must be >= 0 and before end",
        )
    return (start, end)


def check_text(text, what: str) -> str:
    """``text`` stripped, or BadInput naming ``what`` when the annotation holds something else (a number)."""
    if not isinstance(text, str):
        raise BadInput(f"{what}: {text!r} is not text", "fix the annotation: captions and queries are text")
    return text.strip()


def moment_windows(value) -> list:
    """The windows of a moment variable as annotated: ``[s, e]`` is one, ``[[s, e], ...]`` several; anything
    else is passed on as one (for :func:`check_window` to refuse)."""
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (list, tuple)):
        return list(value)
    return [value]


#: ``{{``, ``}}`` or a plain ``{name}``: the only fields an annotation template may hold
_TEMPLATE_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill_template(template: str, values: dict, what: str) -> str:
    """``template`` with each plain ``{name}`` replaced by ``values[name]`` (and ``{{``/``}}`` unescaped).

    The template is annotation text, so it is never given to ``str.format``: ``{x.__class__}``, ``{x[0]}``
    or ``{x:>999999999}`` would be an attribute lookup, an index or a billion-character pad. Anything in
    braces but a plain name stays as written; a plain name that is not a variable is BadInput.
    """

    def field_value(match: re.Match) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)[0]
        if name not in values:
            raise BadInput(
                f"{what}: its template names {{{name}}}, which is not one of its variables "
                f"({', '.join(values) or 'none'})",
                "every {name} in the conversation must be a key of its 'variables'",
            )
        return str(values[name])

    return _TEMPLATE_FIELD.sub(field_value, template)


@dataclass
class Query:
    text: str  # as annotated: ingest checks it is text
    windows: list  # as annotated: ingest checks each is a [start, end] pair
    query_id: str | None = None  # the source's own id (QVHighlights qid); None = numbered by ingest
    relevant_clip_ids: list[int] = field(default_factory=list)
    saliency_scores: list[list[int]] = field(default_factory=list)


@dataclass
class Instruction:
    """A conversation whose turns are templates over ``variables`` (Moment-10M's released form).

    ``variables["moment"]`` is ``[s, e]`` or ``[[s, e], ...]``, ``variables["SOURCE_CLIP"]`` is ``[s, e]``,
    ``variables["click_position"]`` is ``[t, [x, y]]``; they are written with ``<t=...>`` timestamps when
    the conversation is rendered, after the past-end policy has been applied to them.
    """

    task: str
    turns: list[tuple[str, str]]  # (role "human"|"gpt", template)
    variables: dict = field(default_factory=dict)
    score: float = 0.0
    source_id: str | None = None

    def windows(self) -> list[Window]:
        moments = [self.variables[k] for k in ("moment", "SOURCE_CLIP") if k in self.variables]
        what = f"instruction {self.source_id or self.task} moment"
        return [check_window(w, what) for value in moments for w in moment_windows(value)]

    def render(self) -> list[dict]:
        """Turns as ``[{"from", "value"}]`` with the variables filled in; the first human turn holds <video>."""
        what = f"instruction {self.source_id or self.task}"
        values = {}
        for key, value in self.variables.items():
            if key in ("moment", "SOURCE_CLIP"):
                windows = [check_window(w, f"{what} {key}") for w in moment_windows(value)]
                values[key] = ", ".join(format_window(w) for w in windows)
            elif key == "click_position":
                try:
                    t, (x, y) = value
                    values[key] = f"{format_time(float(t))} at ({round(float(x), 2)}, {round(float(y), 2)})"
                except (TypeError, ValueError) as err:
                    raise BadInput(
                        f"{what}: click_position {value!r} is not [t, [x, y]]", "fix the item's variables"
                    ) from err
            else:
                values[key] = value
        turns = [{"from": role, "value": fill_template(text, values, what)} for role, text in self.turns]
        first_human = next((t for t in turns if t["from"] == "human"), None)
        if first_human is None:
            raise BadInput(
                f"instruction {self.source_id}: no human turn", "a conversation starts with a human turn"
            )
        if "<video>" not in first_human["value"]:
            first_human["value"] = "<video>\n" + first_human["value"]
        return turns


@dataclass
class Track:
    label: str
    times: list[float]
    boxes: list[list[float]]
    track_id: str | None = None


@dataclass
class SourceVideo:
    """One video as a reader found it: its duration if the source states one, and its annotations."""

    video_id: str
    split: str
    duration: float | None = None  # None = take it from the video file
    fps: float = 0.0
    path: str = ""  # the file when the source names it (the sample corpus); else found in `videos`
    origin: str = ""  # the annotation file it was read from (named in the quarantine report)
    segments: list[tuple[object, str]] = field(default_factory=list)  # (window, caption) as annotated
    queries: list[Query] = field(default_factory=list)
    instructions: list[Instruction] = field(default_factory=list)
    tracks: list[Track] = field(default_factory=list)
    frame_labels: list[str] | None = None  # one action label per frame, at `fps`


@dataclass
class Rejected:
    """Something a reader could not parse: quarantined by ingest, and reading goes on."""

    item: str
    path: str
    error: BadInput


def split_from_name(name: str, split: str | None, default: str) -> str:
    """The split to give a source's videos: the one asked for, else the one its file name says, else ``default``."""
    if split is not None:
        return split
    lowered = name.lower()
    for word in ("train", "val", "test"):
        if word in lowered:
            return word
    return default


def locate(path: Path, pattern: str, what: str) -> list[Path]:
    """``path`` itself when it is a file, else the files in the folder ``path`` that match ``pattern``."""
    if path.is_file():
        return [path]
    found = sorted(path.glob(pattern))
    if not found:
        raise FileNotFoundError(f"no {what} ({pattern}) in {path}; point the source's path at the file")
    return found


def read_json(file: Path):
    """The parsed content of a JSON annotation file; BadInput naming the file, line and column when it is not
    valid JSON (or not UTF-8)."""
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise BadInput(
            f"{file}: line {err.lineno} column {err.colno}: not valid JSON ({err.msg})",
            "fix the file at that place (a truncated download or a hand edit); the other files are ingested",
        ) from err
    except UnicodeDecodeError as err:
        raise BadInput(f"{file}: byte {err.start}: not UTF-8 text", "re-download the file") from err


Parse = Callable[[Path, dict, str | None], Iterator]


def read_json_files(path: Path, split: str | None, pattern: str, what: str, parse: Parse) -> Iterator:
    """``parse(file, content, split)`` for each JSON file of a source (see :func:`locate`); a file that is
    not valid JSON, or whose top level is not an object, is one Rejected item and the next file is read."""
    for file in locate(path, pattern, what):
        try:
            content = read_json(file)
            if not isinstance(content, dict):
                raise BadInput(
                    f"{file}: the top level is a JSON {type(content).__name__}, not the object of a {what}",
                    "point the source's path at a file of its format",
                )
        except BadInput as err:
            yield Rejected(file.name, str(file), err)
            continue
        yield from parse(file, content, split)
