"""The pipeline's train step given 2 GPUs on one node trains in 2 processes (here on CPU, gloo): its
``momentor train --nproc-per-node 2`` runs itself again under torchrun, and the step returns the model and
curve as with one process."""

from __future__ import annotations

import json

import pytest
from kfp import dsl
from momentor_tiny_corpus import corpus_overrides
from training_runs import DETERMINISTIC

from components.train.component import train
from momentor import pipeline_runs
from momentor.model.checkpoint import WEIGHTS
from momentor.train.progress import read_metrics


@pytest.mark.slow
def test_the_train_step_runs_one_process_per_gpu(tiny_corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline_runs, "code_version", lambda: "the code under test")  # other edits may land
    params = tmp_path / "params.yaml"
    pipeline_runs.resolve_params(params, overrides=corpus_overrides(tiny_corpus) + [
        "train.micro_batch_size=2", "train.gesm.max_steps=4", "train.gesm.lr=0.01", "train.checkpoint_every=2"])
    model, metrics = dsl.Model(uri=str(tmp_path / "model")), dsl.Metrics(uri=str(tmp_path / "metrics"))
    train.python_func(params=dsl.Artifact(uri=str(params)),
                      manifest=dsl.Dataset(uri=str(tiny_corpus / "work" / "manifest")),
                      features=dsl.Dataset(uri=str(tiny_corpus / "work" / "features")), stage="gesm",
                      data_version="v1", workspace=str(tmp_path / "workspace"), model=model, training=metrics,
                      nodes=1, gpus=2)

    state = json.loads((tmp_path / "model" / "training_state.json").read_text())
    assert (state["plan"]["world_size"], state["plan"]["accumulation"], state["step"]) == (2, 1, 4)
    assert (tmp_path / "model" / WEIGHTS).is_file()
    rows = read_metrics(tmp_path / "model" / "metrics.csv")  # written once, by rank 0
    assert [r["step"] for r in rows] == [1, 2, 3, 4] and all(r[k] is not None for r in rows for k in DETERMINISTIC)
    assert [r["step"] for r in rows if r["val_loss"] is not None] == [2, 4]
    assert metrics.metadata["steps"] == 4
