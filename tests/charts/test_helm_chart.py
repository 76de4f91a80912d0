"""The momentor chart lints, renders for every values file, and every rendered object is a valid object of
Kubernetes 1.35 (TrainJob: of the Trainer v1alpha1 API); every pod is hardened; bad values are refused."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest
import yaml

from .chart_rendering import (
    CHART,
    CI_VALUES,
    KUBE_VERSION,
    pod_specs,
    run_helm,
    trainjob_validator,
)

VALUES_FILES = [None, *CI_VALUES]
IDS = ["defaults", *(p.stem for p in CI_VALUES)]


@pytest.mark.parametrize("values_file", VALUES_FILES, ids=IDS)
def test_lint_strict(helm, values_file):
    args = ["lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION]
    if values_file is not None:
        args += ["-f", str(values_file)]
    result = run_helm(helm, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


@pytest.mark.parametrize("values_file", VALUES_FILES, ids=IDS)
def test_every_rendered_object_validates(render, values_file):
    objects = render(values_file)
    trainjobs = trainjob_validator()
    for obj in objects:
        if obj["kind"] == "TrainJob":
            # a CRD: not in the Kubernetes schemas; checked against the Trainer API's schema instead
            errors = [
                f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                for e in trainjobs.iter_errors(obj)
            ]
            assert not errors, errors
        else:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


def test_values_files_render_the_expected_objects(render):
    kinds = {(p.stem if p else "defaults"): sorted(o["kind"] for o in render(p)) for p in VALUES_FILES}
    base = sorted(["ConfigMap", "CronJob", "PersistentVolumeClaim", "Role", "RoleBinding", "ServiceAccount"])
    assert kinds["defaults"] == base
    assert kinds["training"] == sorted([*base, "TrainJob"])
    assert kinds["training-gpu"] == sorted(["ConfigMap", "PersistentVolumeClaim", "Role", "RoleBinding",
                                            "ServiceAccount", "TrainJob"])
    assert kinds["submit-job"] == sorted([*base, "Job"])
    assert kinds["serve"] == sorted([*base, "Deployment", "Service"])


@pytest.mark.parametrize("values_file", VALUES_FILES, ids=IDS)
def test_every_pod_runs_non_root_read_only_with_resources(render, values_file):
    objects = render(values_file)
    specs = [spec for obj in objects for spec in pod_specs(obj)]
    assert specs, "no pod spec rendered"
    trainjob = next((o for o in objects if o["kind"] == "TrainJob"), None)
    for where, spec in specs:
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["runAsUser"] != 0, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        volumes = {v["name"]: v for v in spec["volumes"]}
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["privileged"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            # a read-only root still needs writable scratch and caches, on emptyDir volumes
            for path in ("/tmp", "/home/mpiuser/.cache"):
                assert "emptyDir" in volumes[mounts[path]], (where, path)
            # a TrainJob's container resources come from trainer.resourcesPerNode
            resources = trainjob["spec"]["trainer"]["resourcesPerNode"] if where.startswith("TrainJob") else (
                container["resources"]
            )
            assert resources["requests"] and resources["limits"], where
            for name, limit in resources["limits"].items():
                assert name in resources["requests"], (where, name, limit)


@pytest.mark.parametrize("values_file", VALUES_FILES, ids=IDS)
def test_secrets_only_by_reference(render, values_file):
    """No Secret is rendered, and any credential-like variable comes from a secretKeyRef."""
    objects = render(values_file)
    assert "Secret" not in {o["kind"] for o in objects}
    envs = []
    for obj in objects:
        for _, spec in pod_specs(obj):
            envs += [e for c in spec["containers"] for e in c.get("env", [])]
        if obj["kind"] == "TrainJob":
            envs += obj["spec"]["trainer"]["env"]
    for env in envs:
        if any(word in env["name"] for word in ("TOKEN", "SECRET", "PASSWORD", "ACCESS_KEY")):
            if env["name"].endswith("_PATH"):
                continue  # a file path, not a credential
            assert "value" not in env and "secretKeyRef" in env["valueFrom"], env


def test_rbac_grants_only_reading_the_params_configmap(render):
    objects = render(None)
    assert not {"ClusterRole", "ClusterRoleBinding"} & {o["kind"] for o in objects}
    (role,) = [o for o in objects if o["kind"] == "Role"]
    (configmap,) = [o for o in objects if o["kind"] == "ConfigMap"]
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": [configmap["metadata"]["name"]],
            "verbs": ["get"],
        }
    ]
    (binding,) = [o for o in objects if o["kind"] == "RoleBinding"]
    (account,) = [o for o in objects if o["kind"] == "ServiceAccount"]
    subject = {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": "ml"}
    assert binding["subjects"] == [subject]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert account["automountServiceAccountToken"] is False


@pytest.mark.parametrize(
    "sets, complaint",
    [
        (("training.numNodes=-1",), "/training/numNodes"),
        (("training.numNodes=0",), "/training/numNodes"),
        (("unknownKey=1",), "unknownKey"),
        (("training.gpus=8",), "gpus"),
        (("params.modle.preset=paper",), "modle"),
        (("training.stage=finetune",), "/training/stage"),
        (("securityContext.readOnlyRootFilesystem=false",), "/securityContext/readOnlyRootFilesystem"),
        (("podSecurityContext.runAsNonRoot=false",), "/podSecurityContext/runAsNonRoot"),
        # the security context is locked: no privileged container, no added capability, no unconfined seccomp
        (("securityContext.privileged=true",), "/securityContext/privileged"),
        (("securityContext.allowPrivilegeEscalation=true",), "/securityContext/allowPrivilegeEscalation"),
        (("securityContext.runAsNonRoot=false",), "/securityContext/runAsNonRoot"),
        (("securityContext.capabilities.add={NET_ADMIN}",), "/securityContext/capabilities/add"),
        (("securityContext.capabilities.drop={NET_RAW}",), "/securityContext/capabilities/drop"),
        (("securityContext.seccompProfile.type=Unconfined",), "/securityContext/seccompProfile/type"),
        (("podSecurityContext.seccompProfile.type=Unconfined",), "/podSecurityContext/seccompProfile/type"),
        (("podSecurityContext.seccompProfile=null",), "seccompProfile"),
        (("podSecurityContext.seccompProfile.type=Localhost",), "localhostProfile"),
        (("podSecurityContext.appArmorProfile.type=Unconfined",), "/podSecurityContext/appArmorProfile/type"),
        (("securityContext.procMount=Unmasked",), "/securityContext/procMount"),
        (("podSecurityContext.sysctls[0].name=kernel.msgmax",), "sysctls"),
        # an image reference is a repository (optionally @sha256:<digest>), a tag and a digest, never mixed up
        (("image.repository=momentor:0.1.0",), "/image/repository"),
        (("image.digest=sha256:abc",), "/image/digest"),
        (("image.repository=momentor@sha256:abc",), "/image/repository"),
        (("schedule.overrides[0]=no-equals-sign",), "/schedule/overrides/0"),
        (("params.pipeline.schedule=every monday",), "/params/pipeline/schedule"),
        (("resources.limits=null",), "/resources"),
        (("training.runId=Run_1",), "/training/runId"),
    ],
)
def test_schema_refuses_bad_values(helm, sets, complaint):
    args = ["template", "rel", str(CHART)]
    for item in sets:
        args += ["--set", item]
    result = run_helm(helm, *args)
    assert result.returncode != 0, f"{sets} rendered"
    assert "schema" in result.stderr and complaint in result.stderr, result.stderr


def test_lint_strict_fails_on_a_bad_value(helm, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"training": {"numNodes": -2}}))
    result = run_helm(helm, "lint", "--strict", str(CHART), "-f", str(bad))
    assert result.returncode != 0 and "numNodes" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "sets, release, complaint",
    [
        (("params.pipeline.kfp_endpoint=null",), "rel", "params.pipeline.kfp_endpoint is empty"),
        (("training.enabled=true", "training.workspace.existingClaim=w"), "1st", "must be an RFC 1035 label"),
    ],
)
def test_missing_or_unusable_values_fail_with_what_to_do(helm, sets, release, complaint):
    args = ["template", release, str(CHART)]
    for item in sets:
        args += ["--set", item]
    result = run_helm(helm, *args)
    assert result.returncode != 0 and complaint in result.stderr, result.stderr


def test_disabling_every_submitter_needs_no_endpoint(render):
    objects = render(sets=("params.pipeline.kfp_endpoint=null", "schedule.enabled=false"))
    assert sorted(o["kind"] for o in objects) == ["ConfigMap", "PersistentVolumeClaim", "Role", "RoleBinding",
                                                  "ServiceAccount"]


def test_the_workspace_claim_outlives_the_release_and_reaches_every_submitted_run(render):
    (claim,) = [o for o in render() if o["kind"] == "PersistentVolumeClaim"]
    assert claim["metadata"]["name"] == "rel-momentor-workspace"
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"  # uninstall keeps the champion
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"] and claim["spec"]["resources"]["requests"]["storage"]
    # an existing claim: none created, that one used by the submitted runs and the TrainJob
    objects = render(sets=("workspace.existingClaim=shared-ws", "schedule.rawDataUri=/workspace/data/current",
                           "training.enabled=true"))
    assert not [o for o in objects if o["kind"] == "PersistentVolumeClaim"]
    (cron,) = [o for o in objects if o["kind"] == "CronJob"]
    args = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "workspace_pvc=shared-ws" in args and "raw_data_uri=/workspace/data/current" in args
    (trainjob,) = [o for o in objects if o["kind"] == "TrainJob"]
    assert "shared-ws" in json.dumps(trainjob)


def test_a_bad_access_mode_is_refused(helm):
    result = run_helm(helm, "template", "rel", str(CHART), "--set", "workspace.accessModes[0]=ReadWriteSometimes")
    assert result.returncode != 0 and "accessModes" in result.stderr


@pytest.mark.parametrize("values_file", VALUES_FILES, ids=IDS)
def test_install_notes_render_and_name_the_objects(helm, render, values_file):
    args = ["install", "rel", str(CHART), "--dry-run=client", "--namespace", "ml"]
    if values_file is not None:
        args += ["-f", str(values_file)]
    result = run_helm(helm, *args)
    assert result.returncode == 0, result.stderr
    notes = result.stdout.split("NOTES:", 1)[1]
    for obj in render(values_file):
        if obj["kind"] in ("ConfigMap", "CronJob", "Job", "TrainJob"):
            assert obj["metadata"]["name"] in notes, (obj["kind"], notes)
