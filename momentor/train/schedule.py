"""How many steps a stage takes, and which examples each step sees.

The order of examples is a pure function of (seed, stage, epoch): epoch e is a seeded permutation of the
training set, and optimizer step s reads positions [s·G, (s+1)·G) of the concatenated epochs (G the global
batch). Nothing about the data order lives in a loader's state, so a run resumed at step s reads exactly
what the uninterrupted run read, on any number of processes with the same global batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from momentor.config import StageConfig, TrainConfig

STAGES = ("align", "gesm", "instruct")


@dataclass(frozen=True)
class StagePlan:
    """The step budget of one stage."""

    stage: str
    num_examples: int
    micro_batch_size: int
    accumulation: int  # micro-batches per optimizer step and process
    world_size: int
    total_steps: int
    warmup_steps: int

    @property
    def global_batch(self) -> int:
        return self.micro_batch_size * self.accumulation * self.world_size

    @property
    def epochs(self) -> float:
        return self.total_steps * self.global_batch / max(self.num_examples, 1)


def plan_stage(
    stage: str, train: TrainConfig, stage_cfg: StageConfig, num_examples: int, world_size: int
) -> StagePlan:
    """Steps: ``max_steps`` if set, else ceil(epochs · examples / batch); warmup: ceil(ratio · steps)."""
    global_batch = train.micro_batch_size * train.gradient_accumulation_steps * world_size
    if not stage_cfg.enabled:
        total = 0
    elif stage_cfg.max_steps is not None:
        total = stage_cfg.max_steps
    else:
        total = math.ceil(stage_cfg.epochs * num_examples / global_batch)
    return StagePlan(
        stage=stage,
        num_examples=num_examples,
        micro_batch_size=train.micro_batch_size,
        accumulation=train.gradient_accumulation_steps,
        world_size=world_size,
        total_steps=total,
        warmup_steps=math.ceil(train.warmup_ratio * total),
    )


def epoch_order(seed: int, stage: str, epoch: int, num_examples: int) -> np.ndarray:
    """The seeded permutation (n,) of epoch ``epoch`` of a stage."""
    return np.random.default_rng([seed, STAGES.index(stage), epoch]).permutation(num_examples)


def step_micro_batches(plan: StagePlan, seed: int, step: int, rank: int) -> list[list[int]]:
    """Example indices of optimizer step ``step`` (0-based) for process ``rank``: one list per micro-batch.

    Global positions of the step are laid out micro-batch by micro-batch, rank by rank, so every process
    reads a disjoint slice and together they read the whole global batch.
    """
    n = plan.num_examples
    if n == 0:
        raise ValueError(f"stage {plan.stage} has no training examples")
    orders: dict[int, np.ndarray] = {}
    micro_batches = []
    for j in range(plan.accumulation):
        first = step * plan.global_batch + (j * plan.world_size + rank) * plan.micro_batch_size
        indices = []
        for position in range(first, first + plan.micro_batch_size):
            epoch = position // n
            if epoch not in orders:
                orders[epoch] = epoch_order(seed, plan.stage, epoch, n)
            indices.append(int(orders[epoch][position % n]))
        micro_batches.append(indices)
    return micro_batches
