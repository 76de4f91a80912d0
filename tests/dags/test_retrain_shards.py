"""The retraining DAG's local-steps mode with ``pipeline.shards=2``: ``dag.test()`` runs the plan, two mapped
instances of each sharded step and its merge, then the rest of the pipeline on the merged data (slow: a whole
run; the wiring has a fast test in test_dag_files, the shard verbs in tests/test_step_shards.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from airflow_testing import DAGS, run_dag_runner

SMALL = ["data.sample.num_videos=6", "train.gesm.max_steps=2", "train.instruct.max_steps=2", "gate.beat_random=[]"]


@pytest.mark.slow
@pytest.mark.integration
def test_a_run_with_two_shards_maps_each_sharded_step_and_merges(clean_airflow_home, tmp_path):
    env = {"MOMENTOR_WORKSPACE": str(tmp_path / "workspace"), "MOMENTOR_CHAMPION": str(tmp_path / "champion")}
    conf = {"use_sample_corpus": True, "preset": "tiny", "overrides": [*SMALL, "pipeline.shards=2"]}
    result = run_dag_runner(clean_airflow_home, "test", str(DAGS), "momentor_retrain", json.dumps(conf),
                            timeout=900, env=env)
    assert result["state"] == "success", result["tasks"]
    assert result["xcom"]["plan_shards"]["shards"] == ["0/2", "1/2"]
    for step in ("features", "engine"):
        assert result["tasks"][f"{step}_shard"] == "success" and result["tasks"][step] == "success"
        assert len(result["xcom"][f"{step}_shard_requests"]) == 2
    run_dir = Path(result["xcom"]["resolve_data"]["run_dir"])
    work = tmp_path / "workspace" / "runs" / run_dir.name / "work"
    for step in ("features", "engine"):
        parts = sorted(p.name for p in (work / "shards" / step).iterdir() if p.is_dir())
        assert parts == ["0-of-2", "1-of-2"], step
    (index,) = (work / "features").glob("*/index.parquet")
    assert len(pd.read_parquet(index)) == 6
    assert result["tasks"]["publish_champion"] == "success"
