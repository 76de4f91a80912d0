"""Sharded feature extraction and engine: 2 shards vs 1 process, wall time on this machine (cpu preset).

Each side runs the real verbs as separate processes, as pods would: ``momentor features`` (1 process, all
cores) against ``momentor features --shard 0/2`` and ``--shard 1/2`` at the same time (each with half the
cores, as a pod with its CPU request gets them) followed by ``--merge 2``; the same for ``momentor engine``.
Process start-up (importing torch, loading the encoder) counts on both sides: every pod pays it. The shards
are uneven when the hash splits the videos unevenly (the split is in the note).

Rows: videos/s of the sharded run, baseline the one-process run measured in the same run (ratio = speedup).
Each side's outputs are compared byte for byte (the note says so).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report, row

from momentor import config
from momentor.data import shards
from momentor.data.ingest import ingest
from momentor.data.sample_corpus import build_sample_corpus

ROOT = Path(__file__).resolve().parents[1]
MOMENTOR = str(Path(sys.executable).parent / "momentor")


def _wall(commands: list[list[str]], threads: int) -> float:
    """Wall time of running ``commands`` at the same time, each with ``threads`` compute threads."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    started = time.perf_counter()
    running = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for c in commands]
    for process, command in zip(running, commands):
        if process.wait():
            raise RuntimeError(f"{' '.join(command[:3])} failed: {process.stderr.read().decode()[-2000:]}")
    return time.perf_counter() - started


def _same(a: Path, b: Path) -> bool:
    files = lambda root: {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")  # noqa: E731
                          if p.is_file() and not p.name.endswith(".lock")}
    return files(a) == files(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--videos", type=int, default=16)
    args = parser.parse_args()
    cores = os.cpu_count() or 2
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sources = f"data.sources=[{{format: sample, path: {tmp / 'sample'}}}]"
        build_sample_corpus(config.Config().data.sample, tmp / "sample", num_videos=args.videos)
        ingest(config.load(ROOT / "params.yaml", [sources, f"paths.work={tmp / 'input'}"]))
        split = [sum(shards.shard_of(f"sample_{i:03d}", 2) == k for i in range(args.videos)) for k in (0, 1)]
        seconds = {}
        for side in ("one", "two"):
            work = tmp / side
            shutil.copytree(tmp / "input" / "manifest", work / "manifest")
            common = ["--params", str(ROOT / "params.yaml"), "-S", f"paths.work={work}", "-S", "model.preset=cpu",
                      "-S", sources]
            features = [MOMENTOR, "features", *common, "--no-progress"]
            engine = [MOMENTOR, "engine", *common, "--out", str(work / "dataset")]
            if side == "one":
                seconds["features", side] = _wall([features], cores)
                seconds["engine", side] = _wall([engine], cores)
                continue
            seconds["features", side] = _wall([[*features, "--shard", f"{k}/2"] for k in (0, 1)], max(1, cores // 2))
            seconds["features", side] += _wall([[*features, "--merge", "2"]], cores)
            seconds["engine", side] = _wall([[*engine, "--shard", f"{k}/2"] for k in (0, 1)], max(1, cores // 2))
            seconds["engine", side] += _wall([[*engine, "--merge", "2"]], cores)
        same = {"features": _same(tmp / "one" / "features", tmp / "two" / "features"),
                "engine": _same(tmp / "one" / "dataset", tmp / "two" / "dataset")}
    rows = []
    for verb in ("features", "engine"):
        note = (f"{cores} cores; shards of {split[0]} and {split[1]} videos, each with {max(1, cores // 2)} "
                f"thread(s), then the merge; {seconds[verb, 'one']:.1f} s vs {seconds[verb, 'two']:.1f} s; "
                f"outputs {'byte-identical' if same[verb] else 'DIFFER'}")
        rows.append(row(f"momentor {verb}, 2 shards, {args.videos} videos", args.videos / seconds[verb, "two"],
                        "videos/s", "1 process, all cores", args.videos / seconds[verb, "one"], note=note))
    report("shards", rows)


if __name__ == "__main__":
    main()
