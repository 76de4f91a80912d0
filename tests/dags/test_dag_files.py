"""Every DAG file parses (without momentor or kfp, as in the Airflow image), dag_id = file stem, the
retraining schedule is params.yaml's cron or the raw-data Asset that the ingestion DAG emits."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest
import yaml

from airflow_testing import DAGS, ROOT, run_dag_runner


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


def test_retraining_tasks_and_trigger_form(parsed):
    retrain = parsed["dags"]["momentor_retrain"]
    tasks = retrain["tasks"]
    # data version -> run -> the gate's branch -> promote or report
    assert "run_request" in tasks["check_data_version"] and "run_pipeline" in tasks["run_request"]
    assert "read_gate_decision" in tasks["run_pipeline"]
    assert tasks["read_gate_decision"] == ["publish_champion", "report_rejection"]
    schema = retrain["params"]
    assert schema["preset"]["enum"] == [None, "tiny", "cpu", "paper"]
    assert schema["stages"]["items"]["enum"] == ["align", "gesm", "instruct"]
    assert schema["gate_floors"]["type"] == "object"
    # optional strings are nullable: the UI form treats "" as a missing required value
    assert schema["kfp_endpoint"]["type"] == ["null", "string"] and retrain["defaults"]["kfp_endpoint"] is None
    assert schema["overrides"]["items"]["pattern"]


def test_pod_mode_without_the_kubernetes_provider_says_what_to_install(airflow_home):
    parsed = run_dag_runner(airflow_home, "inspect", str(DAGS), env={"MOMENTOR_AIRFLOW_EXECUTION": "kubernetes"})
    assert sorted(Path(f).name for f in parsed["import_errors"]) == ["momentor_ingest.py", "momentor_retrain.py"]
    for message in parsed["import_errors"].values():
        assert "needs apache-airflow-providers-cncf-kubernetes" in message
