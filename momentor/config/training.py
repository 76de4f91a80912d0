"""The training sections: the recipe shared by all stages, each stage's schedule, DeepSpeed."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from momentor.config.base import Float, Section
from momentor.config.tasks import GESM, TASK_TYPES


class DeepSpeedConfig(Section):
    """What the DeepSpeed JSON config is derived from."""

    zero_stage: Literal[0, 1, 2, 3] = Field(0, description="ZeRO stage (0: plain data parallel)")
    bf16: bool = Field(True, description="bf16 mixed precision where the hardware supports it")
    gradient_checkpointing: bool = Field(False, description="recompute activations in the backward pass")

    @field_validator("zero_stage", mode="before")
    @classmethod
    def _stage_is_no_bool(cls, value):
        if isinstance(value, bool):  # True == 1 would pass as stage 1
            raise ValueError(f"{value!r} is not allowed; use one of 0, 1, 2, 3")
        return value


class StageConfig(Section):
    """One training stage's schedule."""

    enabled: bool = Field(True, description="run this stage")
    epochs: Float = Field(1.0, gt=0, le=1000, description="passes over the stage's examples")
    max_steps: int | None = Field(
        None, ge=1, description="stop after this many optimizer steps (null = epochs decide)")
    lr: Float = Field(
        1e-2, gt=0, description="learning rate; the cpu preset's (only the projection and temporal tables "
        "train); paper: 2e-5")
    tasks: list[str] | None = Field(
        None, description="instruction tasks read (null: gesm -> gesm, instruct -> the 8 task types)")
    task_repeats: dict[str, Annotated[int, Field(ge=1)]] = Field(
        {}, description="{task: k}: its examples count k times per epoch")
    lora_lr: Float | None = Field(
        None, gt=0, description="rate of the LoRA adapters (model.lora_rank > 0); null = lr")


class TrainConfig(Section):
    """Training recipe shared by all stages (the paper's recipe is the ``paper`` preset's default)."""

    seed: int = Field(0, description="seed of initialisation, data order and dropout")
    micro_batch_size: int = Field(8, ge=1, description="examples per device and forward pass")
    gradient_accumulation_steps: int = Field(1, ge=1, description="micro-batches per optimizer step")
    weight_decay: Float = Field(0.0, description="AdamW weight decay")
    warmup_ratio: Float = Field(0.01, ge=0, lt=1, description="share of a stage's steps with a linear warmup")
    gradient_clipping: Float = Field(1.0, description="max global gradient norm (0 = no clipping)")
    max_length: int = Field(
        2048, description="longer conversations are cut at the end (never inside the video)")
    checkpoint_every: int = Field(
        50, ge=1, description="optimizer steps between checkpoints (and one at the end)")
    keep_checkpoints: int = Field(2, ge=1, description="the newest K step checkpoints are kept")
    val_examples: int = Field(
        64, ge=0, description="held-out loss on up to N val-split examples at each checkpoint and the end "
        "(0: off)")
    deepspeed: DeepSpeedConfig = Field(
        DeepSpeedConfig(), description="what the DeepSpeed config is derived from")
    align: StageConfig = Field(StageConfig(enabled=False), description="the optional alignment stage")
    gesm: StageConfig = Field(
        StageConfig(epochs=5.0),
        description="event-sequence pretraining (the sample corpus's 34 sequences: 5 passes)")
    # the 8 task types plus GESM rehearsal: without it the cpu preset forgot the event-sequence answer format
    # during instruction tuning (dense captions came out as "." after the timestamps)
    instruct: StageConfig = Field(
        StageConfig(epochs=1.6, tasks=[*TASK_TYPES, GESM]),
        description="instruction tuning on the 8 task types plus GESM rehearsal (without it the "
        "event-sequence answer format is forgotten)")
