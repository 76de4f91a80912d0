"""DVC runs the sharded steps as ``foreach`` stages and their merges, written by ``momentor pipeline compile``
from the step table with ``pipeline.shards`` of params.yaml (DVC has no loop over a number)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from momentor import config, step_graphs, steps

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _project(target: Path, shards: int, overrides: list[str]) -> Path:
    """A DVC project of the package's code, params.yaml with ``overrides`` and ``shards``, and its dvc.yaml."""
    for name in ("momentor", ".dvc"):
        shutil.copytree(ROOT / name, target / name,
                        ignore=shutil.ignore_patterns("__pycache__", "cache", "tmp"))
    cfg = config.load(ROOT / "params.yaml", [*overrides, f"pipeline.shards={shards}"])
    (target / "params.yaml").write_text(config.dump(cfg))
    (target / step_graphs.DVC_FILE).write_text(step_graphs.dvc_yaml(shards))
    return target


def _dvc(project: Path, *args: str) -> str:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run([str(BIN / "dvc"), *args], cwd=project, env=env, check=True, capture_output=True,
                          text=True).stdout


def test_one_shard_leaves_dvc_yaml_as_it_was():
    assert step_graphs.dvc_yaml() == step_graphs.dvc_yaml(1)
    assert "foreach" not in step_graphs.dvc_yaml(1) and "--shard" not in step_graphs.dvc_yaml(1)
    assert config.load(ROOT / "params.yaml").pipeline.shards == 1  # the committed dvc.yaml is the 1-shard one


def test_dvc_sees_each_shard_and_the_merge(tmp_path):
    stages = yaml.safe_load(step_graphs.dvc_yaml(3))["stages"]
    shard = stages["features_shard"]
    assert shard["foreach"] == [0, 1, 2]
    assert shard["do"]["cmd"].endswith("--shard ${item}/3")
    assert shard["do"]["outs"] == [{"work/shards/features/${item}-of-3": {"persist": True}}]  # a shard's own cache
    assert stages["features"]["cmd"].endswith("--merge 3")
    assert stages["engine_shard"]["do"]["outs"] == ["work/shards/engine/${item}-of-3"]
    assert stages["engine"]["outs"] == list(steps.step("engine").outs)
    assert "work/shards/engine/2-of-3" in stages["engine"]["deps"]
    # DVC's own reading of it: every shard is a stage between the step's inputs and its merge
    project = _project(tmp_path / "p", 2, [])
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    out = _dvc(project, "dag", "--md")
    nodes = dict(re.findall(r'(node\d+)\["([^"]+)"\]', out))
    edges = {(nodes[a], nodes[b]) for a, b in re.findall(r"(node\d+)-->(node\d+)", out)}
    for k in (0, 1):
        assert ("ingest", f"features_shard@{k}") in edges and (f"features_shard@{k}", "features") in edges
        assert ("features", f"engine_shard@{k}") in edges and (f"engine_shard@{k}", "engine") in edges
    assert ("validate", "engine_shard@0") in edges and ("features", "validate") in edges


@pytest.mark.slow
def test_dvc_repro_runs_the_shards_then_nothing(tmp_path):
    overrides = ["model.preset=tiny", "data.sample.num_videos=4", "data.sample.size=48", "data.feature_bf16=false"]
    project = _project(tmp_path / "p", 2, overrides)
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run([str(BIN / "momentor"), "sample-data"], cwd=project, check=True, capture_output=True)
    _dvc(project, "repro", "engine")
    features = next((project / "work" / "features").glob("*/index.parquet"))
    assert len(pd.read_parquet(features)) == 4
    parts = sorted(p.name for p in (project / "work" / "shards" / "features").iterdir() if p.is_dir())
    assert parts == ["0-of-2", "1-of-2"]
    engine_rows = pd.read_parquet(project / "work" / "dataset" / "segments.parquet")
    assert (engine_rows["origin"] == "engine").any()
    assert "Stage 'features_shard@0' didn't change" in _dvc(project, "repro", "engine")
