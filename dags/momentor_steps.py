"""How the momentor DAGs run a ``momentor`` verb: here, in the task's process, or in the momentor image.

Not a DAG (``.airflowignore`` keeps the DAG processor off it); the DAG files import it from the dags folder.
Parse-time cost is nil: no momentor, kfp or Kubernetes import and no I/O happen until a task runs.

Execution (``$MOMENTOR_AIRFLOW_EXECUTION``, read once per parse):

- ``local`` (default): a TaskFlow task calls ``momentor.cli.main(argv)`` in the worker, with the project
  folder (``$MOMENTOR_PROJECT_DIR``, default the folder above ``dags/``) as working directory. Needs
  momentor installed next to Airflow (a developer machine, CI, ``airflow standalone``).
- ``kubernetes``: a ``KubernetesPodOperator`` runs ``momentor <argv>`` in the momentor image
  (``$MOMENTOR_IMAGE``) in ``$MOMENTOR_NAMESPACE``, with the chart's params ConfigMap
  (``$MOMENTOR_PARAMS_CONFIGMAP``) at ``/etc/momentor`` and, when set, the workspace claim
  (``$MOMENTOR_WORKSPACE_PVC``) at ``/workspace``. The Airflow image has the cncf.kubernetes provider and no
  momentor (the provider and kfp cannot share an environment).

``$MOMENTOR_KFP_ENDPOINT`` is the default KFP endpoint of the retraining DAG's trigger form.

Either way a verb that writes a JSON summary with ``--out`` (``summary=True``) returns it as the task's
XCom value; the other verbs return nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from airflow.sdk import task

EXECUTION = os.environ.get("MOMENTOR_AIRFLOW_EXECUTION", "local")
PROJECT_DIR = os.environ.get("MOMENTOR_PROJECT_DIR", str(Path(__file__).resolve().parents[1]))
IMAGE = os.environ.get("MOMENTOR_IMAGE", "momentor:0.1.0")
NAMESPACE = os.environ.get("MOMENTOR_NAMESPACE", "ml")
PARAMS_CONFIGMAP = os.environ.get("MOMENTOR_PARAMS_CONFIGMAP", "momentor-params")
WORKSPACE_PVC = os.environ.get("MOMENTOR_WORKSPACE_PVC", "")
SERVICE_ACCOUNT = os.environ.get("MOMENTOR_SERVICE_ACCOUNT", "momentor")
#: the default KFP API URL of the trigger form (empty: run the pipeline locally)
KFP_ENDPOINT = os.environ.get("MOMENTOR_KFP_ENDPOINT", "")
#: where the KubernetesPodOperator's xcom sidecar reads the return value
POD_XCOM_FILE = "/airflow/xcom/return.json"
#: the params file: the project's in local mode, the chart's ConfigMap in a pod
PARAMS_FILE = "params.yaml" if EXECUTION == "local" else "/etc/momentor/params.yaml"


def summary_file() -> str:
    """The ``--out`` of a verb's JSON summary: the pod's xcom file, or a placeholder the local task fills."""
    return POD_XCOM_FILE if EXECUTION == "kubernetes" else "{out}"


@task
def run_here(argv: list[str]) -> dict | None:
    """Run ``momentor <argv>`` in this process from the project folder; its JSON summary if it wrote one."""
    import json
    import tempfile

    from momentor import cli

    before = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="momentor-airflow-") as scratch:
        out = str(Path(scratch) / "summary.json")
        os.chdir(PROJECT_DIR)
        try:
            code = cli.main([a.replace("{out}", out) for a in argv])
        finally:
            os.chdir(before)
        if code:
            raise RuntimeError(f"momentor {' '.join(argv[:2])} exited with {code}; its message is in the log above")
        return json.loads(Path(out).read_text()) if Path(out).is_file() else None


def momentor_step(task_id: str, argv, summary: bool = True, **task_kwargs):
    """A task that runs ``momentor <argv>`` (``argv`` may be an XComArg); with ``summary``, the verb's
    ``--out`` JSON is the task's return value."""
    if EXECUTION == "kubernetes":
        return _pod_step(task_id, argv, summary, **task_kwargs)
    return run_here.override(task_id=task_id, **task_kwargs)(argv)


def _pod_step(task_id: str, argv, summary: bool, **task_kwargs):
    try:
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
        from kubernetes.client import models as k8s
    except ImportError as err:
        raise ImportError(
            "MOMENTOR_AIRFLOW_EXECUTION=kubernetes needs apache-airflow-providers-cncf-kubernetes (the Dockerfile's "
            "airflow target installs it); unset MOMENTOR_AIRFLOW_EXECUTION to run the steps in-process") from err

    volumes = [k8s.V1Volume(name="params", config_map=k8s.V1ConfigMapVolumeSource(name=PARAMS_CONFIGMAP)),
               k8s.V1Volume(name="tmp", empty_dir=k8s.V1EmptyDirVolumeSource())]
    mounts = [k8s.V1VolumeMount(name="params", mount_path="/etc/momentor", read_only=True),
              k8s.V1VolumeMount(name="tmp", mount_path="/tmp")]
    if WORKSPACE_PVC:
        volumes.append(k8s.V1Volume(name="workspace", persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(
            claim_name=WORKSPACE_PVC)))
        mounts.append(k8s.V1VolumeMount(name="workspace", mount_path="/workspace"))
    return KubernetesPodOperator(
        task_id=task_id,
        name=f"momentor-{task_id.replace('_', '-')}",
        namespace=NAMESPACE,
        image=IMAGE,
        cmds=["momentor"],
        arguments=argv,
        do_xcom_push=summary,
        service_account_name=SERVICE_ACCOUNT,
        volumes=volumes,
        volume_mounts=mounts,
        env_vars={"PYTHONUNBUFFERED": "1", "TMPDIR": "/tmp"},
        container_resources=k8s.V1ResourceRequirements(requests={"cpu": "250m", "memory": "512Mi"},
                                                       limits={"cpu": "1", "memory": "2Gi"}),
        security_context=k8s.V1PodSecurityContext(run_as_non_root=True, run_as_user=1000, fs_group=1000),
        container_security_context=k8s.V1SecurityContext(allow_privilege_escalation=False,
                                                         read_only_root_filesystem=True,
                                                         capabilities=k8s.V1Capabilities(drop=["ALL"])),
        get_logs=True,
        on_finish_action="delete_succeeded_pod",
        **task_kwargs,
    )
