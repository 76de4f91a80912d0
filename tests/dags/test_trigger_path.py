"""New data retrains through Airflow itself: the ingestion DAG, triggered over the REST API on a corpus that is
not the sample corpus, announces the raw-data Asset; Airflow's scheduler turns that event into an
asset-triggered ``momentor_retrain`` run (no hand-built context, no ``dag.test``), which trains on exactly the
announced data and version.

Airflow runs as in production, minus the cluster: dag-processor, scheduler (LocalExecutor) and api-server on
127.0.0.1 with SQLite (``airflow_services.py``). The project is a temporary one (``MOMENTOR_PROJECT_DIR``) whose
params.yaml is the repo's with the tiny preset and two training steps per stage: an asset-triggered run takes
no conf, so what keeps it small is the project's params file, as a deployment's ConfigMap would. ~2 min here
(services up in ~10 s, ingestion ~25 s, retraining ~80 s).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from airflow_services import AirflowServices
from airflow_testing import ROOT, airflow_env

from momentor.config import SampleCorpusConfig
from momentor.data.sample_corpus import build_sample_corpus

pytestmark = [pytest.mark.integration]  # ~2 min: the proof that retraining trains on what was announced
SMALL = {"model.preset": "tiny", "data.feature_bf16": False, "train.gesm.max_steps": 2,
         "train.instruct.max_steps": 2}


def _project(folder: Path) -> Path:
    """A project folder whose params.yaml is the repo's with :data:`SMALL` set."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for key, value in SMALL.items():
        *parents, leaf = key.split(".")
        node = params
        for part in parents:
            node = node[part]
        assert leaf in node, f"params.yaml has no {key}"
        node[leaf] = value
    folder.mkdir(parents=True)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return folder


def _data_version(project: Path, *raw: str) -> dict:
    """``momentor pipeline data-version [--raw FOLDER]`` with the project's params (no folder: the sample corpus)."""
    out = project / f"version-{len(raw)}.json"
    argv = [str(Path(sys.executable).with_name("momentor")), "pipeline", "data-version", "--params",
            str(project / "params.yaml"), *(("--raw", raw[0]) if raw else ()), "--out", str(out)]
    subprocess.run(argv, cwd=project, check=True, capture_output=True, timeout=120)
    return json.loads(out.read_text())


def _finished(airflow: AirflowServices, dag_id: str, run_id: str):
    """The run once it ended, or once a task failed a try: the DAG retries with backoff for minutes, and a
    test that needed a retry has found a bug already."""
    def check():
        run = airflow.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")
        if run["state"] in ("success", "failed"):
            return run
        if "up_for_retry" in _tasks(airflow, dag_id, run_id).values():
            return {**run, "state": "retrying"}
        return None
    return check


def _tasks(airflow: AirflowServices, dag_id: str, run_id: str) -> dict:
    found = airflow.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances?limit=100")
    return {t["task_id"]: t["state"] for t in found["task_instances"]}


def _xcom(airflow: AirflowServices, dag_id: str, run_id: str, task_id: str):
    return airflow.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}"
                              "/xcomEntries/return_value?deserialize=true&stringify=false")["value"]


def _assert_succeeded(airflow: AirflowServices, dag_id: str, run: dict) -> dict:
    tasks = _tasks(airflow, dag_id, run["dag_run_id"])
    if run["state"] != "success":
        failed = [t for t, state in tasks.items() if state in ("failed", "upstream_failed", "up_for_retry")]
        logs = "\n".join(f"--- {t} ---\n{airflow.task_log(dag_id, run['dag_run_id'], t)[-4000:]}" for t in failed[:2])
        pytest.fail(f"{dag_id} run {run['dag_run_id']} ended {run['state']}: {tasks}\n{logs}\n{airflow.tails(2000)}")
    return tasks


def test_announced_data_starts_the_retraining_through_the_scheduler_and_is_what_it_trains_on(tmp_path):
    landed = tmp_path / "landed"  # another seed and size than the sample corpus, in a folder of its own
    build_sample_corpus(SampleCorpusConfig(seed=7, num_videos=6, size=64, fps=8), landed / "sample")
    project = _project(tmp_path / "project")
    expected, sample = _data_version(project, str(landed)), _data_version(project)
    assert expected["version"] != sample["version"]

    env = {**airflow_env(tmp_path / "airflow"), "MOMENTOR_PROJECT_DIR": str(project),
           "AIRFLOW__CORE__PARALLELISM": "2"}  # 2 cores: two task processes at a time
    with AirflowServices(tmp_path / "airflow", env, cwd=ROOT) as airflow:
        airflow.wait("both DAGs parsed", lambda: {d["dag_id"] for d in airflow.api("GET", "/api/v2/dags")["dags"]}
                     >= {"momentor_ingest", "momentor_retrain"}, 120)
        assert airflow.api("GET", "/api/v2/importErrors")["total_entries"] == 0
        for dag_id in ("momentor_ingest", "momentor_retrain"):
            assert airflow.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})["is_paused"] is False

        ingest = airflow.api("POST", "/api/v2/dags/momentor_ingest/dagRuns",
                             {"logical_date": None, "conf": {"raw_data_uri": str(landed), "overrides": []}})
        ingest = airflow.wait("the ingestion run", _finished(airflow, "momentor_ingest", ingest["dag_run_id"]),
                              600, poll=3)
        _assert_succeeded(airflow, "momentor_ingest", ingest)

        # the event the ingestion announced, and the run Airflow created from it
        (event,) = airflow.api("GET", "/api/v2/assets/events?source_dag_id=momentor_ingest")["asset_events"]
        assert event["uri"] == "momentor://data/raw" and event["source_run_id"] == ingest["dag_run_id"]
        assert event["extra"]["version"] == expected["version"]
        assert Path(event["extra"]["raw"]) == landed.resolve()
        runs = airflow.wait("the asset-triggered retraining run", lambda: airflow.api(
            "GET", "/api/v2/dags/momentor_retrain/dagRuns")["dag_runs"], 120)
        (retrain,) = runs  # turning the DAG on started nothing by itself
        assert (retrain["run_type"], retrain["triggered_by"], retrain["conf"]) == ("asset_triggered", "asset", {})
        assert [r["run_id"] for r in event["created_dagruns"]] == [retrain["dag_run_id"]]
        retrain = airflow.wait("the retraining run", _finished(airflow, "momentor_retrain", retrain["dag_run_id"]),
                               1200, poll=5)
        tasks = _assert_succeeded(airflow, "momentor_retrain", retrain)
        resolved = _xcom(airflow, "momentor_retrain", retrain["dag_run_id"], "resolve_data")
        published = (_xcom(airflow, "momentor_retrain", retrain["dag_run_id"], "publish_champion")
                     if tasks["publish_champion"] == "success" else None)

    # what the run trained on: the announced folder and version, recorded in its run folder
    assert (resolved["source"], resolved["version"]) == ("event", expected["version"])
    run_dir = Path(resolved["run_dir"])
    assert run_dir.parent == project / "work" / "airflow" / "runs"
    recorded = json.loads((run_dir / "data_version.json").read_text())
    assert recorded["version"] == expected["version"] != sample["version"]
    assert Path(recorded["raw"]) == landed.resolve() and (run_dir / "data").resolve() == landed.resolve()
    assert not (project / "work" / "airflow" / "data").exists(), "the run built the sample corpus"
    # the manifest the model trained on holds exactly the landed videos' bytes
    import pandas as pd

    videos = pd.read_parquet(run_dir / "work" / "manifest" / "videos.parquet")
    landed_videos = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (landed / "sample").glob("*.mp4")}
    assert dict(zip(videos["path"].map(lambda p: Path(p).name), videos["sha256"])) == landed_videos
    listing = json.loads((run_dir / "data_listing.json").read_text())["listing"]
    assert sorted(listing) == sorted(str(p.relative_to(landed)) for p in landed.rglob("*") if p.is_file())
    assert (run_dir / "work" / "train" / "instruct" / "final").is_dir()
    # either branch is a finished run; the promoted champion carries the announced version
    assert {tasks["publish_champion"], tasks["report_rejection"]} == {"success", "skipped"}
    if published is not None:
        assert published["data_version"] == expected["version"]
