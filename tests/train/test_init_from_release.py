"""Fine-tuning starts from a released model (Hugging Face layout) as from a training checkpoint."""

from __future__ import annotations

import json

import torch
from safetensors.torch import load_file

from momentor.hashing import file_sha256
from momentor.model import pretrained
from momentor.train import checkpointing
from momentor.train.loop import train

FAST = ("train.micro_batch_size=2", "train.gesm.lr=0.01", "train.instruct.lr=0.01")


def test_instruct_starts_from_a_released_model(tiny_cfg, tmp_path):
    cfg = tiny_cfg(*FAST, "train.gesm.max_steps=1", "train.instruct.max_steps=1", "train.val_examples=0")
    gesm = train(cfg, "gesm", tmp_path / "gesm", show_progress=False)
    released = pretrained.release(gesm, tmp_path / "released", metrics={"grounding": {"R1@0.5": 1.0}})
    assert pretrained.is_pretrained(released)
    from_release = train(cfg, "instruct", tmp_path / "a", init=released, show_progress=False)
    from_checkpoint = train(cfg, "instruct", tmp_path / "b", init=gesm, show_progress=False)
    state = json.loads((from_release / checkpointing.STATE_JSON).read_text())
    assert state["init"]["sha256"] == file_sha256(released / pretrained.WEIGHTS)
    a, b = load_file(from_release / "trainable.safetensors"), load_file(from_checkpoint / "trainable.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)  # the same start, the same step: the same weights
