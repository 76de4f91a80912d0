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
from momentor_step_table import STEPS  # noqa: E402
from momentor_steps import after_gate, resolve_announced  # noqa: E402

SMALL = ["data.sample.num_videos=6", "train.gesm.max_steps=2", "train.instruct.max_steps=2"]


def _run(home, conf: dict, env: dict, timeout: float = 900) -> dict:
    return run_dag_runner(home, "test", str(DAGS), "momentor_retrain", json.dumps(conf), timeout=timeout, env=env)


def _event(day: int, name: str) -> dict:
    return {"timestamp": f"2026-12-0{day}T03:00:00+00:00", "extra": {"raw": f"/workspace/data/{name}",
                                                                    "version": f"v-{name}"}}


def test_the_newest_triggering_event_wins_and_the_skipped_ones_are_named():
    # several events queued before one run, listed out of order as a database may hand them over
    events = [_event(3, "b"), _event(1, "a"), _event(5, "c"), {"timestamp": "2026-12-04", "extra": {"x": 1}}]
    found = resolve_announced(None, events, [_event(9, "later")], use_sample=True)
    assert (found["raw"], found["version"], found["source"]) == ("/workspace/data/c", "v-c", "event")
    assert "4 raw-data events" in found["note"] and "newest (2026-12-05T03:00:00+00:00) wins" in found["note"]
    skipped = found["note"].split("Skipped: ", 1)[1].split("; ")
    assert [entry.split(" ", 1)[0] for entry in skipped] == [
        "2026-12-01T03:00:00+00:00", "2026-12-03T03:00:00+00:00", "2026-12-04"]
    assert "raw=/workspace/data/a version=v-a" in skipped[0]
    single = resolve_announced(None, [_event(1, "a")], [], use_sample=False)
    assert single["raw"] == "/workspace/data/a" and "Skipped" not in single["note"]


def test_a_run_no_event_triggered_trains_on_the_last_announced_data():
    found = resolve_announced(None, [], [_event(2, "b"), _event(1, "a")], use_sample=True)
    assert (found["raw"], found["version"], found["source"]) == ("/workspace/data/b", "v-b", "last-announced")


def test_nothing_announced_fails_with_what_to_do_unless_the_sample_corpus_was_asked_for():
    what_to_do = "nothing was ever announced.*momentor_ingest.*raw_data_uri.*use_sample_corpus"
    with pytest.raises(ValueError, match=what_to_do):
        resolve_announced(None, [], [], use_sample=False)
    with pytest.raises(ValueError, match="nothing was ever announced"):  # events without a folder announce nothing
        resolve_announced(None, [{"timestamp": "t", "extra": {"version": "v"}}], [], use_sample=False)
    found = resolve_announced(None, [], [], use_sample=True)
    assert (found["raw"], found["version"], found["source"]) == ("sample", None, "sample")


def test_an_explicit_folder_wins_over_every_event():
    found = resolve_announced("/mnt/drop", [_event(1, "a")], [_event(1, "a")], use_sample=False)
    assert (found["raw"], found["version"], found["source"]) == ("/mnt/drop", None, "explicit")


def test_the_gate_branch_follows_the_decision_and_the_report_runs_on_both_sides():
    table = [{"name": n, "when": w} for n, w in
             [("gate", "always"), ("export", "passed"), ("promote", "passed"), ("report", "always")]]
    assert after_gate(True, table) == ["export", "promote", "publish_champion"]
    assert after_gate(False, table) == ["report_rejection"]
    # the real table: everything after the gate that is not 'always' is the passing side's
    assert after_gate(True, STEPS)[:-1] == [row["name"] for row in STEPS if row["when"] == "passed"]
    assert [row["name"] for row in STEPS if row["when"] == "rejected"] == []


@pytest.mark.slow
@pytest.mark.integration
def test_two_runs_share_the_workspace_the_second_is_judged_against_the_first(clean_airflow_home, tmp_path):
    """The steps as tasks in the worker. The first run asks nothing of its few-step model (no baseline check,
    no champion yet) and is promoted; the second, with the default gate, is rejected by the random-baseline
    check, and judged against the champion the first run promoted, re-scored on the same queries. ~2 min:
    slow (the branch wiring has fast tests: test_dag_files, after_gate; the verbs: tests/eval, tests/infer)."""
    env = {"MOMENTOR_WORKSPACE": str(tmp_path / "workspace"), "MOMENTOR_CHAMPION": str(tmp_path / "champion")}
    conf = {"use_sample_corpus": True, "preset": "tiny", "overrides": [*SMALL, "gate.beat_random=[]"]}
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

    rejected = _run(clean_airflow_home, {**conf, "overrides": SMALL}, env)
    assert rejected["tasks"]["report_rejection"] == "success", rejected["tasks"]
    assert rejected["tasks"]["publish_champion"] == "skipped" and rejected["tasks"]["promote"] == "skipped"
    assert rejected["tasks"]["export"] == "skipped" and rejected["tasks"]["report"] == "success"
    decision = rejected["xcom"]["decision_of"]
    assert decision["champion"] == str(tmp_path / "champion")  # judged against the first run's champion
    failed = [(c["task"], c["check"]) for c in rejected["xcom"]["report_rejection"]["failed"]]
    assert ("grounding", "baseline:random") in failed
    compared = [c for c in decision["reasons"] if c["check"] == "champion"]
    assert compared and all(c["interval"] is not None for c in compared)  # on the same queries
    for run in (passed, rejected):
        folder = tmp_path / "workspace" / "runs" / run["xcom"]["resolve_data"]["run_dir"].rsplit("/", 1)[1]
        assert (folder / "work" / "report" / "index.html").is_file()
    assert json.loads((tmp_path / "champion" / "promotion.json").read_text()) == promotion


def test_nothing_announced_and_no_sample_asked_fails_with_what_to_do(clean_airflow_home, tmp_path):
    env = {"MOMENTOR_WORKSPACE": str(tmp_path / "workspace")}
    result = _run(clean_airflow_home, {"preset": "tiny"}, env)
    assert result["tasks"]["resolve_data"] == "failed" and result["tasks"]["ingest"] != "success"


@pytest.mark.parametrize("branch", ["promote", "report"])
def test_kfp_mode_submits_waits_in_reschedule_mode_and_follows_the_pipelines_gate(airflow_home, tmp_path, branch):
    """dag.test() runs a reschedule-mode sensor as the scheduler would: the poke raises a reschedule, the
    task goes UP_FOR_RESCHEDULE with a TaskReschedule row, and dag.test's loop runs it again once its
    reschedule date passed (ReadyToRescheduleDep). The fake KFP run answers RUNNING twice, then finishes."""
    drop = tmp_path / "drop"
    drop.mkdir()
    env = {"MOMENTOR_AIRFLOW_EXECUTION": "kfp", "MOMENTOR_KFP_POLL_SECONDS": "1",
           "MOMENTOR_WORKSPACE": str(tmp_path / "ws"), "MOMENTOR_WORKSPACE_PVC": "team-workspace",
           "MOMENTOR_TRAINJOB_TEMPLATE": "team-trainjob"}
    with KfpApiServer(branch=branch, running_polls=2) as server:
        result = _run(airflow_home, {"raw_data_uri": str(drop), "preset": "tiny", "nodes": 2,
                                     "overrides": ["train.instruct.max_steps=2"]},
                      {**env, "MOMENTOR_KFP_ENDPOINT": server.url})
        (run,) = server.calls("POST", "/apis/v2beta1/runs")
        polls = server.calls("GET", f"/apis/v2beta1/runs/{RUN_ID}")
    assert result["state"] == "success", result["tasks"]
    assert len(polls) == 3 and result["reschedules"] == {"wait_for_pipeline": 2}  # slot given back between polls
    parameters = run["body"]["runtime_config"]["parameters"]
    assert parameters["raw_data_uri"] == str(drop)
    assert parameters["workspace_pvc"] == "team-workspace"  # the pipeline's pods mount the same claim
    assert parameters["nodes"] == 2  # each training stage a 2-node TrainJob (tests/components/test_trainjob_step.py)
    assert parameters["trainjob_template"] == "team-trainjob"  # made from the momentor release's template
    assert sorted(parameters["overrides"]) == ['model.preset="tiny"', "train.instruct.max_steps=2"]
    assert not set(result["tasks"]) & {row["name"] for row in STEPS}  # no step ran in Airflow
    if branch == "promote":
        assert result["tasks"]["publish_champion"] == "success"
        assert result["tasks"]["report_rejection"] == "skipped"
    else:
        assert result["tasks"]["report_rejection"] == "success"
        assert result["tasks"]["publish_champion"] == "skipped"
        assert result["xcom"]["report_rejection"]["report"] == f"KFP run {RUN_ID}"
