"""The canonical manifest: one folder of Parquet tables that every benchmark reader lands in.

Every source (the sample corpus, Charades-STA, ActivityNet Captions, QVHighlights, YouCook2, Breakfast,
Moment-10M and its GESM file) is read into these tables; everything downstream (features, the data engine,
validation, training, evaluation) reads only them. Times are seconds from the start of the video.

``videos.parquet``
    ``video_id`` str (unique over the whole manifest), ``path`` str (the video file; "" for annotation-only
    sources), ``duration`` float s (> 0), ``fps`` float (0.0 when unknown: no file and none stated by the
    source), ``source`` str (``sample``, ``charades_sta``, ``activitynet_captions``, ``qvhighlights``,
    ``youcook2``, ``breakfast``, ``moment10m``, ``gesm``), ``split`` str (``train``/``val``/``test``),
    ``sha256`` str (content hash of the file, "" when there is no file).
``segments.parquet``
    ``segment_id`` str, ``video_id``, ``start``, ``end`` float s, ``caption`` str, ``origin`` str
    (``gt``: read from a source's annotation; ``engine``: made by ``momentor engine``).
``queries.parquet``
    ``query_id`` str, ``video_id``, ``text`` str, ``windows`` list<list<float>> (``[[s, e], ...]``),
    ``split``, ``source``; QVHighlights extras ``relevant_clip_ids`` list<int> and ``saliency_scores``
    list<list<int>> (one row of 3 annotator scores per relevant 2 s clip), empty lists for other sources.
``instructions.parquet``
    ``instruction_id`` str, ``video_id``, ``task`` str (:data:`TASKS`), ``conversations`` str (JSON list of
    ``{"from": "human"|"gpt", "value": str}``; timestamps written ``<t=12.4>``, the first human turn holds
    ``<video>``), ``score`` float, ``split``.
``tracks.parquet``
    ``track_id`` str, ``video_id``, ``label`` str, ``times`` list<float>, ``boxes`` list<list<float>>
    (one ``[x0, y0, x1, y1]`` per time, fractions of width and height in [0, 1]).
``frame_labels.parquet``
    ``video_id``, ``labels`` list<str> (one action label per frame), ``fps`` float (label rate).
``quarantine.jsonl``
    One JSON object per bad item ``{"item", "path", "stage", "reason", "hint"}`` (see
    :mod:`momentor.data.quarantine`).
``summary.json``
    What the ingest read, per source: rows per table, quarantined items, annotations past the video end.

Writing is streamed (:class:`ManifestWriter` flushes row groups as it goes, so a Moment-10M-sized
instruction table never sits in memory) into ``<folder>.partial`` and renamed over ``<folder>`` at the end:
a failed ingest leaves the previous manifest intact.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from momentor import atomic
from momentor.data.tasks import GESM, TASK_TYPES

TASKS = (GESM, *TASK_TYPES)
#: a video id names files (features, predictions): letters, digits, ``._-``, not starting with a dot
SAFE_ID = r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}"
SPLITS = ("train", "val", "test")
ORIGINS = ("gt", "engine")

_windows = pa.list_(pa.list_(pa.float64()))
SCHEMAS: dict[str, pa.Schema] = {
    "videos": pa.schema(
        [
            ("video_id", pa.string()),
            ("path", pa.string()),
            ("duration", pa.float64()),
            ("fps", pa.float64()),
            ("source", pa.string()),
            ("split", pa.string()),
            ("sha256", pa.string()),
        ]
    ),
    "segments": pa.schema(
        [
            ("segment_id", pa.string()),
            ("video_id", pa.string()),
            ("start", pa.float64()),
            ("end", pa.float64()),
            ("caption", pa.string()),
            ("origin", pa.string()),
        ]
    ),
    "queries": pa.schema(
        [
            ("query_id", pa.string()),
            ("video_id", pa.string()),
            ("text", pa.string()),
            ("windows", _windows),
            ("split", pa.string()),
            ("source", pa.string()),
            ("relevant_clip_ids", pa.list_(pa.int64())),
            ("saliency_scores", pa.list_(pa.list_(pa.int64()))),
        ]
    ),
    "instructions": pa.schema(
        [
            ("instruction_id", pa.string()),
            ("video_id", pa.string()),
            ("task", pa.string()),
            ("conversations", pa.string()),
            ("score", pa.float64()),
            ("split", pa.string()),
        ]
    ),
    "tracks": pa.schema(
        [
            ("track_id", pa.string()),
            ("video_id", pa.string()),
            ("label", pa.string()),
            ("times", pa.list_(pa.float64())),
            ("boxes", _windows),
        ]
    ),
    "frame_labels": pa.schema(
        [("video_id", pa.string()), ("labels", pa.list_(pa.string())), ("fps", pa.float64())]
    ),
}
TABLES = tuple(SCHEMAS)
QUARANTINE_FILE = "quarantine.jsonl"
SUMMARY_FILE = "summary.json"


def table_path(folder: str | Path, name: str) -> Path:
    if name not in SCHEMAS:
        raise KeyError(f"unknown manifest table {name!r}; the tables are {', '.join(TABLES)}")
    return Path(folder) / f"{name}.parquet"


def to_arrow(name: str, rows: list[dict[str, Any]] | pd.DataFrame) -> pa.Table:
    """Rows (dicts or a DataFrame) as an Arrow table of exactly the contract schema of ``name``."""
    schema = SCHEMAS[name]
    if isinstance(rows, pd.DataFrame):
        return pa.Table.from_pandas(rows[schema.names], schema=schema, preserve_index=False)
    return pa.Table.from_pylist(rows, schema=schema)


def write_table(folder: str | Path, name: str, rows: list[dict[str, Any]] | pd.DataFrame) -> Path:
    """Write one whole table (the engine uses this to add its rows), atomically (:mod:`momentor.atomic`)."""
    path = table_path(folder, name)
    with atomic.writing(path) as partial:
        pq.write_table(to_arrow(name, rows), partial)
    return path


def read_table(folder: str | Path, name: str) -> pd.DataFrame:
    """One manifest table as a DataFrame (list columns hold numpy arrays, as pyarrow gives them)."""
    path = table_path(folder, name)
    if not path.exists():
        raise FileNotFoundError(f"manifest table {path} is missing; run `momentor ingest` first")
    table = pq.read_table(path)
    if table.schema.remove_metadata() != SCHEMAS[name]:
        raise ValueError(
            f"{path} does not have the manifest schema of {name!r} (got {table.schema.remove_metadata()}); "
            f"re-run `momentor ingest` to rewrite it"
        )
    return table.to_pandas()


def read_manifest(folder: str | Path) -> dict[str, pd.DataFrame]:
    """Every table of a manifest folder, by name."""
    return {name: read_table(folder, name) for name in TABLES}


def read_summary(folder: str | Path) -> dict:
    return json.loads((Path(folder) / SUMMARY_FILE).read_text())


class ManifestWriter:
    """Streams rows into a new manifest folder; :meth:`commit` makes it the manifest.

    Rows are buffered per table and flushed as a Parquet row group every ``flush_rows`` rows, so memory stays
    flat however many instructions a source holds. Everything goes to ``<folder>.partial`` until
    :meth:`commit` renames it over ``<folder>``.
    """

    def __init__(self, folder: str | Path, flush_rows: int = 50_000):
        self.folder = Path(folder)
        self.partial = self.folder.with_name(self.folder.name + ".partial")
        shutil.rmtree(self.partial, ignore_errors=True)
        self.partial.mkdir(parents=True)
        self.flush_rows = flush_rows
        self.counts = {name: 0 for name in TABLES}
        self._buffers: dict[str, list[dict]] = {name: [] for name in TABLES}
        self._writers: dict[str, pq.ParquetWriter] = {}

    def add(self, name: str, row: dict[str, Any]) -> None:
        buffer = self._buffers[name]
        buffer.append(row)
        self.counts[name] += 1
        if len(buffer) >= self.flush_rows:
            self._flush(name)

    def _flush(self, name: str) -> None:
        buffer = self._buffers[name]
        if name not in self._writers:
            self._writers[name] = pq.ParquetWriter(table_path(self.partial, name), SCHEMAS[name])
        if buffer:
            self._writers[name].write_table(to_arrow(name, buffer))
        buffer.clear()

    def commit(self, summary: dict) -> Path:
        """Close every table (empty ones too, so readers always find all of them) and swap the folder in."""
        for name in TABLES:
            self._flush(name)
            self._writers.pop(name).close()
        (self.partial / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
        # readers (a concurrent `features` run, a DVC status) never find the manifest missing
        return atomic.replace_folder(self.partial, self.folder)

    def abort(self) -> None:
        for writer in self._writers.values():
            writer.close()
        shutil.rmtree(self.partial, ignore_errors=True)
