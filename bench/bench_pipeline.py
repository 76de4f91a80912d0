"""The whole pipeline under ``dvc repro``: wall time of each stage and the time spent outside the stages' work.

Copies the project (without outputs) into a temporary git repository, builds a sample corpus, runs
``dvc repro`` once from scratch and once more with nothing changed. Every ``momentor`` verb appends its own
wall time to ``$MOMENTOR_TIMINGS`` (``momentor.cli``), so

    orchestration overhead = wall time of ``dvc repro`` − Σ the verbs' own time

(DVC's hashing and bookkeeping, process start-up and imports). Rows: each stage's own time, the overhead as a
fraction of the whole run (baseline: the run's wall time), and the no-op re-run against the full run.

    .venv/bin/python bench/bench_pipeline.py                 # tiny preset, 8 videos, a few steps (~3 min)
    .venv/bin/python bench/bench_pipeline.py --default       # the README's main job: cpu preset, full corpus
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report, row  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUICK = ["model.preset=tiny", "data.sample.num_videos=8", "train.gesm.max_steps=4", "train.instruct.max_steps=8"]


def copy_project(target: Path) -> None:
    top_level = {".venv", "work", "data", ".git", ".dvc-remote", "bench", "data.dvc"}

    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n == "__pycache__"}
        return skip | (top_level & set(names) if Path(folder) == ROOT else set())

    shutil.copytree(ROOT, target, ignore=ignore)
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "bench", "--no-verify"]):
        subprocess.run(cmd, cwd=target, check=True, capture_output=True,
                       env={**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
                            "GIT_COMMITTER_EMAIL": "b@b"})


def set_params(project: Path, overrides: list[str]) -> None:
    """Write the overrides into the copy's params.yaml (DVC tracks params there)."""
    from momentor import config

    cfg = config.load(project / "params.yaml", overrides)
    (project / "params.yaml").write_text(config.dump(cfg))


def timed(cmd: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--default", action="store_true", help="the default config instead of the quick one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "momentor"
        copy_project(project)
        set_params(project, [] if args.default else QUICK)
        timings = Path(tmp) / "timings.jsonl"
        env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}", "MOMENTOR_TIMINGS": str(timings),
               "HF_HUB_OFFLINE": "1"}
        subprocess.run(["momentor", "sample-data"], cwd=project, env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["dvc", "add", "-q", "data"], cwd=project, env=env, check=True)
        timings.unlink(missing_ok=True)
        full = timed(["dvc", "repro"], project, env)
        verbs = [json.loads(line) for line in timings.read_text().splitlines()]
        timings.unlink()
        noop = timed(["dvc", "repro"], project, env)
        rerun_verbs = timings.read_text().splitlines() if timings.exists() else []
    own = sum(v["seconds"] for v in verbs)
    rows = []
    for v in verbs:
        label = v["verb"] + (f" {v['argv'][v['argv'].index('--stage') + 1]}" if "--stage" in v["argv"] else "")
        label += f" {v['argv'][1]}" if v["verb"] == "evaluate" else ""
        rows.append(row(f"stage: {label}", v["seconds"], "s", note="the verb's own wall time", peak_rss=0.0))
    rows.append(row("dvc repro, whole pipeline", full, "s", note=f"{'default' if args.default else 'quick'} config",
                    peak_rss=0.0))
    rows.append(row("orchestration overhead (outside the verbs)", full - own, "s", "fraction of the whole run", full,
                    higher_is_better=True, note="ratio = overhead / wall time", peak_rss=0.0))
    rows.append(row("dvc repro again, nothing changed", noop, "s", "the full run", full, higher_is_better=False,
                    note=f"verbs run again: {len(rerun_verbs)} (0 expected)", peak_rss=0.0))
    report("pipeline", rows)


if __name__ == "__main__":
    main()
