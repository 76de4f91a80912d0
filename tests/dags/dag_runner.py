"""Load or run the DAGs in a fresh process and print what happened as JSON (last line, ``RESULT {...}``).

A subprocess because Airflow reads ``AIRFLOW_HOME`` once, at import: each test gets its own home and
SQLite database without touching the test process. The DAGs load as the DAG processor loads them: a
``BundleDagBag`` over the dags folder (the bundle path goes on ``sys.path``).

    python dag_runner.py inspect DAGS_FOLDER [--without-momentor]
    python dag_runner.py test DAGS_FOLDER DAG_ID RUN_CONF_JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _bag(dags_folder: str):
    from airflow.dag_processing.dagbag import BundleDagBag

    return BundleDagBag(dag_folder=dags_folder, bundle_path=Path(dags_folder))


def inspect(dags_folder: str, without_momentor: bool = False) -> dict:
    if without_momentor:  # the Airflow image has neither: the DAG files must not need them to parse
        for name in ("momentor", "kfp", "torch"):
            sys.modules[name] = None
    bag = _bag(dags_folder)
    dags = {}
    for dag_id, dag in bag.dags.items():
        timetable = dag.timetable
        condition = getattr(timetable, "asset_condition", None)
        assets = [condition] if hasattr(condition, "uri") else list(getattr(condition, "objects", []))
        dags[dag_id] = {
            "file": Path(dag.fileloc).name,
            "timetable": type(timetable).__name__,
            "cron": getattr(getattr(timetable, "timetable", None), "expression", None),
            "assets": [a.uri for a in assets],
            "params": {k: dag.params.get_param(k).schema for k in dag.params},
            "defaults": {k: dag.params[k] for k in dag.params},
            "tasks": {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks},
            "outlets": {t.task_id: [a.uri for a in t.outlets] for t in dag.tasks if t.outlets},
            "inlets": {t.task_id: [a.uri for a in t.inlets] for t in dag.tasks if t.inlets},
            "retries": {t.task_id: [t.retries, bool(t.retry_exponential_backoff),
                                    t.execution_timeout.total_seconds() if t.execution_timeout else None]
                        for t in dag.tasks},
            "modes": {t.task_id: [t.mode, t.timeout] for t in dag.tasks if hasattr(t, "mode")},
            "start_date": str(dag.start_date) if dag.start_date else None,
            "first_run": _first_run(dag),
            # turned on an hour after a Monday 03:00 slot: inside the window run_immediately=False would catch
            "first_run_after_a_slot": _first_run(dag, "2026-11-30T04:00:00+00:00"),
            "operators": {t.task_id: type(t).__name__ for t in dag.tasks},
        }
    loaded = [m for m in ("momentor", "kfp", "torch", "kubernetes") if sys.modules.get(m) is not None]
    cron_false = _first_cron_run("0 3 * * 1", "2026-11-30T04:00:00+00:00", run_immediately=False)
    return {"import_errors": bag.import_errors, "dags": dags, "heavy_modules": loaded,
            "first_run_after_a_slot_if_run_immediately_false": cron_false}


def _first_run(dag, now: str | None = None) -> str | None:
    """When the scheduler would start the DAG's first scheduled run if it were turned on ``now`` (default:
    now): the serialized DAG (what the scheduler holds) asked the scheduler's question, with no automated
    run yet."""
    from unittest import mock

    from airflow.serialization.serialized_objects import DagSerialization

    scheduler_dag = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    with mock.patch("airflow.timetables.trigger.utcnow", _clock(now)):
        info = scheduler_dag.next_dagrun_info(last_automated_run_info=None)
    return info.run_after.isoformat() if info else None


def _clock(now: str | None):
    import datetime as dt

    from airflow._shared.timezones.timezone import utcnow

    return (lambda: dt.datetime.fromisoformat(now)) if now else utcnow


def _first_cron_run(cron: str, now: str, run_immediately) -> str:
    """The same question for a bare CronTriggerTimetable, to compare ``run_immediately`` settings."""
    from unittest import mock

    from airflow.timetables.base import TimeRestriction
    from airflow.timetables.trigger import CronTriggerTimetable

    timetable = CronTriggerTimetable(cron, timezone="UTC", run_immediately=run_immediately)
    with mock.patch("airflow.timetables.trigger.utcnow", _clock(now)):
        info = timetable.next_dagrun_info(last_automated_data_interval=None,
                                          restriction=TimeRestriction(earliest=None, latest=None, catchup=False))
    return info.run_after.isoformat()


def test(dags_folder: str, dag_id: str, conf: str) -> dict:
    bag = _bag(dags_folder)
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session

    run = bag.dags[dag_id].test(run_conf=json.loads(conf))
    tasks, xcom, reschedules = {}, {}, {}
    with create_session() as session:
        for ti in run.get_task_instances(session=session):
            tasks[ti.task_id] = str(getattr(ti.state, "value", ti.state))
            if tasks[ti.task_id] == "success":
                xcom[ti.task_id] = ti.xcom_pull(task_ids=ti.task_id)
            # a sensor in reschedule mode gave its slot back this many times
            reschedules[ti.task_id] = len(session.scalars(TaskReschedule.stmt_for_task_instance(ti)).all())
    return {"state": str(getattr(run.state, "value", run.state)), "tasks": tasks, "xcom": xcom,
            "reschedules": {k: v for k, v in reschedules.items() if v}}


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    if command == "inspect":
        result = inspect(rest[0], "--without-momentor" in rest)
    else:
        result = test(*rest[:3])
    print("RESULT " + json.dumps(result, default=str))
