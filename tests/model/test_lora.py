"""LoRA adapters on the tiny preset's real LLM: exact start, exact update, what trains, checkpoints."""

import pytest
import torch

from momentor import config as config_lib
from momentor.config import ConfigError, ModelConfig
from momentor.model import checkpoint
from momentor.model.builders import build_model
from momentor.model.lora import LoRA, add_lora
from momentor.model.momentor import collate
from momentor.train.engine import parameter_groups

QUESTION = [{"from": "human", "value": "<video>\nWhen does the red square move?"}]
ANSWERS = ["<t=1.5> to <t=3.0>", "the square turns at <t=0.5>"]


def _batch(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    enc = [model.prompts.encode(QUESTION + [{"from": "gpt", "value": a}]) for a in ANSWERS]
    feats = [torch.randn(16, model.projection.in_features, generator=g) for _ in ANSWERS]
    return collate(enc, feats, [8.0, 5.0], model.tokenizer.pad_token_id)


def _lora_model(rank=4):
    return build_model(ModelConfig(preset="tiny", lora_rank=rank, lora_alpha=8.0), seed=0, with_encoder=False)


def test_adapters_start_at_the_frozen_llm_and_only_they_and_momentor_train():
    plain, adapted = build_model(ModelConfig(preset="tiny"), seed=0, with_encoder=False), _lora_model()
    for name, p in plain.trainable_parameters().items():  # the same seeded projection and tables
        assert torch.equal(p, adapted.get_parameter(name)), name
    batch = _batch(plain)
    torch.testing.assert_close(adapted(batch)["loss"], plain(batch)["loss"], rtol=0, atol=0)  # B = 0

    names = set(adapted.trainable_parameters()) - set(plain.trainable_parameters())
    layers = 2 * 4  # the tiny LLM's 2 layers, q/k/v/o each
    assert len(names) == 2 * layers and all(n.endswith((".lora.a", ".lora.b")) for n in names)
    assert set(adapted.state_dict()) - set(plain.state_dict()) == names  # the LLM's own names are unchanged

    frozen = {k: p.detach().clone() for k, p in adapted.named_parameters() if not p.requires_grad}
    opt = torch.optim.AdamW(adapted.trainable_parameters().values(), lr=1e-2)
    adapted.train()
    adapted(batch)["loss"].backward()
    opt.step()
    for k, before in frozen.items():
        assert torch.equal(before, adapted.get_parameter(k)), f"frozen {k} changed"
    b = adapted.get_parameter("llm.model.layers.0.self_attn.q_proj.lora.b")
    assert b.abs().sum() > 0  # B moved off zero: the adapter trains
    assert not torch.equal(adapted(batch)["loss"], plain(batch)["loss"])


def test_an_adapted_layer_computes_w_x_plus_scaled_b_a_x():
    torch.manual_seed(0)
    layer = torch.nn.Linear(6, 5)
    holder = torch.nn.Sequential(layer)
    assert add_lora(holder, rank=2, alpha=3.0, targets=["0"]) == 1
    with torch.no_grad():
        layer.lora.b.normal_()
    x = torch.randn(4, 6)
    a, b = layer.lora.a, layer.lora.b
    expected = x @ layer.weight.T + layer.bias + 1.5 * (x @ a.T) @ b.T  # alpha / rank = 1.5
    torch.testing.assert_close(holder(x), expected)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the bf16 training path: fp32 adapters, bf16 matmuls
        torch.testing.assert_close(holder(x).float(), expected, rtol=0.05, atol=0.05)


def test_llm_in_bf16_keeps_the_adapters_fp32():
    # training (prepare_model) and prediction (Predictor.load) store the frozen LLM in bf16 the same way
    model = _lora_model()
    model.store_llm_in_bf16()
    q_proj = model.llm.get_submodule("model.layers.0.self_attn.q_proj")
    assert q_proj.weight.dtype == torch.bfloat16
    assert q_proj.lora.a.dtype == q_proj.lora.b.dtype == torch.float32
    assert all(p.dtype == torch.float32 for p in model.trainable_parameters().values())


def test_unknown_targets_name_the_llms_linear_layers():
    model = build_model(ModelConfig(preset="tiny"), seed=0, with_encoder=False)
    with pytest.raises(ValueError, match=r"query_key_value.*q_proj"):
        add_lora(model.llm, 4, 8.0, ["query_key_value"])


def test_checkpoint_round_trip_restores_the_adapters(tmp_path):
    model = _lora_model()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, LoRA):
                m.b.normal_()
    cfg = config_lib.from_dict({}, ["model.preset=tiny", "model.lora_rank=4", "model.lora_alpha=8.0"])
    loaded, _ = checkpoint.load(checkpoint.save(model, cfg, tmp_path / "ckpt"), with_encoder=False)
    batch = _batch(model)
    torch.testing.assert_close(loaded(batch)["loss"], model(batch)["loss"], rtol=0, atol=0)
    # a checkpoint of the frozen-LLM model does not fit an adapted one, and says why
    plain_cfg = config_lib.from_dict({}, ["model.preset=tiny"])
    checkpoint.save(build_model(plain_cfg.model, with_encoder=False), plain_cfg, tmp_path / "plain")
    with pytest.raises(ValueError, match="missing .*lora"):
        checkpoint.load_weights(model, tmp_path / "plain")


def test_adapters_get_their_own_learning_rate():
    model = _lora_model()
    stage = config_lib.StageConfig(lr=0.01, lora_lr=1e-3)
    groups = parameter_groups(model, stage)
    assert [g.get("lr") for g in groups] == [None, 1e-3]  # None: the optimizer's lr (the stage's)
    assert len(groups[1]["params"]) == 16 and len(groups[0]["params"]) == 5
    assert parameter_groups(model, config_lib.StageConfig(lr=0.01))[1]["lr"] == 0.01
    assert len(parameter_groups(build_model(ModelConfig(preset="tiny"), with_encoder=False), stage)) == 1


def test_config_checks_the_adapter_settings():
    cfg = config_lib.from_dict({}, ["model.lora_rank=8", "train.instruct.lora_lr=2e-4"])
    assert cfg.train.instruct.lora_lr == 2e-4  # exponent form without a dot is a number, not YAML 1.1 text
    with pytest.raises(ConfigError, match="model.lora_rank"):
        config_lib.from_dict({}, ["model.lora_rank=-1"])
    with pytest.raises(ConfigError, match="train.gesm.lora_lr"):
        config_lib.from_dict({}, ["train.gesm.lora_lr=0"])
    with pytest.raises(ConfigError, match="model.lora_targets"):
        config_lib.from_dict({}, ["model.lora_rank=8", "model.lora_targets=[]"])
