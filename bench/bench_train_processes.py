"""Data-parallel training on one machine: ``momentor train --nproc-per-node 2`` against one process.

Both runs are the real verb on a sample corpus (8 videos: sample-data, ingest, features, engine, built first)
with the same global batch: 1 process accumulating 2 micro-batches (its threads on every core), or 2
processes (torchrun, gloo, DeepSpeed ZeRO 0; ``OMP_NUM_THREADS`` = cores / 2 each) taking one micro-batch
each. Throughput is examples per second of the median step after the first two (the run's own
``metrics.csv``: start-up, imports and the first steps' allocations are left out; the start-up is in the
note), the best of ``--rounds`` alternating rounds (the least disturbed by other load). Both runs
compute the same losses (fp32: equal to 1e-6, tests/train/test_world_size.py); under bf16 autocast they
agree to ~1e-3.

    .venv/bin/python bench/bench_train_processes.py                    # cpu preset (~6 min on 2 cores)
    .venv/bin/python bench/bench_train_processes.py --presets tiny cpu  # and the tiny preset
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import report, row  # noqa: E402
from momentor.train.launch import LAUNCHER_VARIABLES  # noqa: E402
from momentor.train.progress import read_metrics  # noqa: E402

WARM = 2  # steps left out of the throughput


def corpus(root: Path, preset: str, videos: int) -> list[str]:
    """Build a sample corpus with ``preset``'s features under ``root``; the overrides that point at it."""
    from momentor import config as config_lib
    from momentor.data.engine.run import run_engine
    from momentor.data.features import extract_features
    from momentor.data.ingest import ingest
    from momentor.data.sample_corpus import build_sample_corpus

    overrides = [f"model.preset={preset}", f"paths.raw={root / 'data'}", f"paths.work={root / 'work'}",
                 f"data.sources=[{{format: sample, path: {root / 'data' / 'sample'}}}]",
                 f"data.sample.num_videos={videos}"]
    cfg = config_lib.from_dict({}, overrides)
    build_sample_corpus(cfg.data.sample, root / "data" / "sample")
    ingest(cfg)
    extract_features(cfg, progress=False)
    run_engine(cfg)
    return overrides


def train(out: Path, overrides: list[str], nproc: int, accumulation: int, steps: int, micro_batch: int) -> dict:
    """One ``momentor train --stage gesm`` run; its wall time and examples/s after the first steps."""
    sets = overrides + [f"train.micro_batch_size={micro_batch}", f"train.gradient_accumulation_steps={accumulation}",
                        f"train.gesm.max_steps={steps}", "train.checkpoint_every=1000", "train.val_examples=0"]
    argv = [sys.executable, "-m", "momentor.cli", "train", "--stage", "gesm", "--out", str(out), "--no-progress",
            "--params", os.devnull, "--nproc-per-node", str(nproc), *[a for s in sets for a in ("-S", s)]]
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARIABLES}
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")
    rows = read_metrics(out / "metrics.csv")
    return {"examples_per_s": statistics.median(r["samples_per_s"] for r in rows[WARM:]), "wall_s": wall,
            "start_s": wall - rows[-1]["elapsed_s"], "losses": [r["loss"] for r in rows]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["cpu"], choices=("tiny", "cpu"))
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--micro-batch", type=int, default=2)
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rows, results = [], {}
    with tempfile.TemporaryDirectory(prefix="momentor-bench-processes-") as tmp:
        for preset in args.presets:
            overrides = corpus(Path(tmp) / preset, preset, args.videos)
            runs = {1: [], 2: []}
            for _ in range(args.rounds):
                for nproc in (1, 2):
                    out = Path(tmp) / f"{preset}-{nproc}"
                    shutil.rmtree(out, ignore_errors=True)
                    runs[nproc].append(train(out, overrides, nproc, 2 // nproc, args.steps, args.micro_batch))
            one, two = (max(runs[n], key=lambda r: r["examples_per_s"]) for n in (1, 2))
            results[preset] = {"one": runs[1], "two": runs[2]}
            batch = 2 * args.micro_batch
            rows.append(row(f"{preset} train 2 processes (global batch {batch})", two["examples_per_s"], "examples/s",
                            "1 process, 2 accumulation", one["examples_per_s"],
                            note=f"start-up {two['start_s']:.0f} s vs {one['start_s']:.0f} s; wall "
                                 f"{two['wall_s']:.0f} s vs {one['wall_s']:.0f} s for {args.steps} steps; load "
                                 f"{os.getloadavg()[0]:.1f}"))
            print(f"{preset}: losses 1 process {[round(x, 4) for x in one['losses']]}, "
                  f"2 processes {[round(x, 4) for x in two['losses']]}")
    report("train_processes", rows, {"results": results, "cores": len(os.sched_getaffinity(0))})


if __name__ == "__main__":
    main()
