"""``momentor validate`` end to end: a good manifest passes; each kind of bad data fails its expectation."""

import argparse
import hashlib
import json
import math
from pathlib import Path

import pytest
import torch
import yaml
from manifests import conversation, project_config, write_features, write_good_manifest

from momentor.cli import common_parser
from momentor.data.manifest import read_table, write_table
from momentor.validate import commands
from momentor.validate.run import validate


def _files(root: Path) -> dict[str, str]:
    """Content hash of every file under ``root`` except the validation report."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "validate" not in p.relative_to(root).parts
    }


def _failed(run) -> set[tuple[str, str, str | None]]:
    return {(o.table, o.expectation, o.column) for t in run.results for o in t.outcomes if not o.success}


def _append(manifest: Path, name: str, rows: list[dict]) -> None:
    table = read_table(manifest, name)
    write_table(manifest, name, [*table.to_dict("records"), *rows])


def _verb(cfg, tmp_path, *extra) -> int:
    params = tmp_path / "params.yaml"
    params.write_text(
        yaml.safe_dump(
            {
                "model": {"preset": "tiny"},
                "paths": {"work": cfg.paths.work},
                "data": {"feature_bf16": False, "past_end_policy": cfg.data.past_end_policy},
                "validate": {"stop_on_failure": cfg.validate.stop_on_failure},
            }
        )
    )
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers(dest="verb"), common_parser())
    args = parser.parse_args(["validate", "--params", str(params), *extra])
    return args.handler(args)


def test_a_good_manifest_passes_and_writes_a_small_result(tmp_path, capsys):
    cfg = project_config(tmp_path)
    write_good_manifest(cfg)
    assert _verb(cfg, tmp_path) == 0
    assert "validation passed" in capsys.readouterr().out
    report = Path(cfg.paths.work) / "validate"
    result = json.loads((report / "result.json").read_text())
    assert result["success"] is True and result["past_end_policy"] == "clip"
    assert result["tables"]["instructions"] == {"rows": 3, "expectations": 12, "failed": 0}
    assert set(result["tables"]) == {
        "videos",
        "segments",
        "queries",
        "query_windows",
        "tracks",
        "frame_labels",
        "instructions",
        "features",
    }
    assert not (report / "failures.json").exists()
    index = (report / "data_docs" / "index.html").read_text()
    assert "instructions" in index and "features" in index


@pytest.fixture
def bad_project(tmp_path):
    """The good manifest plus one bad row per kind of defect (each in its own row)."""
    cfg = project_config(tmp_path)
    manifest = write_good_manifest(cfg)
    work = Path(cfg.paths.work)
    (work / "videos" / "v4.mp4").write_bytes(b"x")
    _append(
        manifest,
        "videos",
        [
            {
                "video_id": "v3",
                "path": str(work / "videos" / "gone.mp4"),
                "duration": 5.0,
                "fps": 8.0,
                "source": "sample",
                "split": "train",
                "sha256": "sha3",
            },
            {
                "video_id": "v4",
                "path": str(work / "videos" / "v4.mp4"),
                "duration": 5.0,
                "fps": 8.0,
                "source": "sample",
                "split": "val",
                "sha256": "sha4",
            },
        ],
    )
    seg = {"video_id": "v0", "caption": "something", "origin": "gt"}
    _append(
        manifest,
        "segments",
        [
            {**seg, "segment_id": "bad_order", "start": 5.0, "end": 3.0},
            {**seg, "segment_id": "bad_past", "video_id": "v1", "start": 2.0, "end": 9.0},
            {**seg, "segment_id": "bad_caption", "start": 1.0, "end": 2.0, "caption": "   "},
            {**seg, "segment_id": "bad_negative", "start": -1.0, "end": 2.0},
            {**seg, "segment_id": "bad_video", "video_id": "nope", "start": 1.0, "end": 2.0},
        ],
    )
    query = {
        "video_id": "v0",
        "text": "x",
        "split": "train",
        "source": "sample",
        "relevant_clip_ids": [],
        "saliency_scores": [],
    }
    _append(
        manifest,
        "queries",
        [
            {**query, "query_id": "q0", "windows": [[1.0, 2.0]]},
            {**query, "query_id": "bad_window", "windows": [[5.0, 1.0]]},
        ],
    )
    ins = {"video_id": "v1", "task": "gesm", "score": 0.5, "split": "train"}
    _append(
        manifest,
        "instructions",
        [
            {**ins, "instruction_id": "i0", "conversations": conversation("Again?", "Yes.")},
            {
                **ins,
                "instruction_id": "bad_task",
                "task": "captioning",
                "conversations": conversation("a", "b"),
            },
            {
                **ins,
                "instruction_id": "bad_video_token",
                "conversations": conversation("a", "b").replace("<video>\\n", ""),
            },
            {
                **ins,
                "instruction_id": "bad_score",
                "score": math.nan,
                "conversations": conversation("a", "b"),
            },
            {**ins, "instruction_id": "bad_past", "conversations": conversation("When?", "<t=2> ~ <t=99>.")},
            {**ins, "instruction_id": "bad_time", "conversations": conversation("When?", "<t=1e3>.")},
        ],
    )
    _append(
        manifest,
        "tracks",
        [
            {
                "track_id": "bad_box",
                "video_id": "v0",
                "label": "x",
                "times": [1.0],
                "boxes": [[0.1, 0.1, 1.5, 0.3]],
            },
            {
                "track_id": "bad_count",
                "video_id": "v0",
                "label": "x",
                "times": [1.0, 2.0],
                "boxes": [[0, 0, 1, 1]],
            },
        ],
    )
    write_features(cfg, "v1", 8.5, "sha1", poison=float("nan"))
    write_features(cfg, "v4", 5.0, "sha4", d=7, dtype=torch.float64)
    return cfg


EXPECTED_FAILURES = {
    ("videos", "expect_column_values_to_be_in_set", "file_status"),
    ("segments", "expect_column_pair_values_a_to_be_greater_than_b", "end, start"),
    ("segments", "expect_column_values_to_be_between", "end_past_video_s"),
    ("segments", "expect_column_values_to_match_regex", "caption"),
    ("segments", "expect_column_values_to_be_between", "start"),
    ("segments", "expect_column_values_to_not_be_null", "video_duration"),
    ("queries", "expect_column_values_to_be_unique", "query_id"),
    ("query_windows", "expect_column_pair_values_a_to_be_greater_than_b", "end, start"),
    ("instructions", "expect_column_values_to_be_unique", "instruction_id_code"),
    ("instructions", "expect_column_values_to_be_in_set", "task"),
    ("instructions", "expect_column_values_to_be_in_set", "video_in_first_turn"),
    ("instructions", "expect_column_values_to_not_be_null", "score"),
    ("instructions", "expect_column_values_to_be_between", "end_past_video_s"),
    ("instructions", "expect_column_values_to_be_between", "unparsed_timestamps"),
    ("tracks", "expect_column_values_to_be_between", "max_box_coordinate"),
    ("tracks", "expect_column_pair_values_to_be_equal", "time_count, box_count"),
    ("features", "expect_column_values_to_not_be_null", "feature_file"),
    ("features", "expect_column_values_to_be_between", "nonfinite_values"),
    ("features", "expect_column_values_to_be_in_set", "dim"),
    ("features", "expect_column_values_to_be_in_set", "dtype"),
}


def test_each_kind_of_bad_data_fails_its_own_expectation(bad_project):
    run = validate(bad_project)
    assert not run.success
    assert _failed(run) == EXPECTED_FAILURES
    examples = {(o.table, o.column): o.examples for t in run.results for o in t.outcomes if not o.success}
    assert examples["instructions", "task"] == [{"instruction_id": "bad_task", "task": "captioning"}]
    assert examples["segments", "end_past_video_s"][0]["segment_id"] == "bad_past"
    assert examples["segments", "end_past_video_s"][0]["video_duration"] == 8.5
    assert examples["features", "feature_file"][0]["video_id"] == "v3"
    assert examples["instructions", "video_in_first_turn"][0]["instruction_id"] == "bad_video_token"
    assert {e["instruction_id"] for e in examples["instructions", "instruction_id_code"]} == {"i0"}


def test_a_failed_run_stops_with_a_readable_report_and_touches_nothing_else(bad_project, tmp_path, capsys):
    work = Path(bad_project.paths.work)
    (work / "validate").mkdir()
    (work / "validate" / "result.json").write_text('{"success": true}')  # a stale pass must not survive
    before = _files(work)
    assert _verb(bad_project, tmp_path) == 1
    assert _files(work) == before  # manifest, features and videos untouched
    err = capsys.readouterr().err
    assert err.startswith("validation FAILED: 20 of ")
    assert len(err.splitlines()) <= 40  # one screen: the rest is in failures.json and Data Docs
    assert "FAIL expect_column_values_to_be_in_set(task)" in err and '"bad_task"' in err
    report = work / "validate"
    assert not (report / "result.json").exists()
    assert len(json.loads((report / "failures.json").read_text())) == 20
    assert (report / "data_docs" / "index.html").exists() and (report / "summary.txt").exists()


def test_without_stop_on_failure_the_run_exits_zero_and_records_the_failure(tmp_path):
    cfg = project_config(tmp_path, stop=False)
    manifest = write_good_manifest(cfg)
    _append(
        manifest,
        "segments",
        [{"segment_id": "x", "video_id": "v0", "start": 3.0, "end": 1.0, "caption": "c", "origin": "gt"}],
    )
    assert _verb(cfg, tmp_path, "--suite", "manifest") == 0
    result = json.loads((Path(cfg.paths.work) / "validate" / "result.json").read_text())
    assert result["success"] is False and result["tables"]["segments"]["failed"] == 1
    assert "instructions" not in result["tables"]  # only the asked suite


@pytest.mark.parametrize("policy", ["clip", "keep"])
def test_past_end_rule_follows_the_policy(tmp_path, policy):
    cfg = project_config(tmp_path, policy=policy)
    manifest = write_good_manifest(cfg)
    _append(
        manifest,
        "segments",
        [{"segment_id": "long", "video_id": "v0", "start": 6.0, "end": 12.0, "caption": "c", "origin": "gt"}],
    )
    run = validate(cfg, groups=["manifest"])
    if policy == "clip":
        assert _failed(run) == {("segments", "expect_column_values_to_be_between", "end_past_video_s")}
    else:
        assert run.success  # keep: ends past the video are allowed ...
        _append(
            manifest,
            "segments",
            [
                {
                    "segment_id": "after",
                    "video_id": "v0",
                    "start": 10.0,
                    "end": 11.0,
                    "caption": "c",
                    "origin": "gt",
                }
            ],
        )
        # ... but not a start at or after the end
        run = validate(cfg, groups=["manifest"])
        assert _failed(run) == {("segments", "expect_column_values_to_be_between", "start_past_video_s")}


def test_a_missing_or_misshapen_table_is_named(tmp_path):
    cfg = project_config(tmp_path)
    manifest = write_good_manifest(cfg)
    (manifest / "tracks.parquet").unlink()
    table = read_table(manifest, "frame_labels").drop(columns=["fps"])
    table.to_parquet(manifest / "frame_labels.parquet", index=False)
    run = validate(cfg, groups=["manifest"])
    assert _failed(run) == {
        ("tracks", "expect_table_columns_to_match_set", None),
        ("frame_labels", "expect_table_columns_to_match_set", None),
    }


def test_a_relative_report_folder_works(tmp_path, monkeypatch, capsys):
    # DVC and the README pass relative paths; GX's Data Docs store refuses them unless resolved
    cfg = project_config(tmp_path)
    write_good_manifest(cfg)
    monkeypatch.chdir(tmp_path)
    assert _verb(cfg, tmp_path, "--report", "relative/report") == 0
    assert (tmp_path / "relative" / "report" / "data_docs" / "index.html").exists()


def test_a_video_id_that_is_not_a_safe_file_name_fails_the_manifest_suite(tmp_path):
    cfg = project_config(tmp_path)
    manifest = write_good_manifest(cfg)
    row = read_table(manifest, "videos").to_dict("records")[0]
    _append(manifest, "videos", [{**row, "video_id": "../../champion/checkpoint/trainable"}])
    run = validate(cfg, groups=["manifest"])
    assert not run.success
    assert ("videos", "expect_column_values_to_match_regex", "video_id") in _failed(run)


def test_an_empty_corpus_fails_validation_and_says_why(tmp_path, capsys):
    """Every video quarantined at ingest (here: its file is missing) leaves an empty manifest, which
    `momentor validate` refuses, instead of training failing on it later (issue #27)."""
    from momentor.cli import main

    (tmp_path / "events.json").write_text(json.dumps({"gone": {"timestamps": [[0, 1]], "captions": ["x"]}}))
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({
        "model": {"preset": "tiny"},
        "paths": {"work": str(tmp_path / "work")},
        "data": {"sources": [{"format": "gesm", "path": str(tmp_path / "events.json"),
                              "videos": str(tmp_path), "split": "train"}]},
    }))  # fmt: skip
    assert main(["ingest", "--params", str(params)]) == 0  # quarantines its one video and goes on
    capsys.readouterr()
    assert main(["validate", "--params", str(params), "--suite", "manifest"]) == 1
    err = capsys.readouterr().err
    assert "expect_table_row_count_to_be_between" in err and "at least one video" in err
    assert "quarantine" in err
    failures = json.loads((tmp_path / "work" / "validate" / "failures.json").read_text())
    assert [(f["table"], f["expectation"]) for f in failures] == [
        ("videos", "expect_table_row_count_to_be_between")
    ]
