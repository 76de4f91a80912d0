"""``dag.test()`` of the retraining DAG: the KFP branch through a local KFP API server (fast), the whole
pipeline locally on the tiny preset (slow). Each asserts which gate branch ran."""

from __future__ import annotations

import json
import sys

import pytest

from airflow_testing import DAGS, ROOT, run_dag_runner

sys.path.insert(0, str(ROOT / "tests" / "components"))
from kfp_api_server import RUN_ID, KfpApiServer  # noqa: E402


def _run(home, conf: dict, timeout: float = 600) -> dict:
    return run_dag_runner(home, "test", str(DAGS), "momentor_retrain", json.dumps(conf), timeout=timeout)


def test_kfp_mode_promotes_then_skips_unchanged_data(airflow_home):
    with KfpApiServer(branch="promote") as server:
        result = _run(airflow_home, {"kfp_endpoint": server.url, "preset": "tiny", "stages": ["instruct"],
                                     "overrides": ["train.instruct.max_steps=2"]})
        (run,) = server.calls("POST", "/apis/v2beta1/runs")
    assert result["state"] == "success"
    assert result["tasks"]["publish_champion"] == "success"
    assert result["tasks"]["report_rejection"] == "skipped"
    published = result["xcom"]["publish_champion"]
    assert published["run"] == RUN_ID and published["data_version"] == result["xcom"]["check_data_version"]["version"]
    parameters = run["body"]["runtime_config"]["parameters"]
    assert parameters["preset"] == "tiny"
    assert parameters["overrides"] == ["train.gesm.enabled=false", "train.instruct.max_steps=2"]

    # the same data again, asked to skip unchanged data: nothing is submitted
    with KfpApiServer(branch="promote") as server:
        again = _run(airflow_home, {"kfp_endpoint": server.url, "skip_unchanged": True})
        assert server.calls("POST", "/apis/v2beta1/runs") == []
    assert again["tasks"]["run_request"] == "skipped"
    assert again["tasks"]["publish_champion"] == "skipped"


def test_kfp_mode_reports_a_rejected_candidate(airflow_home):
    with KfpApiServer(branch="report") as server:
        result = _run(airflow_home, {"kfp_endpoint": server.url, "gate_floors": {"grounding.R1@0.5": 101}})
        (run,) = server.calls("POST", "/apis/v2beta1/runs")
    assert result["tasks"]["report_rejection"] == "success"
    assert result["tasks"]["publish_champion"] == "skipped"
    assert run["body"]["runtime_config"]["parameters"]["gate_floors"] == {"grounding.R1@0.5": 101}


@pytest.mark.slow
@pytest.mark.integration
def test_local_mode_runs_the_whole_pipeline_and_branches_on_its_gate(airflow_home, tmp_path):
    small = ["data.sample.num_videos=6", "train.gesm.max_steps=2", "train.instruct.max_steps=2",
             f"paths.work={tmp_path / 'work'}"]
    passed = _run(airflow_home, {"preset": "tiny", "overrides": small}, timeout=1800)
    assert passed["tasks"]["publish_champion"] == "success" and passed["tasks"]["report_rejection"] == "skipped"
    assert passed["xcom"]["run_pipeline"]["mode"] == "local"
    assert passed["xcom"]["publish_champion"]["champion"] == str((tmp_path / "work" / "champion").resolve())

    failed = _run(airflow_home, {"preset": "tiny", "overrides": small, "gate_floors": {"grounding.R1@0.5": 101}},
                  timeout=1800)
    assert failed["tasks"]["report_rejection"] == "success" and failed["tasks"]["publish_champion"] == "skipped"
    assert [r["metric"] for r in failed["xcom"]["report_rejection"]["failed"]] == ["grounding.R1@0.5"]
