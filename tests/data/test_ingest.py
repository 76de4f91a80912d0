"""Ingest of the sample corpus, of Moment-10M / GESM files with their videos, and of bad input."""

import json
import shutil

import pytest
from video_files import make_broken_videos, write_counter_video

from momentor import config
from momentor.data.ingest import ingest
from momentor.data.manifest import SCHEMAS, read_manifest
from momentor.data.quarantine import read_quarantine
from momentor.data.sample_corpus import ANNOTATIONS, build_sample_corpus


def make_cfg(tmp_path, sources, **data):
    return config.from_dict({"data": {"sources": sources, **data}, "paths": {"work": str(tmp_path / "work")}})


@pytest.fixture
def sample_with_bad_videos(tmp_path, tiny_corpus_cfg):
    """A 2-video sample corpus plus 4 annotated videos whose files are missing, empty, garbage or truncated."""
    folder = tmp_path / "sample"
    annotation = build_sample_corpus(tiny_corpus_cfg, folder)
    broken = make_broken_videos(tmp_path / "broken")
    template = annotation["videos"][0]
    for kind, path in [*broken.items(), ("missing", tmp_path / "gone.mp4")]:
        shutil.copy(path, folder / f"{kind}.mp4") if path.exists() else None
        annotation["videos"].append({**template, "video_id": f"bad_{kind}", "file": f"{kind}.mp4"})
    (folder / ANNOTATIONS).write_text(json.dumps(annotation))
    return folder, annotation


def test_sample_corpus_lands_in_the_manifest_and_bad_videos_in_quarantine(tmp_path, sample_with_bad_videos):
    folder, annotation = sample_with_bad_videos
    summary = ingest(make_cfg(tmp_path, [{"format": "sample", "path": str(folder)}]))
    tables = read_manifest(tmp_path / "work" / "manifest")
    good = annotation["videos"][:2]
    assert tables["videos"]["video_id"].tolist() == ["sample_000", "sample_001"]
    assert summary["sources"][0]["videos"] == 2 and summary["quarantined"] == 4
    assert len(tables["segments"]) == sum(len(v["events"]) for v in good)
    assert len(tables["queries"]) == sum(len(v["queries"]) for v in good)
    assert len(tables["tracks"]) == sum(len(v["tracks"]) for v in good) > 0
    v = tables["videos"].set_index("video_id")
    assert v.loc["sample_000", "duration"] == good[0]["duration"] and v.loc["sample_000", "fps"] == 8.0
    assert len(v.loc["sample_000", "sha256"]) == 64 and (folder / "sample_000.mp4").samefile(
        v.loc["sample_000", "path"]
    )
    q = tables["queries"].set_index("query_id")
    first = good[0]["queries"][0]
    assert q.loc[first["query_id"], "text"] == first["text"]
    assert [list(w) for w in q.loc[first["query_id"], "windows"]] == [first["window"]]
    for track in tables["tracks"].itertuples():
        assert len(track.times) == len(track.boxes) and all(0 <= c <= 1 for box in track.boxes for c in box)
    entries = {e["item"]: e for e in read_quarantine(tmp_path / "work" / "manifest" / "quarantine.jsonl")}
    assert set(entries) == {"bad_empty", "bad_garbage", "bad_truncated", "bad_missing"}
    assert "empty file" in entries["bad_empty"]["reason"] and "not found" in entries["bad_missing"]["reason"]
    assert all(e["stage"] == "ingest" and e["hint"] and e["path"] for e in entries.values())


def test_manifest_tables_have_exactly_the_contract_schema(tmp_path, sample_with_bad_videos):
    import pyarrow.parquet as pq

    folder, _ = sample_with_bad_videos
    ingest(make_cfg(tmp_path, [{"format": "sample", "path": str(folder)}]))
    for name, schema in SCHEMAS.items():
        assert pq.read_schema(tmp_path / "work" / "manifest" / f"{name}.parquet").remove_metadata() == schema


def test_failed_ingest_leaves_the_previous_manifest(tmp_path, sample_with_bad_videos):
    folder, _ = sample_with_bad_videos
    ingest(make_cfg(tmp_path, [{"format": "sample", "path": str(folder)}]))
    before = read_manifest(tmp_path / "work" / "manifest")["videos"]
    with pytest.raises(FileNotFoundError):
        ingest(
            make_cfg(
                tmp_path, [{"format": "sample", "path": str(folder)}, {"format": "gesm", "path": "/nope"}]
            )
        )
    assert read_manifest(tmp_path / "work" / "manifest")["videos"].equals(before)
    assert not (tmp_path / "work" / "manifest.partial").exists()


MOMENT10M = {
    "yt_fridge": {
        "segment_caption_data": [{
            "id": "yt_fridge_cap_0", "data_type": "segment_caption_data",
            "conversations": [{"from": "human", "value": "What happens during {moment}?"},
                              {"from": "gpt", "value": "A man opens the fridge."}],
            "variables": {"moment": [0.0, 1.5]}, "clip_similarity": 0.21}],
        "segment_locate_data": [{
            "id": "yt_fridge_loc_0", "data_type": "segment_locate_data",
            "conversations": {"human": "When does the man take out the milk?", "gpt": "From {moment}."},
            "variables": {"moment": [1.5, 2.75]}, "match_score": 1.31}],
        "comp_ret_data": [{
            "id": "yt_fridge_comp_0", "data_type": "comp_ret_data",
            "conversations": [{"human": "Find the fridge scenes.", "gpt": "They are {moment}."}],
            "variables": {"moment": [[0.0, 1.0], [2.0, 3.5]]}, "clip_similarity": 0.3}],
        "instance_qa_data": [{
            "id": "yt_fridge_inst_0", "data_type": "instance_qa_data",
            "conversations": [{"from": "human", "value": "<video>\nWhat is at {click_position}?"},
                              {"from": "gpt", "value": "A bottle of milk, seen {moment}."}],
            "variables": {"moment": [0.5, 1.25], "click_position": [0.75, [0.31, 0.42]]}, "clip_similarity": 0.2}],
        "dance_data": [{"conversations": [], "variables": {}, "clip_similarity": 0.1}],
    },
    "yt_not_downloaded": {"qa_data": [{"conversations": [{"human": "Q?", "gpt": "A."}], "variables": {}, "match_score": 1}]},
}  # fmt: skip
GESM = {
    "yt_fridge": {
        "timestamps": [[0.0, 1.5], [1.5, 3.0]],
        "captions": ["a man opens a fridge.", "he takes out milk."],
    }
}


def test_moment10m_and_gesm_with_their_videos(tmp_path):
    (tmp_path / "m10m").mkdir()
    (tmp_path / "m10m" / "moment10m_part1.json").write_text(json.dumps(MOMENT10M))
    (tmp_path / "gesm.json").write_text(json.dumps(GESM))
    videos = tmp_path / "videos"
    videos.mkdir()
    write_counter_video(videos / "yt_fridge.mp4")  # 3.0 s
    summary = ingest(make_cfg(tmp_path, [
        {"format": "moment10m", "path": str(tmp_path / "m10m"), "videos": str(videos)},
        {"format": "gesm", "path": str(tmp_path / "gesm.json"), "videos": str(videos)},
    ]))  # fmt: skip
    tables = read_manifest(tmp_path / "work" / "manifest")
    assert tables["videos"]["video_id"].tolist() == ["yt_fridge"]  # the GESM file adds to the same video
    assert tables["videos"]["duration"].iloc[0] == pytest.approx(3.0)
    ins = tables["instructions"].set_index("instruction_id")
    assert ins["task"].to_dict() == {
        "yt_fridge_cap_0": "segment_captioning",
        "yt_fridge_loc_0": "direct_segment_localization",
        "yt_fridge_comp_0": "composite_segment_retrieval",
        "yt_fridge_inst_0": "instance_qa",
    }
    assert ins.loc["yt_fridge_loc_0", "score"] == 1.31 and set(ins["split"]) == {"train"}
    caption = json.loads(ins.loc["yt_fridge_cap_0", "conversations"])
    assert caption == [
        {"from": "human", "value": "<video>\nWhat happens during <t=0> ~ <t=1.5>?"},
        {"from": "gpt", "value": "A man opens the fridge."},
    ]
    composite = json.loads(ins.loc["yt_fridge_comp_0", "conversations"])
    assert composite[1]["value"] == "They are <t=0> ~ <t=1>, <t=2> ~ <t=3>."  # 3.5 clipped to the 3 s video
    instance = json.loads(ins.loc["yt_fridge_inst_0", "conversations"])
    assert instance[0]["value"] == "<video>\nWhat is at <t=0.75> at (0.31, 0.42)?"  # <video> not doubled
    assert tables["segments"]["caption"].tolist() == ["a man opens a fridge.", "he takes out milk."]
    m10m = summary["sources"][0]
    assert m10m["instructions"] == 4 and m10m["past_end_instructions"] == 1 and m10m["quarantined"] == 2
    reasons = {
        e["item"]: e["reason"] for e in read_quarantine(tmp_path / "work" / "manifest" / "quarantine.jsonl")
    }
    assert "unknown Moment-10M data type 'dance_data'" in reasons["yt_fridge/dance_data"]
    assert "not found" in reasons["yt_not_downloaded"]


def test_moment10m_without_videos_says_where_durations_come_from(tmp_path):
    (tmp_path / "m.json").write_text(json.dumps({"yt_fridge": MOMENT10M["yt_fridge"]}))
    ingest(make_cfg(tmp_path, [{"format": "moment10m", "path": str(tmp_path / "m.json")}]))
    entries = read_quarantine(tmp_path / "work" / "manifest" / "quarantine.jsonl")
    video = next(e for e in entries if e["item"] == "yt_fridge")
    assert "unknown duration" in video["reason"] and "videos" in video["hint"]


def test_bad_split_and_bad_window_are_reported(tmp_path):
    with pytest.raises(config.ConfigError, match="split"):
        ingest(make_cfg(tmp_path, [{"format": "gesm", "path": str(tmp_path), "split": "holdout"}]))
    (tmp_path / "g.json").write_text(
        json.dumps({"v": {"timestamps": [[2.0, 1.0], [0.0, 1.0]], "captions": ["x", "y"]}})
    )
    write_counter_video(tmp_path / "v.mp4")
    summary = ingest(
        make_cfg(tmp_path, [{"format": "gesm", "path": str(tmp_path / "g.json"), "videos": str(tmp_path)}])
    )
    assert summary["tables"]["segments"] == 1 and summary["quarantined"] == 1
    (entry,) = read_quarantine(tmp_path / "work" / "manifest" / "quarantine.jsonl")
    assert entry["item"] == "v_s0" and "not ordered" in entry["reason"]


@pytest.mark.parametrize("hostile", ["../../champion/checkpoint/trainable", "/tmp/anywhere", ".hidden", "a b",
                                     "x" * 201, ""])
def test_an_id_that_is_not_a_safe_file_name_is_quarantined_and_the_rest_ingested(tmp_path, tiny_corpus_cfg,
                                                                                   hostile):
    folder = tmp_path / "sample"
    annotation = build_sample_corpus(tiny_corpus_cfg, folder)
    annotation["videos"].append({**annotation["videos"][0], "video_id": hostile})
    (folder / ANNOTATIONS).write_text(json.dumps(annotation))
    summary = ingest(make_cfg(tmp_path, [{"format": "sample", "path": str(folder)}]))
    tables = read_manifest(tmp_path / "work" / "manifest")
    assert tables["videos"]["video_id"].tolist() == ["sample_000", "sample_001"]
    assert summary["quarantined"] == 1
    (entry,) = read_quarantine(tmp_path / "work" / "manifest" / "quarantine.jsonl")
    assert entry["item"] == hostile and "not a safe file name" in entry["reason"] and "rename" in entry["hint"]
    assert not (tmp_path / "champion").exists()


def test_a_torn_last_quarantine_line_is_skipped_and_an_inner_one_named(tmp_path, caplog):
    from momentor.data.quarantine import BadInput, Quarantine

    path = tmp_path / "quarantine.jsonl"
    Quarantine(path, "ingest").add("v1", "a.mp4", "empty file", "re-encode it")
    with path.open("a") as f:
        f.write('{"item": "v2", "pa')  # killed mid-append
    assert [e["item"] for e in read_quarantine(path)] == ["v1"] and "torn last line" in caplog.text
    Quarantine(path, "features").add("v3", "b.mp4", "decode error", "re-encode it")  # a later step goes on
    assert [e["item"] for e in read_quarantine(path)] == ["v1", "v3"]
    path.write_text('{"item": "v1"\n{"item": "v3"}\n')
    with pytest.raises(BadInput, match=r"quarantine.jsonl:1: not a JSON line"):
        read_quarantine(path)
