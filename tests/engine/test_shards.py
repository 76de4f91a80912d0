"""Sharded feature extraction and engine: the merged result is the one-process result, byte for byte.

Six sample videos (tiny preset) are run twice over one manifest: once as one process, once as 3 shards
through the CLI (``--shard K/3`` then ``--merge 3``). By ``sha256(video_id) mod 3`` the shards hold
{sample_001, sample_004}, {sample_000, sample_003, sample_005} and {sample_002}; sample_002's file is
corrupted after ingest, so shard 2 has nothing but a quarantined video (an empty part) and both
quarantines (features, engine) are merged too.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from momentor import config
from momentor.cli import main
from momentor.data import shards
from momentor.data.engine.run import run_engine
from momentor.data.features import extract_features
from momentor.data.ingest import ingest
from momentor.data.sample_corpus import build_sample_corpus

ROOT = Path(__file__).resolve().parents[2]
SHARDS = 3


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (locks and shard parts aside) by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.endswith(".lock") and "shards" not in p.parts}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    raw = {"model": {"preset": "tiny"}, "paths": {"work": str(root / "one" / "work")},
           "data": {"sources": [{"format": "sample", "path": str(root / "sample")}], "feature_bf16": False,
                    "sample": {"num_videos": 6, "size": 64, "fps": 8}}}
    cfg = config.from_dict(raw)
    build_sample_corpus(cfg.data.sample, root / "sample")
    ingest(cfg)
    (root / "sample" / "sample_002.mp4").write_bytes(b"\x00" * 1000)  # corrupted after ingest
    shutil.copytree(root / "one" / "work" / "manifest", root / "sharded" / "work" / "manifest")

    extract_features(cfg, progress=False)
    run_engine(cfg, out_dir=root / "one" / "work" / "dataset")

    work = root / "sharded" / "work"
    common = ["--params", str(ROOT / "params.yaml"), "-S", f"paths.work={work}", "-S", "model.preset=tiny",
              "-S", "data.feature_bf16=false", "--manifest", str(work / "manifest")]
    for k in range(SHARDS):
        assert main(["features", *common, "--no-progress", "--shard", f"{k}/{SHARDS}"]) == 0
    assert main(["features", *common, "--merge", str(SHARDS)]) == 0
    for k in range(SHARDS):
        assert main(["engine", *common, "--out", str(work / "dataset"), "--shard", f"{k}/{SHARDS}"]) == 0
    assert main(["engine", *common, "--out", str(work / "dataset"), "--merge", str(SHARDS)]) == 0
    return root / "one" / "work", work


def test_the_shards_split_the_videos_as_documented():
    videos = [f"sample_{i:03d}" for i in range(6)]
    assert [shards.shard_of(v, SHARDS) for v in videos] == [1, 0, 2, 1, 0, 1]
    # a video's shard depends on its id alone: another video in the manifest moves no one
    assert shards.shard_of("sample_004", SHARDS) == shards.shard_of("sample_004", SHARDS)
    assert {shards.shard_of(f"v{i}", 4) for i in range(40)} == {0, 1, 2, 3}


def test_merged_features_equal_the_one_process_features(runs):
    one, sharded = runs
    expected = _files(one / "features")
    assert len([name for name in expected if name.endswith(".safetensors")]) == 5  # sample_002 quarantined
    assert _files(sharded / "features") == expected


def test_merged_engine_tables_equal_the_one_process_tables(runs):
    one, sharded = runs
    expected = _files(one / "dataset")
    assert {"segments.parquet", "instructions.parquet", "quarantine.jsonl"} <= set(expected)
    # the engine's reason names the missing feature file, under each run's own work folder
    expected["quarantine.jsonl"] = expected["quarantine.jsonl"].replace(str(one).encode(), str(sharded).encode())
    assert _files(sharded / "dataset") == expected  # the manifest with the engine's rows, and the quarantine
    for name in ("tracks.parquet", "instance_event.parquet"):
        assert (sharded / "engine" / name).read_bytes() == (one / "engine" / name).read_bytes(), name
    reports = [json.loads((w / "engine" / "report.json").read_text()) for w in (one, sharded)]
    for report in reports:
        report.pop("seconds")
    assert reports[0] == reports[1] and reports[0]["quarantined"] == 1 and reports[0]["instructions"] > 0
    stages = [json.loads(line)["stage"] for line in (sharded / "dataset" / "quarantine.jsonl").read_text().splitlines()]
    assert stages == ["features", "engine"]


def test_a_merge_waits_for_every_shard_and_bad_shards_are_refused(runs, tmp_path, capsys):
    _, sharded = runs
    common = ["--params", str(ROOT / "params.yaml"), "-S", f"paths.work={tmp_path}", "-S", "model.preset=tiny",
              "--manifest", str(sharded / "manifest")]
    shutil.copytree(sharded / "shards" / "features" / "0-of-3", tmp_path / "shards" / "features" / "0-of-3")
    assert main(["features", *common, "--merge", "3"]) == 1
    err = capsys.readouterr().err
    assert "1-of-3" in err and "2-of-3" in err and "0-of-3" not in err and "--shard K/3" in err
    # a shard run again and killed halfway leaves no finished mark: its stale part is not merged
    shards.start_part(tmp_path / "shards" / "features" / "0-of-3")
    with pytest.raises(shards.ShardError, match="0-of-3"):
        shards.part_dirs(tmp_path, "features", 3)
    for bad in ("3/3", "1", "-1/2", "a/b"):
        assert main(["features", *common, f"--shard={bad}"]) == 1
        assert "is not K/N" in capsys.readouterr().err
