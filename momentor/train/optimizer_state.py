"""AdamW state by parameter name, one layout for every ZeRO stage: tensors to safetensors, scalars to JSON.

DeepSpeed's own checkpoints are pickles (``torch.save`` of dicts holding enums, named tuples and loss-scaler
objects) and its loader unpickles them, which runs code from the file. Here the state is taken apart
instead: for each trainable parameter ``<name>::exp_avg`` and ``<name>::exp_avg_sq`` (and ``<name>::master``,
the fp32 master copy, under ZeRO) go into a safetensors file, and the step counts and hyper-parameters into
JSON. Loading reads tensors and JSON only, so nothing in a checkpoint can run code, and a checkpoint written
under one ZeRO stage or world size resumes under another.

- ZeRO 0: the engine's optimizer is the ``torch.optim.AdamW`` itself; its per-parameter state is read and
  written directly. A parameter that never had a gradient has no state (the temporal tables in the
  text-timestamp mode) and is skipped.
- ZeRO 1/2: the state lives in flat fp32 partitions; DeepSpeed's fragment API (``safe_get_full_*`` /
  ``safe_set_full_*``) maps it to parameters. A fresh engine has no state yet (AdamW creates it lazily), so
  restoring first creates zero state of the right shape and lets DeepSpeed link it, then fills it in.
"""

from __future__ import annotations

import torch
from torch import nn

MOMENTS = ("exp_avg", "exp_avg_sq")
SEPARATOR = "::"


def base_optimizer(engine) -> torch.optim.Optimizer:
    """The torch optimizer under DeepSpeed's wrappers (ZeRO keeps it as ``.optimizer``)."""
    optimizer = engine.optimizer
    return getattr(optimizer, "optimizer", optimizer)


def _scalars(optimizer: torch.optim.Optimizer) -> list[dict]:
    return [{k: v for k, v in group.items() if k != "params"} for group in optimizer.param_groups]


def collect(engine, params: dict[str, nn.Parameter]) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, scalars) of the optimizer state, keyed by parameter name."""
    base = base_optimizer(engine)
    tensors: dict[str, torch.Tensor] = {}
    steps: dict[str, float] = {}
    if engine.zero_optimization_stage() == 0:
        for name, p in params.items():
            state = base.state.get(p)
            if not state:
                continue
            for key in MOMENTS:
                tensors[f"{name}{SEPARATOR}{key}"] = state[key].detach().cpu().contiguous()
            steps[name] = float(state["step"])
    else:
        from deepspeed.utils import safe_get_full_fp32_param, safe_get_full_optimizer_state

        flat_steps = [float(s["step"]) for s in base.state.values() if "step" in s]
        for name, p in params.items():
            tensors[f"{name}{SEPARATOR}master"] = safe_get_full_fp32_param(p).detach().cpu().contiguous()
            for key in MOMENTS:
                tensors[f"{name}{SEPARATOR}{key}"] = (
                    safe_get_full_optimizer_state(p, key).detach().cpu().contiguous()
                )
            steps[name] = flat_steps[0] if flat_steps else 0.0
    return tensors, {"steps": steps, "param_groups": _scalars(base)}


def restore(engine, params: dict[str, nn.Parameter], tensors: dict[str, torch.Tensor], scalars: dict) -> None:
    """Put saved state into a freshly initialised engine (the model's weights are loaded already)."""
    base = base_optimizer(engine)
    steps = scalars["steps"]
    unknown = sorted({k.split(SEPARATOR)[0] for k in tensors} - set(params))
    if unknown:
        raise ValueError(f"optimizer state names parameters this model does not train: {unknown}")
    for group, saved in zip(base.param_groups, scalars["param_groups"]):
        group.update({k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()})
    if engine.zero_optimization_stage() == 0:
        for name, p in params.items():
            if name not in steps:
                continue
            base.state[p] = {
                "step": torch.tensor(steps[name], dtype=torch.float32),
                **{key: tensors[f"{name}{SEPARATOR}{key}"].to(p.device, p.dtype).clone() for key in MOMENTS},
            }
        return
    from deepspeed.utils import safe_set_full_fp32_param, safe_set_full_optimizer_state

    zero = engine.optimizer
    step = next(iter(steps.values()), 0.0)
    for flat in zero.single_partition_of_fp32_groups:
        base.state[flat] = {
            "step": torch.tensor(step, dtype=torch.float32),
            **{key: torch.zeros_like(flat) for key in MOMENTS},
        }
    zero._lazy_init_hp_params_optimizer_state()  # link the new flat state to each parameter's fragment
    for name, p in params.items():
        safe_set_full_fp32_param(p, tensors[f"{name}{SEPARATOR}master"].to(p.device))
        for key in MOMENTS:
            safe_set_full_optimizer_state(p, tensors[f"{name}{SEPARATOR}{key}"].to(p.device), key)
