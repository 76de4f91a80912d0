"""The compiled pipeline's multi-node path: ``nodes`` and ``trainjob_template`` are pipeline parameters that
reach both training tasks, with the GPUs (per node) and the image their TrainJobs run; the tasks that
create the TrainJobs mount the workspace claim their TrainJobs write the checkpoints to; the template's
default name is the ConfigMap the chart renders for release ``momentor``, whose Role lets the runs create
TrainJobs."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from test_pipeline_package import ROOT, _by_step, _platform, _spec  # the compiled package's readers

TRAIN = ("train_gesm", "train_instruct")


@pytest.fixture(scope="module")
def compiled() -> dict:
    """The compiled package, read once: pipeline spec, training tasks, kfp-kubernetes platform spec."""
    tasks = _by_step()
    return {"spec": _spec(), "train": {step: tasks[step] for step in TRAIN}, "platform": _platform()}


def test_nodes_and_the_template_reach_both_training_tasks(compiled):
    parameters = compiled["spec"]["root"]["inputDefinitions"]["parameters"]
    nodes = parameters["nodes"]
    assert (nodes["parameterType"], nodes["defaultValue"]) == ("NUMBER_INTEGER", 1)
    assert parameters["trainjob_template"]["defaultValue"] == "momentor-trainjob"
    for step in TRAIN:
        inputs = compiled["train"][step]["inputs"]["parameters"]
        for name in ("nodes", "gpus", "image", "trainjob_template"):
            assert inputs[name] == {"componentInputParameter": name}, (step, name)


def test_the_training_executors_create_the_trainjob_and_mount_the_claim_it_writes_to(compiled):
    executors = compiled["spec"]["deploymentSpec"]["executors"]
    mounts = compiled["platform"]["executors"]
    for step in TRAIN:
        executor = f"exec-{compiled['train'][step]['componentRef']['name'][5:]}"
        code = "\n".join(executors[executor]["container"]["command"])
        assert 'if nodes > 1:\n        argv = ["trainjob", "--stage", stage, "--out", out' in code
        assert '"--template-configmap", trainjob_template' in code
        (mount,) = mounts[executor]["pvcMount"]
        assert mount["mountPath"] == "/workspace"  # where the chart's TrainJob pods mount the same claim
        assert mount["pvcNameParameter"]["componentInputParameter"].endswith("workspace_pvc")


def test_the_default_template_is_the_charts_and_its_runs_may_create_trainjobs(compiled):
    from momentor import assets

    try:
        helm = assets.helm_binary()
    except assets.AssetError as err:
        pytest.skip(f"helm binary unavailable: {err}")
    chart = ROOT / "charts" / "momentor"
    rendered = subprocess.run([str(helm), "template", "momentor", str(chart), "-n", "kubeflow", "-f",
                               str(chart / "ci" / "training-pipeline.yaml")], capture_output=True, text=True,
                              check=True).stdout
    objects = [o for o in yaml.safe_load_all(rendered) if o]
    parameters = compiled["spec"]["root"]["inputDefinitions"]["parameters"]
    default = parameters["trainjob_template"]["defaultValue"]
    assert default in {o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"}
    claim = parameters["workspace_pvc"]["defaultValue"]
    assert claim in {o["metadata"]["name"] for o in objects if o["kind"] == "PersistentVolumeClaim"}
    named = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    (binding,) = [o for (kind, name), o in named.items()
                  if kind == "RoleBinding" and name.endswith("-trainjobs")]
    runner = {"kind": "ServiceAccount", "name": "pipeline-runner", "namespace": "kubeflow"}
    assert binding["subjects"] == [runner]
    role = named[("Role", binding["roleRef"]["name"])]
    assert {"apiGroups": ["trainer.kubeflow.org"], "resources": ["trainjobs"],
            "verbs": ["create", "get", "delete"]} in role["rules"]
