"""The pipeline's baselines, champion re-scoring, gate, report and dsl.If run locally (KFP SubprocessRunner) on
real verbs, once passing and once failing, asserting which branch ran: the champion folder changed and the
ONNX export exists, or the champion stayed; the report exists on both. Runs share one champion folder, as runs
on the cluster share the workspace volume: the second run re-scores what the first promoted, on its own split.
The candidate (an untrained tiny model), its predictions and results, the tiny corpus's manifest and features
are imported artifacts, so this runs in about a minute, through the same ``pipeline_runs.run_local`` as
``momentor pipeline run-local`` (on a compiled package of this small pipeline); the whole pipeline is the slow
test in test_local_pipeline.py.

No ``from __future__ import annotations`` here: KFP reads the pipeline's annotations as types."""


import json
import os
import sys
from pathlib import Path

import pytest
from kfp import compiler, dsl

from momentor import cli, config, pipeline_runs
from momentor.model import builders, checkpoint

from components import IMAGE
from components.config.component import resolve_config
from components.pipeline import gate_and_release, references

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))  # the shared tiny corpus builder
from momentor_tiny_corpus import corpus_overrides, tiny_corpus_root  # noqa: E402

# the local runner ignores images and resource requests, and says so for every task
pytestmark = [pytest.mark.filterwarnings("ignore:.*have no effect in the current local runner"),
              pytest.mark.filterwarnings("ignore:You may be attemping to run a task that uses custom")]


def _imported(uri, kind):
    return dsl.importer(artifact_uri=uri, artifact_class=kind, reimport=True).output


@dsl.pipeline(name="momentor-release")
def release(overrides: list, gate_floors: dict, candidate_uri: str, manifest_uri: str, features_uri: str,
            predictions_uri: str, results_uri: str, metrics_uri: str, champion_dir: str) -> dsl.Artifact:
    params = resolve_config(preset="tiny", gate_floors=gate_floors, overrides=overrides).outputs["params"]
    candidate = _imported(candidate_uri, dsl.Model)
    manifest, features = _imported(manifest_uri, dsl.Dataset), _imported(features_uri, dsl.Dataset)
    evaluation = {"metrics_file": _imported(metrics_uri, dsl.Artifact),
                  "results": _imported(results_uri, dsl.Dataset),
                  "predictions": _imported(predictions_uri, dsl.Dataset)}
    compared = references(params, manifest, features, champion_dir, "test", IMAGE)
    return gate_and_release(params, candidate, evaluation, compared, champion_dir, IMAGE)


@pytest.fixture(scope="module")
def candidate(tmp_path_factory):
    """An untrained tiny-preset checkpoint with its predictions and results on the tiny corpus's test split."""
    corpus = tiny_corpus_root(tmp_path_factory)
    folder = tmp_path_factory.mktemp("candidate")
    overrides = corpus_overrides(corpus)
    cfg = config.from_dict({}, overrides)
    checkpoint.save(builders.build_model(cfg.model, seed=cfg.seed, with_encoder=False), cfg, folder / "checkpoint")
    flags = [a for o in overrides for a in ("-S", o)]
    manifest = str(corpus / "work" / "manifest")
    assert cli.main(["predict", "--checkpoint", str(folder / "checkpoint"), "--manifest", manifest, "--out",
                     str(folder / "predictions"), "--max-new-tokens", "6", "--max-caption-tokens", "8", *flags]) == 0
    for task in ("grounding", "dense_captioning"):
        assert cli.main(["evaluate", task, "--gt", manifest, "--split", "test", "--pred",
                         str(folder / "predictions" / f"{task}.json"), "--out", str(folder / "results" / f"{task}.json"),
                         "--metrics", str(folder / "results" / "metrics.json"), *flags]) == 0
    return {"candidate_uri": str(folder / "checkpoint"), "manifest_uri": manifest,
            "features_uri": str(corpus / "work" / "features"), "predictions_uri": str(folder / "predictions"),
            "results_uri": str(folder / "results"), "metrics_uri": str(folder / "results" / "metrics.json")}


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    path = tmp_path_factory.mktemp("package") / "release.yaml"
    compiler.Compiler().compile(release, str(path))
    return path


def _run(tmp_path, package, candidate, overrides: list, champion) -> dict:
    arguments = {**candidate, "overrides": overrides, "gate_floors": {}, "champion_dir": str(champion)}
    summary = pipeline_runs.run_local(arguments, tmp_path / "pipeline-root", package)
    summary["ran"] = sorted(os.listdir(summary["run_dir"]))
    return summary


def test_gate_passing_exports_and_promotes_failing_reports(tmp_path, package, candidate):
    champion = tmp_path / "work" / "champion"
    # the untrained candidate passes only when nothing is asked of it: no baseline check, no champion yet
    passed = _run(tmp_path, package, candidate, ["gate.beat_random=[]"], champion)
    assert passed["decision"]["passed"] is True and passed["branch"] == "promote"
    assert passed["decision"]["champion"] is None  # the first run: no champion yet
    assert {"baselines", "rescore-champion", "promote", "export", "report"} <= set(passed["ran"])
    promotion = json.loads((champion / "promotion.json").read_text())
    assert promotion["checkpoint"] == str(Path(candidate["candidate_uri"]).resolve())
    # the released model (Hugging Face layout), its card with the baselines beside its scores
    from momentor.model.card import read_card_metadata

    assert (champion / "model" / "model.safetensors").is_file()
    card = read_card_metadata(champion / "model" / "README.md")
    assert card["momentor"]["preset"] == "tiny" and "random" in card["momentor"]["baselines"]
    assert (champion / "predictions" / "grounding.json").is_file()  # kept for the next gate's re-scoring
    assert os.path.isfile(os.path.join(passed["run_dir"], "export", "onnx", "encoder.onnx"))
    first_release = os.path.realpath(champion)

    # the default gate: the untrained model does not beat the random baseline
    rejected = _run(tmp_path, package, candidate, [], champion)
    assert rejected["decision"]["passed"] is False and rejected["branch"] == "report"
    assert "report-2" in rejected["ran"] and "promote" not in rejected["ran"] and "export" not in rejected["ran"]
    failed = [(c["task"], c["check"]) for c in rejected["decision"]["reasons"] if not c["passed"]]
    assert ("grounding", "baseline:random") in failed
    # the second run's gate compared with the champion the first run promoted, re-scored on the same items
    assert rejected["decision"]["champion"] == str(champion)
    compared = [c for c in rejected["decision"]["reasons"] if c["check"] == "champion"]
    assert compared and all(c["interval"] == [0.0, 0.0] and c["verdict"] == "pass" for c in compared)
    page = open(os.path.join(rejected["run_dir"], "report-2", "page")).read()
    assert "REJECTED" in page and "baseline:random" in page and "champion" in page
    assert os.path.realpath(champion) == first_release, "a rejected candidate changed the champion"
