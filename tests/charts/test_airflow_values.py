"""charts/airflow-values.yaml, the values of the official Airflow chart (a separate release): DAGs by git-sync
from this repo's dags/ folder, the KubernetesExecutor, the image of the Dockerfile's `airflow` target, and no
secret in the file. The official chart cannot be fetched here, so these are checks of the file itself."""

from __future__ import annotations

import json
import re

import jsonschema
import yaml

from .chart_rendering import CHART, ROOT
from .test_dockerfile import lock_pins, stage

VALUES = yaml.safe_load((ROOT / "charts" / "airflow-values.yaml").read_text())


def test_dags_come_from_this_repos_dags_folder_by_git_sync():
    dags = VALUES["dags"]
    assert dags["gitSync"]["enabled"] is True and dags["persistence"]["enabled"] is False
    assert dags["gitSync"]["subPath"] == "dags"
    assert re.fullmatch(r"(https://|git@)\S+\.git", dags["gitSync"]["repo"])
    assert dags["gitSync"]["branch"] == dags["gitSync"]["ref"]
    assert dags["gitSync"]["resources"]["limits"] and dags["gitSync"]["resources"]["requests"]


def test_kubernetes_executor_and_pod_launching():
    assert VALUES["executor"] == "KubernetesExecutor"
    assert VALUES["allowPodLaunching"] is True
    assert VALUES["config"]["core"]["load_examples"] == "False"


def test_runs_the_airflow_target_of_the_dockerfile_at_the_locked_version():
    version = lock_pins()["apache-airflow"]
    assert VALUES["airflowVersion"] == VALUES["defaultAirflowTag"] == version
    # the Dockerfile's airflow stage is the image these values name: same Airflow, provider inside
    (from_line,) = [args for keyword, args in stage("airflow") if keyword == "FROM"]
    assert from_line.startswith(f"apache/airflow:{version}-")
    assert "--target airflow" in (ROOT / "charts" / "airflow-values.yaml").read_text()


def test_pods_non_root_without_privilege_escalation():
    contexts = VALUES["securityContexts"]
    assert contexts["pod"]["runAsNonRoot"] is True and contexts["pod"]["runAsUser"] != 0
    assert contexts["containers"]["allowPrivilegeEscalation"] is False
    for component in ("workers", "scheduler", "dagProcessor", "apiServer"):
        resources = VALUES[component]["resources"]
        assert resources["requests"] and resources["limits"], component


def test_security_contexts_pass_the_momentor_charts_lock():
    """Airflow's pods meet the momentor chart's locked security context (unprivileged, no added capability,
    seccomp RuntimeDefault), all but the read-only root filesystem: Airflow writes under its home."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    contexts = VALUES["securityContexts"]
    pod = {"definitions": schema["definitions"], **schema["properties"]["podSecurityContext"]}
    jsonschema.Draft7Validator(pod).validate(contexts["pod"])
    container = {"definitions": schema["definitions"], **schema["properties"]["securityContext"]}
    container["required"] = [key for key in container["required"] if key != "readOnlyRootFilesystem"]
    jsonschema.Draft7Validator(container).validate(contexts["containers"])


def test_no_secret_value_in_the_file():
    def walk(node, path=""):
        if isinstance(node, dict):
            for key, value in node.items():
                yield from walk(value, f"{path}.{key}")
        else:
            yield path, node

    for path, value in walk(VALUES):
        leaf = path.rsplit(".", 1)[-1]
        if re.search(r"(?i)(password|pass|fernetkey|secretkey|token)$", leaf):
            assert value in (None, ""), f"{path} holds a secret value; name an existing Secret instead"
    for key in ("fernetKey", "webserverSecretKey", "apiSecretKey"):
        assert key not in VALUES
