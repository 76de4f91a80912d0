"""Tracked training: every stage's curves in DVCLive's files, exact on resume, drawn by real `dvc plots show`."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from momentor.step_graphs import DVC_PLOTS, TRAINING_CURVES
from momentor.train.loop import train
from momentor.train.progress import read_metrics

FAST = ("train.micro_batch_size=2", "train.gesm.lr=0.01")


def _tsv(path: Path) -> dict[int, float]:
    """step -> value of one DVCLive curve (a step logged twice would lose a row here: steps are checked apart)."""
    with path.open(newline="") as f:
        return {int(r["step"]): float(r[path.stem]) for r in csv.DictReader(f, delimiter="\t")}


def _steps(path: Path) -> list[int]:
    with path.open(newline="") as f:
        return [int(r["step"]) for r in csv.DictReader(f, delimiter="\t")]


@pytest.fixture(scope="module")
def run(tiny_corpus, tmp_path_factory):
    from momentor import config as config_lib
    from momentor_tiny_corpus import corpus_overrides

    cfg = config_lib.from_dict({}, corpus_overrides(tiny_corpus) + [*FAST, "train.gesm.max_steps=4",
                                                                   "train.checkpoint_every=2"])
    out = tmp_path_factory.mktemp("tracked") / "gesm"
    train(cfg, "gesm", out, show_progress=False)
    return cfg, out


def test_every_curve_of_the_stage_is_tracked(run):
    _, out = run
    rows = read_metrics(out / "metrics.csv")
    curves = out / "dvclive" / "plots" / "metrics"
    for name, column in (("train/loss", "loss"), ("train/lr", "lr"), ("train/samples_per_s", "samples_per_s"),
                         ("train/time_loss", "time_loss")):
        assert _tsv(curves / f"{name}.tsv") == pytest.approx({r["step"]: r[column] for r in rows}), name
    held_out = {r["step"]: r["val_loss"] for r in rows if r["val_loss"] is not None}
    assert list(held_out) == [2, 4] and _tsv(curves / "val" / "loss.tsv") == pytest.approx(held_out)
    summary = json.loads((out / "dvclive" / "metrics.json").read_text())
    assert summary["step"] == 4 and summary["train"]["loss"] == pytest.approx(rows[-1]["loss"])


def test_a_resumed_run_tracks_each_step_once(run, tmp_path):
    cfg, whole = run
    cut = tmp_path / "gesm"
    shutil.copytree(whole / "checkpoints" / "step_00000002", cut / "checkpoints" / "step_00000002")
    lines = (whole / "metrics.csv").read_text().splitlines()
    (cut / "metrics.csv").write_text("\n".join(lines[:4]) + "\n")  # steps 1-3: step 3 ran past the checkpoint
    shutil.copytree(whole / "dvclive", cut / "dvclive")  # and the tracker saw steps 3 and 4 of a lost attempt
    train(cfg, "gesm", cut, show_progress=False)
    assert _steps(cut / "dvclive" / "plots" / "metrics" / "train" / "loss.tsv") == [1, 2, 3, 4]
    assert _steps(cut / "dvclive" / "plots" / "metrics" / "val" / "loss.tsv") == [2, 4]
    assert _tsv(cut / "dvclive" / "plots" / "metrics" / "train" / "loss.tsv") == pytest.approx(
        _tsv(whole / "dvclive" / "plots" / "metrics" / "train" / "loss.tsv"))


def test_dvc_plots_show_draws_both_stages_from_the_generated_plots(run, tmp_path):
    _, out = run
    repo = tmp_path / "repo"
    for stage, folder in TRAINING_CURVES.items():  # the same curves stand in for both stages
        shutil.copytree(out / "dvclive" / "plots" / "metrics", repo / folder)
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"plots": DVC_PLOTS}, sort_keys=False))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(cmd, cwd=repo, env=env, check=True)
    shown = json.loads(subprocess.run(["dvc", "plots", "show", "--json", "--split"], cwd=repo, env=env,
                                      check=True, capture_output=True, text=True).stdout)
    drawn = set(shown["data"])  # (the evaluation's threshold curves are absent here: "errors" names them)
    for folder in TRAINING_CURVES.values():
        for name in ("train/loss", "train/lr", "train/samples_per_s", "val/loss"):
            assert f"{folder}/{name}.tsv" in drawn, (name, sorted(drawn))
    assert "training_loss" in drawn
