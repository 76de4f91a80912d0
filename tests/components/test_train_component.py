"""The train component keeps its checkpoints on the workspace volume, in a folder keyed by what the stage
computes from, so a retried pod resumes there: the component function itself (``python_func``) runs on the
tiny real corpus of tests/train, its first attempt cut short after a checkpoint, its retry in a fresh
scratch folder with fresh output artifacts, as KFP gives a retried pod."""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

import pytest
import torch
from kfp import dsl
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))  # the shared corpus builder lives there
from momentor_tiny_corpus import corpus_overrides, tiny_corpus_root  # noqa: E402

from components.train.component import train  # noqa: E402
from momentor import pipeline_runs  # noqa: E402
from momentor.model.checkpoint import WEIGHTS  # noqa: E402
from momentor.train.checkpointing import step_checkpoints  # noqa: E402


def _params(path: Path, *overrides: str) -> Path:
    pipeline_runs.resolve_params(path, overrides=list(overrides))
    return path


def test_the_checkpoint_folder_is_keyed_by_what_the_stage_computes_from(tmp_path, monkeypatch):
    params, other = _params(tmp_path / "a.yaml"), _params(tmp_path / "b.yaml", "train.gesm.lr=0.5")
    (tmp_path / WEIGHTS).write_bytes(b"gesm weights")
    key = dict(workspace=tmp_path / "ws", stage="instruct", params=params, data_version="v1",
               init_weights=tmp_path / WEIGHTS)
    folder = pipeline_runs.checkpoint_dir(**key)
    assert folder.parent.parent == tmp_path / "ws" / "checkpoints" and folder.name == "instruct"
    assert pipeline_runs.checkpoint_dir(**key) == folder  # a retried pod finds the same folder
    changed = [{"stage": "gesm"}, {"params": other}, {"data_version": "v2"}, {"init_weights": None}]
    assert len({pipeline_runs.checkpoint_dir(**{**key, **c}).parent for c in changed} | {folder.parent}) == 5
    (tmp_path / WEIGHTS).write_bytes(b"other gesm weights")
    assert pipeline_runs.checkpoint_dir(**key) != folder
    # a new image (other code) never takes an old image's finished stage for its own
    (tmp_path / WEIGHTS).write_bytes(b"gesm weights")
    monkeypatch.setattr(pipeline_runs, "code_version", lambda: "other code")
    assert pipeline_runs.checkpoint_dir(**key) != folder


def _attempt(tmp_path: Path, name: str, params: Path, corpus: Path, workspace: Path):
    """One pod's run of the component: its own output artifacts, the same inputs and workspace."""
    outputs = tmp_path / name
    model, metrics = dsl.Model(uri=str(outputs / "model")), dsl.Metrics(uri=str(outputs / "training"))
    train.python_func(params=dsl.Artifact(uri=str(params)), manifest=dsl.Dataset(uri=str(corpus / "work/manifest")),
                      features=dsl.Dataset(uri=str(corpus / "work/features")), stage="gesm", data_version="v1",
                      workspace=str(workspace), model=model, training=metrics)
    return model, metrics


def test_a_retried_train_task_resumes_from_its_checkpoints_on_the_volume(tmp_path_factory, tmp_path, caplog):
    corpus = tiny_corpus_root(tmp_path_factory)
    params = _params(tmp_path / "params.yaml", *corpus_overrides(corpus), "train.micro_batch_size=2",
                     "train.checkpoint_every=1", "train.keep_checkpoints=10", "train.gesm.max_steps=3",
                     "train.gesm.lr=0.01")
    workspace = tmp_path / "workspace"
    whole, _ = _attempt(tmp_path, "first", params, corpus, workspace)
    out = Path(whole.metadata["checkpoints"])
    assert out == pipeline_runs.checkpoint_dir(workspace, "gesm", params, "v1")
    assert [p.name for p in step_checkpoints(out)] == ["step_00000001", "step_00000002"]  # the last is final
    expected = load_file(str(Path(whole.path) / WEIGHTS))

    # the pod was lost after step 1's checkpoint: later ones never reached the volume
    shutil.rmtree(out / "final")
    shutil.rmtree(step_checkpoints(out)[-1])
    with caplog.at_level(logging.INFO):
        retried, metrics = _attempt(tmp_path, "retry", params, corpus, workspace)
    assert "resumed gesm at step 1 of 3" in caplog.text
    assert retried.metadata["checkpoints"] == str(out)
    assert metrics.metadata["steps"] == 3
    weights = load_file(str(Path(retried.path) / WEIGHTS))
    assert weights.keys() == expected.keys()
    for name, tensor in expected.items():
        assert torch.equal(weights[name], tensor), name  # the resumed stage ends exactly where the whole one did


@pytest.fixture(autouse=True)
def _no_launcher_variables(monkeypatch):
    """A world of one process, whatever the environment of the test run says."""
    from momentor.train.launch import LAUNCHER_VARIABLES

    for name in LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
