"""Paths, the Kubernetes version and helpers shared by the chart tests (fixtures live in conftest.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "momentor"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
#: The Kubernetes version the chart is validated for (the helm binary's client is 1.35 too).
KUBE_VERSION = "1.35.0"
TRAINJOB_SCHEMA = Path(__file__).with_name("trainjob.schema.json")


def run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(helm), *args], capture_output=True, text=True, timeout=60)


def pod_specs(obj: dict) -> list[tuple[str, dict]]:
    """The pod specs inside a rendered object, as (where, spec); a TrainJob's are its runtime patches."""
    kind = obj["kind"]
    if kind == "CronJob":
        return [("CronJob", obj["spec"]["jobTemplate"]["spec"]["template"]["spec"])]
    if kind == "Job":
        return [("Job", obj["spec"]["template"]["spec"])]
    if kind == "Deployment":
        return [("Deployment", obj["spec"]["template"]["spec"])]
    if kind == "TrainJob":
        return [
            (f"TrainJob/{job['name']}", job["template"]["spec"]["template"]["spec"])
            for patch in obj["spec"].get("runtimePatches", [])
            for job in patch["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]
        ]
    return []


def override_args(args: list[str]) -> list[str]:
    """The ``key=value`` items of the ``-S`` options in an argument list."""
    return [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "-S"]


def trainjob_validator():
    """A validator of TrainJob objects: our schema plus the Kubernetes definitions it points into."""
    import importlib.resources

    import jsonschema
    from referencing import Registry, Resource

    definitions_file = (
        importlib.resources.files("kubernetes_validate")
        / "kubernetes-json-schema"
        / f"v{KUBE_VERSION}-local-strict"
        / "_definitions.json"
    )
    definitions = Resource.from_contents(json.loads(definitions_file.read_text()))
    schema = json.loads(TRAINJOB_SCHEMA.read_text())
    registry = Registry().with_resources(
        [(definitions.id(), definitions), (schema["$id"], Resource.from_contents(schema))]
    )
    return jsonschema.Draft202012Validator(schema, registry=registry)
