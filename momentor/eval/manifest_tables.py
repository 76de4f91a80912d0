"""Ground truth read from the canonical manifest (the Parquet folder written by ``momentor.data``).

Every benchmark reader of the data part lands in the manifest; evaluation can read a task's ground truth
from there instead of from the benchmark's native file. Only the columns of the contract are used, so
this module does not import the data part. A path is a manifest when it is a folder holding the table,
or the table's ``.parquet`` file itself.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from momentor.eval.jsonio import EvalInputError


def is_manifest(path: str | Path, table: str) -> bool:
    path = Path(path)
    return (path.is_dir() and (path / f"{table}.parquet").is_file()) or (
        path.is_file() and path.name == f"{table}.parquet"
    )


def read_table(
    path: str | Path, table: str, split: str | None = None, source: str | None = None
) -> pd.DataFrame:
    """One manifest table, filtered to ``split`` and ``source`` when given (and when it has those columns)."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    file = folder / f"{table}.parquet"
    if not file.is_file():
        raise EvalInputError(f"{folder}: no {table}.parquet; build the manifest first (momentor data verbs)")
    frame = pd.read_parquet(file)
    if split is not None and "split" in frame.columns:
        frame = frame[frame["split"] == split]
    if source is not None and "source" in frame.columns:
        frame = frame[frame["source"] == source]
    return frame.reset_index(drop=True)


def durations(path: str | Path) -> dict[str, float]:
    """video_id -> duration in seconds, from ``videos.parquet`` beside the table."""
    videos = read_table(path, "videos")
    return dict(zip(videos["video_id"].astype(str), videos["duration"].astype(float)))


def video_splits(path: str | Path) -> dict[str, str]:
    """video_id -> split, from ``videos.parquet``."""
    videos = read_table(path, "videos")
    return dict(zip(videos["video_id"].astype(str), videos["split"].astype(str)))


def nested_floats(value) -> list:
    """A Parquet list<list<float>> cell (numpy object arrays) as plain Python lists."""
    return [[float(x) for x in row] for row in (value if value is not None else [])]
