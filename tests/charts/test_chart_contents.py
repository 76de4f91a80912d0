"""What the chart's objects do: the params ConfigMap is a params.yaml that momentor accepts, the CronJob and
Job run `momentor pipeline submit`, the TrainJob runs `momentor train` on the DeepSpeed runtime."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess

import pytest
import yaml

from momentor import config as config_lib
from .chart_rendering import CHART, CI_VALUES, ROOT, override_args, pod_specs, run_helm

VALUES_FILES = [None, *CI_VALUES]
IDS = ["defaults", *(p.stem for p in CI_VALUES)]


def only(objects: list[dict], kind: str) -> dict:
    """The one object of ``kind``; of ConfigMaps, the params (the pipeline's TrainJob template is another)."""
    (obj,) = [o for o in objects if o["kind"] == kind and not o["metadata"]["name"].endswith("-trainjob")]
    return obj


def submit_containers(objects: list[dict]) -> list[dict]:
    submitters = [o for o in objects if o["kind"] in ("CronJob", "Job")]
    return [c for o in submitters for _, spec in pod_specs(o) for c in spec["containers"]]


@pytest.mark.parametrize("values_file", VALUES_FILES, ids=IDS)
def test_params_configmap_and_every_override_load_in_momentor(render, values_file, tmp_path):
    """The mounted params.yaml, with each pod's -S overrides, is a config momentor accepts."""
    objects = render(values_file)
    params = tmp_path / "params.yaml"
    params.write_text(only(objects, "ConfigMap")["data"]["params.yaml"])
    argument_lists = [c["args"] for c in submit_containers(objects)]
    argument_lists += [o["spec"]["trainer"]["args"] for o in objects if o["kind"] == "TrainJob"]
    for args in [[], *argument_lists]:
        cfg = config_lib.load(params, override_args(args))
        assert cfg.pipeline.schedule


def test_configmap_holds_the_values_params(render):
    objects = render(CHART / "ci" / "training-gpu.yaml")
    params = yaml.safe_load(only(objects, "ConfigMap")["data"]["params.yaml"])
    assert params["model"]["preset"] == "paper"
    assert params["train"]["deepspeed"] == {"zero_stage": 2, "bf16": True, "gradient_checkpointing": True}
    cfg = config_lib.from_dict(params)
    assert (cfg.model.preset, cfg.train.deepspeed.zero_stage) == ("paper", 2)
    # a key left out keeps the package default
    assert cfg.train.micro_batch_size == config_lib.Config().train.micro_batch_size


def test_default_params_are_a_subset_of_the_project_params_with_its_schedule():
    """The chart's params are project keys, and its schedule is the project's (one cron, in params)."""
    chart_params = yaml.safe_load((CHART / "values.yaml").read_text())["params"]
    project = yaml.safe_load((ROOT / "params.yaml").read_text())

    def missing(sub: dict, full: dict, prefix: str = "") -> list[str]:
        out = []
        for key, value in sub.items():
            if key not in full:
                out.append(prefix + key)
            elif isinstance(value, dict):
                out += missing(value, full[key], f"{prefix}{key}.")
        return out

    assert missing(chart_params, project) == []
    assert chart_params["pipeline"]["schedule"] == project["pipeline"]["schedule"]


def test_schema_params_sections_are_the_config_sections():
    schema = json.loads((CHART / "values.schema.json").read_text())
    sections = set(schema["properties"]["params"]["properties"])
    assert sections == set(config_lib.Config.model_fields)
    # the one section the chart reads itself is closed in the schema: a new key needs a schema entry
    pipeline = set(schema["properties"]["params"]["properties"]["pipeline"]["properties"])
    expected = set(config_lib.PipelineConfig.model_fields)
    assert pipeline == expected, "add the new pipeline keys to charts/momentor/values.schema.json"


@pytest.mark.parametrize(
    "values_file", [None, CHART / "ci" / "submit-job.yaml"], ids=["defaults", "submit-job"]
)
def test_submitters_run_pipeline_submit_with_endpoint_experiment_and_overrides(render, values_file):
    objects = render(values_file)
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    if values_file is not None:
        values = merge(values, yaml.safe_load(values_file.read_text()))
    for obj in objects:
        if obj["kind"] not in ("CronJob", "Job"):
            continue
        (container,) = pod_specs(obj)[0][1]["containers"]
        section = values["schedule" if obj["kind"] == "CronJob" else "submitJob"]
        endpoint = values["params"]["pipeline"]["kfp_endpoint"]
        expected = ["pipeline", "submit", "--params", "/etc/momentor/params.yaml", "--endpoint", endpoint]
        expected += ["--experiment", values["kfp"]["experiment"], "--arg", "workspace_pvc=rel-momentor-workspace"]
        if section["rawDataUri"]:
            expected += ["--arg", f"raw_data_uri={section['rawDataUri']}"]
        expected += [item for override in section["overrides"] for item in ("-S", override)]
        assert container["args"] == expected
        app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
        assert container["image"] == f"momentor:{app_version}"
        if obj["kind"] == "CronJob":
            assert obj["spec"]["schedule"] == values["params"]["pipeline"]["schedule"]
            assert obj["spec"]["concurrencyPolicy"] == "Forbid"
        else:
            assert obj["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"


def test_multi_user_kfp_gets_a_projected_token_with_the_pipelines_audience(render):
    objects = render(CHART / "ci" / "submit-job.yaml")
    for _, spec in [s for o in objects for s in pod_specs(o)]:
        (token,) = [v for v in spec["volumes"] if v["name"] == "kfp-token"]
        assert token["projected"]["sources"][0]["serviceAccountToken"]["audience"] == "pipelines.kubeflow.org"
        (container,) = spec["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        mount = next(m for m in container["volumeMounts"] if m["name"] == "kfp-token")
        assert env["KF_PIPELINES_SA_TOKEN_PATH"] == mount["mountPath"] + "/token"


def test_trainjob_runs_instruction_tuning_on_the_deepspeed_runtime(render):
    objects = render(CHART / "ci" / "training-gpu.yaml")
    job = only(objects, "TrainJob")
    spec = job["spec"]
    assert job["apiVersion"] == "trainer.kubeflow.org/v1alpha1"
    assert spec["runtimeRef"] == {
        "apiGroup": "trainer.kubeflow.org", "kind": "ClusterTrainingRuntime", "name": "deepspeed-distributed"
    }
    trainer = spec["trainer"]
    assert trainer["numNodes"] == 4
    # GPUs from values, in requests and limits alike (extended resources cannot overcommit)
    assert trainer["resourcesPerNode"]["limits"]["nvidia.com/gpu"] == 8
    assert trainer["resourcesPerNode"]["requests"]["nvidia.com/gpu"] == 8
    command = trainer["command"]
    assert command[:2] == ["bash", "-c"] and "mpirun" in command[2] and "/etc/mpi/hostfile" in command[2]
    assert command[3:] == ["momentor-launch"]  # $0 of the script; the args are momentor's
    assert trainer["args"] == ["train", "--params", "/etc/momentor/params.yaml", "--stage", "instruct"]
    # every rank gets the torch.distributed variables from Open MPI's
    for variable in ("RANK=$OMPI_COMM_WORLD_RANK", "LOCAL_RANK=$OMPI_COMM_WORLD_LOCAL_RANK",
                     "WORLD_SIZE=$OMPI_COMM_WORLD_SIZE", "MASTER_ADDR"):
        assert variable in command[2]
    syntax = subprocess.run(["bash", "-n", "-c", command[2]], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    env = {e["name"]: e for e in trainer["env"]}
    assert env["MASTER_PORT"]["value"] == "29500"
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "momentor-s3"
    # launcher and nodes: same params, workspace PVC, shared memory, GPU node placement
    patched = dict(pod_specs(job))
    assert set(patched) == {"TrainJob/launcher", "TrainJob/node"}
    for pod in patched.values():
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["workspace"]["persistentVolumeClaim"]["claimName"] == "momentor-work"
        assert volumes["dshm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "64Gi"}
        assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
        (container,) = pod["containers"]
        assert container["name"] == "node"  # the runtime's trainer container
        mounted = {m["mountPath"] for m in container["volumeMounts"]}
        assert {"/workspace", "/etc/momentor", "/dev/shm"} <= mounted


def test_training_is_off_by_default_and_on_cpu_has_no_gpu(render):
    assert "TrainJob" not in {o["kind"] for o in render(None)}
    job = only(render(CHART / "ci" / "training.yaml"), "TrainJob")
    resources = job["spec"]["trainer"]["resourcesPerNode"]
    assert not any("gpu" in name for part in resources.values() for name in part)
    assert job["metadata"]["name"] == "rel-momentor-train-instruct-smoke-1"
    overrides = override_args(job["spec"]["trainer"]["args"])
    assert overrides == ["model.preset=cpu", "train.instruct.max_steps=50"]


DIGEST = "sha256:" + hashlib.sha256(b"momentor image").hexdigest()
OTHER_DIGEST = "sha256:" + hashlib.sha256(b"another image").hexdigest()
#: repository[:port]/path@sha256:<64 hex>, the only form a digest-pinned reference may take
PINNED_REFERENCE = re.compile(r"([A-Za-z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._/-]+[a-z0-9]+)*@sha256:[a-f0-9]{64}")


def momentor_images(objects: list[dict]) -> list[tuple[str, str]]:
    """(where, image) of every use of the momentor image: the submit containers, the image they hand the
    pipeline tasks ($MOMENTOR_IMAGE), and the TrainJob's trainer."""
    images = []
    for obj in objects:
        for where, spec in pod_specs(obj):
            for container in spec["containers"]:
                if "image" in container:  # a TrainJob's patches leave the image to spec.trainer
                    images.append((f"{where}/{container['name']}", container["image"]))
                images += [(f"{where}/$MOMENTOR_IMAGE", e["value"]) for e in container.get("env", [])
                           if e["name"] == "MOMENTOR_IMAGE"]
        if obj["kind"] == "TrainJob":
            images.append(("TrainJob/trainer", obj["spec"]["trainer"]["image"]))
    return images


EVERY_POD = ("submitJob.enabled=true", "training.enabled=true", "training.workspace.existingClaim=w")


@pytest.mark.parametrize(
    "pin",
    [
        f"image.digest={DIGEST}",
        f"image.repository=registry.example:5000/ml/momentor@{DIGEST}",
        f"image.tag=0.1.0@{DIGEST}",
    ],
    ids=["digest", "repository@digest", "tag@digest"],
)
def test_a_digest_pins_every_momentor_image(render, pin):
    repository = "registry.example:5000/ml/momentor"
    objects = render(sets=(f"image.repository={repository}", pin, *EVERY_POD))
    images = momentor_images(objects)
    assert {where.split("/")[0] for where, _ in images} == {"CronJob", "Job", "TrainJob"}
    for where, image in images:
        assert image == f"{repository}@{DIGEST}", where
        assert PINNED_REFERENCE.fullmatch(image), (where, image)


def test_without_a_digest_every_momentor_image_is_repository_colon_tag(render):
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    for sets, expected in [((), f"momentor:{app_version}"), (("image.tag=1.2.3",), "momentor:1.2.3")]:
        images = momentor_images(render(sets=(*sets, *EVERY_POD)))
        assert images and all(image == expected for _, image in images), images


def test_a_training_image_of_its_own_does_not_inherit_the_digest(render):
    """A digest names one image: a TrainJob that asks for another tag or repository must not run it."""
    def trainer_image(*sets: str) -> str:
        return only(render(sets=(f"image.digest={DIGEST}", *sets, *EVERY_POD)), "TrainJob")["spec"]["trainer"]["image"]

    assert trainer_image() == f"momentor@{DIGEST}"
    assert trainer_image("training.image.tag=mpi") == "momentor:mpi"
    assert trainer_image("training.image.repository=momentor-mpi") == "momentor-mpi:0.1.0"
    assert trainer_image("training.image.repository=momentor-mpi", f"training.image.digest={OTHER_DIGEST}") == (
        f"momentor-mpi@{OTHER_DIGEST}"
    )


def test_two_different_digests_for_one_image_are_refused(helm):
    result = run_helm(helm, "template", "rel", str(CHART), "--set", f"image.repository=momentor@{DIGEST}",
                      "--set", f"image.digest={OTHER_DIGEST}")
    assert result.returncode != 0 and "pinned to two digests" in result.stderr, result.stderr


def merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        both_dicts = isinstance(value, dict) and isinstance(base.get(key), dict)
        out[key] = merge(base[key], value) if both_dicts else value
    return out
