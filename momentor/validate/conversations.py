"""The shape of a conversation (``instructions.conversations``) and its checks, run by RE2 inside Arrow.

A conversation is a JSON list of ``{"from": "human"|"gpt", "value": "..."}`` turns: human first, turns
alternating, at least one human and one gpt turn, no empty or blank value; the first human turn contains
``<video>``. The patterns are written for RE2, which matches them in linear time over 10M rows; JSON
whitespace is spelled out (``[ \\t\\n\\r]``) because pandas sends any pattern with ``\\s`` or ``\\S``
to Python's ``re`` instead (20x slower).

On 10.4M rows the text is 2 GB, and GX's pandas engine copies a batch's columns for every column-map metric,
so the two checks run here, in Arrow, as a pre-aggregation: each gives a boolean column that a GX
expectation then holds to ``True`` (:mod:`momentor.validate.suites`), with the text shown for failing rows.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_WS = r"[ \t\n\r]*"
_VALUE = r'"(?:[ \t\n\r]|\\[nrt])*(?:[^"\\ \t\n\r]|\\[^nrt])(?:[^"\\]|\\.)*"'  # >= 1 non-blank character
_TURN = (
    r"\{"
    + _WS
    + r'"from"'
    + _WS
    + ":"
    + _WS
    + r'"%s"'
    + _WS
    + ","
    + _WS
    + r'"value"'
    + _WS
    + ":"
    + _WS
    + _VALUE
    + _WS
    + r"\}"
)
_SEP = _WS + "," + _WS
CONVERSATION_PATTERN = (
    "^"
    + _WS
    + r"\["
    + _WS
    + _TURN % "human"
    + "(?:"
    + _SEP
    + _TURN % "gpt"
    + _SEP
    + _TURN % "human"
    + ")*"
    + _SEP
    + _TURN % "gpt"
    + _WS
    + r"\]"
    + _WS
    + "$"
)
VIDEO_FIRST_PATTERN = (
    "^"
    + _WS
    + r"\["
    + _WS
    + r"\{"
    + _WS
    + r'"from"'
    + _WS
    + ":"
    + _WS
    + r'"human"'
    + _WS
    + ","
    + _WS
    + r'"value"'
    + _WS
    + ":"
    + _WS
    + r'"(?:[^"\\]|\\.)*<video>'
)
NON_BLANK = r"[^ \t\n\r]"  # not \S, for the same reason
# how json.dumps writes a conversation whose first turn starts with <video>: a prefix test settles most rows
_CANONICAL_VIDEO_FIRST = '[{"from": "human", "value": "<video>'


def well_formed(conversations: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Per row: is it a conversation of the shape above (null rows are not)?"""
    return pc.fill_null(pc.match_substring_regex(conversations, CONVERSATION_PATTERN), False)


def video_in_first_turn(conversations: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Per row: does the first human turn contain ``<video>``? A prefix test, then the regex on the rest."""
    chunks = conversations.chunks if isinstance(conversations, pa.ChunkedArray) else [conversations]
    return np.concatenate([_video_first_chunk(chunk) for chunk in chunks]) if chunks else np.zeros(0, bool)


def _video_first_chunk(chunk: pa.Array) -> np.ndarray:
    found = (
        pc.fill_null(pc.starts_with(chunk, _CANONICAL_VIDEO_FIRST), False)
        .to_numpy(zero_copy_only=False)
        .copy()
    )
    rest = np.flatnonzero(~found)  # the few rows the prefix does not settle
    if len(rest):
        regex = pc.match_substring_regex(pc.take(chunk, pa.array(rest)), VIDEO_FIRST_PATTERN)
        found[rest] = pc.fill_null(regex, False).to_numpy(zero_copy_only=False)
    return found
