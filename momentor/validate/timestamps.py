"""Every ``<t=...>`` timestamp of a column of conversation strings, parsed without a Python loop per row.

Validation must read all timestamps of 10.4M instruction rows in seconds, so this works on the Arrow string
buffer itself: numpy finds every ``<t=`` in the bytes, looks at the ``WINDOW`` bytes after each for the
closing ``>``, checks the characters in between, and Arrow parses them (a C++ string-to-float cast).

A timestamp is what the model reads as one (``momentor.model.prompt.TIME_PATTERN``, ``-?digits[.digits]``:
``12``, ``12.4``, ``-0.5``) in fewer than ``WINDOW`` characters. Anything else between ``<t=`` and ``>``
(an exponent, ``.5``, letters, no ``>`` in the same row) counts as *unparsed*: it fails validation instead
of being read as plain text by the model. Negative values parse, so that the "times >= 0" rule names them.
Per row the result is the number of timestamps, their smallest and largest value, and the unparsed count."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

WINDOW = 16  # a timestamp has fewer characters than this; longer ones are unparsed (two uint64 words)
_LT, _T, _EQ, _GT, _DOT, _MINUS, _ZERO, _NINE = (ord(c) for c in "<t=>.-09")
_COLUMNS = np.arange(WINDOW)[None, :]


@dataclass
class TimestampStats:
    """Per row: how many timestamps, their min and max (NaN without any), how many could not be parsed."""

    count: np.ndarray  # (rows,) int64
    minimum: np.ndarray  # (rows,) float64
    maximum: np.ndarray  # (rows,) float64
    unparsed: np.ndarray  # (rows,) int64


def timestamp_stats(column: pa.Array | pa.ChunkedArray, block_rows: int = 1 << 16) -> TimestampStats:
    """Timestamp statistics of every row of a string column (nulls have none), ``block_rows`` at a time."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    blocks = [chunk.slice(i, block_rows) for chunk in chunks for i in range(0, len(chunk), block_rows)]
    parts = [_block_stats(block) for block in blocks]
    if not parts:
        empty_f, empty_i = np.zeros(0), np.zeros(0, np.int64)
        return TimestampStats(empty_i, empty_f, empty_f, empty_i)
    fields = ("count", "minimum", "maximum", "unparsed")
    return TimestampStats(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))


def _buffers(block: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (rows + 1,) from 0 and the bytes of the rows of a string block (a zero-copy slice)."""
    if not (pa.types.is_string(block.type) or pa.types.is_large_string(block.type)):
        block = block.cast(pa.large_string())
    offset_type = np.int64 if pa.types.is_large_string(block.type) else np.int32
    _, offsets_buf, data_buf = block.buffers()
    offsets = np.frombuffer(offsets_buf, offset_type)[block.offset : block.offset + len(block) + 1].astype(
        np.int64
    )
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    data = data[offsets[0] : offsets[-1]]
    return offsets - offsets[0], data


def _rows_any(mask: np.ndarray) -> np.ndarray:
    """Row-wise any of a C-contiguous bool (k, 16) array: two uint64 words per row, no axis reduction."""
    words = mask.view(np.uint64)  # (k, 2)
    return (words[:, 0] | words[:, 1]) != 0


def _rows_count(mask: np.ndarray) -> np.ndarray:
    """Row-wise count of a C-contiguous bool (k, 16) array (a True byte is one set bit)."""
    words = mask.view(np.uint64)
    return np.bitwise_count(words[:, 0]) + np.bitwise_count(words[:, 1])


def _block_stats(block: pa.Array) -> TimestampStats:
    rows = len(block)
    offsets, data = _buffers(block)
    if block.null_count:  # whatever bytes a null row holds are not text
        data = np.where(np.repeat(np.asarray(block.is_valid()), np.diff(offsets)), data, 0).astype(np.uint8)
    padded = np.concatenate([data, np.zeros(WINDOW + 3, np.uint8)])  # windows past the end read zeros
    starts = np.flatnonzero(data == _LT)
    starts = starts[(padded[starts + 1] == _T) & (padded[starts + 2] == _EQ)]  # (k,) every "<t="
    row = np.searchsorted(offsets, starts, side="right") - 1  # (k,) its row
    window = np.lib.stride_tricks.sliding_window_view(padded, WINDOW)[
        starts + 3
    ]  # (k, WINDOW) bytes after it
    is_close = window == _GT
    length = is_close.argmax(axis=1)  # characters before the first ">"
    inside = _COLUMNS < length[:, None]  # (k, WINDOW) the number's characters
    digit = (window >= _ZERO) & (window <= _NINE)
    dot = window == _DOT
    sign = (_COLUMNS == 0) & (window == _MINUS)
    lead = np.take_along_axis(digit, (window[:, :1] == _MINUS).astype(np.int64), axis=1)[
        :, 0
    ]  # a digit first
    ok = (
        _rows_any(is_close)
        & lead
        & (starts + 3 + length < offsets[row + 1])  # closed inside its own row
        & ~_rows_any(inside & ~(digit | dot | sign))
        & (_rows_count(inside & dot) <= 1)
    )
    values = np.full(len(starts), np.nan)
    if ok.any():  # the checked numbers, one after another, as Arrow strings; Arrow parses them
        every = ok.all()  # the usual case: no copy of the windows for a selection
        chars = window[inside] if every else window[ok][inside[ok]]
        ends = np.r_[0, np.cumsum(length if every else length[ok])].astype(np.int64)
        numbers = pa.Array.from_buffers(
            pa.large_string(), len(ends) - 1, [None, pa.py_buffer(ends), pa.py_buffer(chars)]
        )
        values[ok] = pc.cast(numbers, pa.float64()).to_numpy(zero_copy_only=False)

    count = np.bincount(row[ok], minlength=rows).astype(np.int64)
    unparsed = np.bincount(row[~ok], minlength=rows).astype(np.int64)
    minimum, maximum = np.full(rows, np.nan), np.full(rows, np.nan)
    good_rows, good_values = row[ok], values[ok]
    if len(good_rows):
        group = np.flatnonzero(
            np.r_[True, good_rows[1:] != good_rows[:-1]]
        )  # rows are sorted: one run per row
        minimum[good_rows[group]] = np.minimum.reduceat(good_values, group)
        maximum[good_rows[group]] = np.maximum.reduceat(good_values, group)
    return TimestampStats(count, minimum, maximum, unparsed)
