"""Hostile annotation files through the real ``momentor ingest`` verb: each bad item is quarantined with its
file, its id and what is wrong, and every valid source and row is still ingested (issue #27)."""

import json

import pytest
import yaml
from video_files import write_counter_video

from momentor.cli import main
from momentor.data.manifest import read_manifest
from momentor.data.quarantine import read_quarantine

GOOD_GESM = {"side": {"timestamps": [[0.0, 1.0]], "captions": ["a man opens a fridge."]}}


def run_ingest(tmp_path, fmt: str, name: str, text: str) -> tuple[int, dict, dict]:
    """Ingest one annotation file of ``fmt`` (the videos good.mp4 and bad.mp4, 3 s each) beside a valid GESM
    source (side.mp4); the exit code, the manifest tables and the quarantine entries by item."""
    videos = tmp_path / "videos"
    videos.mkdir(exist_ok=True)
    for vid in ("good", "bad", "side"):
        if not (videos / f"{vid}.mp4").exists():
            write_counter_video(videos / f"{vid}.mp4")  # 24 frames at 8 fps: 3.0 s
    (tmp_path / name).write_text(text)
    (tmp_path / "gesm.json").write_text(json.dumps(GOOD_GESM))
    params = {
        "paths": {"work": str(tmp_path / "work")},
        "data": {"sources": [
            {"format": fmt, "path": str(tmp_path / name), "videos": str(videos)},
            {"format": "gesm", "path": str(tmp_path / "gesm.json"), "videos": str(videos), "split": "val"},
        ]},
    }  # fmt: skip
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    rc = main(["ingest", "--params", str(tmp_path / "params.yaml")])
    manifest = tmp_path / "work" / "manifest"
    entries = {e["item"]: e for e in read_quarantine(manifest / "quarantine.jsonl")}
    return rc, read_manifest(manifest), entries


def activitynet(bad_window=(0.5, 2.0), bad_sentence="a bad one.", duration=3.0) -> str:
    return json.dumps({
        "good": {"duration": 3.0, "timestamps": [[0.0, 1.5]], "sentences": ["a good one."]},
        "bad": {"duration": duration, "timestamps": [bad_window, [1.0, 2.5]],
                "sentences": [bad_sentence, "still fine."]},
    })  # fmt: skip


@pytest.mark.parametrize("bad_window, bad_sentence, wrong", [
    (5, "a bad one.", "5 is not a [start, end] pair of seconds"),
    ([0.5, 2.0], 42, "42 is not text"),
    ({"start": 0.5}, "a bad one.", "is not a [start, end] pair of seconds"),
    ([0.5, 2.0], ["a", "list"], "['a', 'list'] is not text"),
])  # fmt: skip
def test_a_bad_window_or_caption_is_one_quarantined_item(tmp_path, bad_window, bad_sentence, wrong):
    rc, tables, entries = run_ingest(tmp_path, "activitynet_captions", "anet_val.json",
                                     activitynet(bad_window, bad_sentence))  # fmt: skip
    assert rc == 0
    assert set(entries) == {"bad_s0", "bad_q0"}  # the segment and the query of the bad sentence
    for item, entry in entries.items():
        assert entry["path"] == str(tmp_path / "anet_val.json")
        assert entry["reason"].startswith(f"anet_val.json: {item}: ") and wrong in entry["reason"]
    # the rest of the bad video, the good video and the other source are ingested
    assert set(tables["segments"]["segment_id"]) == {"good_s0", "bad_s1", "side_s0"}
    assert set(tables["queries"]["query_id"]) == {"good_q0", "bad_q1"}
    assert sorted(tables["segments"]["caption"]) == ["a good one.", "a man opens a fridge.", "still fine."]


@pytest.mark.parametrize("events, wrong", [
    ([[5, "x"], [[0.0, 1.0], "fine"]], "bad_s0: 5 is not a [start, end] pair"),
    ([[[0.0, 1.0], 42], [[1.0, 2.0], "fine"]], "bad_s0: 42 is not text"),
])  # fmt: skip
def test_gesm_events_are_checked_one_at_a_time(tmp_path, events, wrong):
    windows, captions = zip(*events)
    text = json.dumps({"bad": {"timestamps": list(windows), "captions": list(captions)}})
    rc, tables, entries = run_ingest(tmp_path, "gesm", "events.json", text)
    assert rc == 0 and set(entries) == {"bad_s0"} and wrong in entries["bad_s0"]["reason"]
    assert entries["bad_s0"]["path"] == str(tmp_path / "events.json")
    assert sorted(tables["segments"]["segment_id"]) == ["bad_s1", "side_s0"]


def test_qvhighlights_query_that_is_not_text_or_window_that_is_a_number(tmp_path):
    line = {"qid": 1, "query": "a man cooks.", "duration": 3.0, "vid": "good", "relevant_windows": [[0, 2]]}
    lines = [line, {**line, "qid": 2, "query": 42}, {**line, "qid": 3, "relevant_windows": [5, [1.0, 2.0]]}]
    rc, tables, entries = run_ingest(tmp_path, "qvhighlights", "qv_val.jsonl",
                                     "\n".join(json.dumps(x) for x in lines))  # fmt: skip
    assert rc == 0 and set(entries) == {"2", "3"}
    assert "42 is not text" in entries["2"]["reason"]
    assert "5 is not a [start, end] pair" in entries["3"]["reason"]
    queries = tables["queries"].set_index("query_id")
    assert sorted(queries.index) == ["1", "3"]  # query 3 keeps its good window
    assert [list(w) for w in queries.loc["3", "windows"]] == [[1.0, 2.0]]


def test_moment10m_moment_that_is_a_number_or_click_that_is_not_a_point(tmp_path):
    def item(iid, variables, text="What happens during {moment}?"):
        return {"id": iid, "conversations": [{"from": "human", "value": text}, {"from": "gpt", "value": "x"}],
                "variables": variables, "clip_similarity": 0.2}  # fmt: skip

    data = {"good": {"qa_data": [
        item("ok", {"moment": [0.0, 1.0]}),
        item("five", {"moment": 5}),
        item("nested_five", {"moment": [[0.0, 1.0], 5]}),
        item("click", {"click_position": 3}, "What is at {click_position}?"),
    ]}}  # fmt: skip
    rc, tables, entries = run_ingest(tmp_path, "moment10m", "m10m_train.json", json.dumps(data))
    assert rc == 0 and set(entries) == {"five", "nested_five", "click"}
    assert all(e["path"] == str(tmp_path / "m10m_train.json") for e in entries.values())
    assert "5 is not a [start, end] pair" in entries["five"]["reason"]
    assert "5 is not a [start, end] pair" in entries["nested_five"]["reason"]
    assert "click_position 3 is not [t, [x, y]]" in entries["click"]["reason"]
    assert tables["instructions"]["instruction_id"].tolist() == ["ok"]


@pytest.mark.parametrize("fmt, name, text", [
    ("activitynet_captions", "anet_val.json", activitynet()[:-2] + ",}}"),
    ("moment10m", "m10m_train.json", '{"good": {"qa_data": [\n  {"id": "x",, }]}}'),
    ("gesm", "events.json", '{"bad": {"timestamps": [[0, 1]], "captions": ["x"]}'),
    ("youcook2", "yc2_val.json", '{"annotations": [\n\n  {"image_id": "bad.mp4", "duration": 3 "segments": []}]}'),
])  # fmt: skip
def test_a_json_syntax_error_names_the_file_line_and_column_and_the_rest_ingests(tmp_path, fmt, name, text):
    import json as stdlib_json

    with pytest.raises(stdlib_json.JSONDecodeError) as expected:
        stdlib_json.loads(text)
    rc, tables, entries = run_ingest(tmp_path, fmt, name, text)
    assert rc == 0
    (entry,) = entries.values()
    where = f"line {expected.value.lineno} column {expected.value.colno}"
    assert entry["item"] == name and entry["path"] == str(tmp_path / name)
    assert entry["reason"].startswith(f"{tmp_path / name}: {where}: not valid JSON")
    assert "side_s0" in set(tables["segments"]["segment_id"])  # the GESM source beside it


def test_json_that_is_not_an_object_at_the_top_is_one_quarantined_file(tmp_path):
    rc, tables, entries = run_ingest(tmp_path, "activitynet_captions", "anet_val.json", "[1, 2]")
    assert rc == 0 and "the top level is a JSON list" in entries["anet_val.json"]["reason"]
    assert set(tables["segments"]["segment_id"]) == {"side_s0"}


@pytest.mark.parametrize("stated, quarantined", [(3000.0, True), (16.0, True), (4.5, False), (1.5, False),
                                                 (float("nan"), True)])  # fmt: skip
def test_a_stated_duration_far_from_the_file_is_quarantined_with_both(tmp_path, stated, quarantined):
    rc, tables, entries = run_ingest(tmp_path, "activitynet_captions", "anet_val.json",
                                     activitynet(duration=stated))  # fmt: skip
    assert rc == 0
    videos = tables["videos"].set_index("video_id")
    assert ("bad" in entries) == quarantined and ("bad" in videos.index) != quarantined
    if quarantined:
        reason = entries["bad"]["reason"]
        assert f"stated duration {stated:.2f} s" in reason and "lasts 3.00 s" in reason
        assert str(tmp_path / "videos" / "bad.mp4") in reason
        assert "bad_s1" not in set(tables["segments"]["segment_id"])
    else:
        assert videos.loc["bad", "duration"] == stated  # within tolerance: the annotation's own clock is kept
    assert "good" in videos.index


@pytest.mark.parametrize("template, variables, rendered", [
    ("What is {x.__class__} during {moment}?", {"moment": [0, 1]},
     "What is {x.__class__} during <t=0> ~ <t=1>?"),
    ("{moment.__class__.__mro__} {moment[0]} {moment!r} {moment:>99} {{moment}} {", {"moment": [0, 1]},
     "{moment.__class__.__mro__} {moment[0]} {moment!r} {moment:>99} {moment} {"),
    ("Who says {quote}?", {"quote": "{moment.__init__.__globals__}", "moment": [0, 1]},
     "Who says {moment.__init__.__globals__}?"),
])  # fmt: skip
def test_moment10m_templates_fill_plain_names_only_and_keep_the_rest_as_text(
    tmp_path, template, variables, rendered
):
    item = {"id": "hostile", "conversations": [{"human": template, "gpt": "It is {moment}."}],
            "variables": variables, "clip_similarity": 0.2}  # fmt: skip
    rc, tables, entries = run_ingest(tmp_path, "moment10m", "m10m_train.json",
                                     json.dumps({"good": {"qa_data": [item]}}))  # fmt: skip
    assert rc == 0 and entries == {}
    (conversation,) = tables["instructions"]["conversations"]
    assert json.loads(conversation) == [
        {"from": "human", "value": f"<video>\n{rendered}"},
        {"from": "gpt", "value": "It is <t=0> ~ <t=1>."},
    ]


def test_a_template_naming_a_missing_variable_is_quarantined(tmp_path):
    item = {"id": "lost", "conversations": [{"human": "When is {momnet}?", "gpt": "{moment}"}],
            "variables": {"moment": [0, 1]}, "clip_similarity": 0.2}  # fmt: skip
    rc, tables, entries = run_ingest(tmp_path, "moment10m", "m10m_train.json",
                                     json.dumps({"good": {"qa_data": [item]}}))  # fmt: skip
    assert rc == 0 and len(tables["instructions"]) == 0
    assert "names {momnet}, which is not one of its variables (moment)" in entries["lost"]["reason"]


def test_a_source_not_in_its_declared_format_ends_ingest_with_a_message_not_a_traceback(tmp_path, capsys):
    folder = tmp_path / "sample"
    folder.mkdir()
    (folder / "annotations.json").write_text(json.dumps({"format": "something else", "videos": []}))
    params = {"paths": {"work": str(tmp_path / "work")}, "data": {"sources": [{"format": "sample", "path": str(folder)}]}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    code = main(["ingest", "--params", str(tmp_path / "params.yaml")])
    err = capsys.readouterr().err
    assert code == 1 and "is not a" in err and "momentor sample-data" in err and "data.sources" in err


def test_a_sample_file_field_cannot_point_outside_the_data_folder(tmp_path):
    from momentor.data.formats import sample
    from momentor.data.sample_corpus import FORMAT

    folder = tmp_path / "sample"
    folder.mkdir()
    video = {"video_id": "v", "split": "train", "duration": 1.0, "events": [], "queries": [], "tracks": []}
    annotation = {"format": FORMAT, "fps": 8, "videos": [{**video, "file": "videos/v.mp4"},
                                                          {**video, "video_id": "up", "file": "../../etc/passwd"},
                                                          {**video, "video_id": "abs", "file": "/etc/passwd"}]}
    read = list(sample._videos(folder / "annotations.json", annotation, None))
    assert read[0].path == str(folder / "videos/v.mp4")
    assert [(r.item, "outside" in str(r.error)) for r in read[1:]] == [("up", True), ("abs", True)]


def test_two_sources_annotating_one_video_get_distinct_segment_ids(tmp_path):
    """ActivityNet and GESM both annotate `good`: the second source's segments follow the first's numbers."""
    both = {"good": {"timestamps": [[0.2, 1.2], [1.5, 2.5]], "captions": ["one.", "two."]}}
    rc, _, _ = run_ingest(tmp_path, "activitynet_captions", "anet_val.json", activitynet())
    assert rc == 0
    (tmp_path / "gesm.json").write_text(json.dumps({**GOOD_GESM, **both}))
    rc = main(["ingest", "--params", str(tmp_path / "params.yaml")])
    ids = list(read_manifest(tmp_path / "work" / "manifest")["segments"]["segment_id"])
    assert rc == 0 and len(ids) == len(set(ids))
    # good_s0 from ActivityNet, good_s1 and good_s2 from GESM (before: good_s0 twice)
    assert sorted(i for i in ids if i.startswith("good_")) == ["good_s0", "good_s1", "good_s2"]
