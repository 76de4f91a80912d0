"""A training run killed with SIGKILL and started again computes exactly what an uninterrupted run does."""

from __future__ import annotations

import torch
from safetensors.torch import load_file
from training_runs import deterministic_columns, momentor, without_a_compiler

from momentor.train.checkpointing import step_checkpoints
from momentor.train.progress import read_metrics


def test_killed_run_resumes_with_the_same_losses(tiny_overrides, tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    # the uninterrupted run also stands for a slim container: it must train without compiling anything
    bare = without_a_compiler(tmp_path / "torch_extensions")
    runs = [momentor(tiny_overrides, whole, env=bare), momentor(tiny_overrides, killed, die_at_step=6)]
    logs = [p.communicate(timeout=300)[0] for p in runs]
    assert runs[0].returncode == 0, logs[0]
    assert not (tmp_path / "torch_extensions").exists(), "a world of one built DeepSpeed's shm op"
    assert runs[1].returncode == -9, logs[1]  # SIGKILL: no cleanup ran
    # the kill came as step 6 began: steps 4 and 5 are logged but only the step-3 checkpoint exists
    assert [p.name for p in step_checkpoints(killed)] == ["step_00000003"]
    assert not (killed / "final").exists()
    assert len(read_metrics(killed / "metrics.csv")) == 5

    resumed = momentor(tiny_overrides, killed)
    log = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, log
    assert "resumed gesm at step 3 of 8" in log
    expected = deterministic_columns(whole)
    assert len(expected) == 8 and len({row[2] for row in expected}) == 8
    assert deterministic_columns(killed) == expected  # exact floats, step by step
    for name, tensor in load_file(str(whole / "final" / "trainable.safetensors")).items():
        assert torch.equal(tensor, load_file(str(killed / "final" / "trainable.safetensors"))[name]), name


def test_sigterm_writes_a_checkpoint_of_the_finished_step_and_the_retry_resumes_there(tiny_overrides, tmp_path):
    whole, preempted = tmp_path / "whole", tmp_path / "preempted"
    runs = [momentor(tiny_overrides, whole), momentor(tiny_overrides, preempted, die_at_step=5, signal="TERM")]
    logs = [p.communicate(timeout=300)[0] for p in runs]
    assert runs[0].returncode == 0, logs[0]
    assert runs[1].returncode == 143, logs[1]  # 128 + SIGTERM: the orchestrator retries the step
    assert "SIGTERM after step 5 of 8; checkpoint written" in logs[1]
    # step 5 finished after the signal and was checkpointed, beside the periodic step-3 one
    assert [p.name for p in step_checkpoints(preempted)] == ["step_00000003", "step_00000005"]

    retry = momentor(tiny_overrides, preempted)
    log = retry.communicate(timeout=300)[0]
    assert retry.returncode == 0, log
    assert "resumed gesm at step 5 of 8" in log
    assert deterministic_columns(preempted) == deterministic_columns(whole)
    for name, tensor in load_file(str(whole / "final" / "trainable.safetensors")).items():
        assert torch.equal(tensor, load_file(str(preempted / "final" / "trainable.safetensors"))[name]), name


def test_shared_memory_collectives_are_kept_only_where_they_can_work(monkeypatch, tmp_path):
    import deepspeed.ops

    from momentor.train.launch import ProcessPlace, skip_shared_memory_collectives

    monkeypatch.setenv("DS_ACCELERATOR", "cpu")
    ops = deepspeed.ops.__compatible_ops__
    monkeypatch.setitem(ops, "deepspeed_shm_comm", True)
    compiler = tmp_path / "bin" / "c++"
    compiler.parent.mkdir()
    compiler.write_text("#!/bin/sh\n")
    compiler.chmod(0o755)
    monkeypatch.setenv("CXX", str(compiler))
    assert skip_shared_memory_collectives(ProcessPlace(0, 0, 2, "gloo")) is None  # several processes, a compiler
    assert ops["deepspeed_shm_comm"] is True
    assert "one process" in skip_shared_memory_collectives(ProcessPlace(0, 0, 1, "gloo"))
    assert ops["deepspeed_shm_comm"] is False
    monkeypatch.setitem(ops, "deepspeed_shm_comm", True)
    monkeypatch.setenv("CXX", str(tmp_path / "missing-c++"))
    assert "no C++ compiler" in skip_shared_memory_collectives(ProcessPlace(1, 1, 2, "gloo"))
    assert ops["deepspeed_shm_comm"] is False
    monkeypatch.setenv("DS_ACCELERATOR", "cuda")
    monkeypatch.setitem(ops, "deepspeed_shm_comm", True)
    assert skip_shared_memory_collectives(ProcessPlace(0, 0, 1, "nccl")) is None  # GPUs: DeepSpeed's own choice
