"""The step table is the one definition of the pipeline: the generated orchestrator files are current, a
disabled step runs nowhere, and ``momentor step`` runs a step in a run folder over the announced data."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from momentor import cli, step_graphs, steps
from momentor.config import SampleCorpusConfig
from momentor.data.sample_corpus import build_sample_corpus

ROOT = Path(__file__).resolve().parents[1]
REGENERATE = "regenerate it with `momentor pipeline compile` (from the project root) and commit it"


@pytest.mark.parametrize("name, render", [(step_graphs.DVC_FILE, step_graphs.dvc_yaml),
                                          (step_graphs.AIRFLOW_TABLE, step_graphs.airflow_table)])
def test_generated_files_are_current(name, render):
    assert (ROOT / name).read_text() == render(), f"{name} is stale: {REGENERATE}"


def test_a_disabled_step_runs_nowhere():
    disabled = [s.name for s in steps.STEPS if not s.enabled]
    assert disabled == ["train_align"]
    airflow = ast.literal_eval((ROOT / step_graphs.AIRFLOW_TABLE).read_text().split("STEPS = ", 1)[1])
    assert [row["name"] for row in airflow] == [s.name for s in steps.enabled_steps()]
    dvc = (ROOT / step_graphs.DVC_FILE).read_text()
    kfp = (ROOT / "components/compiled/momentor_pipeline.yaml").read_text()
    for name in disabled:
        assert f"  {name}:" not in dvc and name.replace("_", "-") not in kfp
    assert "--stage align" not in dvc and "constant: align" not in kfp


def test_every_step_has_known_resources_and_a_valid_branch():
    for step in steps.STEPS:
        assert step.resources in steps.RESOURCES, step.name
        assert step.when in ("always", "passed", "rejected"), step.name
        assert set(step.persist) <= set(step.outs) and set(step.uncached) <= set(step.outs), step.name
    gpu = {s.name for s in steps.enabled_steps() if steps.resources(s.name)["gpu"]}
    assert gpu == {"features", "train_gesm", "train_instruct", "predict", "rescore_champion"}
    # the champion is read or changed only by steps that are never cached
    assert {s.name for s in steps.enabled_steps() if s.durable} == {"rescore_champion", "gate", "promote", "report"}


def test_needs_follow_the_data():
    needs = {s.name: s.needs for s in steps.enabled_steps()}
    assert needs["ingest"] == ()
    assert "train_gesm" in needs["train_instruct"] and "validate_instructions" in needs["train_gesm"]
    assert set(needs["promote"]) >= {"gate", "export", "report"} and "promote" not in needs["report"]
    with pytest.raises(KeyError, match="no pipeline step 'nope'"):
        steps.step("nope")


def test_step_verb_runs_a_step_in_a_run_folder_over_the_given_data(tmp_path):
    raw = tmp_path / "drop" / "data"
    build_sample_corpus(SampleCorpusConfig(seed=3, num_videos=2, size=48, fps=4, min_events=2, max_events=2),
                        raw / "sample")
    run = tmp_path / "runs" / "r1"
    argv = ["step", "ingest", "--run-dir", str(run), "--raw", str(raw), "--params", str(ROOT / "params.yaml"),
            "-S", "model.preset=tiny"]
    assert cli.main(argv) == 0
    assert (run / "data").resolve() == raw.resolve()
    videos = (run / "work" / "manifest" / "videos.parquet")
    assert videos.is_file()
    import pandas as pd

    paths = pd.read_parquet(videos)["path"].tolist()
    assert len(paths) == 2 and all(str(raw.resolve()) in str(Path(p).resolve()) or not Path(p).is_absolute()
                                   for p in paths)
    # the same run folder over other data is refused: a run reads the data it was started on
    other = tmp_path / "other"
    other.mkdir()
    assert cli.main([*argv[:4], "--raw", str(other), *argv[6:]]) == 2
    assert cli.main(["step", "train_align", "--run-dir", str(run), "--params", str(ROOT / "params.yaml")]) == 2
    assert json.loads(json.dumps(steps.resources("train_gesm"))) == {"cpu": "8", "memory": "64Gi", "gpu": True}
