"""Multi-node training from the retraining DAG (Kubeflow mode): the trigger's ``nodes`` Param reaches the
submitted pipeline run as its ``nodes`` parameter, which makes each training step a Kubeflow Trainer TrainJob
(tests/components/test_trainjob_step.py). In the default run: test_retrain_dag.py's Kubeflow-mode test
submits with ``nodes: 2``, test_dag_files.py checks the trigger form's Param. Here (slow, ~35 s): a run
without ``nodes`` leaves the pipeline's one node, against a local KFP API server."""

from __future__ import annotations

import json
import sys

import pytest

from airflow_testing import DAGS, ROOT, run_dag_runner

sys.path.insert(0, str(ROOT / "tests" / "components"))
from kfp_api_server import KfpApiServer  # noqa: E402


def _submit(home, tmp_path, conf: dict) -> tuple[dict, dict]:
    drop = tmp_path / "drop"
    drop.mkdir(exist_ok=True)
    env = {"MOMENTOR_AIRFLOW_EXECUTION": "kfp", "MOMENTOR_KFP_POLL_SECONDS": "1", "MOMENTOR_GPUS": "8",
           "MOMENTOR_WORKSPACE": str(tmp_path / "ws"), "MOMENTOR_WORKSPACE_PVC": "team-workspace"}
    with KfpApiServer(branch="promote") as server:
        result = run_dag_runner(home, "test", str(DAGS), "momentor_retrain",
                                json.dumps({"raw_data_uri": str(drop), **conf}), timeout=600,
                                env={**env, "MOMENTOR_KFP_ENDPOINT": server.url})
        runs = server.calls("POST", "/apis/v2beta1/runs")
    return result, runs[0]["body"]["runtime_config"]["parameters"] if runs else {}


@pytest.mark.slow
def test_without_nodes_the_pipeline_keeps_its_one_node(airflow_home, tmp_path):
    result, parameters = _submit(airflow_home, tmp_path, {})
    assert result["state"] == "success", result["tasks"]
    assert "nodes" not in parameters and parameters["gpus"] == 8
