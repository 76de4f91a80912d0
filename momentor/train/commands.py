"""The ``train`` verb: one training stage through DeepSpeed (:func:`momentor.train.loop.train`)."""

from __future__ import annotations

import argparse
import contextlib
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
    p.set_defaults(handler=train)


def train(args: argparse.Namespace) -> int:
    from momentor.train.launch import passive_thread_waits

    passive_thread_waits()  # before torch is imported
    from momentor.cli import load_config
    from momentor.train.loop import NonFiniteLoss, Preempted
    from momentor.train.loop import train as run_training

    from momentor.folder_lock import hold
    from momentor.train.launch import process_place

    cfg = load_config(args)
    out = Path(args.out or Path(cfg.paths.work) / "train" / args.stage)
    # the main process holds the run folder; the other ranks of the same launch write into it with it
    lock = hold(out, f"train --stage {args.stage}") if process_place().is_main else contextlib.nullcontext()
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
    print(f"{args.stage}: {final}")
    return 0
