"""How the momentor DAGs run a ``momentor`` verb, and which data a retraining run trains on.

Not a DAG (``.airflowignore`` keeps the DAG processor off it); the DAG files import it from the dags folder.
Parse-time cost is nil: no momentor, kfp or Kubernetes import and no I/O happen until a task runs.

Where the pipeline's steps run (``$MOMENTOR_AIRFLOW_EXECUTION``, read once per parse):

- ``local`` (the default): each step is a TaskFlow task that calls ``momentor.cli.main(argv)`` in the
  worker, with the project folder (``$MOMENTOR_PROJECT_DIR``, default the folder above ``dags/``) as working
  directory. Needs momentor installed next to Airflow (a developer machine, CI, ``airflow standalone``). The
  durable workspace is ``$MOMENTOR_WORKSPACE`` (default ``<project>/work/airflow``), the champion
  ``$MOMENTOR_CHAMPION`` (default ``<project>/work/champion``, the one ``dvc repro`` promotes to).
- ``kubernetes``: each step is a ``KubernetesPodOperator`` running ``momentor <argv>`` in the momentor image
  (``$MOMENTOR_IMAGE``) in ``$MOMENTOR_NAMESPACE``, with the chart's params ConfigMap
  (``$MOMENTOR_PARAMS_CONFIGMAP``) at ``/etc/momentor`` and the workspace claim (``$MOMENTOR_WORKSPACE_PVC``,
  required) at ``/workspace``; each pod gets its step's resources from the step table (GPUs:
  ``$MOMENTOR_GPUS``, default 1). The Airflow image has the cncf.kubernetes provider and no momentor (the
  provider and kfp cannot share an environment).
- ``kfp``: the Kubeflow pipeline at ``$MOMENTOR_KFP_ENDPOINT`` (required) runs the steps; Airflow submits
  it and waits with a sensor in reschedule mode, polling every ``$MOMENTOR_KFP_POLL_SECONDS`` (60), so no
  worker slot is held while KFP trains. The submission (and the ingest DAG's checks) are momentor verbs
  too: they run in the worker, or with ``$MOMENTOR_KFP_SUBMIT=pod`` in pods as above, claim included (the
  Airflow image has no momentor). The default mode is ``kfp`` when only ``$MOMENTOR_KFP_ENDPOINT`` is set.

A verb that writes a JSON summary with ``--out`` (``summary=True``) returns it as the task's XCom value.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from airflow.sdk import task

KFP_ENDPOINT = os.environ.get("MOMENTOR_KFP_ENDPOINT", "")
EXECUTION = os.environ.get("MOMENTOR_AIRFLOW_EXECUTION") or ("kfp" if KFP_ENDPOINT else "local")
KFP_SUBMIT = os.environ.get("MOMENTOR_KFP_SUBMIT", "worker")
#: where a verb that Airflow runs itself runs: the steps (local, kubernetes) or the submission (kfp)
VERBS_IN = "pod" if EXECUTION == "kubernetes" or (EXECUTION == "kfp" and KFP_SUBMIT == "pod") else "worker"
PROJECT_DIR = os.environ.get("MOMENTOR_PROJECT_DIR", str(Path(__file__).resolve().parents[1]))
IMAGE = os.environ.get("MOMENTOR_IMAGE", "momentor:0.1.0")
NAMESPACE = os.environ.get("MOMENTOR_NAMESPACE", "ml")
PARAMS_CONFIGMAP = os.environ.get("MOMENTOR_PARAMS_CONFIGMAP", "momentor-params")
WORKSPACE_PVC = os.environ.get("MOMENTOR_WORKSPACE_PVC", "")
SERVICE_ACCOUNT = os.environ.get("MOMENTOR_SERVICE_ACCOUNT", "momentor")
KFP_SECRET = os.environ.get("MOMENTOR_KFP_TOKEN_SECRET", "")  # Secret with key `token`, as the chart's pods
GPU_RESOURCE = os.environ.get("MOMENTOR_GPU_RESOURCE", "nvidia.com/gpu")
#: the momentor chart's TrainJob template (ConfigMap <release>-trainjob) for multi-node runs on KFP
TRAINJOB_TEMPLATE = os.environ.get("MOMENTOR_TRAINJOB_TEMPLATE", "")
GPUS = os.environ.get("MOMENTOR_GPUS", "")  # per GPU step; empty: 1 in pods, KFP's pipeline default on KFP
#: how often the kfp mode's sensor asks KFP about the run, and how long it waits for it at most
KFP_POLL = dt.timedelta(seconds=float(os.environ.get("MOMENTOR_KFP_POLL_SECONDS", "60")))
KFP_WAIT = dt.timedelta(hours=72)
#: where the KubernetesPodOperator's xcom sidecar reads the return value
POD_XCOM_FILE = "/airflow/xcom/return.json"
#: the params file: the project's in the worker, the chart's ConfigMap in a pod
PARAMS_FILE = "params.yaml" if VERBS_IN == "worker" else "/etc/momentor/params.yaml"
#: the durable workspace as the verbs see it: runs, champion, sample corpus, data-hash state cache
WORKSPACE = (os.environ.get("MOMENTOR_WORKSPACE", str(Path(PROJECT_DIR) / "work" / "airflow"))
             if VERBS_IN == "worker" else "/workspace")
#: the champion: the project's own in the worker (the one `dvc repro` promotes to), else on the volume
CHAMPION = (os.environ.get("MOMENTOR_CHAMPION", str(Path(PROJECT_DIR) / "work" / "champion"))
            if VERBS_IN == "worker" else "/workspace/champion")
#: retries of every task: a lost worker or an evicted pod costs a retry, not the run
RETRIES = {"retries": 3, "retry_delay": dt.timedelta(minutes=1), "retry_exponential_backoff": True,
           "max_retry_delay": dt.timedelta(minutes=30), "execution_timeout": dt.timedelta(hours=1)}
#: execution timeout per kind of step (momentor/steps.py RESOURCES); the rest get RETRIES' hour
TIMEOUTS = {"train": dt.timedelta(hours=48), "features": dt.timedelta(hours=24), "predict": dt.timedelta(hours=12),
            "engine": dt.timedelta(hours=12), "data": dt.timedelta(hours=4)}

if EXECUTION not in ("local", "kubernetes", "kfp"):
    raise ValueError(f"MOMENTOR_AIRFLOW_EXECUTION={EXECUTION!r}: use local (steps in the worker), kubernetes "
                     "(a pod per step) or kfp (the Kubeflow pipeline at MOMENTOR_KFP_ENDPOINT)")
if KFP_SUBMIT not in ("worker", "pod"):
    raise ValueError(f"MOMENTOR_KFP_SUBMIT={KFP_SUBMIT!r}: use worker (momentor installed in the Airflow worker) or "
                     "pod (a pod of the momentor image submits)")
if EXECUTION == "kfp" and not KFP_ENDPOINT:
    raise ValueError("MOMENTOR_AIRFLOW_EXECUTION=kfp needs MOMENTOR_KFP_ENDPOINT: the KFP API the pipeline is "
                     "submitted to (e.g. http://ml-pipeline.kubeflow.svc.cluster.local:8888)")
if EXECUTION != "kfp" and KFP_ENDPOINT:
    raise ValueError(f"MOMENTOR_KFP_ENDPOINT is set but MOMENTOR_AIRFLOW_EXECUTION={EXECUTION} runs the steps "
                     "in Airflow: set MOMENTOR_AIRFLOW_EXECUTION=kfp (and MOMENTOR_KFP_SUBMIT=pod in the Airflow "
                     "image) to run them on Kubeflow, or unset MOMENTOR_KFP_ENDPOINT")
if VERBS_IN == "pod" and not WORKSPACE_PVC:  # the pods' only durable storage: runs, checkpoints, champion
    raise ValueError(
        f"{'MOMENTOR_AIRFLOW_EXECUTION=kubernetes' if EXECUTION == 'kubernetes' else 'MOMENTOR_KFP_SUBMIT=pod'} "
        "needs MOMENTOR_WORKSPACE_PVC: the PersistentVolumeClaim that holds the runs, their checkpoints and the "
        "champion (the momentor chart creates it: <release>-workspace)")


def summary_file() -> str:
    """The ``--out`` of a verb's JSON summary: the pod's xcom file, or a placeholder the local task fills."""
    return POD_XCOM_FILE if VERBS_IN == "pod" else "{out}"


def run_key(run_id: str) -> str:
    """A run folder name from an Airflow run id (``asset_triggered__2026-12-04T03:00:00+00:00``)."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in run_id)


def resolve_announced(explicit: str | None, triggering: list[dict], announced: list[dict],
                      use_sample: bool) -> dict:
    """Which raw data a retraining run trains on: ``{raw, version, source, note}``.

    Args:
        explicit: the run's ``raw_data_uri`` Param: that folder (its version is computed when the run reads it).
        triggering: the raw-data events that triggered this run, ``{timestamp, extra}``: the newest wins.
        announced: the newest raw-data events so far, ``{timestamp, extra}``: a run that no event triggered
            (scheduled, or triggered by hand without a folder) takes the newest.
        use_sample: when nothing was ever announced, build the embedded sample corpus instead of failing.

    An event's extra carries ``raw`` (the folder) and ``version`` (its content version), as the
    ``momentor_ingest`` DAG announces them; an event without ``raw`` is skipped. The ``note`` names every
    triggering event that was skipped, for the run's log.

    Raises:
        ValueError: nothing was announced, no folder was given and the sample corpus was not asked for.
    """
    if explicit:
        return {"raw": explicit, "version": None, "source": "explicit", "note": "raw_data_uri given by the trigger"}
    for source, events in (("event", triggering), ("last-announced", announced)):
        events = sorted(events, key=lambda e: str(e["timestamp"]))
        usable = [e for e in events if (e["extra"] or {}).get("raw")]
        if not usable:
            continue
        newest = usable[-1]
        found = {"raw": newest["extra"]["raw"], "version": newest["extra"].get("version"), "source": source}
        skipped = [e for e in events if e is not newest]
        if source == "last-announced":
            note = f"no event triggered this run: the last announced data, of {newest['timestamp']}"
        elif skipped:
            note = (f"{len(events)} raw-data events queued for this run; the newest ({newest['timestamp']}) wins. "
                    "Skipped: " + "; ".join(f"{e['timestamp']} raw={(e['extra'] or {}).get('raw')} "
                                            f"version={(e['extra'] or {}).get('version')}" for e in skipped))
        else:
            note = f"the raw-data event of {newest['timestamp']} triggered this run"
        return {**found, "note": note}
    if use_sample:
        return {"raw": "sample", "version": None, "source": "sample",
                "note": "nothing was ever announced; the operator asked for the embedded sample corpus"}
    raise ValueError(
        "no raw data to train on: nothing was ever announced on momentor://data/raw. Run the momentor_ingest DAG "
        "on your data, trigger this DAG with raw_data_uri, or set use_sample_corpus to train on the sample corpus")


def after_gate(passed: bool, steps: list[dict]) -> list[str]:
    """The tasks that follow the gate's branch: the steps of its side (``when``) of the table, then the
    announcement of the new champion, or the rejection report. Steps with ``when=always`` (the report) are
    not the branch's to choose: they run on both sides."""
    side = "passed" if passed else "rejected"
    return [row["name"] for row in steps if row["when"] == side] + (
        ["publish_champion"] if passed else ["report_rejection"])


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
    if VERBS_IN == "pod":
        return _pod_step(task_id, argv, summary, resources, **task_kwargs)
    return run_here.override(task_id=task_id, **task_kwargs)(argv)


def momentor_steps_mapped(task_id: str, argvs, resources: dict | None = None, **task_kwargs):
    """One task instance per command line of ``argvs`` (an XComArg: a list of argv lists), by Airflow's dynamic
    task mapping: the shards of a sharded step, each retried on its own. No summary is returned."""
    if VERBS_IN == "pod":
        operator, kwargs = _pod_operator(task_id, False, resources, **task_kwargs)
        return operator.partial(**kwargs).expand(arguments=argvs)
    return run_here.override(task_id=task_id, **task_kwargs).expand(argv=argvs)


def pod_resources(resources: dict | None):
    """The container resources of a step: cpu and memory requests (= memory limit), GPUs as limits."""
    from kubernetes.client import models as k8s

    need = resources or {"cpu": "250m", "memory": "1Gi", "gpu": False}
    limits = {"memory": need["memory"]}
    if need["gpu"]:
        limits[GPU_RESOURCE] = GPUS or "1"
    return k8s.V1ResourceRequirements(requests={"cpu": need["cpu"], "memory": need["memory"]}, limits=limits)


def _pod_step(task_id: str, argv, summary: bool, resources: dict | None, **task_kwargs):
    operator, kwargs = _pod_operator(task_id, summary, resources, **task_kwargs)
    return operator(arguments=argv, **kwargs)


def _pod_operator(task_id: str, summary: bool, resources: dict | None, **task_kwargs) -> tuple[type, dict]:
    """The KubernetesPodOperator class and everything of a step's operator but its arguments."""
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
    return KubernetesPodOperator, dict(
        task_id=task_id,
        name=f"momentor-{task_id.replace('_', '-')}",
        namespace=NAMESPACE,
        image=IMAGE,
        cmds=["momentor"],
        do_xcom_push=summary,
        service_account_name=SERVICE_ACCOUNT,
        volumes=volumes,
        volume_mounts=mounts,
        env_vars=env,
        container_resources=pod_resources(resources),
        # what the momentor chart's schema locks its own pods to
        security_context=k8s.V1PodSecurityContext(run_as_non_root=True, run_as_user=1000, fs_group=1000,
                                                  seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault")),
        container_security_context=k8s.V1SecurityContext(allow_privilege_escalation=False, privileged=False,
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
