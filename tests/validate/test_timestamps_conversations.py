"""The vectorised timestamp reader and the conversation-shape checks, against hand-worked rows."""

import json
import re

import numpy as np
import pyarrow as pa
import pytest

from momentor.model.prompt import TIME_PATTERN
from momentor.validate.conversations import CONVERSATION_PATTERN, video_in_first_turn, well_formed
from momentor.validate.timestamps import timestamp_stats


def test_timestamps_per_row():
    rows = [
        "<video>\nfrom <t=12.4> to <t=0> and <t=3.25>",  # 3 timestamps
        "no time here",
        "<t=1e3> <t=.5> <t=abc> <t=> <t=7>",  # 4 unparsed, 1 good
        None,
        "<t=-2.5> ~ <t=12.>",  # negative parses (the ">= 0" rule names it), "12." as the model reads it
        "<t=12345678901234567> <t=5",  # too long, and never closed in its row
        "9> <t=1>",  # the "9>" must not close the previous row's "<t=5"
    ]
    stats = timestamp_stats(pa.array(rows))
    np.testing.assert_array_equal(stats.count, [3, 0, 1, 0, 2, 0, 1])
    np.testing.assert_array_equal(stats.unparsed, [0, 0, 4, 0, 0, 2, 0])
    np.testing.assert_allclose(stats.minimum, [0.0, np.nan, 7.0, np.nan, -2.5, np.nan, 1.0])
    np.testing.assert_allclose(stats.maximum, [12.4, np.nan, 7.0, np.nan, 12.0, np.nan, 1.0])


@pytest.mark.parametrize("block_rows", [1, 2, 1 << 16])
def test_blocks_and_chunks_do_not_change_the_result(block_rows):
    rng = np.random.default_rng(0)
    pieces = ["<t=12.4>", "<t=0>", "<t=1e3>", "x", "<t=7.25>", " ~ ", "<t=-1>"]
    rows = ["".join(rng.choice(pieces, rng.integers(0, 5))) for _ in range(200)]
    whole = timestamp_stats(pa.array(rows))
    chunked = timestamp_stats(
        pa.chunked_array([rows[:77], rows[77:]], pa.large_string()), block_rows=block_rows
    )
    for field in ("count", "unparsed", "minimum", "maximum"):
        np.testing.assert_array_equal(getattr(whole, field), getattr(chunked, field))
    expected = [len(TIME_PATTERN.findall(r)) for r in rows]  # what the model reads as timestamps
    np.testing.assert_array_equal(whole.count, expected)


def _turns(*turns, **dumps):
    return json.dumps([{"from": role, "value": value} for role, value in turns], **dumps)


GOOD = [
    _turns(("human", "<video>\nWhen?"), ("gpt", "<t=1> ~ <t=2>.")),
    _turns(("human", "<video> a"), ("gpt", "b"), ("human", "c"), ("gpt", 'd "quoted"')),
    _turns(("human", "look <video>"), ("gpt", "b"), separators=(",", ":")),
]
BAD = [
    _turns(("human", "<video>"), ("gpt", " ")),  # blank answer
    _turns(("human", "<video>"), ("gpt", "\n")),  # blank answer, escaped newline
    _turns(("gpt", "a"), ("human", "<video>")),  # gpt first
    _turns(("human", "<video>")),  # no answer
    _turns(("human", "<video>"), ("gpt", "a"), ("gpt", "b")),  # not alternating
    '[{"from": "human"}]',
    "not json",
]


def test_conversation_shape():
    result = well_formed(pa.array(GOOD + BAD + [None])).to_pylist()
    assert result == [True] * len(GOOD) + [False] * (len(BAD) + 1)
    assert all(re.search(CONVERSATION_PATTERN, g) for g in GOOD)  # same verdict from Python's re


def test_video_token_must_be_in_the_first_human_turn():
    rows = GOOD + [
        _turns(("human", "a"), ("gpt", "<video>")),
        _turns(("human", "no token"), ("gpt", "b")),
        None,
    ]
    chunked = pa.chunked_array([rows[:2], rows[2:]])
    assert video_in_first_turn(chunked).tolist() == [True, True, True, False, False, False]
