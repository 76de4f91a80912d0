"""The pipeline's gate, report and dsl.If run locally (KFP SubprocessRunner) on real verbs, once passing and
once failing, asserting which branch ran: the champion folder changed and the ONNX export exists, or the
champion stayed; the report exists on both. Runs share one champion folder, as runs on the cluster share the
workspace volume: the second run's gate reads what the first promoted. The candidate and its metrics are imported artifacts, so
this runs in seconds, through the same ``pipeline_runs.run_local`` as ``momentor pipeline run-local`` (on a
compiled package of this small pipeline); the whole pipeline is the slow test in test_local_pipeline.py.

No ``from __future__ import annotations`` here: KFP reads the pipeline's annotations as types."""


import json
import os

import pytest
from kfp import compiler, dsl

from momentor import config, pipeline_runs
from momentor.model import builders, checkpoint

from components import IMAGE
from components.config.component import resolve_config
from components.pipeline import gate_and_release

# the local runner ignores images and resource requests, and says so for every task
pytestmark = [pytest.mark.filterwarnings("ignore:.*have no effect in the current local runner"),
              pytest.mark.filterwarnings("ignore:You may be attemping to run a task that uses custom")]


@dsl.pipeline(name="momentor-release")
def release(gate_floors: dict, checkpoint_uri: str, metrics_uri: str, champion_dir: str) -> dsl.Artifact:
    params = resolve_config(preset="tiny", gate_floors=gate_floors).outputs["params"]
    candidate = dsl.importer(artifact_uri=checkpoint_uri, artifact_class=dsl.Model, reimport=True).output
    metrics = dsl.importer(artifact_uri=metrics_uri, artifact_class=dsl.Artifact, reimport=True).output
    return gate_and_release(params, candidate, metrics, champion_dir, IMAGE)


@pytest.fixture(scope="module")
def candidate(tmp_path_factory):
    """A real tiny-preset checkpoint and its combined metrics file."""
    folder = tmp_path_factory.mktemp("candidate")
    cfg = config.load(None, ["model.preset=tiny"])
    checkpoint.save(builders.build_model(cfg.model), cfg, folder / "checkpoint")
    (folder / "metrics.json").write_text(json.dumps({"grounding": {"R1@0.5": 40.0, "mIoU": 35.0}}))
    return folder


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    path = tmp_path_factory.mktemp("package") / "release.yaml"
    compiler.Compiler().compile(release, str(path))
    return path


def _run(tmp_path, package, candidate, floors: dict, champion) -> dict:
    arguments = {"gate_floors": floors, "checkpoint_uri": str(candidate / "checkpoint"),
                 "metrics_uri": str(candidate / "metrics.json"), "champion_dir": str(champion)}
    summary = pipeline_runs.run_local(arguments, tmp_path / "pipeline-root", package)
    summary["ran"] = sorted(os.listdir(summary["run_dir"]))
    return summary


def test_gate_passing_exports_and_promotes_failing_reports(tmp_path, package, candidate):
    champion = tmp_path / "work" / "champion"
    passed = _run(tmp_path, package, candidate, {"grounding.R1@0.5": 25.0}, champion)
    assert passed["decision"]["passed"] is True and passed["branch"] == "promote"
    assert passed["decision"]["champion"] is None  # the first run: no champion yet
    assert "promote" in passed["ran"] and "export" in passed["ran"] and "report" in passed["ran"]
    promotion = json.loads((champion / "promotion.json").read_text())
    assert promotion["checkpoint"] == str((candidate / "checkpoint").resolve())
    assert (champion / "checkpoint" / checkpoint.WEIGHTS).is_file()
    assert os.path.isfile(os.path.join(passed["run_dir"], "export", "onnx", "encoder.onnx"))
    first_release = os.path.realpath(champion)

    rejected = _run(tmp_path, package, candidate, {"grounding.R1@0.5": 101.0}, champion)
    assert rejected["decision"]["passed"] is False and rejected["branch"] == "report"
    assert "report-2" in rejected["ran"] and "promote" not in rejected["ran"] and "export" not in rejected["ran"]
    # the second run's gate judged against the champion the first run promoted into the shared folder
    assert rejected["decision"]["champion"] == str(champion)
    compared = [r for r in rejected["decision"]["reasons"] if r["check"] == "champion"]
    assert compared and compared[0]["champion"] == 40.0
    page = open(os.path.join(rejected["run_dir"], "report-2", "page")).read()
    assert "grounding.R1@0.5" in page and "<html" in page.lower()
    assert os.path.realpath(champion) == first_release, "a rejected candidate changed the champion"
