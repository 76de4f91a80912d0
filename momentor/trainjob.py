"""Multi-node training from a pipeline step: a Kubeflow Trainer TrainJob made from the Helm chart's template.

The chart renders its TrainJob (``charts/momentor/templates/trainjob.yaml``: the DeepSpeed/OpenMPI runtime,
the release's image, hardened pods, the workspace claim on every node) into the ConfigMap
``<release>-trainjob`` (``training.pipeline.enabled``). A training step with ``nodes > 1``
(:func:`run_stage`, behind ``momentor trainjob``):

1. copies its inputs (params, manifest, features, initial weights) next to its checkpoint folder on the
   workspace volume, where every node of the TrainJob sees them (``<out>/../<stage>-inputs``, written once:
   a retried step reuses them);
2. fills the template (:func:`build`): a name derived from the checkpoint key, ``momentor train`` args that
   write checkpoints and ``final`` into the same ``--out`` the single-pod step uses, the node count, the
   step's own image and GPUs; checks the result against the Trainer API's own models (:func:`validate`);
3. creates it in the step's namespace and polls its status conditions until ``Complete`` or ``Failed``
   (:func:`create_and_wait`). A retried step finds its TrainJob by name: a running one is waited for, a
   finished one is used, a failed one is deleted and created again (training resumes from the last
   checkpoint on the volume). ``Failed`` raises :class:`TrainJobFailed` with the job's reason and message.

The Kubernetes client is imported inside the functions: importing this module stays light.
"""

from __future__ import annotations

import copy
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import yaml

from momentor import atomic
from momentor.config import ConfigError

GROUP, VERSION, PLURAL = "trainer.kubeflow.org", "v1alpha1", "trainjobs"
TEMPLATE_KEY = "trainjob.yaml"  # the ConfigMap key the chart writes the template under
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
MAX_NAME = 63  # a TrainJob's name becomes JobSet and pod names: an RFC 1035 label


class TrainJobFailed(RuntimeError):
    """The TrainJob ended with its ``Failed`` condition (the message carries its reason), or never ended."""


def job_name(prefix: str, stage: str, key: str) -> str:
    """``<prefix>-<stage>-<key>``, the prefix cut so the name stays a label of at most 63 characters."""
    suffix = f"-{stage}-{key[:12]}"
    return prefix[: MAX_NAME - len(suffix)].rstrip("-") + suffix


def train_args(stage: str, out: str | Path, inputs: dict, overrides: list[str] = ()) -> list[str]:
    """``momentor train`` args of one stage on staged inputs (see :func:`stage_inputs`)."""
    args = ["train", "--stage", stage, "--out", str(out), "--params", str(inputs["params"]),
            "-S", f"paths.work={inputs['work']}", "--no-progress"]
    if "init" in inputs:
        args += ["--init", str(inputs["init"])]
    return args + [a for o in overrides for a in ("-S", o)]


def stage_inputs(folder: str | Path, params: str | Path, manifest: str | Path, features: str | Path,
                 init: str | Path | None = None) -> dict:
    """Copy a stage's inputs into ``folder`` once (atomically: it exists only complete); their paths there.

    Layout: ``params.yaml``, ``work/manifest``, ``work/features`` (``paths.work`` of the TrainJob's
    ``momentor train``) and ``init/`` (the previous stage's model, when given).
    """
    folder = Path(folder)
    staged = {"params": folder / "params.yaml", "work": folder / "work"}
    if init is not None:
        staged["init"] = folder / "init"
    if folder.is_dir():
        return staged
    staging = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:6]}")
    (staging / "work").mkdir(parents=True)
    shutil.copyfile(params, staging / "params.yaml")
    shutil.copytree(manifest, staging / "work" / "manifest")
    shutil.copytree(features, staging / "work" / "features")
    if init is not None:
        shutil.copytree(init, staging / "init")
    try:
        atomic.commit_folder(staging, folder)
    except OSError:  # another attempt committed the same inputs meanwhile
        shutil.rmtree(staging, ignore_errors=True)
    return staged


def build(template: dict, name: str, args: list[str], nodes: int, image: str | None = None, gpus: int = 0,
          gpu_resource: str = "nvidia.com/gpu", labels: dict | None = None) -> dict:
    """The chart's TrainJob ``template`` for one stage: its name, trainer args, node count, image and GPUs."""
    job = copy.deepcopy(template)
    job["metadata"] = {**job.get("metadata", {}), "name": name}
    job["metadata"]["labels"] = {**job["metadata"].get("labels", {}), **(labels or {})}
    trainer = job["spec"]["trainer"]
    trainer.update(args=list(args), numNodes=int(nodes))
    if image:
        trainer["image"] = image
    if gpus:
        resources = trainer.setdefault("resourcesPerNode", {})
        for part in ("requests", "limits"):  # extended resources: requests must equal limits
            resources.setdefault(part, {})[gpu_resource] = int(gpus)
    return job


def validate(job: dict) -> dict:
    """``job`` checked against the Trainer API's models (``kubeflow_trainer_api``, pydantic): a wrong type
    raises there; a field the API does not have is dropped by the models, so the round trip must give back
    exactly ``job``. Returns ``job``.

    Raises:
        ConfigError: naming the first field the Trainer API rejects or does not know.
    """
    import pydantic
    from kubeflow_trainer_api.models import TrainerV1alpha1TrainJob

    try:
        parsed = TrainerV1alpha1TrainJob.from_dict(job)
    except pydantic.ValidationError as err:
        raise ConfigError(f"TrainJob {job.get('metadata', {}).get('name')!r} is not a valid "
                          f"trainer.kubeflow.org/v1alpha1 TrainJob: {err}") from err
    back = parsed.to_dict()
    path = _first_difference(job, back, "")
    if path is not None:
        raise ConfigError(f"TrainJob field {path or '/'} is not part of the trainer.kubeflow.org/v1alpha1 "
                          "API (the Trainer's models drop it): fix the chart's templates/trainjob.yaml")
    return job


def _first_difference(a, b, path: str) -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in b or key not in a:
                return f"{path}/{key}"
            found = _first_difference(a[key], b[key], f"{path}/{key}")
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        found = (_first_difference(x, y, f"{path}/{i}") for i, (x, y) in enumerate(zip(a, b)))
        return next((p for p in found if p is not None), None)
    return None if a == b else path


def run_stage(stage: str, out: str | Path, nodes: int, params: str | Path, manifest: str | Path,
              features: str | Path, init: str | Path | None = None, image: str | None = None, gpus: int = 0,
              template_configmap: str | None = None, template_file: str | Path | None = None,
              namespace: str | None = None, overrides: list[str] = (), poll_s: float = 30.0,
              timeout_s: float | None = None, log: Callable[[str], None] = print) -> Path:
    """Train ``stage`` on ``nodes`` nodes as a TrainJob (the module docstring's steps 1-3); its ``final``.

    ``out`` is the stage's checkpoint folder on the workspace volume as this pod sees it, which must be the
    path the TrainJob's pods see too (both mount the claim at ``/workspace``); its parent's name is the
    checkpoint key (:func:`momentor.pipeline_runs.checkpoint_dir`), which names the TrainJob.
    """
    out = Path(out)
    if nodes < 1:
        raise ConfigError(f"nodes={nodes}: a TrainJob needs at least one node")
    inputs = stage_inputs(out.parent / f"{stage}-inputs", params, manifest, features, init)
    api, namespace = connect(namespace)
    template = load_template(api, namespace, template_configmap, template_file)
    key = out.parent.name
    labels = {"app.kubernetes.io/managed-by": "momentor-trainjob", "momentor/stage": stage,
              "momentor/checkpoint-key": key}
    job = build(template, job_name(template["metadata"]["name"], stage, key),
                train_args(stage, out, inputs, list(overrides)), nodes, image, gpus, labels=labels)
    create_and_wait(api, namespace, validate(job), poll_s, timeout_s, log)
    final = out / "final"
    if not (final / "training_state.json").is_file():
        raise TrainJobFailed(f"TrainJob {namespace}/{job['metadata']['name']} completed but {final} holds no "
                             "finished model: do its pods mount the same workspace claim at the same path?")
    return final


# ---------------------------------------------------------------------------------------------------------
# the cluster


def connect(namespace: str | None = None):
    """An ``ApiClient`` (in-cluster service account, else ``$KUBECONFIG``) and the namespace to work in:
    ``namespace``, else the pod's own, else the kubeconfig context's, else ``default``."""
    from kubernetes import client, config

    try:
        config.load_incluster_config()
        if namespace is None and SERVICE_ACCOUNT_NAMESPACE.is_file():
            namespace = SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
    except config.ConfigException:
        kubeconfig = os.environ.get("KUBECONFIG")  # read now: the client reads it once, at its import
        try:
            config.load_kube_config(config_file=kubeconfig)
        except config.ConfigException as err:
            raise ConfigError(f"no Kubernetes API to create the TrainJob on: not in a pod and no usable "
                              f"kubeconfig ({err}); run the step in the cluster or set $KUBECONFIG") from err
        if namespace is None:
            _, active = config.list_kube_config_contexts(config_file=kubeconfig)
            namespace = active.get("context", {}).get("namespace")
    return client.ApiClient(), namespace or "default"


def load_template(api, namespace: str, configmap: str | None = None, file: str | Path | None = None) -> dict:
    """The TrainJob template: the chart's ConfigMap ``configmap`` (key ``trainjob.yaml``), or a file
    (e.g. ``helm template … --show-only templates/trainjob.yaml`` output)."""
    if file is not None:
        return yaml.safe_load(Path(file).read_text())
    from kubernetes import client

    try:
        found = client.CoreV1Api(api).read_namespaced_config_map(configmap, namespace)
    except client.ApiException as err:
        raise ConfigError(f"cannot read the TrainJob template ConfigMap {namespace}/{configmap} "
                          f"({err.status} {err.reason}): install the momentor chart in {namespace} with "
                          "training.pipeline.enabled=true, or pass the ConfigMap's name") from err
    return yaml.safe_load((found.data or {})[TEMPLATE_KEY])


def _conditions(job: dict) -> dict:
    """``{type: condition}`` of the conditions that hold (``status: "True"``)."""
    conditions = (job.get("status") or {}).get("conditions") or []
    return {c["type"]: c for c in conditions if c.get("status") == "True"}


def create_and_wait(api, namespace: str, job: dict, poll_s: float = 30.0, timeout_s: float | None = None,
                    log: Callable[[str], None] = print) -> dict:
    """Create ``job`` (or adopt the one of that name), wait until it completes; the finished object.

    Raises:
        TrainJobFailed: its ``Failed`` condition holds (with reason and message), or ``timeout_s`` passed
            (the TrainJob is left running: a retried step waits for it again).
    """
    from kubernetes import client

    jobs = client.CustomObjectsApi(api)
    name = job["metadata"]["name"]
    where = f"TrainJob {namespace}/{name}"
    ident = (GROUP, VERSION, namespace, PLURAL, name)
    try:
        jobs.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, job)
        log(f"{where}: created ({job['spec']['trainer']['numNodes']} nodes)")
    except client.ApiException as err:
        if err.status != 409:
            raise TrainJobFailed(f"cannot create {where}: {err.status} {err.reason} {err.body}") from err
        if "Failed" in _conditions(jobs.get_namespaced_custom_object(*ident)):
            log(f"{where}: an earlier attempt failed; deleting it, starting again from the checkpoints")
            jobs.delete_namespaced_custom_object(*ident, propagation_policy="Foreground")
            _wait_gone(jobs, ident, poll_s)
            jobs.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, job)
        else:
            log(f"{where}: exists already (a retried step); waiting for it")
    started, seen = time.monotonic(), None
    while True:
        current = jobs.get_namespaced_custom_object(*ident)
        holding = _conditions(current)
        if sorted(holding) != seen:
            seen = sorted(holding)
            log(f"{where}: {', '.join(seen) or 'no condition yet'}")
        if "Failed" in holding:
            failed = holding["Failed"]
            raise TrainJobFailed(f"{where} failed: {failed.get('reason', 'no reason')}: "
                                 f"{failed.get('message', 'no message')} (its launcher's log: kubectl -n "
                                 f"{namespace} logs -l jobset.sigs.k8s.io/jobset-name={name},"
                                 "jobset.sigs.k8s.io/replicatedjob-name=launcher)")
        if "Complete" in holding:
            return current
        if timeout_s is not None and time.monotonic() - started > timeout_s:
            raise TrainJobFailed(f"{where} did not finish within {timeout_s:.0f} s (conditions: {seen}); it "
                                 "is left running: a retried step waits for it, or delete it with kubectl")
        time.sleep(poll_s)


def _wait_gone(jobs, ident: tuple, poll_s: float) -> None:
    from kubernetes import client

    while True:
        try:
            jobs.get_namespaced_custom_object(*ident)
        except client.ApiException as err:
            if err.status == 404:
                return
            raise
        time.sleep(poll_s)
