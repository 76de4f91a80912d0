"""The compiled pipeline's multi-node path: ``nodes`` and ``trainjob_template`` are pipeline parameters that
reach both training tasks, with the GPUs (per node) and the image their TrainJobs run; the tasks that
create the TrainJobs mount the workspace claim their TrainJobs write the checkpoints to; the template's
default name is the ConfigMap the chart renders for release ``momentor``, whose Role lets the runs create
TrainJobs. A training task's pod is sized at run time by the train-pod task: while it waits for a TrainJob
it holds no GPU (the compiled train-pod code runs here as in its pod, and its outputs fill the training
executors' resources as KFP's driver fills them)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from test_pipeline_package import ROOT, _by_step, _platform, _spec  # the compiled package's readers

TRAIN = ("train_gesm", "train_instruct")


@pytest.fixture(scope="module")
def compiled() -> dict:
    """The compiled package, read once: pipeline spec, training tasks, kfp-kubernetes platform spec."""
    tasks = _by_step()
    return {"spec": _spec(), "train": {step: tasks[step] for step in TRAIN}, "platform": _platform(),
            "pod": tasks["train_pod"]}


def _executor(task: dict) -> str:
    """The executor (container) of ``task``."""
    return f"exec-{task['componentRef']['name'][5:]}"


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


def test_the_training_pods_are_sized_by_the_train_pod_task(compiled):
    executors = compiled["spec"]["deploymentSpec"]["executors"]
    pod = compiled["pod"]
    inputs = {name: pod["inputs"]["parameters"][name] for name in ("nodes", "gpus", "accelerator")}
    assert inputs == {"nodes": {"componentInputParameter": "nodes"},
                      "gpus": {"componentInputParameter": "gpus"},
                      "accelerator": {"runtimeValue": {"constant": "nvidia.com/gpu"}}}
    light = executors[_executor(pod)]["container"]["resources"]
    light = (light["resourceCpuRequest"], light["resourceMemoryLimit"], "accelerator" in light)
    assert light == ("500m", "1Gi", False)
    assert _executor(pod) not in compiled["platform"]["executors"]  # no claim: it reads nothing
    for step, task in compiled["train"].items():
        assert "train-pod" in task["dependentTasks"], step  # its outputs exist before the pod is made
        inputs = task["inputs"]["parameters"]
        for output in ("cpu", "memory", "accelerator", "accelerators"):
            assert inputs[f"pipelinechannel--train-pod-{output}"] == {
                "taskOutputParameter": {"outputParameterKey": output, "producerTask": "train-pod"}}, step


def _run_train_pod(compiled, tmp_path, nodes: int, gpus: int) -> dict:
    """The compiled train-pod code, run as its pod runs it (the container's command and args, KFP's executor
    input); its output parameters."""
    executors = compiled["spec"]["deploymentSpec"]["executors"]
    container = executors[_executor(compiled["pod"])]["container"]
    names = ("cpu", "memory", "accelerator", "accelerators")
    inputs = {"nodes": nodes, "gpus": gpus, "accelerator": "nvidia.com/gpu"}
    executor_input = {"inputs": {"parameterValues": inputs},
                      "outputs": {"parameters": {n: {"outputFile": str(tmp_path / n)} for n in names},
                                  "outputFile": str(tmp_path / "executor_output.json")}}
    args = [json.dumps(executor_input) if a == "{{$}}" else a for a in container["args"]]
    path = f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"  # python3: this environment's
    subprocess.run([*container["command"], *args], env={**os.environ, "PATH": path}, check=True)
    return json.loads((tmp_path / "executor_output.json").read_text())["parameterValues"]


def _pod_resources(resources: dict, task: dict, outputs: dict) -> dict:
    """A training pod's requests and limits as KFP's driver makes them: each placeholder read as the string
    value of the task's input (the train-pod output it names); an accelerator limit only when its type and
    count are both non-empty."""
    def value(field: str) -> str:
        (channel,) = re.fullmatch(r"\{\{\$\.inputs\.parameters\['(.+)'\]\}\}", field).groups()
        source = task["inputs"]["parameters"][channel]["taskOutputParameter"]
        assert source["producerTask"] == "train-pod"
        produced = outputs[source["outputParameterKey"]]
        return produced if isinstance(produced, str) else ""  # the driver's GetStringValue(): a number is ""

    memory = value(resources["resourceMemoryLimit"])
    pod = {"requests": {"cpu": value(resources["resourceCpuRequest"]), "memory": memory},
           "limits": {"memory": memory}}
    kind, count = (value(resources["accelerator"][f]) for f in ("resourceType", "resourceCount"))
    if kind and count:
        pod["limits"][kind] = count
    return pod


@pytest.mark.parametrize("nodes,gpus,expected", [
    (2, 8, {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}),  # waits: no GPU
    (1, 8, {"requests": {"cpu": "8", "memory": "64Gi"}, "limits": {"memory": "64Gi", "nvidia.com/gpu": "8"}}),
    (1, 0, {"requests": {"cpu": "8", "memory": "64Gi"}, "limits": {"memory": "64Gi"}}),  # trains on CPU
])
def test_a_waiting_training_pod_holds_no_gpu_and_a_training_one_its_gpus(compiled, tmp_path, nodes, gpus,
                                                                          expected):
    outputs = _run_train_pod(compiled, tmp_path, nodes, gpus)
    executors = compiled["spec"]["deploymentSpec"]["executors"]
    for step, task in compiled["train"].items():
        executor = _executor(task)
        assert _pod_resources(executors[executor]["container"]["resources"], task, outputs) == expected, step
        # either way the same pod spec otherwise: the claim mounted, and the run's own service account (the
        # chart binds pipeline-runner to the Role that creates TrainJobs): none is set per task
        platform = compiled["platform"]["executors"][executor]
        assert set(platform) == {"pvcMount"} and platform["pvcMount"][0]["mountPath"] == "/workspace", step
    # the other GPU steps (feature shards, prediction, re-scoring) get `gpus` whatever `nodes`, as strings
    assert (outputs["step_accelerators"], outputs["step_accelerator"]) == (
        str(gpus), "nvidia.com/gpu" if gpus else "")
