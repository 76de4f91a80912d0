"""`momentor train --stage gesm` on the tiny corpus in fresh processes, and what the tests read of a run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from momentor.train.launch import LAUNCHER_VARIABLES
from momentor.train.progress import read_metrics

DETERMINISTIC = ("step", "stage", "loss", "token_loss", "time_loss", "lr")
DYING = Path(__file__).with_name("dying_momentor.py")


def momentor(corpus: list[str], out: Path, *overrides: str, env: dict | None = None,
             die_at_step: int | None = None, signal: str = "KILL", nproc: int = 1) -> subprocess.Popen:
    """`momentor train --stage gesm` in a fresh process that is not part of this one's process group;
    with ``die_at_step``, the process sends itself SIG``signal`` as that step begins; with ``nproc`` > 1,
    the verb starts that many training processes (``--nproc-per-node``)."""
    env = {k: v for k, v in (env or os.environ).items() if k not in LAUNCHER_VARIABLES}
    if die_at_step is not None:
        env.update(DIE_AT_STEP=str(die_at_step), DIE_SIGNAL=signal)
    sets = [
        a
        for o in corpus
        + [
            "train.micro_batch_size=2",
            "train.checkpoint_every=3",
            "train.gesm.max_steps=8",
            "train.gesm.lr=0.01",
            *overrides,
        ]
        for a in ("-S", o)
    ]
    argv = [
        sys.executable,
        *((str(DYING),) if die_at_step is not None else ("-m", "momentor.cli")),
        "train",
        "--stage",
        "gesm",
        "--out",
        str(out),
        "--no-progress",
        "--params",
        os.devnull,
        *(("--nproc-per-node", str(nproc)) if nproc != 1 else ()),
        *sets,
    ]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def deterministic_columns(out: Path) -> list[tuple]:
    return [tuple(row[k] for k in DETERMINISTIC) for row in read_metrics(out / "metrics.csv")]


def without_a_compiler(extensions: Path) -> dict:
    """The environment of a slim image: no C++ compiler on PATH, nothing JIT-built yet."""
    env = {k: v for k, v in os.environ.items() if k not in ("CXX", "CC")}
    env["PATH"] = str(Path(sys.executable).parent)
    env["TORCH_EXTENSIONS_DIR"] = str(extensions)
    return env
