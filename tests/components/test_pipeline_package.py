"""The compiled pipeline: committed and current, every task in the image with resources, the gate as If/Else."""

from __future__ import annotations

from pathlib import Path

import yaml

from momentor import pipeline_runs

ROOT = Path(__file__).resolve().parents[2]

COMMITTED = ROOT / pipeline_runs.PACKAGE_FILE
REGENERATE = "regenerate it with `momentor pipeline compile` (from the project root) and commit it"


def test_committed_pipeline_yaml_is_current(tmp_path):
    fresh = pipeline_runs.compile_pipeline(tmp_path / "pipeline.yaml", ROOT / pipeline_runs.PIPELINE_FILE)
    assert COMMITTED.is_file(), f"{COMMITTED} is missing; {REGENERATE}"
    assert fresh.read_text() == COMMITTED.read_text(), f"{COMMITTED} is stale: {REGENERATE}"


def _spec() -> dict:
    return yaml.safe_load(COMMITTED.read_text())


def test_every_task_runs_in_the_image_parameter_with_requests():
    spec = _spec()
    executors = spec["deploymentSpec"]["executors"]
    containers = {name: ex["container"] for name, ex in executors.items() if "container" in ex}
    assert len(containers) >= 12, sorted(containers)
    for name, container in containers.items():
        assert container["image"] == "{{$.inputs.parameters['pipelinechannel--image']}}", name
        resources = container["resources"]
        assert resources["resourceCpuRequest"] and resources["resourceMemoryLimit"], name
        # the components call the package, never a step of their own
        assert "from momentor" in container["command"][-1], name
        assert "pip install" not in " ".join(container["command"]), f"{name} installs packages at run time"
    assert "exec-raw-data" in containers and "exec-importer" not in executors
    gpu = {n for n, c in containers.items() if "accelerator" in c["resources"]}
    assert gpu == {"exec-features", "exec-train", "exec-train-2", "exec-train-3", "exec-predict"}
    for name in gpu:
        accelerator = containers[name]["resources"]["accelerator"]
        assert accelerator["resourceType"] == "nvidia.com/gpu"
        assert accelerator["resourceCount"] == "{{$.inputs.parameters['pipelinechannel--gpus']}}"


def test_parameters_carry_only_overrides_and_locations():
    params = _spec()["root"]["inputDefinitions"]["parameters"]
    assert set(params) == {"preset", "overrides", "gate_floors", "raw_data_uri", "champion_dir", "eval_split",
                           "image", "gpus"}
    assert params["overrides"]["parameterType"] == "LIST"
    assert params["gate_floors"]["parameterType"] == "STRUCT"
    assert params["image"]["defaultValue"] == "momentor:0.1.0"


def test_gate_branches_are_if_else_on_passed():
    components = _spec()["components"]
    branches = {}  # condition -> the tasks it guards
    for component in components.values():
        for task in component.get("dag", {}).get("tasks", {}).values():
            condition = task.get("triggerPolicy", {}).get("condition")
            if condition:
                guarded = components[task["componentRef"]["name"]]["dag"]["tasks"]
                branches[condition] = guarded
    passed = "inputs.parameter_values['pipelinechannel--gate-passed'] == true"
    assert set(branches[passed]) == {"export", "promote"}
    assert set(branches[f"!({passed})"]) == {"report"}
    # the champion is state outside the artifacts: the gate and the branches that read it are never cached
    assert _spec()["root"]["dag"]["tasks"]["gate"]["cachingOptions"] == {}
    assert branches[passed]["promote"]["cachingOptions"] == {}
    assert branches[f"!({passed})"]["report"]["cachingOptions"] == {}
