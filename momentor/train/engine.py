"""The model made ready for a stage, and the DeepSpeed engine around it.

The engine gets only the trainable tensors (projection, temporal tables, boundary embeddings, and LoRA
adapters when there are any) as its optimizer's parameters; the frozen LLM and encoder sit in the module but
are never stepped. Under bf16 the frozen LLM is stored in bf16 once (``Momentor.store_llm_in_bf16``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from momentor.config import Config, StageConfig
from momentor.model.momentor import Momentor
from momentor.train.deepspeed_config import deepspeed_config
from momentor.train.launch import ProcessPlace
from momentor.train.schedule import StagePlan

log = logging.getLogger(__name__)


def enable_gradient_checkpointing(model: Momentor) -> None:
    """Recompute the LLM's decoder layers in backward instead of keeping their activations.

    transformers checkpoints a layer only while it is in training mode, and Momentor keeps the frozen LLM in
    eval mode (no dropout); so the flag is set on the layer modules alone, not on their sub-modules.
    """
    from transformers.modeling_layers import GradientCheckpointingLayer

    model.llm.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    layers = [m for m in model.llm.modules() if isinstance(m, GradientCheckpointingLayer)]
    if not layers:
        raise ValueError(
            f"{type(model.llm).__name__} has no checkpointable layers; "
            "set train.deepspeed.gradient_checkpointing=false"
        )
    for layer in layers:
        layer.training = True


def prepare_model(model: Momentor, cfg: Config, bf16: bool) -> None:
    model.train()
    if bf16:
        model.store_llm_in_bf16()
    if cfg.train.deepspeed.gradient_checkpointing:
        enable_gradient_checkpointing(model)


def parameter_groups(model: Momentor, stage: StageConfig) -> list[dict]:
    """The optimizer's groups: the Momentor tensors at the stage's lr, the LoRA adapters (if any) at ``lora_lr``.

    The cpu preset's projection and tables want a rate (1e-2) that would wreck the LLM's own weights.
    """
    params = model.trainable_parameters()
    adapters = [p for name, p in params.items() if ".lora." in name]
    groups = [{"params": [p for name, p in params.items() if ".lora." not in name]}]
    if adapters:
        groups.append({"params": adapters, "lr": stage.lora_lr or stage.lr})
    return groups


def build_engine(
    model: Momentor, cfg: Config, stage: str, plan: StagePlan, place: ProcessPlace, bf16: bool, out: Path
):
    """``deepspeed.initialize`` with the stage's derived config; the config is also written to ``out``."""
    import deepspeed

    if cfg.train.deepspeed.zero_stage == 3:
        raise ValueError(
            "train.deepspeed.zero_stage=3 partitions weights that Momentor reads outside module calls (the "
            "temporal tables, the LLM's head); use 0 (the default: a few million trainable numbers need no "
            "partitioning), 1 or 2"
        )
    stage_cfg = getattr(cfg.train, stage)
    ds_config = deepspeed_config(
        cfg.train, stage_cfg, plan.total_steps, plan.warmup_steps, place.world_size, bf16
    )
    if place.is_main:
        (out / "deepspeed_config.json").write_text(json.dumps(ds_config, indent=1) + "\n")
    engine, _, _, _ = deepspeed.initialize(
        model=model, model_parameters=parameter_groups(model, stage_cfg), config=ds_config
    )
    # WarmupCosineLR starts at iteration -1 and its linear warmup at 0, so optimizer step k would run at the
    # rate of iteration k-2 and the first two steps at lr 0. From iteration 1, step k runs at iteration k:
    # 1/W, 2/W, ..., 1 over the warmup, then the cosine down to 0 at the last step.
    engine.lr_scheduler.step(1)
    return engine
