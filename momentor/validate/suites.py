"""The expectation suites: one per table, every rule a plain GX expectation with a sentence that says it.

Groups (``validate.suites``): ``manifest`` (videos, segments, queries, query windows, tracks, frame labels),
``instructions``, ``features``.

Times: every start >= 0 and before its end. The end of an annotation against the video's duration follows
``data.past_end_policy`` (how ingest stored it):

- ``clip`` and ``drop``: nothing may end after the video (``end_past_video_s <= validate.time_tolerance_s``;
  the tolerance covers timestamps written with 2 decimals, e.g. ``<t=14.63>`` for 14.625 s).
- ``keep``: ends past the video are allowed (ingest counts them), but nothing may *start* at or after the
  video's end: such an annotation points at no frame at all.

Conversation timestamps are checked the same way through their smallest and largest value per row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from momentor.data.formats import FORMATS
from momentor.data.manifest import ORIGINS, SAFE_ID, SPLITS, TASKS
from momentor.validate.conversations import NON_BLANK
from momentor.validate.gx import gxe
from momentor.validate.tables import ValidationTable

FLOAT_MAX = float(np.finfo(np.float64).max)  # "finite": between -max and +max (inf is outside, NaN is null)
GROUPS = {
    "manifest": ("videos", "segments", "queries", "query_windows", "tracks", "frame_labels"),
    "instructions": ("instructions",),
    "features": ("features",),
}
SOURCES = FORMATS  # every format a reader exists for


@dataclass(frozen=True)
class Rules:
    """What the suites check against."""

    past_end_policy: str = "clip"
    time_tolerance_s: float = 0.01
    num_frames: int | None = None  # M of the feature files (None: not checked)
    feature_dim: int | None = None  # d of the feature files (None: not checked)


def _not_null(column: str, what: str):
    return gxe.ExpectColumnValuesToNotBeNull(column=column, description=what)


def _in_set(column: str, values, what: str):
    return gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(values), description=what)


def _between(column: str, what: str, low=None, high=None):
    return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high, description=what)


def _non_blank(column: str, what: str):
    return gxe.ExpectColumnValuesToMatchRegex(column=column, regex=NON_BLANK, description=what)


def _unique_id(column: str, table: str):
    return [
        _not_null(column, f"every {table} row has a {column}"),
        gxe.ExpectColumnValuesToBeUnique(column=column, description=f"{column} is unique in {table}"),
    ]


def _times(rules: Rules, table: str, start: str = "start", end: str = "end") -> list:
    """The row's video exists; start >= 0, start < end; the past-end policy against the video's duration.

    ``table`` names what a row is ("segment", "instruction timestamp"); its first word names the row.
    """
    tol = rules.time_tolerance_s
    out = [
        _not_null("video_duration", f"every {table.split()[0]}'s video is in videos.parquet"),
        _between(start, f"{table} times are >= 0", low=0),
    ]
    if end != start:
        out.append(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=end,
                column_B=start,
                or_equal=False,
                description=f"every {table} window starts before it ends",
            )
        )
    if rules.past_end_policy in ("clip", "drop"):
        out.append(
            _between(
                "end_past_video_s",
                f"no {table} time is after the video's end "
                f"(past_end_policy={rules.past_end_policy}, tolerance {tol} s)",
                high=tol,
            )
        )
    else:
        out.append(
            gxe.ExpectColumnValuesToBeBetween(
                column="start_past_video_s",
                max_value=0,
                strict_max=True,
                description=f"no {table} time starts at or after the video's end "
                "(past_end_policy=keep allows ends past it)",
            )
        )
    return out


def videos_suite(rules: Rules) -> list:
    return [
        gxe.ExpectTableRowCountToBeBetween(
            min_value=1,
            description="the corpus has at least one video (none: every item was quarantined at ingest or no "
            "source was read; see quarantine.jsonl beside the manifest)",
        ),
        *_unique_id("video_id", "videos"),
        gxe.ExpectColumnValuesToMatchRegex(
            column="video_id", regex=f"^{SAFE_ID}$",
            description="every video_id is a safe file name (letters, digits, '._-', not starting with '.')"),
        _between("duration", "every video has a duration > 0", low=1e-9),
        _between("fps", "fps is >= 0 (0 = unknown)", low=0),
        _in_set("source", SOURCES, "source is a known format"),
        _in_set("split", SPLITS, "split is train, val or test"),
        _in_set("file_status", ("ok", "none"), "every video file the manifest names exists"),
    ]


def segments_suite(rules: Rules) -> list:
    return [
        *_unique_id("segment_id", "segments"),
        *_times(rules, "segment"),
        _non_blank("caption", "every segment has a non-empty caption"),
        _in_set("origin", ORIGINS, "origin is gt or engine"),
    ]


def queries_suite(rules: Rules) -> list:
    return [
        *_unique_id("query_id", "queries"),
        _non_blank("text", "every query has non-empty text"),
        _in_set("split", SPLITS, "split is train, val or test"),
        _in_set("source", SOURCES, "source is a known format"),
        _between("window_count", "every query has at least one window", low=1),
    ]


def query_windows_suite(rules: Rules) -> list:
    return [
        _between("values_per_window", "every window is a [start, end] pair", low=2, high=2),
        *_times(rules, "query window"),
    ]


def instructions_suite(rules: Rules) -> list:
    return [
        _not_null("instruction_id_code", "every instruction has an instruction_id"),
        gxe.ExpectColumnValuesToBeUnique(
            column="instruction_id_code",
            description="instruction_id is unique (checked on its dictionary code)",
        ),
        _in_set("task", TASKS, "task is gesm or one of the 8 Moment-10M task types"),
        _in_set("split", SPLITS, "split is train, val or test"),
        _in_set(
            "conversation_well_formed",
            (True,),
            "conversations is a JSON list of alternating human/gpt "
            "turns, human first, no empty turn (RE2 in Arrow)",
        ),
        _in_set("video_in_first_turn", (True,), "the first human turn contains <video>"),
        _not_null("score", "every instruction has a score (not NaN)"),
        _between("score", "score is finite", low=-FLOAT_MAX, high=FLOAT_MAX),
        _between(
            "unparsed_timestamps", "every <t=...> timestamp is a plain number of seconds", low=0, high=0
        ),
        *_times(rules, "instruction timestamp", start="min_timestamp_s", end="min_timestamp_s"),
    ]


def tracks_suite(rules: Rules) -> list:
    return [
        *_unique_id("track_id", "tracks"),
        _non_blank("label", "every track has a label"),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="time_count", column_B="box_count", description="one box per time"
        ),
        _between("malformed_boxes", "every box has 4 coordinates", low=0, high=0),
        _between("inverted_boxes", "every box has x0 <= x1 and y0 <= y1", low=0, high=0),
        _between("min_box_coordinate", "box coordinates are fractions in [0, 1]", low=0),
        _between("max_box_coordinate", "box coordinates are fractions in [0, 1]", high=1),
        *_times(rules, "track", start="min_time_s", end="min_time_s"),
    ]


def frame_labels_suite(rules: Rules) -> list:
    return [
        _not_null("video_duration", "every frame-label row's video is in videos.parquet"),
        _between("label_count", "every video has at least one frame label", low=1),
        _between("fps", "the label rate is > 0", low=1e-9),
    ]


def features_suite(rules: Rules) -> list:
    out = [
        _not_null("feature_file", "every video with a file has its feature file"),
        _in_set("dtype", ("float32",), "features are float32"),
        _between("nonfinite_values", "features hold no NaN or inf", low=0, high=0),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="frames", column_B="time_count", description="one time per feature row"
        ),
        _between("first_time_s", "frame times start at 0", low=0, high=rules.time_tolerance_s),
        _between(
            "last_time_error_s",
            "the last frame time is the video's end (both ends included)",
            high=max(rules.time_tolerance_s, 0.05),
        ),
        _in_set("times_increasing", (True,), "frame times increase"),
        _in_set("same_video_file", (True,), "features were computed from the manifest's file (same sha256)"),
    ]
    if rules.num_frames is not None:
        out.append(
            _between(
                "frames",
                f"every feature file has M = {rules.num_frames} frames",
                low=rules.num_frames,
                high=rules.num_frames,
            )
        )
    if rules.feature_dim is not None:
        out.append(_in_set("dim", (rules.feature_dim,), f"feature width d = {rules.feature_dim}"))
    return out


SUITES: dict[str, Callable[[Rules], list]] = {
    "videos": videos_suite,
    "segments": segments_suite,
    "queries": queries_suite,
    "query_windows": query_windows_suite,
    "instructions": instructions_suite,
    "tracks": tracks_suite,
    "frame_labels": frame_labels_suite,
    "features": features_suite,
}


def expectations_for(table: ValidationTable, rules: Rules) -> list:
    """The table's rules; for a table without the contract's columns, only that check (exact columns)."""
    if table.schema_ok:
        return SUITES[table.name](rules)
    return [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=list(table.expected_columns),
            exact_match=True,
            description=f"{table.name}.parquet is there with exactly the manifest contract's columns",
        )
    ]
