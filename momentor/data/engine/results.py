"""What the engine finds over a set of videos, as Arrow tables and counts: the one-process run writes them
at once; a shard writes them as its part, and the merge adds the parts up into the same tables.

A part (``<paths.work>/shards/engine/K-of-N``) holds ``segments.parquet`` and ``instructions.parquet`` (the
engine's rows of those manifest tables), ``tracks.parquet``, ``instance_event.parquet``, ``tally.json`` (the
boundary and label match counts and the filter counts) and ``quarantine.jsonl``. The merge puts the rows
back in manifest order (a stable sort by the video's position, so each video's rows keep their order):
the same rows in the same order as one process over all videos, hence the same bytes.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from momentor import atomic
from momentor.data.engine.boundaries import MatchCounts
from momentor.data.engine.filtering import FilterReport
from momentor.data.manifest import SCHEMAS

#: one row per instance and event: the Instance-Event matrix (``<paths.work>/engine/instance_event.parquet``)
INSTANCE_EVENT = pa.schema([("video_id", pa.string()), ("instance_id", pa.string()), ("label", pa.string()),
                            ("event", pa.int64()), ("start", pa.float64()), ("end", pa.float64()),
                            ("presence", pa.float64())])
TABLES = {"segments": SCHEMAS["segments"], "instructions": SCHEMAS["instructions"], "tracks": SCHEMAS["tracks"],
          "instance_event": INSTANCE_EVENT}
TALLY_FILE = "tally.json"


@dataclasses.dataclass
class Tally:
    """The engine's counts over a set of videos; tallies of disjoint sets add up."""

    raw: MatchCounts = MatchCounts(0, 0, 0)  # boundaries before merging
    merged: MatchCounts = MatchCounts(0, 0, 0)  # ... after merging
    labels: MatchCounts = MatchCounts(0, 0, 0)  # instance labels vs annotated tracks
    per_source: dict = dataclasses.field(default_factory=dict)  # source -> boundaries after merging
    filtering: FilterReport = dataclasses.field(default_factory=FilterReport)

    def __add__(self, other: Tally) -> Tally:
        sources = {k: self.per_source.get(k, MatchCounts(0, 0, 0)) + other.per_source.get(k, MatchCounts(0, 0, 0))
                   for k in {*self.per_source, *other.per_source}}
        mine, theirs = self.filtering, other.filtering
        filtering = FilterReport(mine.kept + theirs.kept, mine.dropped + theirs.dropped,
                                 mine.rewritten + theirs.rewritten, mine.rewrites_rejected + theirs.rewrites_rejected)
        return Tally(self.raw + other.raw, self.merged + other.merged, self.labels + other.labels, sources,
                     filtering)

    def to_json(self) -> dict:
        f = self.filtering
        return {"raw": dataclasses.astuple(self.raw), "merged": dataclasses.astuple(self.merged),
                "labels": dataclasses.astuple(self.labels),
                "per_source": {k: dataclasses.astuple(v) for k, v in self.per_source.items()},
                "kept": dict(f.kept), "dropped": dict(f.dropped), "rewritten": f.rewritten,
                "rewrites_rejected": f.rewrites_rejected}

    @classmethod
    def from_json(cls, data: dict) -> Tally:
        filtering = FilterReport(Counter(data["kept"]), Counter(data["dropped"]), data["rewritten"],
                                 data["rewrites_rejected"])
        return cls(MatchCounts(*data["raw"]), MatchCounts(*data["merged"]), MatchCounts(*data["labels"]),
                   {k: MatchCounts(*v) for k, v in data["per_source"].items()}, filtering)


def tables_from_rows(rows: dict[str, list[dict]]) -> dict[str, pa.Table]:
    """``{table name: rows}`` as Arrow tables of their schemas."""
    return {name: pa.Table.from_pylist(rows[name], schema=schema) for name, schema in TABLES.items()}


def write_part(part: Path, tables: dict[str, pa.Table], tally: Tally) -> None:
    """A shard's part: its tables and its tally (the caller marks it done)."""
    part.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        with atomic.writing(part / f"{name}.parquet") as tmp:
            pq.write_table(table, tmp)
    atomic.write_json(part / TALLY_FILE, tally.to_json(), indent=None)


def read_parts(parts: list[Path], video_order: list[str]) -> tuple[dict[str, pa.Table], Tally]:
    """The parts' tables, each in manifest order, and their summed tally."""
    position = {video_id: i for i, video_id in enumerate(video_order)}
    tables = {}
    for name, schema in TABLES.items():
        table = pa.concat_tables([pq.read_table(part / f"{name}.parquet", schema=schema) for part in parts])
        keys = np.array([position[v] for v in table["video_id"].to_pylist()], dtype=np.int64)
        tables[name] = table.take(pa.array(np.argsort(keys, kind="stable"))).combine_chunks()
    tally = Tally()
    for part in parts:
        tally = tally + Tally.from_json(json.loads((part / TALLY_FILE).read_text()))
    return tables, tally
