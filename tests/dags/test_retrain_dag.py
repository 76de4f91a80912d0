"""The retraining DAG: which data a run trains on (unit tests of its rule), the steps run in the worker
through ``dag.test()`` on the tiny preset (two runs sharing a workspace: the second is judged against the
first's champion), and the Kubeflow mode against a local KFP API server. Each asserts which branch ran."""

from __future__ import annotations

import json
import sys

import pytest

from airflow_testing import DAGS, ROOT, run_dag_runner

sys.path.insert(0, str(ROOT / "tests" / "components"))
sys.path.insert(0, str(DAGS))
from kfp_api_server import RUN_ID, KfpApiServer  # noqa: E402
from momentor_steps import resolve_announced  # noqa: E402

SMALL = ["data.sample.num_videos=6", "train.gesm.max_steps=2", "train.instruct.max_steps=2"]


def _run(home, conf: dict, env: dict, timeout: float = 900) -> dict:
    return run_dag_runner(home, "test", str(DAGS), "momentor_retrain", json.dumps(conf), timeout=timeout, env=env)


def test_the_newest_triggering_event_wins_and_says_which_it_skipped():
    events = [{"raw": "/workspace/data/a", "version": "v1"}, {"raw": "/workspace/data/b", "version": "v2"}]
    found = resolve_announced(None, events, [{"raw": "/old", "version": "v0"}], use_sample=True)
    assert (found["raw"], found["version"], found["source"]) == ("/workspace/data/b", "v2", "event")
    assert "newest (v2) wins" in found["note"] and "skipped v1" in found["note"]


def test_a_scheduled_run_trains_on_the_last_announced_data_never_silently_on_the_sample():
    announced = [{"raw": "/workspace/data/a", "version": "v1"}, {"raw": "/workspace/data/b", "version": "v2"}]
    found = resolve_announced(None, [], announced, use_sample=True)
    assert (found["raw"], found["version"], found["source"]) == ("/workspace/data/b", "v2", "last-announced")
    with pytest.raises(ValueError, match="nothing was ever announced.*momentor_ingest.*use_sample_corpus"):
        resolve_announced(None, [], [], use_sample=False)
    assert resolve_announced(None, [], [], use_sample=True)["raw"] == "sample"


def test_an_explicit_folder_wins_over_every_event():
    found = resolve_announced("/mnt/drop", [{"raw": "/a", "version": "v1"}], [], use_sample=False)
    assert (found["raw"], found["version"], found["source"]) == ("/mnt/drop", None, "explicit")


@pytest.mark.integration
def test_two_runs_share_the_workspace_the_second_is_judged_against_the_first(clean_airflow_home, tmp_path):
    """The steps as tasks in the worker; the second run's impossible floor rejects it, against the champion
    the first run promoted. ~2 min."""
    env = {"MOMENTOR_WORKSPACE": str(tmp_path / "workspace"), "MOMENTOR_CHAMPION": str(tmp_path / "champion")}
    conf = {"use_sample_corpus": True, "preset": "tiny", "overrides": SMALL}
    passed = _run(clean_airflow_home, conf, env)
    assert passed["state"] == "success", passed["tasks"]
    assert passed["tasks"]["publish_champion"] == "success" and passed["tasks"]["report_rejection"] == "skipped"
    assert passed["tasks"]["export"] == "success" and passed["tasks"]["report"] == "success"
    resolved = passed["xcom"]["resolve_data"]
    assert resolved["source"] == "sample"
    run_dir = tmp_path / "workspace" / "runs" / resolved["run_dir"].rsplit("/", 1)[1]
    recorded = json.loads((run_dir / "data_version.json").read_text())
    assert passed["xcom"]["publish_champion"]["data_version"] == recorded["version"]
    assert (run_dir / "work" / "train" / "instruct" / "final").is_dir()  # checkpoints in the run folder
    promotion = json.loads((tmp_path / "champion" / "promotion.json").read_text())
    assert promotion["checkpoint"].startswith(str(run_dir))

    rejected = _run(clean_airflow_home, {**conf, "gate_floors": {"grounding.R1@0.5": 101}}, env)
    assert rejected["tasks"]["report_rejection"] == "success", rejected["tasks"]
    assert rejected["tasks"]["publish_champion"] == "skipped" and rejected["tasks"]["promote"] == "skipped"
    assert rejected["tasks"]["export"] == "skipped" and rejected["tasks"]["report"] == "success"
    decision = rejected["xcom"]["decision_of"]
    assert decision["champion"] == str(tmp_path / "champion")  # judged against the first run's champion
    assert [r["metric"] for r in rejected["xcom"]["report_rejection"]["failed"]] == ["grounding.R1@0.5"]
    assert json.loads((tmp_path / "champion" / "promotion.json").read_text()) == promotion


def test_nothing_announced_and_no_sample_asked_fails_with_what_to_do(clean_airflow_home, tmp_path):
    env = {"MOMENTOR_WORKSPACE": str(tmp_path / "workspace")}
    result = _run(clean_airflow_home, {"preset": "tiny"}, env)
    assert result["tasks"]["resolve_data"] == "failed" and result["tasks"]["ingest"] != "success"


@pytest.mark.parametrize("branch", ["promote", "report"])
def test_kfp_mode_submits_waits_and_follows_the_pipelines_gate(airflow_home, tmp_path, branch):
    drop = tmp_path / "drop"
    drop.mkdir()
    with KfpApiServer(branch=branch) as server:
        result = _run(airflow_home, {"raw_data_uri": str(drop), "preset": "tiny",
                                     "overrides": ["train.instruct.max_steps=2"]},
                      {"MOMENTOR_KFP_ENDPOINT": server.url, "MOMENTOR_WORKSPACE": str(tmp_path / "ws")})
        (run,) = server.calls("POST", "/apis/v2beta1/runs")
        assert server.calls("GET", f"/apis/v2beta1/runs/{RUN_ID}")  # the sensor polled the run
    assert result["state"] == "success", result["tasks"]
    parameters = run["body"]["runtime_config"]["parameters"]
    assert parameters["raw_data_uri"] == str(drop)
    assert sorted(parameters["overrides"]) == ['model.preset="tiny"', "train.instruct.max_steps=2"]
    if branch == "promote":
        assert result["tasks"]["publish_champion"] == "success"
        assert result["tasks"]["report_rejection"] == "skipped"
    else:
        assert result["tasks"]["report_rejection"] == "success"
        assert result["tasks"]["publish_champion"] == "skipped"
        assert result["xcom"]["report_rejection"]["report"] == f"KFP run {RUN_ID}"
