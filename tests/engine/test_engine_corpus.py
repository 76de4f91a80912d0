"""The whole engine on the sample corpus: boundary F1 against the known boundaries, manifest outputs, CLI.

The corpus videos are real H.264 files and the features come from the real frozen encoder of the ``cpu``
preset (EfficientNet-Lite0 with its ImageNet weights), so merging judges similarity as it does in the
pipeline. Measured on the full 48-video corpus with the default params: boundary precision = recall = F1 =
1.00 (99 of 99 boundaries, tolerance 1 s; also at 0.125 s). The test asserts F1 >= 0.9 on the first 6.
"""

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from momentor import config
from momentor.cli import common_parser
from momentor.data.engine import commands
from momentor.data.engine.run import run_engine
from momentor.data.features import extract_features
from momentor.model.prompt import TIME_PATTERN
from momentor.data.ingest import ingest
from momentor.data.manifest import TASKS, read_table, write_table
from momentor.data.quarantine import read_quarantine
from momentor.data.sample_corpus import build_sample_corpus

F1_FLOOR = 0.9


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("engine")
    raw = {
        "paths": {"work": str(root / "work")},
        "data": {
            "sources": [{"format": "sample", "path": str(root / "sample")}],
            "sample": {"num_videos": 6},
        },
    }
    cfg = config.from_dict(raw)
    build_sample_corpus(cfg.data.sample, root / "sample")
    ingest(cfg)
    extract_features(cfg, progress=False)
    return cfg, raw


@pytest.fixture(scope="module")
def report(project):
    return run_engine(project[0])


def test_boundaries_match_the_known_ones(report):
    merged = report["boundaries"]["after_merging"]
    assert merged["actual"] >= 8  # 6 videos of 2-4 events
    assert merged["f1"] >= F1_FLOOR, merged
    assert report["boundaries"]["tolerance_s"] == 1.0


def test_engine_writes_segments_and_instructions_into_the_manifest(project, report):
    cfg, _ = project
    folder = f"{cfg.paths.work}/manifest"
    segments = read_table(folder, "segments")
    assert (segments["origin"] == "gt").sum() > 0  # the annotated rows are kept
    engine = segments[segments["origin"] == "engine"]
    assert len(engine) == report["engine_segments"] and (engine["end"] > engine["start"]).all()
    instructions = read_table(folder, "instructions")
    assert len(instructions) == report["instructions"]
    assert set(instructions["task"]) == set(TASKS)  # gesm + all 8 task types
    assert instructions["instruction_id"].is_unique and (instructions["score"] >= 0.5).all()
    for text in instructions["conversations"].head(50):
        turns = json.loads(text)
        assert turns[0]["from"] == "human" and "<video>" in turns[0]["value"]
    # every annotated query is a localization instruction with its own window
    queries = read_table(folder, "queries")
    asked = instructions[instructions["task"] == "direct_segment_localization"]["conversations"]
    for text, windows in zip(queries["text"], queries["windows"]):
        hits = [json.loads(c)[1]["value"] for c in asked if f"{text}?" in c or f"{text}." in c]
        times = [[float(t) for t in TIME_PATTERN.findall(h)] for h in hits]
        assert any(np.allclose(t, windows[0], atol=0.01) for t in times), (text, windows, hits)
    matrix = pd.read_parquet(f"{cfg.paths.work}/engine/instance_event.parquet")
    assert set(matrix["instance_id"]) == set(read_table(f"{cfg.paths.work}/engine", "tracks")["track_id"])
    # the colour detector finds the annotated shapes (it also finds coloured blobs in the real clips)
    assert report["instance_labels_vs_annotated_tracks"]["recall"] > 0.9


def test_rerun_replaces_the_engines_rows_and_oracle_detector_runs(project, report):
    cfg, raw = project
    oracle = config.from_dict(raw, ["engine.detector=oracle"])
    again = run_engine(oracle)
    instructions = read_table(f"{cfg.paths.work}/manifest", "instructions")
    assert len(instructions) == again["instructions"] and instructions["instruction_id"].is_unique
    assert (
        again["instance_labels_vs_annotated_tracks"]["f1"] > 0.99
    )  # flicker shorter than 3 frames is dropped
    segments = read_table(f"{cfg.paths.work}/manifest", "segments")
    assert (segments["origin"] == "engine").sum() == again["engine_segments"]


def test_a_video_that_fails_goes_to_quarantine_and_the_rest_run(project, tmp_path):
    cfg, raw = project
    work = tmp_path / "work"
    shutil.copytree(cfg.paths.work, work)
    videos = read_table(work / "manifest", "videos")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video" * 100)
    videos.loc[0, "path"] = str(broken)
    write_table(work / "manifest", "videos", videos)
    result = run_engine(config.from_dict({**raw, "paths": {"work": str(work)}}))
    assert result["quarantined"] == 1 and result["engine_segments"] > 0
    (entry,) = [e for e in read_quarantine(work / "manifest" / "quarantine.jsonl") if e["stage"] == "engine"]
    assert entry["item"] == videos.loc[0, "video_id"] and "container" in entry["reason"]


def test_engine_verb_writes_an_enriched_copy_and_leaves_the_input(project, capsys, tmp_path):
    cfg, raw = project
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps(raw))  # JSON is YAML
    source = Path(cfg.paths.work) / "manifest"
    before = {p.name: p.read_bytes() for p in source.iterdir()}
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers(dest="verb"), common_parser())
    args = parser.parse_args(
        ["engine", "--params", str(params), "--manifest", str(source), "--out", str(tmp_path / "ds")]
    )
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert "boundaries vs annotated (tolerance 1.0 s)" in out and "instructions kept" in out
    assert {p.name: p.read_bytes() for p in source.iterdir()} == before
    assert set(read_table(tmp_path / "ds", "instructions")["task"]) == set(TASKS)


def test_engine_output_passes_validation(project, report):
    from momentor.validate.run import validate

    cfg, _ = project
    run = validate(cfg, groups=["manifest", "instructions", "features"])
    assert run.success, run.summary
    (instructions,) = [t for t in run.results if t.table == "instructions"]
    assert instructions.rows == len(read_table(f"{cfg.paths.work}/manifest", "instructions")) > 100
