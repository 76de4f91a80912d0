"""Retrain Momentor on a schedule and whenever new raw data is announced, then promote or report.

resolve_data → check_data_version → run_request → one task per step of the pipeline table, named as the
step (ingest … gate) → read_gate_decision → report, and export → promote → publish_champion when the gate
passed, or report_rejection when it did not. The steps run in the worker or as pods
(``$MOMENTOR_AIRFLOW_EXECUTION`` local or kubernetes, see ``momentor_steps``). With
``MOMENTOR_AIRFLOW_EXECUTION=kfp`` Kubeflow runs them instead: resolve_data → submit_pipeline →
wait_for_pipeline (a sensor in reschedule mode: no worker slot is held while KFP trains) →
read_gate_decision (the pipeline's own gate: did its promote task succeed) → publish_champion or
report_rejection.

**Which data.** A run started by the raw-data Asset (``momentor://data/raw``, announced by the
``momentor_ingest`` DAG after validation, or by any producer) trains on the location and version its event
carries; when several events queued up before the run, the newest wins and the run logs the others. A
scheduled run trains on the last data announced. A trigger with ``raw_data_uri`` trains on that folder. The
embedded sample corpus is used only when nothing was ever announced and the trigger sets
``use_sample_corpus``. The run checks that the data still has the announced version before it trains.

**When.** The config's ``pipeline.schedule`` (mirrored below: the Airflow image has no momentor to import and
a DAG file reads no files at parse time; tests/test_config.py keeps them equal) or the Asset.
Turning the DAG on starts nothing by itself: the first scheduled run is the next slot (no start date, and
``run_immediately`` a zero window: ``False`` would still run a slot that passed less than a tenth of the
period ago). To train at once, trigger the DAG (the UI's Trigger, or ``airflow dags trigger
momentor_retrain``) after turning it on.

**State.** Each run works in ``<workspace>/runs/<run id>`` (its data link, ``data_version.json``: the version
it trained on, manifest, features, checkpoints): a retried task continues there, a training stage from its
last checkpoint. The champion and its past releases sit in the workspace too. See ``momentor_steps`` for
where the verbs run.

**Failures.** Every task retries with exponential backoff and has an execution timeout (training steps
days, light steps an hour: ``momentor_steps.RETRIES`` and ``TIMEOUTS``); the KFP sensor's own timeout
bounds the whole wait. ``skip_unchanged`` skips a run whose data version is the last promoted one.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task
from momentor_step_table import STEPS
from momentor_steps import (CHAMPION, EXECUTION, GPUS, KFP_ENDPOINT, KFP_POLL, KFP_WAIT, PARAMS_FILE, RETRIES,
                            TIMEOUTS, TRAINJOB_TEMPLATE, WORKSPACE, WORKSPACE_PVC, momentor_step,
                            momentor_steps_mapped, summary_file)

SCHEDULE = "0 3 * * 1"  # = the config's pipeline.schedule (momentor/config/sections.py)
RAW_DATA = Asset("momentor://data/raw")
CHAMPION_ASSET = Asset("momentor://model/champion")
TRAINED_VERSION = "momentor_trained_data_version"  # Airflow Variable: data version of the last promotion
GATE = "gate"


@dag(
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(SCHEDULE, timezone="UTC", run_immediately=dt.timedelta(0)), assets=RAW_DATA),
    catchup=False,
    max_active_runs=1,
    default_args=RETRIES,
    tags=["momentor", "training"],
    doc_md=__doc__,
    params={
        # null, not "": the trigger form treats an empty string as a missing value
        "raw_data_uri": Param(None, type=["null", "string"],
                              description="raw data folder to train on; empty: the announced data"),
        "use_sample_corpus": Param(False, type="boolean",
                                   description="when nothing was ever announced, train on the embedded sample corpus"),
        "preset": Param(None, type=["null", "string"], enum=[None, "tiny", "cpu", "paper"],
                        description="model.preset; empty keeps params.yaml's"),
        "gate_floors": Param({}, type="object",
                             description='gate.floors, e.g. {"grounding.R1@0.5": 25}; empty keeps params.yaml\'s'),
        "overrides": Param([], type="array", items={"type": "string", "pattern": "^[A-Za-z_][\\w.]*=.*$"},
                           description="more params.yaml overrides, key.path=value"),
        "skip_unchanged": Param(False, type="boolean",
                                description="skip when the data version equals the last promoted one"),
        "nodes": Param(None, type=["null", "integer"], minimum=1,
                       description="Kubeflow mode: training nodes; more than 1 trains each stage as a Kubeflow "
                                   "Trainer TrainJob from the chart's template; empty: the pipeline's 1"),
    },
)
def momentor_retrain():
    @task(inlets=[RAW_DATA])
    def resolve_data(params: dict | None = None, triggering_asset_events=None, inlet_events=None,
                     run_id: str | None = None) -> dict:
        """The data this run trains on (see the DAG's doc), and its run folder."""
        from airflow.sdk.exceptions import AirflowFailException
        from momentor_steps import resolve_announced, run_key

        def plain(events):
            return [{"timestamp": e.timestamp.isoformat(), "extra": dict(e.extra or {})} for e in events]

        triggering = plain((triggering_asset_events or {}).get(RAW_DATA, []))
        # only the newest few: a long-lived deployment has thousands of events
        announced = [] if triggering else plain(inlet_events[RAW_DATA].ascending(False).limit(10))
        try:
            found = resolve_announced(params["raw_data_uri"], triggering, announced, params["use_sample_corpus"])
        except ValueError as err:
            raise AirflowFailException(str(err)) from None  # a retry would find the same nothing
        print(f"raw data: {found['raw']} version {found['version']} ({found['source']}): {found['note']}")
        return {**found, "run_dir": f"{WORKSPACE}/runs/{run_key(run_id)}"}

    @task
    def overrides_of(params: dict | None = None) -> list[str]:
        """The run's ``-S`` overrides: the free list, then the named trigger fields."""
        import json

        out = list(params["overrides"])
        if params["preset"]:
            out.append(f"model.preset={params['preset']}")
        if params["gate_floors"]:
            out.append(f"gate.floors={json.dumps(params['gate_floors'])}")
        return out

    data = resolve_data()
    overrides = overrides_of()
    run_steps = _on_kubeflow if EXECUTION == "kfp" else _steps_here
    promoted, branch, decision, version, reported = run_steps(data, overrides)

    @task(outlets=[CHAMPION_ASSET])
    def publish_champion(data: dict, version: dict | None = None) -> dict:
        """The candidate was promoted: announce the champion (Asset event) with its data version."""
        from airflow.sdk import Variable, get_current_context

        record = {"data_version": (version or {}).get("version") or data.get("version"),
                  "raw": (version or {}).get("raw") or data["raw"],
                  "run_dir": data["run_dir"], "champion": CHAMPION}
        if record["data_version"]:  # unknown when KFP computed it from an explicit folder
            Variable.set(TRAINED_VERSION, record["data_version"])
        get_current_context()["outlet_events"][CHAMPION_ASSET].extra = record
        return record

    @task
    def report_rejection(decision: dict) -> dict:
        """The gate rejected the candidate: say which checks failed and where the report is."""
        failed = [r for r in decision.get("reasons", []) if not r["passed"]]
        for check in failed:
            print(f"gate FAILED {check.get('task', '')} {check['metric']} {check['check']}: {check.get('note', '')}")
        return {"failed": failed, "report": decision.get("report")}

    published, rejection = publish_champion(data, version), report_rejection(decision)
    promoted >> published
    branch >> [published, rejection]
    reported >> rejection


def _steps_here(data, overrides):
    """The table's steps as tasks of this DAG (in the worker or in pods): the last task of the passing branch,
    the branch, the gate's decision, the data version and the report task.

    A sharded step (features, engine) is a mapped task ``<step>_shard``, one instance per shard of the run's
    config (``pipeline.shards``, read by ``plan_shards``), then the step's task, which merges the parts."""

    @task
    def version_request(data: dict, overrides: list[str]) -> list[str]:
        argv = ["pipeline", "resolve-data", "--raw", data["raw"], "--workspace", WORKSPACE, "--run-dir",
                data["run_dir"], "--params", PARAMS_FILE, *(a for o in overrides for a in ("-S", o))]
        if data.get("version"):
            argv += ["--expect-version", data["version"]]
        return argv + ["--out", summary_file()]

    @task(multiple_outputs=True)
    def run_request(data: dict, version: dict, overrides: list[str], params: dict | None = None) -> dict:
        """Every step's ``momentor step`` command line; skips the run when asked and nothing changed."""
        _skip_if_trained(params, version["version"])
        common = ["--run-dir", data["run_dir"], "--raw", version["raw"], "--champion", CHAMPION,
                  "--params", PARAMS_FILE, *(a for o in overrides for a in ("-S", o))]
        requests = {row["name"]: ["step", row["name"], *common, *(["--merge"] if row.get("sharded") else []),
                                  "--out", summary_file()] for row in STEPS}
        sharded = [row["name"] for row in STEPS if row.get("sharded")]
        return {**requests, **{f"{name}_shard": ["step", name, *common] for name in sharded},
                "plan_shards": ["step", sharded[0], *common, "--plan", "--out", summary_file()]}

    @task
    def shard_requests(base: list[str], plan: dict) -> list[list[str]]:
        """One command line per shard of the plan: what the mapped shard task expands over."""
        return [[*base, "--shard", shard] for shard in plan["shards"]]

    version = momentor_step("check_data_version", version_request(data, overrides))
    requests = run_request(data, version, overrides)
    plan = momentor_step("plan_shards", requests["plan_shards"])
    tasks, entry = {}, {}
    for row in STEPS:
        name, timeout = row["name"], TIMEOUTS.get(row["kind"], RETRIES["execution_timeout"])
        # a merge links its shards' parts: the shards get the accelerator, the merge none
        need = {**row["resources"], "gpu": False} if row.get("sharded") else row["resources"]
        tasks[name] = entry[name] = momentor_step(name, requests[name], resources=need, execution_timeout=timeout)
        if row.get("sharded"):
            argvs = shard_requests.override(task_id=f"{name}_shard_requests")(requests[f"{name}_shard"], plan)
            entry[name] = momentor_steps_mapped(f"{name}_shard", argvs, resources=row["resources"],
                                                execution_timeout=timeout)
            entry[name] >> tasks[name]
    for row in STEPS:
        for need in row["needs"]:
            tasks[need] >> entry[row["name"]]
    gate = _xcom(tasks[GATE])

    @task.branch
    def read_gate_decision(gate: dict) -> list[str]:
        """The gate's verdict (the gate step returns its decision file): the steps that run only when it
        passed, and the announcement, or the rejection report."""
        from momentor_steps import after_gate

        return after_gate(gate["results"]["work/eval/decision.json"]["passed"], STEPS)

    @task
    def decision_of(gate: dict) -> dict:
        return gate["results"]["work/eval/decision.json"]

    branch = read_gate_decision(gate)
    for row in STEPS:
        if row["when"] != "always":
            branch >> tasks[row["name"]]
    promoted = tasks[[row["name"] for row in STEPS if row["when"] == "passed"][-1]]
    return promoted, branch, decision_of(gate), version, tasks["report"]


def _xcom(step):
    """The return value of a step's task: a TaskFlow call is one already, an operator has ``.output``."""
    return step.output if hasattr(step, "output") and not hasattr(step, "operator") else step


def _on_kubeflow(data, overrides):
    """Submit the Kubeflow pipeline and wait without holding a worker slot: the pipeline promotes or reports
    itself. (promoted, branch, decision, version, reported) as :func:`_steps_here`."""

    @task
    def submit_request(data: dict, overrides: list[str], params: dict | None = None,
                       run_id: str | None = None) -> list[str]:
        """The ``momentor pipeline submit`` command line (no ``--wait``: the sensor waits)."""
        _skip_if_trained(params, data.get("version"))
        argv = ["pipeline", "submit", "--params", PARAMS_FILE, "--endpoint", KFP_ENDPOINT, "--experiment",
                "momentor-airflow", "--run-name", f"airflow {run_id}", "--arg", f"raw_data_uri={data['raw']}",
                *(a for o in overrides for a in ("-S", o))]
        if WORKSPACE_PVC:  # the claim the pipeline's pods mount (champion, checkpoints, data)
            argv += ["--arg", f"workspace_pvc={WORKSPACE_PVC}"]
        if GPUS:
            argv += ["--arg", f"gpus={GPUS}"]
        if (params or {}).get("nodes"):  # GPUS per node then, on every training node
            argv += ["--arg", f"nodes={params['nodes']}"]
            if TRAINJOB_TEMPLATE:  # the momentor release's template (its name follows the release)
                argv += ["--arg", f"trainjob_template={TRAINJOB_TEMPLATE}"]
        return argv + ["--out", summary_file()]

    submitted = momentor_step("submit_pipeline", submit_request(data, overrides))

    # execution_timeout bounds one poll; timeout bounds the whole wait (from the first poll, across reschedules)
    @task.sensor(mode="reschedule", poke_interval=KFP_POLL, timeout=KFP_WAIT,
                 execution_timeout=dt.timedelta(minutes=5))
    def wait_for_pipeline(submitted: dict):
        """Poll the KFP run; between polls the task gives its worker slot back (reschedule mode)."""
        from airflow.sdk.bases.sensor import PokeReturnValue
        from airflow.sdk.exceptions import AirflowFailException
        from momentor_steps import kfp_run_state

        state = kfp_run_state(KFP_ENDPOINT, submitted["run_id"])
        print(f"KFP run {submitted['run_id']}: {state['state']}")
        if state["state"] in ("FAILED", "CANCELED", "CANCELLED", "SKIPPED"):  # final: polling again changes nothing
            raise AirflowFailException(f"KFP run {submitted['run_id']} ended {state['state']}; see it in the KFP UI")
        return PokeReturnValue(is_done=state["state"] == "SUCCEEDED", xcom_value={**state, **submitted})

    finished = wait_for_pipeline(submitted)

    @task.branch
    def read_gate_decision(finished: dict) -> list[str]:
        """The branch the pipeline's own gate took: its promote task succeeded, or only the report ran."""
        from momentor_steps import after_gate

        if not (finished["promoted"] or finished["reported"]):
            raise RuntimeError(f"neither gate branch ran in KFP run {finished['run_id']}: see it in the KFP UI")
        return after_gate(finished["promoted"], [])  # the steps themselves ran on Kubeflow

    @task
    def decision_of(finished: dict) -> dict:
        return {"passed": finished["promoted"], "reasons": [], "report": f"KFP run {finished['run_id']}"}

    branch = read_gate_decision(finished)
    return branch, branch, decision_of(finished), None, finished


def _skip_if_trained(params: dict, version: str | None) -> None:
    """With ``skip_unchanged``, skip the run when its data version is the one of the last promotion."""
    from airflow.sdk import Variable
    from airflow.sdk.exceptions import AirflowSkipException

    if params["skip_unchanged"] and version and Variable.get(TRAINED_VERSION, None) == version:
        raise AirflowSkipException(f"data version {version} was already trained and promoted")


momentor_retrain()
