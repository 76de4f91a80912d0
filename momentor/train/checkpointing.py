"""Full training checkpoints: a model checkpoint plus everything needed to continue the run exactly.

A training checkpoint folder (``<out>/checkpoints/step_00000050``, and ``<out>/final``) holds

- ``trainable.safetensors`` + ``config.yaml``: a model checkpoint (:mod:`momentor.model.checkpoint`), usable
  by ``momentor predict`` and as ``--init`` of the next stage;
- ``training_state.safetensors``: AdamW moments by parameter name (:mod:`momentor.train.optimizer_state`)
  and the torch RNG state;
- ``training_state.json``: stage, step, the step plan, the LR scheduler position, optimizer scalars, the
  numpy/Python RNG states, the data version (sha256 of the manifest tables and feature index read), the
  init checkpoint's hash and the last step's metrics. Written last.

Atomic: the model checkpoint is written to ``<name>.staging`` (itself atomically), the training state is
added, and the folder is renamed to its name. A kill at any point leaves either the previous checkpoints or
a ``.staging`` folder, which is never taken for a checkpoint and is removed on the next start. Nothing is
unpickled when loading: tensors come from safetensors, the rest from JSON.

One checkpoint for any number of processes: every process takes part in gathering the optimizer state
whole (ZeRO partitions it), rank 0 alone writes. A run saved on W processes continues on any other number
with the same global batch (micro batch × accumulation × processes) and computes the same losses.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from momentor import atomic
from momentor import config as config_lib
from momentor.model import checkpoint as model_checkpoint
from momentor.train import optimizer_state

STATE_JSON = "training_state.json"
STATE_TENSORS = "training_state.safetensors"
RNG_TENSOR = "rng::torch"
FINAL = model_checkpoint.FINAL
STEP_NAME = re.compile(r"^step_(\d{8})$")
# keys that may differ between a run and its resumption without changing what it computes; the
# accumulation steps may change with the number of processes as long as the global batch stays (checked
# on the step plans: see global_batch)
RESUME_IGNORED = (
    "paths", "train.checkpoint_every", "train.keep_checkpoints", "train.gradient_accumulation_steps"
)


@dataclass
class Resumed:
    """What a loaded checkpoint tells the loop."""

    step: int  # optimizer steps done
    scheduler: dict
    state: dict  # the whole training_state.json


def step_folder(out: Path, step: int) -> Path:
    return out / "checkpoints" / f"step_{step:08d}"


def is_complete(folder: Path) -> bool:
    return (folder / STATE_JSON).exists() and model_checkpoint.is_complete(folder)


def step_checkpoints(out: Path) -> list[Path]:
    """Complete step checkpoints of a run, oldest first."""
    folder = out / "checkpoints"
    found = (
        [p for p in folder.iterdir() if STEP_NAME.match(p.name) and is_complete(p)] if folder.is_dir() else []
    )
    return sorted(found, key=lambda p: int(STEP_NAME.match(p.name).group(1)))


def remove_staging(out: Path) -> None:
    """Drop what a killed run left half-written."""
    for leftover in list(out.glob("*.staging*")) + list((out / "checkpoints").glob("*.staging*")):
        shutil.rmtree(leftover, ignore_errors=True)


def rng_state() -> tuple[torch.Tensor, dict]:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return torch.get_rng_state(), {
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(gauss)],
        "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
    }


def set_rng_state(torch_state: torch.Tensor, saved: dict) -> None:
    torch.set_rng_state(torch_state)
    kind, keys, pos, has_gauss, gauss = saved["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = saved["python"]
    random.setstate((version, tuple(internal), gauss_next))


def save(folder: Path, model, cfg: config_lib.Config, engine, state: dict, write: bool = True) -> Path:
    """Write a training checkpoint atomically; ``state`` is the JSON part (stage, step, plan, ...).

    Every process calls this (gathering ZeRO-partitioned state is collective); only ``write`` ones write.
    """
    tensors, scalars = optimizer_state.collect(engine, model.trainable_parameters())
    if not write:
        return folder
    staging = folder.with_name(folder.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    model_checkpoint.save(model, cfg, staging)
    torch_rng, other_rng = rng_state()
    save_file({**tensors, RNG_TENSOR: torch_rng}, str(staging / STATE_TENSORS))
    full = {
        **state,
        "scheduler": engine.lr_scheduler.state_dict(),
        "optimizer": scalars,
        "rng": other_rng,
    }
    (staging / STATE_JSON).write_text(json.dumps(full, indent=1) + "\n")
    if folder.exists():  # only a finished stage's final folder can be re-written; keep it whole until then
        shutil.rmtree(folder)
    atomic.commit_folder(staging, folder)
    return folder


def save_untrained(folder: Path, model, cfg: config_lib.Config, state: dict) -> Path:
    """The final checkpoint of a disabled stage: the weights it started from, and no optimizer state."""
    return model_checkpoint.save(
        model, cfg, folder, extra_files={STATE_JSON: json.dumps(state, indent=1) + "\n"}
    )


def prune(out: Path, keep: int) -> None:
    """Keep the newest ``keep`` step checkpoints."""
    for old in step_checkpoints(out)[: -keep or None] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)


class CheckpointMismatch(RuntimeError):
    """A checkpoint written by a run with other settings or data: continuing it would mix two runs."""


def check_resumable(folder: Path, cfg: config_lib.Config, state: dict) -> None:
    """Refuse to continue a run whose config or data differ from the checkpoint's; say what differs."""
    saved = flatten(config_lib.to_dict(model_checkpoint.load_config(folder)))
    now = flatten(config_lib.to_dict(cfg))
    differ = sorted(
        k for k in set(saved) | set(now) if saved.get(k) != now.get(k) and not k.startswith(RESUME_IGNORED)
    )
    saved_state = json.loads((folder / STATE_JSON).read_text())
    for key in ("stage", "data_version", "init"):
        if saved_state.get(key) != state.get(key):
            differ.append(key)
    (saved_batch, saved_how), (batch, how) = global_batch(saved_state["plan"]), global_batch(state["plan"])
    if saved_batch != batch:
        differ.append(f"global batch {saved_how} then, {how} now: set train.gradient_accumulation_steps so "
                      f"that micro_batch_size × gradient_accumulation_steps × processes = {saved_batch}")
    if differ:
        raise CheckpointMismatch(
            f"{folder} was written by a run with other settings or data ({', '.join(differ)}); continue it "
            "with "
            "the same params and data, or start over with --restart (or another --out)"
        )


def global_batch(plan: dict) -> tuple[int, str]:
    """Examples per optimizer step of a step plan (``schedule.StagePlan`` as a dict), and their factors.

    Only this product must stay when a run continues on another number of processes: step s reads the same
    examples in the same micro-batches on any number of processes with the same global batch
    (:func:`momentor.train.schedule.step_micro_batches`), and the optimizer state is saved whole
    (:mod:`momentor.train.optimizer_state`). So a run saved on 2 processes with 1 accumulation step continues
    on 1 process with 2, and the reverse.
    """
    size = plan["micro_batch_size"] * plan["accumulation"] * plan["world_size"]
    factors = f"{plan['micro_batch_size']} × {plan['accumulation']} × {plan['world_size']} processes"
    return size, f"{size} = {factors}"


def flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def load(folder: Path, model, engine) -> Resumed:
    """Load weights, optimizer, scheduler and RNG states of ``folder`` into a fresh model and engine."""
    model_checkpoint.load_weights(model, folder)
    tensors = load_file(str(folder / STATE_TENSORS))
    state = json.loads((folder / STATE_JSON).read_text())
    torch_rng = tensors.pop(RNG_TENSOR)
    optimizer_state.restore(engine, model.trainable_parameters(), tensors, state["optimizer"])
    engine.lr_scheduler.load_state_dict(state["scheduler"])
    engine.lr_scheduler.step(state["scheduler"]["last_batch_iteration"])  # sets the param groups' lr again
    set_rng_state(torch_rng, state["rng"])
    return Resumed(step=int(state["step"]), scheduler=state["scheduler"], state=state)
