"""Where the training process sits: one CPU process here, one process per GPU under a launcher on a cluster.

DeepSpeed always runs with a process group. A launcher (``deepspeed``, ``torchrun``, the Kubeflow TrainJob)
sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` for each process; the same
code then runs unchanged. Without a launcher this module makes the process a world of one: rank 0 on
127.0.0.1 with a free port, the gloo backend, and DeepSpeed's CPU accelerator when there is no GPU.

One node, one process per GPU: ``momentor train --nproc-per-node N`` (or ``auto``: one per visible GPU)
runs the same command again under ``torch.distributed.run --standalone`` (:func:`run_processes`)::

    momentor train --stage gesm --nproc-per-node auto ...

Cluster, 8 GPUs on each of 2 nodes (the same command on every node, or ``deepspeed`` with a hostfile)::

    torchrun --nnodes 2 --nproc-per-node 8 --rdzv-endpoint HEAD:29500 -m momentor.cli train --stage gesm ...
    deepspeed --hostfile hosts --num_gpus 8 --module momentor.cli train --stage gesm ...

Each process reads its own part of every global batch (:func:`momentor.train.schedule.step_micro_batches`);
rank 0 alone logs, writes the metrics and writes checkpoints, which every process helps gather.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
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


def processes_per_node(value: str) -> int:
    """``--nproc-per-node``: a number, or ``auto``: one process per visible GPU, and one without GPUs.

    (``torchrun --nproc-per-node auto`` starts one per CPU core without GPUs: here a CPU run stays one
    process, which uses every core through its threads.)
    """
    if value == "auto":
        import torch

        return max(torch.cuda.device_count(), 1)
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"--nproc-per-node {value!r}: give a number of processes (1, 2, ...) or auto")
    return int(value)


def launched_world_size() -> int:
    """The processes a launcher (torchrun, deepspeed, a TrainJob) started with this one; 1 when none did."""
    return int(os.environ.get("WORLD_SIZE", "1")) if "RANK" in os.environ else 1


def run_processes(nproc: int, argv: list[str]) -> int:
    """``python -m momentor.cli <argv>`` as ``nproc`` processes of one node, under ``torch.distributed.run``.

    ``--standalone`` rendezvous on a free local port; the launcher variables of this process are not passed
    on (each worker gets its own). ``OMP_NUM_THREADS`` (unless set) shares the CPU cores out among the
    workers. SIGTERM and SIGINT are passed to the launcher, which passes them to the workers: they finish
    their step, write a checkpoint, and this returns 143 as a single process would. Returns the exit code.
    """
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARIABLES}
    if "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(len(os.sched_getaffinity(0)) // nproc, 1))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
               "-m", "momentor.cli", *argv]
    log.info("training in %d processes: %s", nproc, " ".join(command[1:]))
    launcher = subprocess.Popen(command, env=env)
    signalled: list[int] = []

    def forward(signum, frame):
        signalled.append(signum)
        launcher.send_signal(signum)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = launcher.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code and signal.SIGTERM in signalled:
        return 128 + signal.SIGTERM  # what the orchestrator expects of a terminated step (the launcher says 1)
    return code
