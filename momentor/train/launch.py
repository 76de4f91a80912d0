"""Where the training process sits: one CPU process here, one process per GPU under a launcher on a cluster.

DeepSpeed always runs with a process group. A launcher (``deepspeed``, ``torchrun``, the Kubeflow TrainJob)
sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` for each process; the same
code then runs unchanged. Without a launcher this module makes the process a world of one: rank 0 on
127.0.0.1 with a free port, the gloo backend, and DeepSpeed's CPU accelerator when there is no GPU.

Cluster, 8 GPUs on each of 2 nodes (the same command on every node, or ``deepspeed`` with a hostfile)::

    torchrun --nnodes 2 --nproc-per-node 8 --rdzv-endpoint HEAD:29500 -m momentor.cli train --stage gesm ...
    deepspeed --hostfile hosts --num_gpus 8 --module momentor.cli train --stage gesm ...
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
from dataclasses import dataclass

log = logging.getLogger(__name__)

LAUNCHER_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class ProcessPlace:
    """This process in the training world."""

    rank: int
    local_rank: int
    world_size: int
    backend: str  # "gloo" (CPU) | "nccl" (GPU)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def passive_thread_waits() -> None:
    """Let OpenMP worker threads sleep, not spin, while they wait (``OMP_WAIT_POLICY=PASSIVE``, unless set).

    Must run before torch is imported. On a CPU shared with other processes a spinning worker holds its core
    while its peer is descheduled, and every parallel region then waits a scheduler tick: measured here with
    another process on one of the two cores, an element-wise op on a (8, 100, 576) tensor took 16 ms instead
    of 0.5 ms, and training steps ran ~10x slower. GEMM throughput is the same either way.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def process_place() -> ProcessPlace:
    """Read the launcher's variables, or set those of a single process when no launcher started us.

    Sets ``DS_ACCELERATOR=cpu`` on machines without a GPU (DeepSpeed would otherwise probe for one).
    """
    if "DS_ACCELERATOR" not in os.environ and not has_gpu():
        os.environ["DS_ACCELERATOR"] = "cpu"
    present = [name for name in LAUNCHER_VARIABLES if name in os.environ]
    if not present or present == ["LOCAL_RANK"]:
        os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1")
        os.environ["MASTER_PORT"] = str(free_port())
    elif len(present) != len(LAUNCHER_VARIABLES):
        missing = sorted(set(LAUNCHER_VARIABLES) - set(present))
        raise RuntimeError(
            f"the launcher set {', '.join(present)} but not {', '.join(missing)}; start training with "
            "`deepspeed` or `torchrun`, or unset these variables to train in one process"
        )
    backend = "nccl" if os.environ.get("DS_ACCELERATOR", "cuda") != "cpu" and has_gpu() else "gloo"
    place = ProcessPlace(
        int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"]), int(os.environ["WORLD_SIZE"]), backend
    )
    log.debug("process %s", place)
    return place


def skip_shared_memory_collectives(place: ProcessPlace) -> str | None:
    """Keep DeepSpeed's CPU backend from compiling its shared-memory all-reduce when it cannot or need not.

    On the CPU accelerator DeepSpeed's comm backend JIT-compiles a C++ op (``deepspeed_shm_comm``) when it
    starts. A world of one never reduces with itself, yet paid that build (~30 s here) in every fresh
    container or checkout; and where there is no C++ compiler (the ``python:3.11-slim`` image) the build failed
    and took the training run down with it. In those cases the op is marked incompatible, and DeepSpeed uses
    the process group's gloo collectives instead. Returns why, or None when the op is kept (several CPU
    processes on a machine with a compiler). Must run before ``deepspeed.init_distributed``.
    """
    if os.environ.get("DS_ACCELERATOR") != "cpu":
        return None
    if place.world_size == 1:
        reason = "one process has nothing to all-reduce"
    elif shutil.which(os.environ.get("CXX", "c++")) is None:
        reason = "no C++ compiler to build it (install g++ to use it)"
    else:
        return None
    import deepspeed.ops

    deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False  # read by deepspeed.comm.torch.build_shm_op
    log.info("DeepSpeed's shared-memory all-reduce is not built: %s; gloo's collectives serve", reason)
    return reason


def init_process_group(place: ProcessPlace) -> None:
    """DeepSpeed's process group (idempotent: a second training stage in the same process reuses it)."""
    import deepspeed
    import deepspeed.comm as dist

    if not dist.is_initialized():
        skip_shared_memory_collectives(place)
        deepspeed.init_distributed(dist_backend=place.backend, auto_mpi_discovery=False)
