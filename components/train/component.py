"""One training stage (GESM pretraining or instruction tuning) of the trainable Momentor parts."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def train_pod(nodes: int, gpus: int, accelerator: str) -> NamedTuple(
        "TrainPod", [("cpu", str), ("memory", str), ("accelerator", str), ("accelerators", str),
                     ("step_accelerator", str), ("step_accelerators", str)]):
    """What the pod of each training task requests (``momentor.steps.training_pod``), set as its resources at
    run time: on one node it trains, with ``gpus`` accelerators of type ``accelerator``; with ``nodes > 1`` it
    only waits for its TrainJob, light and with no accelerator (type ``""``: KFP's driver then adds none), so
    the GPUs stay free for the job's nodes. ``step_accelerator(s)``: those of the other GPU steps that run in
    their own pod (prediction, the champion's re-scoring): ``gpus`` whatever ``nodes``. All strings: the driver
    reads a resource's value as a string (a number would read as ``""`` and the accelerator limit be dropped)."""
    from momentor.steps import training_pod

    need = training_pod(nodes, gpus)
    return (need["cpu"], need["memory"], accelerator if need["accelerators"] else "", str(need["accelerators"]),
            accelerator if gpus > 0 else "", str(max(gpus, 0)))


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def train(params: Input[Artifact], manifest: Input[Dataset], features: Input[Dataset], stage: str,
          data_version: str, workspace: str, model: Output[Model], training: Output[Metrics],
          init_model: Input[Model] = None, nodes: int = 1, gpus: int = 0, image: str = "",
          trainjob_template: str = "momentor-trainjob"):
    """``momentor train --stage STAGE`` (from ``init_model`` when given): the final checkpoint, and the last
    step's losses and throughput as metrics.

    The stage trains in ``momentor.pipeline_runs.checkpoint_dir`` on the durable workspace volume, not in the
    pod's scratch: a retried or rescheduled pod resumes from the last checkpoint there. Its key is a hash of
    what the stage computes from (resolved params, data version, stage, initial weights, code), not KFP's
    run id, which as an input would enter the cache key and defeat caching across runs.

    With ``nodes > 1`` the stage trains as a Kubeflow Trainer TrainJob (``momentor trainjob``): made from the
    chart's template (ConfigMap ``trainjob_template``) with ``gpus`` GPUs per node and this task's ``image``,
    writing the same checkpoint folder on the same claim; this pod waits for it and fails with its reason.
    """
    import json
    import os
    import shutil

    from momentor import cli
    from momentor.artifact_workspace import StepFailed, run_verb
    from momentor.model.checkpoint import WEIGHTS
    from momentor.pipeline_runs import checkpoint_dir

    init_weights = None if init_model is None else os.path.join(init_model.path, WEIGHTS)
    out = str(checkpoint_dir(workspace, stage, params.path, data_version, init_weights))
    if nodes > 1:
        argv = ["trainjob", "--stage", stage, "--out", out, "--nodes", str(nodes), "--gpus", str(gpus),
                "--manifest", manifest.path, "--features", features.path, "--params", params.path,
                "--template-configmap", trainjob_template, *(["--image", image] if image else []),
                *(["--init", init_model.path] if init_model is not None else [])]
        if cli.main(argv):
            raise StepFailed(f"the {stage} TrainJob did not complete; its reason is above")
    else:
        # one training process per GPU of the pod (torchrun under the verb); one process on a CPU pod
        argv = ["train", "--stage", stage, "--out", out, "--no-progress", "--nproc-per-node", str(max(gpus, 1))]
        if init_model is not None:
            argv += ["--init", init_model.path]
        run_verb(argv, params.path, inputs={"manifest": manifest.path, "features": features.path})
    shutil.copytree(os.path.join(out, "final"), model.path, dirs_exist_ok=True)
    if os.path.isfile(os.path.join(out, "metrics.csv")):  # the stage's curve travels with it, for the report
        shutil.copyfile(os.path.join(out, "metrics.csv"), os.path.join(model.path, "metrics.csv"))
    if os.path.isdir(os.path.join(out, "dvclive")):  # and its tracked curves (dvc plots show, VS Code, Studio)
        shutil.copytree(os.path.join(out, "dvclive"), os.path.join(model.path, "dvclive"), dirs_exist_ok=True)
    model.metadata["checkpoints"] = out
    state = json.loads(open(os.path.join(model.path, "training_state.json")).read())
    training.log_metric("steps", state.get("step", 0))
    for name, value in (state.get("metrics") or {}).items():
        if name not in ("step", "stage") and value is not None:
            training.log_metric(name, float(value))
