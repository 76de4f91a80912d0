"""The ``train`` verb: one training stage through DeepSpeed (:func:`momentor.train.loop.train`)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from pathlib import Path


def register(sub, common) -> None:
    p = sub.add_parser(
        "train",
        parents=[common],
        help="train one stage (align | gesm | instruct) through DeepSpeed; resumes --out's last checkpoint",
    )
    p.add_argument("--stage", required=True, choices=("align", "gesm", "instruct"))
    p.add_argument(
        "--init", default=None, help="start from this checkpoint (e.g. the previous stage's <out>/final)"
    )
    p.add_argument("--out", default=None, help="run folder (default: <paths.work>/train/<stage>)")
    p.add_argument("--manifest", default=None, help="manifest folder (default: <paths.work>/manifest)")
    p.add_argument("--restart", action="store_true", help="delete --out first instead of resuming it")
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bar (the metrics log is still written)"
    )
    p.add_argument(
        "--nproc-per-node", default="1", metavar="N|auto", type=_processes,
        help="training processes on this node (default 1); auto: one per visible GPU, 1 without GPUs. Above "
        "1 the command runs again under torch.distributed.run, each process with its part of every global "
        "batch (micro_batch_size x gradient_accumulation_steps x N examples per step). Ignored in a process "
        "that a launcher (torchrun, deepspeed, a TrainJob) started as one of several",
    )
    p.set_defaults(handler=train)


def _processes(value: str) -> str:
    if value != "auto" and not (value.isdigit() and int(value) >= 1):
        raise argparse.ArgumentTypeError(f"{value!r}: give a number of processes (1, 2, ...) or auto")
    return value


def worker_argv(args: argparse.Namespace) -> list[str]:
    """The ``momentor`` arguments of each process of a ``--nproc-per-node`` launch: this command without it."""
    argv = ["-v"] if args.verbose else []
    argv += ["train", "--stage", args.stage, "--params", args.params]
    argv += [a for o in args.overrides for a in ("-S", o)]
    for flag, value in (("--init", args.init), ("--out", args.out), ("--manifest", args.manifest)):
        argv += [flag, value] if value is not None else []
    argv += ["--restart"] if args.restart else []
    argv += ["--no-progress"] if args.no_progress else []
    return argv


def train(args: argparse.Namespace) -> int:
    from momentor.train import launch

    launch.passive_thread_waits()  # before torch is imported
    nproc = launch.processes_per_node(args.nproc_per_node)
    if nproc > 1 and launch.launched_world_size() == 1:
        return launch.run_processes(nproc, worker_argv(args))
    from momentor.cli import load_config
    from momentor.train.loop import NonFiniteLoss, Preempted
    from momentor.train.loop import train as run_training

    from momentor.folder_lock import hold
    from momentor.train.launch import process_place

    cfg = load_config(args)
    out = Path(args.out or Path(cfg.paths.work) / "train" / args.stage)
    place = process_place()
    if not place.is_main:  # rank 0 tells the story; the others speak up only for warnings and errors
        logging.getLogger().setLevel(logging.WARNING)
    # the main process holds the run folder; the other ranks of the same launch write into it with it
    lock = hold(out, f"train --stage {args.stage}") if place.is_main else contextlib.nullcontext()
    try:
        with lock:
            final = run_training(cfg, args.stage, out, init=args.init, manifest_dir=args.manifest,
                                 restart=args.restart, show_progress=not args.no_progress)
    except NonFiniteLoss as err:
        print(f"momentor train: stopped: {err}", file=sys.stderr)
        return 1
    except Preempted as stop:
        print(f"momentor train: {stop.message}", file=sys.stderr)
        return stop.code
    if place.is_main:
        print(f"{args.stage}: {final}")
    return 0
