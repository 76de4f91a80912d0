"""The compiled pipeline: committed and current; exactly the step table's steps, each in the image with its
resources and a retry policy; the durable workspace mounted where the champion, checkpoints and raw data are
used; the data version keying every data-dependent cache; the gate as dsl.If."""

from __future__ import annotations

from pathlib import Path

import yaml

from momentor import pipeline_runs, steps

ROOT = Path(__file__).resolve().parents[2]

COMMITTED = ROOT / pipeline_runs.PACKAGE_FILE
REGENERATE = "regenerate it with `momentor pipeline compile` (from the project root) and commit it"


def test_committed_pipeline_yaml_is_current(tmp_path):
    fresh = pipeline_runs.compile_pipeline(tmp_path / "pipeline.yaml", ROOT / pipeline_runs.PIPELINE_FILE)
    assert COMMITTED.is_file(), f"{COMMITTED} is missing; {REGENERATE}"
    assert fresh.read_text() == COMMITTED.read_text(), f"{COMMITTED} is stale: {REGENERATE}"


def _spec() -> dict:
    return list(yaml.safe_load_all(COMMITTED.read_text()))[0]


def _platform() -> dict:
    """The kfp-kubernetes platform spec: per executor, what Kubernetes adds to its pod."""
    return list(yaml.safe_load_all(COMMITTED.read_text()))[1]["platforms"]["kubernetes"]["deploymentSpec"]


def _tasks() -> dict:
    """Every task of the pipeline (inside conditions too), by task key."""
    out = {}
    for component in [{"dag": _spec()["root"]["dag"]}, *_spec()["components"].values()]:
        out.update(component.get("dag", {}).get("tasks", {}))
    return out


def _by_step() -> dict:
    """The tasks that run the table's steps, by step name (KFP's display names use '-')."""
    return {t["taskInfo"]["name"].replace("-", "_"): t for t in _tasks().values() if "componentRef" in t
            and not t["componentRef"]["name"].startswith(("comp-condition", "comp-for-loop"))}


#: the training executors, whose resources the train-pod task computes at run time (test_trainjob_pipeline.py)
SIZED = ("exec-train", "exec-train-2")


def _from_task(channel: str) -> str:
    """A resource set at run time: the placeholder KFP's driver fills from the task's input ``channel``."""
    return f"{{{{$.inputs.parameters['pipelinechannel--{channel}']}}}}"


def test_every_task_runs_in_the_image_parameter_with_requests():
    spec = _spec()
    executors = spec["deploymentSpec"]["executors"]
    containers = {name: ex["container"] for name, ex in executors.items() if "container" in ex}
    assert len(containers) >= 13, sorted(containers)
    for name, container in containers.items():
        assert container["image"] == "{{$.inputs.parameters['pipelinechannel--image']}}", name
        resources = container["resources"]
        assert resources["resourceCpuRequest"] and resources["resourceMemoryLimit"], name
        # the components call the package, never a step of their own
        assert "from momentor" in container["command"][-1], name
        assert "pip install" not in " ".join(container["command"]), f"{name} installs packages at run time"
    assert "exec-data-version" in containers and "exec-raw-data" not in containers
    assert "exec-importer" not in executors
    gpu = {n for n, c in containers.items() if "accelerator" in c["resources"]}
    assert gpu == {"exec-features-shard", "exec-train", "exec-train-2", "exec-predict", "exec-rescore-champion"}
    for name in gpu:
        accelerator = containers[name]["resources"]["accelerator"]
        if name in SIZED:  # by the train-pod task's outputs: none while waiting for a TrainJob
            assert accelerator["resourceType"] == _from_task("train-pod-accelerator")
            assert accelerator["resourceCount"] == _from_task("train-pod-accelerators")
        else:  # strings from the train-pod task too: the driver reads a resource as a string (an int as "")
            assert accelerator["resourceType"] == _from_task("train-pod-step_accelerator")
            assert accelerator["resourceCount"] == _from_task("train-pod-step_accelerators")
    # no GPU count comes from the integer pipeline parameter `gpus` itself
    assert not [n for n in gpu if "'pipelinechannel--gpus'" in str(containers[n]["resources"])]


def test_parameters_carry_only_overrides_and_locations():
    params = _spec()["root"]["inputDefinitions"]["parameters"]
    assert set(params) == {"preset", "overrides", "gate_floors", "raw_data_uri", "workspace_pvc", "workspace",
                           "champion_dir", "eval_split", "image", "gpus", "nodes", "trainjob_template"}
    assert params["raw_data_uri"]["defaultValue"] == "", "a run must never fall back to the sample corpus"
    assert params["overrides"]["parameterType"] == "LIST"
    assert params["gate_floors"]["parameterType"] == "STRUCT"
    assert params["image"]["defaultValue"] == "momentor:0.1.0"


def test_export_and_promote_run_only_if_the_gate_passed_and_the_report_on_both_branches():
    components = _spec()["components"]
    branches = {}  # condition -> the tasks it guards
    for component in [{"dag": _spec()["root"]["dag"]}, *components.values()]:
        for task in component.get("dag", {}).get("tasks", {}).values():
            condition = task.get("triggerPolicy", {}).get("condition")
            if condition:
                branches[condition] = components[task["componentRef"]["name"]]["dag"]["tasks"]
    passed = "inputs.parameter_values['pipelinechannel--gate-passed'] == true"
    assert set(branches) == {passed, f"!({passed})"}
    assert {t["taskInfo"]["name"] for t in branches[passed].values()} == {"report", "export", "promote"}
    assert {t["taskInfo"]["name"] for t in branches[f"!({passed})"].values()} == {"report"}
    # the report is written before promotion: it compares with the champion the gate judged against
    assert set(branches[passed]["promote"]["dependentTasks"]) == {"export", "report"}
    # the champion is state outside the artifacts: the gate and the tasks that read it are never cached
    for name in ("rescore-champion", "gate"):
        assert _spec()["root"]["dag"]["tasks"][name]["cachingOptions"] == {}, name
    # the baselines never look at the video or the champion: cached by the manifest and the params
    assert _spec()["root"]["dag"]["tasks"]["baselines"]["cachingOptions"] == {"enableCache": True}
    for branch in branches.values():
        for name, task in branch.items():
            if name != "export":
                assert task["cachingOptions"] == {}, name


def test_the_pipeline_runs_exactly_the_step_tables_steps():
    shards = {f"{s.name}_shard" for s in steps.enabled_steps() if s.sharded}  # a sharded step's ParallelFor body
    ran = set(_by_step()) - {"resolve_config", "data_version", "shard_plan", "train_pod"} - shards
    assert ran == {s.name for s in steps.enabled_steps()} and shards <= set(_by_step())
    for name, task in _by_step().items():
        if name in ran | shards:
            spec = _spec()["deploymentSpec"]["executors"][f"exec-{task['componentRef']['name'][5:]}"]
            resources = spec["container"]["resources"]
            need = steps.resources(name.removesuffix("_shard"))
            sized = f"exec-{task['componentRef']['name'][5:]}" in SIZED
            memory = _from_task("train-pod-memory") if sized else need["memory"]
            assert resources["resourceMemoryLimit"] == memory, name
            gpu = need["gpu"] and not (name in ran and steps.step(name).sharded)  # a merge links the shards' parts
            assert "accelerator" in resources if gpu else "accelerator" not in resources, name


def test_every_task_has_a_retry_policy_with_backoff():
    for name, task in _by_step().items():
        policy = task["retryPolicy"]
        assert policy["maxRetryCount"] >= 2 and policy["backoffFactor"] > 1 and policy["backoffDuration"], name


def test_the_workspace_claim_is_mounted_where_durable_state_is_used():
    mounted = {}
    for executor, config in _platform()["executors"].items():
        for mount in config.get("pvcMount", []):
            assert mount["mountPath"] == "/workspace"
            mounted[executor] = mount["pvcNameParameter"]["componentInputParameter"]
    by_executor = {name: f"exec-{task['componentRef']['name'][5:]}" for name, task in _by_step().items()}
    # the champion (its re-scoring, gate, report, promote), the checkpoints (both training stages), the raw
    # data read in place
    users = ("rescore_champion", "gate", "report", "promote", "train_gesm", "train_instruct", "data_version", "ingest", "features",
             "validate", "engine", "features_shard", "engine_shard")
    for step in users:
        assert by_executor[step] in mounted, f"{step} does not mount the workspace claim"
        assert mounted[by_executor[step]].endswith("workspace_pvc")
    # and nowhere else (the report runs on both branches: two executors)
    assert set(mounted) == {by_executor[step] for step in users} | {"exec-report", "exec-report-2"}


def test_the_data_version_keys_every_data_dependent_cache():
    tasks = _by_step()
    assert tasks["data_version"]["cachingOptions"] == {}, "the data version must be computed in every run"
    for step in ("ingest", "features", "validate", "engine", "validate_instructions", "train_gesm",
                 "train_instruct"):
        inputs = tasks[step]["inputs"]["parameters"]
        assert inputs["data_version"]["taskOutputParameter"] == {"outputParameterKey": "version",
                                                                "producerTask": "data-version"}, step
        assert tasks[step]["cachingOptions"] == {"enableCache": True}, step


def test_raw_data_is_read_in_place_never_copied():
    """The data steps get the folder's path from the data-version task (a string: the pods read it on the
    volume), no task has a raw-data artifact, and the steps that read no videos get no path at all."""
    tasks = _by_step()
    for step in ("ingest", "features", "validate", "engine"):
        assert tasks[step]["inputs"]["parameters"]["raw"]["taskOutputParameter"] == {
            "outputParameterKey": "raw", "producerTask": "data-version"}, step
    for name, task in tasks.items():
        assert "raw" not in task["inputs"].get("artifacts", {}), name
    for step in ("validate_instructions", "train_gesm", "train_instruct", "predict"):
        assert "raw" not in tasks[step]["inputs"].get("parameters", {}), step
    outputs = _spec()["components"]["comp-data-version"]["outputDefinitions"]
    assert set(outputs["artifacts"]) == {"listing"}  # what the run read: path -> md5, not the bytes
