"""Training on 2 processes (``momentor train --nproc-per-node 2``: torchrun, gloo, CPU) computes what 1 process
computes with the same global batch, and a run continues on another number of processes.

The runs are fp32 (``train.deepspeed.bf16=false``) with 2 examples per micro-batch and a global batch of 4:
2 accumulation steps on 1 process, 1 on each of 2 processes. Both take the same micro-batches at every step
(:func:`momentor.train.schedule.step_micro_batches`) and average the same gradients, but add them up in a
different order (gloo's all-reduce, or DeepSpeed's accumulation), so the losses may differ in the last bits:
the tolerance is 1e-6 relative (on this machine they come out equal bit for bit).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from training_runs import momentor, without_a_compiler

from momentor.train import checkpointing
from momentor.train.loop import train
from momentor.train.progress import read_metrics

TOLERANCE = 1e-6  # relative, on every loss, the learning rate and the held-out loss
FP32 = ("train.deepspeed.bf16=false", "train.gesm.max_steps=6")
ACCUMULATION = {1: "train.gradient_accumulation_steps=2", 2: "train.gradient_accumulation_steps=1"}


def run(corpus: list[str], out: Path, nproc: int, *overrides: str, env: dict | None = None) -> subprocess.Popen:
    """A 6-step GESM run with a global batch of 4 examples on ``nproc`` processes."""
    return momentor(corpus, out, *FP32, ACCUMULATION[nproc], *overrides, env=env, nproc=nproc)


def finish(*runs: subprocess.Popen) -> list[str]:
    logs = [p.communicate(timeout=600)[0] for p in runs]
    for p, log in zip(runs, logs):
        assert p.returncode == 0, log
    return logs


def curve(out: Path) -> list[dict]:
    return read_metrics(out / "metrics.csv")


def assert_same_curve(got: Path, expected: Path) -> None:
    rows, want = curve(got), curve(expected)
    assert [r["step"] for r in rows] == [r["step"] for r in want] == list(range(1, len(want) + 1))
    for row, ref in zip(rows, want):
        for key in ("loss", "token_loss", "time_loss", "lr", "val_loss"):
            if ref[key] is None:
                assert row[key] is None, (key, row)
            else:
                assert row[key] == pytest.approx(ref[key], rel=TOLERANCE, abs=1e-12), (key, row["step"])


def assert_same_weights(got: Path, expected: Path) -> None:
    want = load_file(str(expected / "trainable.safetensors"))
    weights = load_file(str(got / "trainable.safetensors"))
    assert weights.keys() == want.keys()
    for name, tensor in want.items():
        torch.testing.assert_close(weights[name], tensor, rtol=TOLERANCE, atol=1e-7, msg=name)


def test_two_processes_compute_the_losses_of_one(tiny_overrides, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    # the 2-process run as in a slim image: no compiler, so gloo's collectives (the shm op is the slow test's)
    bare = without_a_compiler(tmp_path / "torch_extensions")
    logs = finish(run(tiny_overrides, one, 1), run(tiny_overrides, two, 2, env=bare))

    rows = curve(one)
    assert len(rows) == 6 and len({r["loss"] for r in rows}) == 6
    assert [r["step"] for r in rows if r["val_loss"] is not None] == [3, 6]  # checkpoint steps and the last
    assert_same_curve(two, one)
    assert_same_weights(two / "final", one / "final")
    # one DeepSpeed world of two: each takes one micro-batch of 2 of the global batch of 4 per step
    ds = json.loads((two / "deepspeed_config.json").read_text())
    assert (ds["train_batch_size"], ds["train_micro_batch_size_per_gpu"], ds["gradient_accumulation_steps"]) == (
        4, 2, 1)
    plan = json.loads((two / "final" / checkpointing.STATE_JSON).read_text())["plan"]
    assert (plan["world_size"], plan["accumulation"]) == (2, 1)
    # rank 0 alone writes and talks: the same files as one process, each step logged once
    assert sorted(p.relative_to(two).as_posix() for p in two.rglob("*")) == sorted(
        p.relative_to(one).as_posix() for p in one.rglob("*"))
    assert [p.name for p in checkpointing.step_checkpoints(two)] == ["step_00000003"]
    assert logs[1].count("gesm: 6 examples, 6 steps of 4") == 1
    assert logs[1].count(f"gesm: {two / 'final'}") == 1
    assert "training in 2 processes" in logs[1]
    assert not (tmp_path / "torch_extensions").exists()


def test_a_changed_global_batch_is_refused_with_the_accumulation_that_fits(tiny_cfg, tmp_path):
    cfg = tiny_cfg("train.micro_batch_size=2", "train.gesm.max_steps=2", "train.checkpoint_every=1")
    train(cfg, "gesm", tmp_path, show_progress=False)
    shutil.rmtree(tmp_path / "final")
    more = tiny_cfg("train.micro_batch_size=2", "train.gesm.max_steps=2", "train.gradient_accumulation_steps=2")
    with pytest.raises(checkpointing.CheckpointMismatch,
                       match=r"global batch 2 = 2 × 1 × 1 processes then, 4 = 2 × 2 × 1 processes now: set "
                             r"train.gradient_accumulation_steps so that .* = 2"):
        train(more, "gesm", tmp_path, show_progress=False)


def test_each_process_of_a_launch_gets_the_whole_command_but_the_process_count():
    from momentor.cli import build_parser
    from momentor.train.commands import worker_argv

    parser = build_parser()
    given = parser.parse_args(["-v", "train", "--stage", "instruct", "--init", "g/final", "--out", "o", "--manifest",
                               "m", "--restart", "--no-progress", "--nproc-per-node", "2", "--params", "p.yaml",
                               "-S", "train.seed=3", "-S", "model.preset=tiny"])
    again = parser.parse_args(worker_argv(given))
    assert {**vars(again), "nproc_per_node": "2"} == vars(given)  # every option of the verb is passed on
    assert again.nproc_per_node == "1"
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--stage", "gesm", "--nproc-per-node", "0"])


@pytest.mark.slow
@pytest.mark.parametrize("zero_stage", [0, 1, 2])
def test_a_run_continues_on_another_number_of_processes(tiny_overrides, tmp_path, zero_stage):
    """Saved on 2 processes, continued on 1, and the reverse: the losses of the uninterrupted runs.

    (ZeRO-3 is refused for Momentor: see momentor.train.engine.build_engine.) The 2-process runs use
    DeepSpeed's shared-memory all-reduce (built on first use where there is a compiler)."""
    zero = f"train.deepspeed.zero_stage={zero_stage}"
    one, two = tmp_path / "one", tmp_path / "two"
    finish(run(tiny_overrides, one, 1, zero), run(tiny_overrides, two, 2, zero))
    assert_same_curve(two, one)
    assert_same_weights(two / "final", one / "final")

    for source, nproc in ((two, 1), (one, 2)):
        cut = tmp_path / f"{source.name}_on_{nproc}"
        shutil.copytree(source, cut, ignore=shutil.ignore_patterns("final", "train_summary.json"))
        log = finish(run(tiny_overrides, cut, nproc, zero))[0]
        assert "resumed gesm at step 3 of 6" in log, log
        assert_same_curve(cut, one)
        assert_same_weights(cut / "final", one / "final")
        state = json.loads((cut / "final" / checkpointing.STATE_JSON).read_text())
        assert (state["plan"]["world_size"], state["step"]) == (nproc, 6)


@pytest.mark.slow
def test_sigterm_to_a_two_process_launch_checkpoints_and_the_retry_continues(tiny_overrides, tmp_path):
    """A pod preempted while it trains on 2 processes: the launch ends with 143 after both processes wrote
    the checkpoint of the same step, and the retry (on 2 processes) computes the uninterrupted run's losses."""
    long = ("train.gesm.max_steps=40", "train.checkpoint_every=100")
    whole, preempted = tmp_path / "whole", tmp_path / "preempted"
    uninterrupted = momentor(tiny_overrides, whole, *long, "train.deepspeed.bf16=false", ACCUMULATION[1])
    launch = momentor(tiny_overrides, preempted, *long, "train.deepspeed.bf16=false", ACCUMULATION[2], nproc=2)
    deadline = time.monotonic() + 300
    while not ((preempted / "metrics.csv").exists() and len(curve(preempted)) >= 2):
        assert launch.poll() is None and time.monotonic() < deadline, launch.communicate()[0]
        time.sleep(0.05)
    launch.terminate()  # SIGTERM to the `momentor train` process, as the kubelet sends it
    log = launch.communicate(timeout=300)[0]
    assert launch.returncode == 143, log
    assert log.count("SIGTERM after step") == 2, log  # both processes stopped after the same step
    [checkpoint] = checkpointing.step_checkpoints(preempted)
    step = int(checkpoint.name.split("_")[1])
    assert 2 <= step < 40 and f"SIGTERM after step {step} of 40" in log

    retry = momentor(tiny_overrides, preempted, *long, "train.deepspeed.bf16=false", ACCUMULATION[2], nproc=2)
    log = finish(retry, uninterrupted)[0]
    assert f"resumed gesm at step {step} of 40" in log
    assert_same_curve(preempted, whole)
    assert_same_weights(preempted / "final", whole / "final")
