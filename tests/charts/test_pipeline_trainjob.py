"""The pipeline's TrainJob template (``training.pipeline.enabled``): the chart's own TrainJob, rendered into a
ConfigMap, filled per stage by ``momentor trainjob`` and checked against the Trainer API's models
(``kubeflow_trainer_api`` 2.3, pydantic), plus the RBAC that lets the KFP runs create it."""

from __future__ import annotations

import pytest
import yaml
from kubeflow_trainer_api.models import TrainerV1alpha1TrainJob

from momentor import trainjob
from momentor.config import ConfigError

from .chart_rendering import CHART, pod_specs, trainjob_validator

PIPELINE = CHART / "ci" / "training-pipeline.yaml"


def only(objects: list[dict], kind: str, name_end: str = "") -> dict:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"].endswith(name_end)]
    return found


def template(render, values_file=PIPELINE, sets=()) -> dict:
    configmap = only(render(values_file, sets=sets), "ConfigMap", "-trainjob")
    return yaml.safe_load(configmap["data"]["trainjob.yaml"])


def test_the_template_is_the_charts_trainjob_and_round_trips_through_the_trainer_models(render):
    job = template(render)
    # from_dict drops what the API does not know and rejects wrong types: the round trip must be lossless
    assert TrainerV1alpha1TrainJob.from_dict(job).to_dict() == job
    assert "args" not in job["spec"]["trainer"]  # the step fills them
    # the same body as the TrainJob helm creates itself (one template): only name, args and labels differ
    standalone = only(render(PIPELINE, sets=("training.enabled=true",)), "TrainJob")
    assert {k: v for k, v in standalone["spec"]["trainer"].items() if k != "args"} == job["spec"]["trainer"]
    assert standalone["spec"]["runtimePatches"] == job["spec"]["runtimePatches"]


def test_a_stage_filled_in_validates_and_keeps_the_charts_pods(render):
    name = trainjob.job_name("rel-momentor-train", "instruct", "0123456789abcdef")
    args = ["train", "--stage", "instruct", "--out", "/workspace/checkpoints/0123456789abcdef/instruct"]
    image = "registry/momentor@sha256:" + "a" * 64
    filled = trainjob.build(template(render), name, args, nodes=4, image=image, gpus=8,
                            labels={"momentor/stage": "instruct"})
    assert trainjob.validate(filled) is filled
    assert not list(trainjob_validator().iter_errors(filled))  # and the chart tests' JSON schema
    trainer = filled["spec"]["trainer"]
    assert (trainer["numNodes"], trainer["args"][:3]) == (4, ["train", "--stage", "instruct"])
    assert filled["metadata"]["name"] == "rel-momentor-train-instruct-0123456789ab"
    resources = trainer["resourcesPerNode"]
    assert resources["requests"]["nvidia.com/gpu"] == 8 == resources["limits"]["nvidia.com/gpu"]
    for where, pod in pod_specs(filled):  # launcher and every node mount the release's workspace claim
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["workspace"]["persistentVolumeClaim"]["claimName"] == "rel-momentor-workspace", where
        mounted = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        assert {"/workspace", "/etc/momentor"} <= mounted, where


@pytest.mark.parametrize("change, field", [
    (lambda t: t.update(numNode=2), "/spec/trainer/numNode"),  # a misspelt field the models would drop
    (lambda t: t["resourcesPerNode"].update(request={"cpu": "1"}), "/spec/trainer/resourcesPerNode/request"),
])
def test_validation_names_a_field_the_trainer_api_does_not_have(render, change, field):
    job = template(render)
    change(job["spec"]["trainer"])
    with pytest.raises(ConfigError, match=f"TrainJob field {field} is not part of"):
        trainjob.validate(job)


def test_validation_refuses_a_wrong_type():
    job = {"apiVersion": "trainer.kubeflow.org/v1alpha1", "kind": "TrainJob", "metadata": {"name": "x"},
           "spec": {"runtimeRef": {"name": "deepspeed-distributed"}, "trainer": {"numProcPerNode": "auto"}}}
    wrong_type = "(?s)not a valid trainer.kubeflow.org/v1alpha1 TrainJob.*numProcPerNode.*valid integer"
    with pytest.raises(ConfigError, match=wrong_type):
        trainjob.validate(job)


def test_job_names_stay_labels_of_at_most_63_characters():
    name = trainjob.job_name("a" * 60 + "-train", "instruct", "0123456789abcdef")
    assert len(name) == 63 and name.endswith("-instruct-0123456789ab") and "--" not in name


def test_the_pipeline_runs_may_create_trainjobs_and_read_only_their_template(render):
    objects = render(PIPELINE)
    role = only(objects, "Role", "-trainjobs")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["rel-momentor-trainjob"],
         "verbs": ["get"]},
        {"apiGroups": ["trainer.kubeflow.org"], "resources": ["trainjobs"],
         "verbs": ["create", "get", "delete"]},
    ]
    binding = only(objects, "RoleBinding", "-trainjobs")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "pipeline-runner", "namespace": "ml"}]
    # off by default: no template, and the release's own account still only reads its params
    defaults = render(None)
    assert [o["metadata"]["name"] for o in defaults if o["kind"] in ("Role", "ConfigMap")] == [
        "rel-momentor-params", "rel-momentor"]


def test_the_runs_the_chart_submits_find_this_releases_template_and_take_its_node_count(render):
    for release in ("rel", "other"):
        objects = render(PIPELINE, release=release)
        configmap = only(objects, "ConfigMap", "-trainjob")["metadata"]["name"]
        args = only(objects, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
        pipeline_args = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--arg"]
        assert f"trainjob_template={configmap}" in pipeline_args and "nodes=2" in pipeline_args
    # without the template, a scheduled run trains in its own pods: no TrainJob arguments
    args = only(render(None), "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not [a for a in args if a.startswith(("trainjob_template=", "nodes="))]
