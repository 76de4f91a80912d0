"""Ingest and check newly landed raw data, then announce it: the raw-data Asset that retraining waits for.

check_data_version → ingest (canonical manifest, bad items quarantined) → features → validate (Great
Expectations) → announce_raw_data (an event of ``momentor://data/raw`` whose extra carries the data's
location ``raw`` and content ``version``; it triggers ``momentor_retrain``, which trains on exactly that).
A drop that fails validation stops here and never triggers a retraining. Triggered by hand, by the API, or
by the system that lands the data (``airflow dags trigger momentor_ingest -c '{"raw_data_uri": ...}'``); no
schedule of its own. The steps are the pipeline table's, run in ``<workspace>/ingest/<run id>``.
"""

from __future__ import annotations

from airflow.sdk import Asset, Param, dag, task
from momentor_step_table import STEPS
from momentor_steps import PARAMS_FILE, RETRIES, TIMEOUTS, WORKSPACE, momentor_step, summary_file

RAW_DATA = Asset("momentor://data/raw")
CHECKS = ("ingest", "features", "validate")  # the steps that judge a drop before it is announced


@dag(
    schedule=None,
    catchup=False,
    max_active_runs=1,
    default_args=RETRIES,
    tags=["momentor", "data"],
    doc_md=__doc__,
    params={
        "raw_data_uri": Param("data", type="string",
                              description="the landed raw data folder (as the momentor pods see it)"),
        "overrides": Param([], type="array", items={"type": "string", "pattern": "^[A-Za-z_][\\w.]*=.*$"},
                           description="params.yaml overrides, key.path=value (e.g. data.sources=[...])"),
    },
)
def momentor_ingest():
    @task(multiple_outputs=True)
    def requests(params: dict | None = None, run_id: str | None = None) -> dict:
        """The command lines of this run: the data version, then each check in its own run folder."""
        from momentor_steps import run_key

        sets = [a for o in params["overrides"] for a in ("-S", o)]
        run_dir = f"{WORKSPACE}/ingest/{run_key(run_id)}"
        # the workspace's state cache, which the retraining run's check reads too: each file is hashed once
        out = {"check_data_version": ["pipeline", "data-version", "--raw", params["raw_data_uri"], "--params",
                                      PARAMS_FILE, *sets, "-S", f"paths.cache={WORKSPACE}/.cache",
                                      "--out", summary_file()]}
        for name in CHECKS:
            out[name] = ["step", name, "--run-dir", run_dir, "--raw", params["raw_data_uri"], "--params",
                         PARAMS_FILE, *sets]
        return out

    @task(outlets=[RAW_DATA])
    def announce_raw_data(data_version: dict) -> dict:
        """Emit the raw-data Asset event, with the data's location and version, for the retraining DAG."""
        from airflow.sdk import get_current_context

        get_current_context()["outlet_events"][RAW_DATA].extra = data_version
        return data_version

    argv = requests()
    version = momentor_step("check_data_version", argv["check_data_version"])
    previous = version
    for row in STEPS:
        if row["name"] in CHECKS:
            step = momentor_step(row["name"], argv[row["name"]], summary=False, resources=row["resources"],
                                 execution_timeout=TIMEOUTS.get(row["kind"], RETRIES["execution_timeout"]))
            previous >> step
            previous = step
    previous >> announce_raw_data(version)


momentor_ingest()
