"""Load the DAGs in the Airflow image's environment (``.venv-airflow``: Airflow + the cncf.kubernetes provider,
no momentor) and print every KubernetesPodOperator's pod as JSON (last line, ``RESULT {...}``).

Run by test_pod_specs.py with that venv's python and ``MOMENTOR_AIRFLOW_EXECUTION=kubernetes``; the pod is the
one ``KubernetesPodOperator.dry_run()`` prints (``build_pod_request_obj(dry_run=True)``), built with no cluster.
A step's command line is an upstream task's XCom, known only at run time: the pod shows ``<xcom of TASK>``.

    .venv-airflow/bin/python tests/dags/airflow_pods_env.py DAGS_FOLDER
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def pods(dags_folder: str) -> dict:
    from airflow.dag_processing.dagbag import BundleDagBag
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from airflow.sdk import XComArg
    from airflow.sdk.definitions.mappedoperator import MappedOperator
    from kubernetes.client import ApiClient

    for name in ("momentor", "kfp", "torch"):  # not in the Airflow image: parsing must not need them
        sys.modules[name] = None
    bag = BundleDagBag(dag_folder=dags_folder, bundle_path=Path(dags_folder))
    client = ApiClient()
    out = {}
    for dag_id, dag in bag.dags.items():
        out[dag_id] = {}
        for task in dag.tasks:
            if isinstance(task, MappedOperator) and task.operator_class is KubernetesPodOperator:
                # a mapped step (a shard): one pod per element of an upstream task's list, the same but for argv
                upstream = task.expand_input.value["arguments"].operator.task_id
                task = task.unmap({"arguments": [f"<an element of the xcom of {upstream}>"]})
            if isinstance(task, KubernetesPodOperator):
                if isinstance(task.arguments, XComArg):  # the argv an upstream task computes at run time
                    task.arguments = [f"<xcom of {task.arguments.operator.task_id}>"]
                pod = task.build_pod_request_obj(dry_run=True)
                out[dag_id][task.task_id] = client.sanitize_for_serialization(pod)
            else:
                out[dag_id][task.task_id] = None  # runs in the worker (bookkeeping, branches, sensors)
    return {"import_errors": {Path(k).name: v for k, v in bag.import_errors.items()}, "pods": out}


if __name__ == "__main__":
    print("RESULT " + json.dumps(pods(sys.argv[1]), default=str))
