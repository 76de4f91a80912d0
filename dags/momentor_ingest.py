"""Ingest and check newly landed raw data, then announce it: the raw-data Asset that retraining waits for.

check_data_version → ingest (canonical manifest, bad items quarantined) → features → validate (Great
Expectations) → announce_raw_data (an event of ``momentor://data/raw``, which triggers ``momentor_retrain``).
A drop that fails validation stops here and never triggers a retraining. Triggered by hand, by the API, or
by the system that lands the data (``airflow dags trigger momentor_ingest``); no schedule of its own.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, Param, dag, task
from momentor_steps import PARAMS_FILE, momentor_step, summary_file

RAW_DATA = Asset("momentor://data/raw")


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["momentor", "data"],
    doc_md=__doc__,
    params={
        "raw_data_uri": Param("data", type="string", description="the landed raw data folder, for its version"),
        "overrides": Param([], type="array", items={"type": "string", "pattern": "^[A-Za-z_][\\w.]*=.*$"},
                           description="params.yaml overrides, key.path=value (e.g. data.sources=[...])"),
    },
)
def momentor_ingest():
    @task
    def step_request(verb: str, params: dict | None = None) -> list[str]:
        """``momentor <verb>`` with the run's overrides (``data.sources`` say what to read)."""
        argv = [*verb.split(), "--params", PARAMS_FILE, *(a for o in params["overrides"] for a in ("-S", o))]
        if verb == "pipeline data-version":
            return argv + ["--raw", params["raw_data_uri"], "--out", summary_file()]
        return argv

    @task(outlets=[RAW_DATA])
    def announce_raw_data(data_version: dict) -> dict:
        """Emit the raw-data Asset event, with the data version, for the retraining DAG."""
        from airflow.sdk import get_current_context

        get_current_context()["outlet_events"][RAW_DATA].extra = data_version
        return data_version

    version = momentor_step("check_data_version", step_request.override(task_id="version_request")(
        "pipeline data-version"))
    ingested = momentor_step("ingest", step_request.override(task_id="ingest_request")("ingest"), summary=False)
    extracted = momentor_step("features", step_request.override(task_id="features_request")("features"),
                              summary=False)
    validated = momentor_step("validate", step_request.override(task_id="validate_request")("validate"),
                              summary=False)
    version >> ingested >> extracted >> validated >> announce_raw_data(version)


momentor_ingest()
