"""Readers on the real annotation files in ../shared/fixtures, ingested into the manifest."""

import json

import numpy as np
import pytest

from momentor import config
from momentor.data.formats import read_source
from momentor.data.formats.breakfast import label_runs, read_mapping
from momentor.data.formats.record import SourceVideo
from momentor.data.formats.youcook2 import caption_sentences
from momentor.data.ingest import ingest
from momentor.data.manifest import read_manifest, read_summary


def run_ingest(tmp_path, sources, **data):
    cfg = config.from_dict({"data": {"sources": sources, **data}, "paths": {"work": str(tmp_path)}})
    summary = ingest(cfg)
    return summary, read_manifest(tmp_path / "manifest")


@pytest.mark.parametrize(
    "policy, queries, ending_after",
    [("clip", 3720, 0), ("drop", 3720 - 562, 0), ("keep", 3720, 562)],
)
def test_charades_sta_past_end_policy(tmp_path, fixtures_dir, policy, queries, ending_after):
    summary, tables = run_ingest(
        tmp_path,
        [{"format": "charades_sta", "path": str(fixtures_dir / "charades_sta")}],
        past_end_policy=policy,
    )
    (source,) = summary["sources"]
    assert source["past_end_queries"] == 562  # counted under every policy
    assert source["dropped_past_end"] == (562 if policy == "drop" else 0)
    q, v = tables["queries"], tables["videos"]
    assert len(q) == queries and v["video_id"].is_unique and len(v) == 1334
    assert set(v["split"]) == {"test"} and set(v["path"]) == {""} and set(q["source"]) == {"charades_sta"}
    duration = q["video_id"].map(v.set_index("video_id")["duration"])
    ends = q["windows"].map(lambda w: w[0][1])
    assert int((ends > duration + 1e-9).sum()) == ending_after
    first = q[q["query_id"] == "3MSZA_q0"].iloc[0]
    assert first["text"] == "person turn a light on." and list(first["windows"][0]) == [24.3, 30.4]


def test_activitynet_captions(tmp_path, fixtures_dir):
    _summary, tables = run_ingest(
        tmp_path, [{"format": "activitynet_captions", "path": str(fixtures_dir / "activitynet_captions")}]
    )
    v, s, q = tables["videos"], tables["segments"], tables["queries"]
    assert len(v) == 4917 and len(s) == len(q) == 17505 and set(v["split"]) == {"val"}
    row = v.set_index("video_id").loc["v_uqiMw7tQ1Cc"]
    assert row["duration"] == 55.15 and row["source"] == "activitynet_captions"
    seg = s[s["video_id"] == "v_uqiMw7tQ1Cc"].sort_values("segment_id")
    assert seg["caption"].tolist()[1].startswith("The coach helps")  # leading spaces of the release stripped
    assert (seg["origin"] == "gt").all()
    assert (s["end"] <= s["video_id"].map(v.set_index("video_id")["duration"]) + 1e-9).all()  # clipped


def test_qvhighlights_keeps_qids_and_saliency(tmp_path, fixtures_dir):
    _, tables = run_ingest(tmp_path, [{"format": "qvhighlights", "path": str(fixtures_dir / "qvhighlights")}])
    q = tables["queries"].set_index("query_id")
    assert len(q) == 1550 and q.index.is_unique
    row = q.loc["2579"]
    assert row["video_id"] == "NUsG9BgSes0_210.0_360.0" and [list(w) for w in row["windows"]] == [
        [82.0, 150.0]
    ]
    assert len(row["relevant_clip_ids"]) == len(row["saliency_scores"]) == 34
    assert list(row["saliency_scores"][7]) == [2, 1, 4]
    assert tables["videos"]["duration"].max() == 150 and tables["videos"]["duration"].eq(150).mean() > 0.9


def test_youcook2_sentences_pair_with_seconds(tmp_path, fixtures_dir):
    summary, tables = run_ingest(tmp_path, [{"format": "youcook2", "path": str(fixtures_dir / "youcook2")}])
    s = tables["segments"]
    first = s[s["video_id"] == "xHr8X2Wpmno"].sort_values("start")
    assert first[["start", "end"]].values.tolist()[0] == [47.0, 60.0]
    assert first["caption"].iloc[0] == "pick the ends off the verdalago"
    assert len(tables["videos"]) == 415
    # 3187 annotated; one starts after its video ends and is dropped by the default clip policy
    assert len(s) == 3186 and summary["sources"][0]["dropped_past_end"] == 2  # its segment and its query
    assert caption_sentences("<time_token_1> <time_token_2> a b <time_token_3> <time_token_4> c") == [
        "a b",
        "c",
    ]


def test_breakfast_frame_labels_and_one_based_mapping(tmp_path, fixtures_dir):
    labels = read_mapping(fixtures_dir / "breakfast" / "mapping.txt")
    assert labels[0] == "SIL" and labels[1] == "pour_cereals" and len(labels) == 50  # ids 1..50 -> 0..49
    zero_based = tmp_path / "mapping.txt"
    zero_based.write_text("0 SIL\n1 pour_milk\n")
    assert read_mapping(zero_based) == ["SIL", "pour_milk"]
    _, tables = run_ingest(tmp_path, [{"format": "breakfast", "path": str(fixtures_dir / "breakfast")}])
    fl = tables["frame_labels"].set_index("video_id")
    cereals = fl.loc["P03_cam01_P03_cereals"]
    assert len(cereals["labels"]) == 832 and cereals["fps"] == 15.0 and cereals["labels"][0] == "SIL"
    v = tables["videos"].set_index("video_id")
    assert v.loc["P03_cam01_P03_cereals", "duration"] == pytest.approx(832 / 15)
    assert set(v["split"]) == {"test"}  # all 14 are listed in test.split1.bundle
    s = tables["segments"]
    runs = s[s["video_id"] == "P03_cam01_P03_cereals"].sort_values("start")
    assert runs["end"].iloc[-1] == pytest.approx(832 / 15) and runs["start"].iloc[0] == 0
    assert label_runs(["a", "a", "b"], 2.0) == [(0.0, 1.0, "a"), (1.0, 1.5, "b")]


def test_breakfast_unknown_label_is_quarantined(tmp_path, fixtures_dir):
    folder = tmp_path / "bf"
    (folder / "groundTruth").mkdir(parents=True)
    (folder / "mapping.txt").write_text((fixtures_dir / "breakfast" / "mapping.txt").read_text())
    (folder / "groundTruth" / "ok.txt").write_text("SIL\npour_milk\n")
    (folder / "groundTruth" / "bad.txt").write_text("SIL\nmake_sushi\n")
    summary, tables = run_ingest(tmp_path, [{"format": "breakfast", "path": str(folder)}])
    assert tables["frame_labels"]["video_id"].tolist() == ["ok"]
    (entry,) = [
        json.loads(line) for line in (tmp_path / "manifest" / "quarantine.jsonl").read_text().splitlines()
    ]
    assert entry["item"] == "bad" and "make_sushi" in entry["reason"] and "mapping.txt" in entry["hint"]
    assert summary["quarantined"] == 1


def test_all_sources_land_in_one_manifest(tmp_path, fixtures_dir):
    names = {"charades_sta": "charades_sta", "activitynet_captions": "activitynet_captions",
             "qvhighlights": "qvhighlights", "youcook2": "youcook2", "breakfast": "breakfast"}  # fmt: skip
    sources = [{"format": f, "path": str(fixtures_dir / folder)} for f, folder in names.items()]
    summary, tables = run_ingest(tmp_path, sources)
    assert set(tables["videos"]["source"]) == set(names)
    assert tables["videos"]["video_id"].is_unique and tables["queries"]["query_id"].is_unique
    assert summary == read_summary(tmp_path / "manifest")
    assert summary["tables"]["queries"] == len(tables["queries"]) == 3720 + 17505 + 1550 + 3186
    for name, table in tables.items():
        assert not table.empty or name in ("instructions", "tracks"), name


def test_reader_yields_source_records(fixtures_dir):
    first = next(
        iter(read_source("activitynet_captions", fixtures_dir / "activitynet_captions" / "val_1.json"))
    )
    assert isinstance(first, SourceVideo) and first.duration == 55.15
    with pytest.raises(FileNotFoundError, match="data.sources"):
        read_source("charades_sta", fixtures_dir / "nowhere")
    window, caption = first.segments[0]  # as annotated: ingest checks it
    assert np.isclose(window[0], 0.28) and isinstance(caption, str)
    assert first.origin == str(fixtures_dir / "activitynet_captions" / "val_1.json")
