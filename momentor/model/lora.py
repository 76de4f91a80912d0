"""Low-rank adapters (LoRA) on the frozen LLM's linear layers: an option, off in the paper's recipe.

The paper keeps the LLM frozen: a query finds its event only through attention the LLM already has, with the
projected frames as its keys. A 7B LLM brings such attention; SmolLM2-135M on a few hundred training events
does not (the cpu preset learned where events sit in its training videos, not which frames a query names).
``model.lora_rank = r`` adds W·x + (α/r)·B·A·x to each targeted layer, so the LLM's attention itself can learn
to match words to frames, as TimeChat and VTimeLLM train it. B starts at zero, so training begins from the
frozen LLM exactly, and only A and B (a few million numbers) train and go into checkpoints.

The adapter is a child module of the layer it adapts (``q_proj.lora``) added by a forward hook: the LLM's own
modules, their names and their state dict stay as they are. A and B are fp32 master weights even when the
frozen LLM is stored in bf16; under autocast their matmuls run in bf16 like the layer's.

Legend: r rank, i input width, o output width.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class LoRA(nn.Module):
    """The low-rank update (α/r)·B·A of one linear layer."""

    def __init__(self, in_features: int, out_features: int, rank: int, alpha: float):
        super().__init__()
        self.a = nn.Parameter(torch.empty(rank, in_features))  # (r, i)
        self.b = nn.Parameter(torch.zeros(out_features, rank))  # (o, r): zero, so the start is the frozen LLM
        nn.init.kaiming_uniform_(self.a, a=math.sqrt(5))  # nn.Linear's own initialisation
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.linear(x.to(self.a.dtype), self.a), self.b) * self.scale

    @staticmethod
    def hook(layer: nn.Linear, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> torch.Tensor:
        return output + layer.lora(inputs[0]).to(output.dtype)


def add_lora(llm: nn.Module, rank: int, alpha: float, targets: list[str]) -> int:
    """Adapt every ``nn.Linear`` of ``llm`` whose name ends in one of ``targets``; returns how many.

    Raises:
        ValueError: no layer matched (the names differ between LLM families: see ``model.lora_targets``).
    """
    layers = [
        m
        for name, m in llm.named_modules()
        if isinstance(m, nn.Linear) and name.rsplit(".", 1)[-1] in targets
    ]
    if not layers:
        names = sorted({n.rsplit(".", 1)[-1] for n, m in llm.named_modules() if isinstance(m, nn.Linear)})
        raise ValueError(
            f"model.lora_targets {targets} matches no linear layer of {type(llm).__name__}; its linear layers "
            f"are named {names}"
        )
    for layer in layers:
        layer.lora = LoRA(layer.in_features, layer.out_features, rank, alpha).to(layer.weight.device)
        layer.register_forward_hook(LoRA.hook)
    return len(layers)


def keep_adapters_fp32(llm: nn.Module) -> None:
    """Cast the adapters back to fp32 after the frozen LLM was cast to bf16 (they are master weights)."""
    for m in llm.modules():
        if isinstance(m, LoRA):
            m.float()
