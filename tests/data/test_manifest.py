import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from momentor.data.manifest import TABLES, ManifestWriter, read_manifest, read_table, write_table
from momentor.data.quarantine import BadInput, Quarantine, read_quarantine


def test_writer_streams_row_groups_and_commits_every_table(tmp_path):
    writer = ManifestWriter(tmp_path / "manifest", flush_rows=3)
    for k in range(7):
        writer.add("queries", {"query_id": f"q{k}", "video_id": "v", "text": "t", "windows": [[0.0, 1.0]],
                               "split": "test", "source": "x", "relevant_clip_ids": [], "saliency_scores": []})  # fmt: skip
    writer.commit({"ok": True})
    assert pq.ParquetFile(tmp_path / "manifest" / "queries.parquet").num_row_groups == 3  # 3 + 3 + 1 rows
    tables = read_manifest(tmp_path / "manifest")
    assert set(tables) == set(TABLES) and len(tables["queries"]) == 7 and tables["videos"].empty
    assert json.loads((tmp_path / "manifest" / "summary.json").read_text()) == {"ok": True}


def test_read_table_refuses_another_schema(tmp_path):
    (tmp_path / "m").mkdir()
    pq.write_table(pa.table({"video_id": ["a"]}), tmp_path / "m" / "videos.parquet")
    with pytest.raises(ValueError, match="re-run `momentor ingest`"):
        read_table(tmp_path / "m", "videos")
    with pytest.raises(FileNotFoundError, match="momentor ingest"):
        read_table(tmp_path / "m", "segments")


def test_write_table_round_trips_a_dataframe(tmp_path):
    rows = pd.DataFrame([{"segment_id": "s", "video_id": "v", "start": 0.0, "end": 1.5, "caption": "c",
                          "origin": "engine"}])  # fmt: skip
    write_table(tmp_path, "segments", rows)
    assert read_table(tmp_path, "segments").equals(rows)


def test_quarantine_replaces_only_its_own_stage(tmp_path):
    path = tmp_path / "quarantine.jsonl"
    Quarantine(path, "ingest").add_error("a", "a.mp4", BadInput("empty file", "fetch it again"))
    features = Quarantine(path, "features")
    features.add("b", "b.mp4", "decoding failed", "re-encode")
    Quarantine(path, "features").add("c", "c.mp4", "decoding failed: x", "re-encode")  # a re-run of features
    assert [(e["item"], e["stage"]) for e in read_quarantine(path)] == [("a", "ingest"), ("c", "features")]
    assert len(features) == 1 and features.reasons() == {"decoding failed": 1}
