"""How the momentor DAGs run a ``momentor`` verb, and which data a retraining run trains on.

Not a DAG (``.airflowignore`` keeps the DAG processor off it); the DAG files import it from the dags folder.
Parse-time cost is nil: no momentor, kfp or Kubernetes import and no I/O happen until a task runs.

Where a verb runs (``$MOMENTOR_AIRFLOW_EXECUTION``, read once per parse):

- ``local`` (default): a TaskFlow task calls ``momentor.cli.main(argv)`` in the worker, with the project
  folder (``$MOMENTOR_PROJECT_DIR``, default the folder above ``dags/``) as working directory. Needs
  momentor installed next to Airflow (a developer machine, CI, ``airflow standalone``). The durable
  workspace is ``$MOMENTOR_WORKSPACE`` (default ``<project>/work/airflow``).
- ``kubernetes``: a ``KubernetesPodOperator`` runs ``momentor <argv>`` in the momentor image
  (``$MOMENTOR_IMAGE``) in ``$MOMENTOR_NAMESPACE``, with the chart's params ConfigMap
  (``$MOMENTOR_PARAMS_CONFIGMAP``) at ``/etc/momentor`` and the workspace claim (``$MOMENTOR_WORKSPACE_PVC``,
  required) at ``/workspace``; each step's pod gets its resources from the step table. The Airflow image
  has the cncf.kubernetes provider and no momentor (the provider and kfp cannot share an environment).

``$MOMENTOR_KFP_ENDPOINT`` set: the retraining DAG submits the Kubeflow pipeline there and waits for it with
a sensor in reschedule mode (no worker slot is held while KFP trains), instead of running the steps itself.

A verb that writes a JSON summary with ``--out`` (``summary=True``) returns it as the task's XCom value.
"""

from __future__ import annotations

import datetime as dt
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
KFP_ENDPOINT = os.environ.get("MOMENTOR_KFP_ENDPOINT", "")
KFP_SECRET = os.environ.get("MOMENTOR_KFP_TOKEN_SECRET", "")  # Secret with key `token`, as the chart's pods
GPU_RESOURCE = os.environ.get("MOMENTOR_GPU_RESOURCE", "nvidia.com/gpu")
#: where the KubernetesPodOperator's xcom sidecar reads the return value
POD_XCOM_FILE = "/airflow/xcom/return.json"
#: the params file: the project's in local mode, the chart's ConfigMap in a pod
PARAMS_FILE = "params.yaml" if EXECUTION == "local" else "/etc/momentor/params.yaml"
#: the durable workspace as the verbs see it: runs, champion, sample corpus, data-hash state cache
WORKSPACE = (os.environ.get("MOMENTOR_WORKSPACE", str(Path(PROJECT_DIR) / "work" / "airflow"))
             if EXECUTION == "local" else "/workspace")
#: the champion: the project's own in local mode (the one `dvc repro` promotes to), else on the volume
CHAMPION = (os.environ.get("MOMENTOR_CHAMPION", str(Path(PROJECT_DIR) / "work" / "champion"))
            if EXECUTION == "local" else "/workspace/champion")
#: retries of every task: a lost worker or an evicted pod costs a retry, not the run
RETRIES = {"retries": 3, "retry_delay": dt.timedelta(minutes=1), "retry_exponential_backoff": True,
           "max_retry_delay": dt.timedelta(minutes=30), "execution_timeout": dt.timedelta(hours=1)}
#: execution timeout per kind of step (momentor/steps.py RESOURCES); the rest get RETRIES' hour
TIMEOUTS = {"train": dt.timedelta(hours=48), "features": dt.timedelta(hours=24), "predict": dt.timedelta(hours=12),
            "engine": dt.timedelta(hours=12), "data": dt.timedelta(hours=4)}

if EXECUTION not in ("local", "kubernetes"):
    raise ValueError(f"MOMENTOR_AIRFLOW_EXECUTION={EXECUTION!r}: use local (in the worker) or kubernetes (pods)")
if EXECUTION == "kubernetes" and not WORKSPACE_PVC:
    raise ValueError(
        "MOMENTOR_AIRFLOW_EXECUTION=kubernetes needs MOMENTOR_WORKSPACE_PVC: the PersistentVolumeClaim that holds "
        "the runs, their checkpoints and the champion (the momentor chart creates it: <release>-workspace)")


def summary_file() -> str:
    """The ``--out`` of a verb's JSON summary: the pod's xcom file, or a placeholder the local task fills."""
    return POD_XCOM_FILE if EXECUTION == "kubernetes" else "{out}"


def run_key(run_id: str) -> str:
    """A run folder name from an Airflow run id (``asset_triggered__2026-12-04T03:00:00+00:00``)."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in run_id)


def resolve_announced(explicit: str | None, triggering: list[dict], announced: list[dict],
                      use_sample: bool) -> dict:
    """Which raw data a retraining run trains on: ``{raw, version, source, note}``.

    Args:
        explicit: the run's ``raw_data_uri`` Param: that folder (its version is computed when the run reads it).
        triggering: the extras of the raw-data events that triggered this run, oldest first: the newest wins.
        announced: the extras of every raw-data event so far, oldest first: a scheduled run takes the newest.
        use_sample: when nothing was ever announced, build the embedded sample corpus instead of failing.

    Raises:
        ValueError: nothing was announced, no folder was given and the sample corpus was not asked for.
    """
    if explicit:
        return {"raw": explicit, "version": None, "source": "explicit", "note": "raw_data_uri given by the trigger"}
    for source, events in (("event", triggering), ("last-announced", announced)):
        usable = [e for e in events if e.get("raw")]
        if usable:
            newest = usable[-1]
            skipped = [e.get("version") for e in usable[:-1]]
            note = (f"{len(usable)} raw-data events queued for this run: the newest ({newest.get('version')}) wins,"
                    f" skipped {', '.join(map(str, skipped))}" if skipped and source == "event" else
                    f"trains on the {'triggering' if source == 'event' else 'last announced'} data")
            return {"raw": newest["raw"], "version": newest.get("version"), "source": source, "note": note}
    if use_sample:
        return {"raw": "sample", "version": None, "source": "sample",
                "note": "nothing was ever announced; the operator asked for the embedded sample corpus"}
    raise ValueError(
        "no raw data to train on: nothing was ever announced on momentor://data/raw. Run the momentor_ingest DAG "
        "on your data, trigger this DAG with raw_data_uri, or set use_sample_corpus to train on the sample corpus")


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


def momentor_step(task_id: str, argv, summary: bool = True, resources: dict | None = None, **task_kwargs):
    """A task that runs ``momentor <argv>`` (``argv`` may be an XComArg); with ``summary``, the verb's
    ``--out`` JSON is the task's return value. ``resources`` (``{cpu, memory, gpu}``, a step table row's)
    size the pod in kubernetes mode."""
    if EXECUTION == "kubernetes":
        return _pod_step(task_id, argv, summary, resources, **task_kwargs)
    return run_here.override(task_id=task_id, **task_kwargs)(argv)


def pod_resources(resources: dict | None):
    """The container resources of a step: cpu and memory requests (= memory limit), GPUs as limits."""
    from kubernetes.client import models as k8s

    need = resources or {"cpu": "250m", "memory": "1Gi", "gpu": False}
    limits = {"memory": need["memory"]}
    if need["gpu"]:
        limits[GPU_RESOURCE] = os.environ.get("MOMENTOR_GPUS", "1")
    return k8s.V1ResourceRequirements(requests={"cpu": need["cpu"], "memory": need["memory"]}, limits=limits)


def _pod_step(task_id: str, argv, summary: bool, resources: dict | None, **task_kwargs):
    try:
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
        from kubernetes.client import models as k8s
    except ImportError as err:
        raise ImportError(
            "MOMENTOR_AIRFLOW_EXECUTION=kubernetes needs apache-airflow-providers-cncf-kubernetes (the Dockerfile's "
            "airflow target installs it); unset MOMENTOR_AIRFLOW_EXECUTION to run the steps in-process") from err

    volumes = [k8s.V1Volume(name="params", config_map=k8s.V1ConfigMapVolumeSource(name=PARAMS_CONFIGMAP)),
               k8s.V1Volume(name="tmp", empty_dir=k8s.V1EmptyDirVolumeSource()),
               k8s.V1Volume(name="workspace", persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(
                   claim_name=WORKSPACE_PVC))]
    mounts = [k8s.V1VolumeMount(name="params", mount_path="/etc/momentor", read_only=True),
              k8s.V1VolumeMount(name="tmp", mount_path="/tmp"),
              k8s.V1VolumeMount(name="workspace", mount_path="/workspace")]
    env = [k8s.V1EnvVar(name="PYTHONUNBUFFERED", value="1"), k8s.V1EnvVar(name="TMPDIR", value="/tmp")]
    if KFP_SECRET:  # the same credentials the chart's submit pods get
        env.append(k8s.V1EnvVar(name="KFP_TOKEN", value_from=k8s.V1EnvVarSource(
            secret_key_ref=k8s.V1SecretKeySelector(name=KFP_SECRET, key="token"))))
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
        env_vars=env,
        container_resources=pod_resources(resources),
        security_context=k8s.V1PodSecurityContext(run_as_non_root=True, run_as_user=1000, fs_group=1000),
        container_security_context=k8s.V1SecurityContext(allow_privilege_escalation=False,
                                                         read_only_root_filesystem=True,
                                                         capabilities=k8s.V1Capabilities(drop=["ALL"])),
        get_logs=True,
        on_finish_action="delete_succeeded_pod",
        **task_kwargs,
    )


def kfp_run_state(endpoint: str, run_id: str) -> dict:
    """``{state, promoted, reported}`` of a KFP run, read over KFP's REST API (no kfp in the Airflow image).

    Authenticates like the momentor pods: ``$KFP_TOKEN``, else the projected token at
    ``$KF_PIPELINES_SA_TOKEN_PATH``.
    """
    import json
    import urllib.request

    request = urllib.request.Request(f"{endpoint.rstrip('/')}/apis/v2beta1/runs/{run_id}")
    token = os.environ.get("KFP_TOKEN")
    token_path = os.environ.get("KF_PIPELINES_SA_TOKEN_PATH")
    if not token and token_path and Path(token_path).is_file():
        token = Path(token_path).read_text().strip()
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as answer:
        run = json.loads(answer.read())
    tasks = (run.get("run_details") or {}).get("task_details") or []
    succeeded = {(t.get("display_name") or "").lower() for t in tasks if str(t.get("state")).upper() == "SUCCEEDED"}
    return {"state": str(run.get("state") or "").upper(), "promoted": "promote" in succeeded,
            "reported": "report" in succeeded}
