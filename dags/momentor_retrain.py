"""Retrain Momentor on a schedule and whenever new raw data lands, then promote or report.

check_data_version → run_request → run_pipeline (the Kubeflow pipeline: on a KFP endpoint, waiting for it,
or locally with KFP's SubprocessRunner) → read_gate_decision → publish_champion | report_rejection.

Schedule: the cron of ``params.yaml`` ``pipeline.schedule`` (mirrored here, a test keeps them equal: reading
params.yaml at parse time would be I/O) **or** an update of the raw-data Asset, which the ``momentor_ingest``
DAG (or any producer: ``POST /api/v2/assets/events``) emits. The promote/reject decision is the pipeline's
own gate (``dsl.If``): this DAG reads it and publishes the champion Asset, or reports why not.
The steps are ``momentor`` verbs, run in-process or in the momentor image: see ``momentor_steps``.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task
from momentor_steps import KFP_ENDPOINT, PARAMS_FILE, momentor_step, summary_file

SCHEDULE = "0 3 * * 1"  # = params.yaml pipeline.schedule
RAW_DATA = Asset("momentor://data/raw")
CHAMPION = Asset("momentor://model/champion")
TRAINED_VERSION = "momentor_trained_data_version"  # Airflow Variable: data version of the last promotion
STAGES = ["align", "gesm", "instruct"]


@dag(
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable(SCHEDULE, timezone="UTC"), assets=RAW_DATA),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["momentor", "training"],
    doc_md=__doc__,
    params={
        # null, not "": the trigger form treats an empty string as a missing value
        "preset": Param(None, type=["null", "string"], enum=[None, "tiny", "cpu", "paper"],
                        description="model.preset; empty keeps params.yaml's"),
        "stages": Param(STAGES, type="array", items={"type": "string", "enum": STAGES},
                        description="training stages to run (the others keep train.<stage>.enabled=false)"),
        "gate_floors": Param({}, type="object",
                             description='gate.floors, e.g. {"grounding.R1@0.5": 25}; empty keeps params.yaml\'s'),
        "kfp_endpoint": Param(KFP_ENDPOINT or None, type=["null", "string"],
                              description="KFP API URL: submit there and wait; empty runs the pipeline locally"),
        "raw_data_uri": Param(None, type=["null", "string"],
                              description="raw data folder; empty builds the sample corpus"),
        "overrides": Param([], type="array", items={"type": "string", "pattern": "^[A-Za-z_][\\w.]*=.*$"},
                           description="more params.yaml overrides, key.path=value"),
        "skip_unchanged": Param(False, type="boolean",
                                description="skip when the data version equals the last promoted one"),
    },
)
def momentor_retrain():
    @task
    def version_request(params: dict | None = None) -> list[str]:  # params: the run's, from the context
        argv = ["pipeline", "data-version", "--params", PARAMS_FILE, "--out", summary_file()]
        return argv + (["--raw", params["raw_data_uri"]] if params["raw_data_uri"] else [])

    @task
    def run_request(data_version: dict, params: dict | None = None, run_id: str | None = None) -> list[str]:
        """The ``momentor pipeline`` command of this run; skips the run when asked and nothing changed."""
        from airflow.sdk import Variable
        from airflow.sdk.exceptions import AirflowSkipException

        if params["skip_unchanged"] and Variable.get(TRAINED_VERSION, None) == data_version["version"]:
            raise AirflowSkipException(f"data version {data_version['version']} was already trained and promoted")
        overrides = list(params["overrides"])
        overrides += [f"train.{stage}.enabled=false" for stage in STAGES if stage not in params["stages"]]
        argv = ["pipeline", "submit" if params["kfp_endpoint"] else "run-local", "--params", PARAMS_FILE]
        if params["kfp_endpoint"]:
            argv += ["--endpoint", params["kfp_endpoint"], "--experiment", "momentor-airflow", "--wait",
                     "--run-name", f"airflow {run_id}"]
        argv += [a for o in overrides for a in ("-S", o)]
        arguments = {"preset": params["preset"], "raw_data_uri": params["raw_data_uri"]}
        argv += [a for k, v in arguments.items() if v for a in ("--arg", f"{k}={v}")]
        if params["gate_floors"]:
            import json

            argv += ["--arg", f"gate_floors={json.dumps(params['gate_floors'])}"]
        return argv + ["--out", summary_file()]

    @task.branch
    def read_gate_decision(summary: dict) -> str:
        """The gate's verdict: its decision artifact (local runs) and the branch the pipeline took."""
        import json
        from pathlib import Path

        if summary.get("state") != "SUCCEEDED":
            raise RuntimeError(f"pipeline run ended {summary.get('state')}: {summary.get('run_id') or summary}")
        branch = summary.get("branch")
        if summary["mode"] == "local":
            passed = bool(json.loads(Path(summary["decision_path"]).read_text())["passed"])
            if branch != ("promote" if passed else "report"):
                raise RuntimeError(f"the gate decided passed={passed} but the pipeline ran {branch!r}")
        if branch not in ("promote", "report"):
            raise RuntimeError(f"neither gate branch ran in the pipeline: {summary}")
        return "publish_champion" if branch == "promote" else "report_rejection"

    @task(outlets=[CHAMPION])
    def publish_champion(summary: dict, data_version: dict) -> dict:
        """The pipeline promoted its candidate: check the champion is this run's, announce it (Asset event)."""
        import json
        from pathlib import Path

        from airflow.sdk import Variable, get_current_context

        record = {"mode": summary["mode"], "run": summary.get("run_id") or summary.get("run_dir"),
                  "data_version": data_version["version"]}
        if summary["mode"] == "local":
            champion = Path(summary["arguments"]["champion_dir"])
            promotion = json.loads((champion / "promotion.json").read_text())
            if not promotion["checkpoint"].startswith(summary["run_dir"]):
                raise RuntimeError(f"{champion} holds {promotion['checkpoint']}, not this run's candidate")
            record.update(champion=str(champion.resolve()), promoted_at=promotion["promoted_at"])
        Variable.set(TRAINED_VERSION, data_version["version"])
        get_current_context()["outlet_events"][CHAMPION].extra = record
        return record

    @task
    def report_rejection(summary: dict) -> dict:
        """The gate rejected the candidate: say which checks failed and where the pipeline's report is."""
        from pathlib import Path

        failed = [r for r in (summary.get("decision") or {}).get("reasons", []) if not r["passed"]]
        report = Path(summary["run_dir"]) / "report" / "page" if summary["mode"] == "local" else None
        for reason in failed:
            print(f"gate FAILED {reason['check']} {reason['metric']}: {reason['value']} vs "
                  f"{reason.get('floor', reason.get('champion'))}")
        return {"failed": failed, "report": str(report) if report else f"KFP run {summary.get('run_id')}"}

    version = momentor_step("check_data_version", version_request())
    summary = momentor_step("run_pipeline", run_request(data_version=version))
    gate = read_gate_decision(summary)
    gate >> [publish_champion(summary, version), report_rejection(summary)]


momentor_retrain()
