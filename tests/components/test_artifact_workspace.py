"""Verbs run on artifacts laid out as a project folder: outputs land in their artifacts, inputs never change,
a failing verb raises and fills nothing. Real verbs (sample-data, ingest) on a one-video corpus."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd
import pytest

from momentor import pipeline_runs
from momentor.artifact_workspace import StepFailed, run_verb


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("artifacts")
    params = root / "params.yaml"
    pipeline_runs.resolve_params(params, preset="tiny", overrides=["data.sample.num_videos=1"])
    run_verb(["sample-data"], str(params), raw=str(root / "raw"))
    return root, params


def test_outputs_land_in_their_artifacts_and_inputs_stay_unchanged(corpus, tmp_path):
    root, params = corpus
    before = os.getcwd()
    manifest = tmp_path / "manifest"
    run_verb(["ingest"], str(params), raw=str(root / "raw"), outputs={"manifest": str(manifest)})
    assert os.getcwd() == before
    videos = pd.read_parquet(manifest / "videos.parquet")
    assert len(videos) == 1
    assert videos.path[0].startswith("data/sample/")  # relative: valid wherever the raw artifact is linked
    assert (root / "raw" / videos.path[0].removeprefix("data/")).is_file()

    untouched = _digest(manifest)
    updated = tmp_path / "updated"
    run_verb(["ingest"], str(params), raw=str(root / "raw"), updates={"manifest": (str(manifest), str(updated))})
    assert _digest(manifest) == untouched
    assert (updated / "videos.parquet").is_file()


def test_a_failing_verb_raises_and_fills_no_output(corpus, tmp_path):
    _, params = corpus
    out = tmp_path / "manifest"
    with pytest.raises(StepFailed, match="momentor ingest exited with"):
        run_verb(["ingest"], str(params), raw=str(tmp_path / "no-data"), outputs={"manifest": str(out)})
    assert not out.exists()
