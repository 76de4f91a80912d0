"""Every DAG file parses (without momentor or kfp, as in the Airflow image), dag_id = file stem, the
retraining schedule is params.yaml's cron or the raw-data Asset that the ingestion DAG emits."""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

import pytest
import yaml

from airflow_testing import DAGS, ROOT, run_dag_runner

from momentor import step_graphs, steps

STEPS = ast.literal_eval((ROOT / step_graphs.AIRFLOW_TABLE).read_text().split("STEPS = ", 1)[1])


@pytest.fixture(scope="module")
def parsed(airflow_home) -> dict:
    return run_dag_runner(airflow_home, "inspect", str(DAGS), "--without-momentor")


def _dag_files() -> list[str]:
    ignored = (DAGS / ".airflowignore").read_text().split()
    return sorted(p.stem for p in DAGS.glob("*.py") if not any(fnmatch.fnmatch(p.name, g) for g in ignored))


def test_every_dag_file_imports_with_its_stem_as_dag_id(parsed):
    assert parsed["import_errors"] == {}
    assert _dag_files() == ["momentor_ingest", "momentor_retrain"]
    assert sorted(parsed["dags"]) == _dag_files()
    for dag_id, dag in parsed["dags"].items():
        assert dag["file"] == f"{dag_id}.py"
    assert parsed["heavy_modules"] == [], "parsing the DAGs imported heavy modules"


def test_retraining_runs_on_the_params_cron_or_new_raw_data(parsed):
    retrain, ingest = parsed["dags"]["momentor_retrain"], parsed["dags"]["momentor_ingest"]
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert retrain["timetable"] == "AssetOrTimeSchedule"
    assert retrain["cron"] == params["pipeline"]["schedule"], "dags/momentor_retrain.py SCHEDULE != params.yaml"
    assert retrain["assets"] == ["momentor://data/raw"]
    # the ingestion DAG is the producer the retraining waits for, after validation
    assert ingest["outlets"] == {"announce_raw_data": ["momentor://data/raw"]}
    assert ingest["tasks"]["validate"] == ["announce_raw_data"]
    assert retrain["outlets"] == {"publish_champion": ["momentor://model/champion"]}


def test_retraining_runs_the_step_tables_steps_then_promotes_or_reports(parsed):
    """One task per enabled step of momentor/steps.py, named and ordered as the table, with exactly its edges."""
    retrain = parsed["dags"]["momentor_retrain"]
    tasks = retrain["tasks"]
    table = steps.enabled_steps()
    names = [step.name for step in table]
    assert [t for t in tasks if t in names] == names, "the DAG's step tasks differ from the table's enabled steps"
    assert not {t for t in tasks if t not in names} & {step.name for step in steps.STEPS}, "a disabled step runs"
    # a sharded step: its mapped shard task (one instance per shard of the plan) after its needs, then its merge
    sharded = [step.name for step in table if step.sharded]
    entry = {step.name: f"{step.name}_shard" if step.sharded else step.name for step in table}
    edges = {(up, down) for up, downs in tasks.items() for down in downs
             if up in {*names, *entry.values()} and down in {*names, *entry.values()}}
    assert edges == ({(need, entry[step.name]) for step in table for need in step.needs}
                     | {(entry[name], name) for name in sharded})
    assert sharded == ["features", "engine"]
    assert {retrain["operators"][f"{name}_shard"] for name in sharded} == {"DecoratedMappedOperator"}
    for name in sharded:
        assert f"{name}_shard_requests" in tasks["plan_shards"] and f"{name}_shard" in tasks[f"{name}_shard_requests"]
    # the data first, then the steps, then the gate's branch
    assert tasks["resolve_data"] and list(tasks)[0] == "resolve_data"
    assert "check_data_version" in tasks["version_request"] and "run_request" in tasks["check_data_version"]
    passed = [step.name for step in table if step.when == "passed"]
    assert set(tasks["read_gate_decision"]) == {*passed, "publish_champion", "report_rejection"}
    assert "read_gate_decision" in tasks["gate"] and "report" in tasks["gate"]  # the report on both branches
    assert "promote" in tasks["report"] and "publish_champion" in tasks["promote"]
    assert "report_rejection" in tasks["report"]
    assert retrain["inlets"] == {"resolve_data": ["momentor://data/raw"]}  # reads the announced events


def test_the_retraining_trigger_asks_for_training_nodes_and_refuses_fewer_than_one(parsed):
    """``nodes`` (Kubeflow mode: more than 1 trains on a TrainJob); scheduled runs keep the pipeline's one."""
    import jsonschema

    schema = parsed["dags"]["momentor_retrain"]["params"]["nodes"]
    assert parsed["dags"]["momentor_retrain"]["defaults"]["nodes"] is None
    for good in (None, 1, 4):
        jsonschema.validate(good, schema)
    for bad in (0, -2, 1.5, "2"):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_every_task_retries_with_backoff_and_has_a_timeout(parsed):
    for dag_id, dag in parsed["dags"].items():
        for task_id, (retries, exponential, timeout) in dag["retries"].items():
            assert retries >= 2 and exponential and timeout, f"{dag_id}.{task_id}"
    steps = parsed["dags"]["momentor_retrain"]["retries"]
    assert steps["train_gesm"][2] > steps["gate"][2]  # training may take days, the gate minutes


def test_turning_the_dag_on_starts_nothing_before_the_next_slot(parsed):
    import datetime as dt

    retrain = parsed["dags"]["momentor_retrain"]
    assert retrain["start_date"] is None
    first = dt.datetime.fromisoformat(retrain["first_run"])
    now = dt.datetime.now(dt.UTC)
    assert now < first <= now + dt.timedelta(days=7), "unpausing would start a run for a past slot"
    assert (first.weekday(), first.hour, first.minute) == (0, 3, 0)  # the next Monday 03:00 of the cron
    # turned on one hour after a slot: the next slot, a week later. Airflow's run_immediately=False would run
    # the slot that just passed (CronTriggerTimetable._calc_first_run's 10% window), hence a zero window.
    assert retrain["first_run_after_a_slot"] == "2026-12-07T03:00:00+00:00"
    assert parsed["first_run_after_a_slot_if_run_immediately_false"] == "2026-11-30T03:00:00+00:00"


def test_kfp_mode_submits_and_waits_in_reschedule_mode(airflow_home):
    parsed = run_dag_runner(airflow_home, "inspect", str(DAGS), "--without-momentor",
                            env={"MOMENTOR_AIRFLOW_EXECUTION": "kfp", "MOMENTOR_KFP_ENDPOINT": "http://127.0.0.1:9"})
    retrain = parsed["dags"]["momentor_retrain"]
    assert parsed["import_errors"] == {}
    mode, timeout = retrain["modes"]["wait_for_pipeline"]
    assert mode == "reschedule" and timeout == 72 * 3600  # no worker slot held while KFP trains; bounded wait
    assert retrain["retries"]["wait_for_pipeline"][2] == 300  # one poll, not the wait
    assert not set(retrain["tasks"]) & {row["name"] for row in STEPS}  # the steps run on Kubeflow
    assert retrain["tasks"]["submit_pipeline"] == ["wait_for_pipeline"]
    assert set(retrain["tasks"]["read_gate_decision"]) == {"publish_champion", "report_rejection"}
    for task_id, (retries, exponential, task_timeout) in retrain["retries"].items():
        assert retries >= 2 and exponential and task_timeout, task_id


@pytest.mark.parametrize("env, names", [
    ({"MOMENTOR_AIRFLOW_EXECUTION": "kfp"}, "needs MOMENTOR_KFP_ENDPOINT"),
    ({"MOMENTOR_AIRFLOW_EXECUTION": "kubernetes", "MOMENTOR_WORKSPACE_PVC": "w", "MOMENTOR_KFP_ENDPOINT": "http://k"},
     "set MOMENTOR_AIRFLOW_EXECUTION=kfp"),
    ({"MOMENTOR_AIRFLOW_EXECUTION": "pods"}, "use local"),
], ids=["kfp-without-endpoint", "pods-and-an-endpoint", "unknown-mode"])
def test_a_misconfigured_deployment_is_an_import_error_that_says_what_to_set(airflow_home, env, names):
    parsed = run_dag_runner(airflow_home, "inspect", str(DAGS), "--without-momentor", env=env)
    assert sorted(Path(f).name for f in parsed["import_errors"]) == ["momentor_ingest.py", "momentor_retrain.py"]
    for message in parsed["import_errors"].values():
        assert names in message


def test_retraining_trigger_form(parsed):
    retrain = parsed["dags"]["momentor_retrain"]
    schema, defaults = retrain["params"], retrain["defaults"]
    assert schema["preset"]["enum"] == [None, "tiny", "cpu", "paper"]
    assert schema["gate_floors"]["type"] == "object"
    # optional strings are nullable: the UI form treats "" as a missing required value
    assert schema["raw_data_uri"]["type"] == ["null", "string"] and defaults["raw_data_uri"] is None
    assert schema["use_sample_corpus"]["type"] == "boolean" and defaults["use_sample_corpus"] is False
    assert schema["overrides"]["items"]["pattern"]


def test_pod_mode_needs_the_workspace_claim_and_the_kubernetes_provider(airflow_home):
    parsed = run_dag_runner(airflow_home, "inspect", str(DAGS), env={"MOMENTOR_AIRFLOW_EXECUTION": "kubernetes"})
    assert sorted(Path(f).name for f in parsed["import_errors"]) == ["momentor_ingest.py", "momentor_retrain.py"]
    for message in parsed["import_errors"].values():
        assert "needs MOMENTOR_WORKSPACE_PVC" in message
    parsed = run_dag_runner(airflow_home, "inspect", str(DAGS), env={"MOMENTOR_AIRFLOW_EXECUTION": "kubernetes",
                                                                     "MOMENTOR_WORKSPACE_PVC": "momentor-workspace"})
    for message in parsed["import_errors"].values():
        assert "needs apache-airflow-providers-cncf-kubernetes" in message
