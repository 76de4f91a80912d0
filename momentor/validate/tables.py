"""The tables that Great Expectations validates: manifest tables plus derived columns, computed vectorised.

GX checks one table at a time and knows nothing about the others, so the cross-table facts are computed
here first (vectorised, with Arrow and numpy) and added as columns: ``video_duration`` (the referenced
video's duration, null when the video is not in ``videos.parquet``), ``end_past_video_s`` /
``start_past_video_s`` (how far an annotation reaches past the video's end), the timestamp statistics of
conversation text (:mod:`momentor.validate.timestamps`), per-feature-file shape, dtype and non-finite counts.
Every rule is then an ordinary GX expectation on these columns (:mod:`momentor.validate.suites`).

A table that is missing or whose columns differ from the manifest contract gets no derived columns; its
suite reports the column mismatch (exact match) instead of failing on a missing column.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from safetensors import safe_open

from momentor.data.manifest import SCHEMAS
from momentor.validate.conversations import video_in_first_turn, well_formed
from momentor.validate.timestamps import timestamp_stats

ID_COLUMNS = {
    "videos": "video_id",
    "segments": "segment_id",
    "queries": "query_id",
    "query_windows": "query_id",
    "instructions": "instruction_id",
    "tracks": "track_id",
    "frame_labels": "video_id",
    "features": "video_id",
}


#: What a failing row of a derived column is shown with, so the summary says which values are wrong.
SHOWN_WITH = {
    "video_duration": ("video_id",),
    "end_past_video_s": ("start", "end", "max_time_s", "video_duration"),
    "start_past_video_s": ("start", "min_time_s", "min_timestamp_s", "video_duration"),
    "file_status": ("path",),
}


@dataclass
class ValidationTable:
    """One table to validate: its frame, the columns the contract asks for, and the id that names a row."""

    name: str
    frame: pd.DataFrame
    expected_columns: list[str]
    schema_ok: bool
    sources: dict[str, tuple[str, ...]] = field(
        default_factory=dict
    )  # derived column -> what failing rows show

    def shown_with(self, column: str) -> tuple[str, ...]:
        """The columns a failing row of ``column`` is shown with (besides its id), when the frame has them."""
        return tuple(
            c for c in self.sources.get(column, SHOWN_WITH.get(column, ())) if c in self.frame.columns
        )

    @property
    def id_column(self) -> str:
        return ID_COLUMNS[self.name]


def read_arrow(folder: Path, name: str, columns: list[str] | None = None) -> pa.Table | None:
    path = Path(folder) / f"{name}.parquet"
    return pq.read_table(path, columns=columns, memory_map=True) if path.exists() else None


def has_contract_columns(name: str, table: pa.Table | None) -> bool:
    """Whether a table is there with exactly the contract's columns (else only its columns are validated)."""
    return table is not None and sorted(table.column_names) == sorted(SCHEMAS[name].names)


def _plain(table: pa.Table | None, drop: tuple[str, ...] = ()) -> pd.DataFrame:
    """A table without its list columns, as pandas (empty when there is no table)."""
    if table is None:
        return pd.DataFrame()
    return table.drop_columns([c for c in drop if c in table.column_names]).to_pandas()


def per_row(values: np.ndarray, rows: np.ndarray, count: int, reduce: np.ufunc) -> np.ndarray:
    """``reduce`` (np.minimum, np.maximum, ...) of ``values`` grouped by sorted row ids; NaN if empty."""
    out = np.full(count, np.nan)
    if len(values):
        group = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        out[rows[group]] = reduce.reduceat(values.astype(np.float64), group)
    return out


def video_durations(ids: pa.ChunkedArray | pa.Array, videos: pa.Table) -> np.ndarray:
    """Duration of each referenced video; NaN where the id is not in ``videos`` (one hash join in Arrow)."""
    index = pc.index_in(ids, value_set=videos["video_id"].combine_chunks())
    return pc.take(videos["duration"], index).to_numpy(zero_copy_only=False).astype(np.float64)


def videos_table(manifest: Path) -> ValidationTable:
    table = read_arrow(manifest, "videos")
    ok = has_contract_columns("videos", table)
    frame = _plain(table)
    if ok:
        paths = frame["path"].astype(str)
        exists = np.array([bool(p) and Path(p).is_file() for p in paths])
        frame["file_status"] = np.where(paths == "", "none", np.where(exists, "ok", "missing"))
    return ValidationTable("videos", frame, SCHEMAS["videos"].names, ok)


def _past_end(frame: pd.DataFrame, start: np.ndarray, end: np.ndarray, duration: np.ndarray) -> None:
    frame["video_duration"] = duration
    frame["end_past_video_s"] = end - duration
    frame["start_past_video_s"] = start - duration


def segments_table(manifest: Path, videos: pa.Table) -> ValidationTable:
    table = read_arrow(manifest, "segments")
    ok = has_contract_columns("segments", table)
    frame = _plain(table)
    if ok:
        _past_end(
            frame,
            frame["start"].to_numpy(),
            frame["end"].to_numpy(),
            video_durations(table["video_id"], videos),
        )
    return ValidationTable("segments", frame, SCHEMAS["segments"].names, ok)


def queries_tables(manifest: Path, videos: pa.Table) -> list[ValidationTable]:
    """The queries (one row each) and their windows (one row per window)."""
    table = read_arrow(manifest, "queries")
    if not has_contract_columns("queries", table):
        return [ValidationTable("queries", _plain(table), SCHEMAS["queries"].names, False)]
    windows = table["windows"].combine_chunks()  # list<list<float>>: rows -> windows -> [start, end]
    frame = _plain(table, ("windows", "relevant_clip_ids", "saliency_scores"))
    frame["window_count"] = pc.list_value_length(windows).to_numpy(zero_copy_only=False)
    flat = pc.list_flatten(windows)
    owner = pc.list_parent_indices(windows).to_numpy()
    sizes = pc.list_value_length(flat).to_numpy(zero_copy_only=False)
    values = pc.list_flatten(flat).to_numpy(zero_copy_only=False)
    first = np.cumsum(sizes) - sizes
    pair = sizes == 2
    start = np.full(len(sizes), np.nan)
    end = np.full(len(sizes), np.nan)
    start[pair], end[pair] = values[first[pair]], values[first[pair] + 1]
    win = pd.DataFrame(
        {
            "query_id": frame["query_id"].to_numpy()[owner],
            "values_per_window": sizes,
            "start": start,
            "end": end,
        }
    )
    duration = video_durations(pc.take(table["video_id"], pa.array(owner, pa.int64())), videos)
    _past_end(win, start, end, duration)
    columns = ["query_id", "values_per_window", "start", "end"]
    return [
        ValidationTable("queries", frame, SCHEMAS["queries"].names, True),
        ValidationTable("query_windows", win, columns, True),
    ]


def instructions_table(manifest: Path, videos: pa.Table) -> ValidationTable:
    table = read_arrow(manifest, "instructions")
    if not has_contract_columns("instructions", table):
        return ValidationTable("instructions", _plain(table), SCHEMAS["instructions"].names, False)
    conversations = table["conversations"]
    # the passes over the text (2 GB at Moment-10M scale) are independent, and numpy and Arrow release the GIL
    with ThreadPoolExecutor(min(4, os.cpu_count() or 1)) as pool:
        stats_job = pool.submit(timestamp_stats, conversations)
        shape_job = pool.submit(lambda: well_formed(conversations).to_numpy(zero_copy_only=False))
        video_job = pool.submit(video_in_first_turn, conversations)
        # equal ids get equal codes: unique codes <=> unique ids; GX hashes 4-byte codes instead of strings
        codes_job = pool.submit(
            lambda: pc.dictionary_encode(table["instruction_id"]).combine_chunks().indices
        )
        duration = video_durations(table["video_id"], videos)
        for name in (
            "task",
            "split",
        ):  # enumerations: categorical, so GX copies 1-byte codes, not 10M strings
            table = table.set_column(table.column_names.index(name), name, pc.dictionary_encode(table[name]))
        frame = _plain(table)
        stats = stats_job.result()
        frame["instruction_id_code"] = codes_job.result().to_numpy(zero_copy_only=False)
        frame["conversation_well_formed"] = shape_job.result()
        frame["video_in_first_turn"] = video_job.result()
    frame["timestamp_count"] = stats.count
    frame["unparsed_timestamps"] = stats.unparsed
    frame["min_timestamp_s"] = stats.minimum
    _past_end(frame, stats.minimum, stats.maximum, duration)
    sources = {
        "instruction_id_code": ("instruction_id",),
        "conversation_well_formed": ("conversations",),
        "video_in_first_turn": ("conversations",),
        "end_past_video_s": ("video_duration", "conversations"),
        "unparsed_timestamps": ("conversations",),
    }
    return ValidationTable("instructions", frame, SCHEMAS["instructions"].names, True, sources)


def tracks_table(manifest: Path, videos: pa.Table) -> ValidationTable:
    table = read_arrow(manifest, "tracks")
    if not has_contract_columns("tracks", table):
        return ValidationTable("tracks", _plain(table), SCHEMAS["tracks"].names, False)
    n = table.num_rows
    frame = _plain(table, ("times", "boxes"))
    times = table["times"].combine_chunks()
    time_values = pc.list_flatten(times).to_numpy(zero_copy_only=False)
    time_rows = pc.list_parent_indices(times).to_numpy()
    boxes = table["boxes"].combine_chunks()  # list<list<float>>: rows -> boxes -> 4 coordinates
    box_list = pc.list_flatten(boxes)
    box_rows = pc.list_parent_indices(boxes).to_numpy()
    box_sizes = pc.list_value_length(box_list).to_numpy(zero_copy_only=False)
    good = box_sizes == 4
    coords = pc.list_flatten(box_list).to_numpy(zero_copy_only=False)
    first = (np.cumsum(box_sizes) - box_sizes)[good]  # where each well-formed box starts in ``coords``
    x0, y0, x1, y1 = (coords[first + k] if len(coords) else np.zeros(0) for k in range(4))
    four = np.stack([x0, y0, x1, y1], axis=1) if len(first) else np.zeros((0, 4))
    frame["time_count"] = pc.list_value_length(times).to_numpy(zero_copy_only=False)
    frame["box_count"] = pc.list_value_length(boxes).to_numpy(zero_copy_only=False)
    frame["malformed_boxes"] = np.bincount(box_rows[~good], minlength=n)
    frame["inverted_boxes"] = np.bincount(box_rows[good][(x1 < x0) | (y1 < y0)], minlength=n)
    frame["min_box_coordinate"] = per_row(four.min(axis=1), box_rows[good], n, np.minimum)
    frame["max_box_coordinate"] = per_row(four.max(axis=1), box_rows[good], n, np.maximum)
    frame["min_time_s"] = per_row(time_values, time_rows, n, np.minimum)
    start, end = frame["min_time_s"].to_numpy(), per_row(time_values, time_rows, n, np.maximum)
    _past_end(frame, start, end, video_durations(table["video_id"], videos))
    return ValidationTable("tracks", frame, SCHEMAS["tracks"].names, True)


def frame_labels_table(manifest: Path, videos: pa.Table) -> ValidationTable:
    table = read_arrow(manifest, "frame_labels")
    if not has_contract_columns("frame_labels", table):
        return ValidationTable("frame_labels", _plain(table), SCHEMAS["frame_labels"].names, False)
    frame = _plain(table.select(["video_id", "fps"]))
    frame["label_count"] = pc.list_value_length(table["labels"]).to_numpy(zero_copy_only=False)
    frame["video_duration"] = video_durations(table["video_id"], videos)
    return ValidationTable("frame_labels", frame, SCHEMAS["frame_labels"].names, True)


def features_table(feature_folder: Path, videos: pa.Table) -> ValidationTable:
    """One row per video that has a file: is its feature file there, and what is in it."""
    rows = []
    frame = _plain(videos.select(["video_id", "path", "duration", "sha256"]))
    for video in frame[frame["path"] != ""].itertuples(index=False):
        path = Path(feature_folder) / f"{video.video_id}.safetensors"
        row = {"video_id": video.video_id, "video_duration": video.duration, "feature_file": None}
        if path.exists():
            row.update(_feature_file_facts(path, video.sha256, video.duration))
        rows.append(row)
    columns = [
        "video_id",
        "video_duration",
        "feature_file",
        "frames",
        "dim",
        "dtype",
        "nonfinite_values",
        "time_count",
        "first_time_s",
        "last_time_error_s",
        "times_increasing",
        "same_video_file",
    ]
    return ValidationTable("features", pd.DataFrame(rows, columns=columns), columns, True)


def _feature_file_facts(path: Path, sha256: str, duration: float) -> dict:
    with safe_open(str(path), "np") as f:
        names = set(f.keys())
        if not {"features", "times"} <= names:
            return {"feature_file": path.name, "dtype": f"tensors {sorted(names)}"}
        features, times = f.get_tensor("features"), f.get_tensor("times").astype(np.float64)
        meta = f.metadata() or {}
    shape = features.shape
    return {
        "feature_file": path.name,
        "frames": shape[0] if len(shape) == 2 else -1,
        "dim": shape[1] if len(shape) == 2 else -1,
        "dtype": str(features.dtype),
        "nonfinite_values": int((~np.isfinite(features)).sum()) if features.dtype.kind == "f" else 0,
        "time_count": len(times),
        "first_time_s": float(times[0]) if len(times) else np.nan,
        "last_time_error_s": float(abs(times[-1] - duration)) if len(times) else np.nan,
        "times_increasing": bool(np.all(np.diff(times) > 0)),
        "same_video_file": meta.get("sha256", sha256) == sha256,
    }
