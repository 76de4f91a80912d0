"""The DeepSpeed JSON config of a training stage, derived from ``params.yaml`` (never written by hand).

| DeepSpeed key | from |
|---|---|
| ``train_micro_batch_size_per_gpu`` | ``train.micro_batch_size`` |
| ``gradient_accumulation_steps`` | ``train.gradient_accumulation_steps`` |
| ``optimizer`` AdamW (``torch_adam``) | the stage's ``lr``, ``train.weight_decay`` |
| ``scheduler`` WarmupCosineLR | the stage's steps, ``train.warmup_ratio`` (linear warmup, cosine to 0) |
| ``gradient_clipping`` | ``train.gradient_clipping`` |
| ``zero_optimization.stage`` | ``train.deepspeed.zero_stage`` |
| ``torch_autocast`` bf16 | ``train.deepspeed.bf16``, when the hardware runs bf16 matmuls natively |

bf16 is torch autocast (DeepSpeed's ``torch_autocast`` section), not DeepSpeed's bf16 engine: the trainable
tensors stay fp32 and are their own master weights, so the optimizer is a plain ``torch.optim.AdamW`` whose
state saves as named tensors, and the loss curve matches fp32 (checked in tests/train). ``"torch_adam": true``
because DeepSpeed's fused Adam is compiled on first use (~45 s) and gains nothing on a few million trainable
numbers.
"""

from __future__ import annotations

import torch

from momentor.config import StageConfig, TrainConfig

NEVER = 10**9  # DeepSpeed's own step printing: off (progress.py reports)


def bf16_hardware() -> bool:
    """Whether this machine runs bf16 matmuls natively (a GPU with bf16, or a CPU with AVX512-BF16/AMX)."""
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    from momentor.data.features import bf16_supported  # the CPU check the feature extractor uses

    return bf16_supported()


def use_bf16(train: TrainConfig) -> bool:
    return train.deepspeed.bf16 and bf16_hardware()


def deepspeed_config(
    train: TrainConfig, stage: StageConfig, total_steps: int, warmup_steps: int, world_size: int, bf16: bool
) -> dict:
    """The DeepSpeed config dict (``deepspeed.initialize(config=...)``) for one stage."""
    return {
        "train_batch_size": train.micro_batch_size * train.gradient_accumulation_steps * world_size,
        "train_micro_batch_size_per_gpu": train.micro_batch_size,
        "gradient_accumulation_steps": train.gradient_accumulation_steps,
        "optimizer": {
            "type": "AdamW",
            "params": {
                "lr": stage.lr,
                "betas": [0.9, 0.999],
                "eps": 1e-8,
                "weight_decay": train.weight_decay,
                "torch_adam": True,
            },
        },
        "scheduler": {
            "type": "WarmupCosineLR",
            "params": {
                "total_num_steps": max(total_steps, 1),
                "warmup_num_steps": max(warmup_steps, 1),
                "warmup_type": "linear",
                "warmup_min_ratio": 0.0,
                "cos_min_ratio": 0.0,
            },
        },
        "gradient_clipping": train.gradient_clipping,
        "zero_optimization": {"stage": train.deepspeed.zero_stage},
        "torch_autocast": {"enabled": bf16, "dtype": "bfloat16"},
        "steps_per_print": NEVER,
        "wall_clock_breakdown": False,
    }
