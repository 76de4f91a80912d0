"""``momentor step NAME --run-dir DIR``: run one step of the pipeline table (:mod:`momentor.steps`) in a run folder.

    momentor step NAME --run-dir DIR [--raw FOLDER] [--champion DIR] [--out FILE] [--params FILE] [-S k=v ...]
    momentor step NAME --run-dir DIR --plan | --shard K/N | --merge   (a sharded step: features, engine)

This is what an Airflow task (in the worker or in a pod) runs. The run folder is a project folder of its
own: ``DIR/data`` is a link to the raw data the run reads (``--raw``; the version the run was given),
``DIR/work`` its work folder, so the step's command lines run there unchanged, as ``dvc repro`` runs them
in the project. On a durable volume the run folder is what makes a retried task resume: a training stage
continues from the checkpoints under ``DIR/work/train/<stage>``. ``--champion`` is the champion folder
shared by all runs (default: ``<paths.work>/<gate.champion>`` of the config).

A sharded step runs as shards and a merge: ``--plan`` writes ``{"shards": ["0/N", ...]}`` (N =
``pipeline.shards`` of the run's config) to ``--out``, what an orchestrator fans out over; ``--shard K/N`` runs
shard K (its part under ``DIR/work/shards``); ``--merge`` merges the N parts into the step's outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path


class RunFolderError(RuntimeError):
    """The run folder belongs to other raw data."""


def link_raw(run_dir: Path, raw: str | Path) -> Path:
    """Make ``run_dir/data`` a link to ``raw``; an existing link must already point there."""
    raw = Path(raw).resolve()
    if not raw.is_dir():
        raise RunFolderError(f"raw data folder {raw} not found; pass the folder the data was announced at")
    link = run_dir / "data"
    if link.is_symlink() or link.exists():
        if link.resolve() != raw:
            raise RunFolderError(
                f"{run_dir} is a run over {link.resolve()}, not {raw}; use a new --run-dir for other data")
        return link
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / f".data.{os.getpid()}"
    os.symlink(raw, tmp, target_is_directory=True)
    os.replace(tmp, link)
    return link


def step_argv(cmd: str, params: str, overrides: list[str]) -> list[str]:
    """A step's command line as ``momentor`` argv, with the config file and overrides appended."""
    argv = shlex.split(cmd)
    if argv[0] != "momentor":
        raise ValueError(f"a step command must be a momentor verb, not {cmd!r}")
    return [*argv[1:], "--params", params, *(a for o in overrides for a in ("-S", o))]


def shard_plan(params: str, overrides: list[str]) -> list[str]:
    """The shards (``K/N``) of the sharded steps under the config: N = ``pipeline.shards``."""
    from momentor import config

    shards = config.load(params, overrides).pipeline.shards
    return [f"{k}/{shards}" for k in range(shards)]


def run_step(name: str, run_dir: str | Path, params: str, overrides: list[str], raw: str | None = None,
             champion: str | None = None, shard: str | None = None, merge: bool = False) -> int:
    """Run every command of step ``name`` (or of its shard ``K/N``, or of its merge) in ``run_dir``; the first
    non-zero exit code, else 0."""
    from momentor import cli, steps

    step = steps.step(name)
    if not step.enabled:
        print(f"momentor step: {name} is disabled in momentor/steps.py; no orchestrator runs it", file=sys.stderr)
        return 2
    if (shard or merge) and not step.sharded:
        print(f"momentor step: {name} does not run in shards (the sharded steps: "
              f"{', '.join(s.name for s in steps.enabled_steps() if s.sharded)})", file=sys.stderr)
        return 2
    if shard:
        from momentor.data.shards import parse_shard

        step = steps.shard_stage(step, shard, parse_shard(shard)[1])
    elif merge:
        step = steps.merge_stage(step, len(shard_plan(params, overrides)))
    run_dir = Path(run_dir).resolve()
    (run_dir / "work").mkdir(parents=True, exist_ok=True)
    if raw is not None:
        link_raw(run_dir, raw)
    params = str(Path(params).resolve())
    located = [*overrides, f"paths.work={run_dir / 'work'}", f"paths.raw={run_dir / 'data'}"]
    if champion:
        located.append(f"gate.champion={os.path.abspath(champion)}")  # not resolve(): it is a link
    before = os.getcwd()
    os.chdir(run_dir)
    try:
        for cmd in step.cmds:
            code = cli.main(step_argv(cmd, params, located))
            if code:
                print(f"momentor step {name}: `{cmd}` exited with {code} in {run_dir}", file=sys.stderr)
                return code
    finally:
        os.chdir(before)
    return 0


def step_summary(name: str, run_dir: str | Path) -> dict:
    """What an orchestrator reads of a finished step: its small JSON outputs (the gate's decision, the
    promotion record), by output path."""
    from momentor import steps

    run_dir = Path(run_dir)
    results = {}
    for out in steps.step(name).outs:
        path = run_dir / out
        if path.suffix == ".json" and path.is_file() and path.stat().st_size < 1 << 20:
            results[out] = json.loads(path.read_text())
    return {"step": name, "run_dir": str(run_dir.resolve()), "results": results}


def step(args: argparse.Namespace) -> int:
    if args.plan:
        plan = {"step": args.name, "shards": shard_plan(args.params, args.overrides)}
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(plan) + "\n")
        print(json.dumps(plan))
        return 0
    try:
        code = run_step(args.name, args.run_dir, args.params, args.overrides, args.raw, args.champion,
                        args.shard, args.merge)
    except (RunFolderError, KeyError, ValueError) as err:  # ValueError: a malformed --shard
        print(f"momentor step: {err}", file=sys.stderr)
        return 2
    if code == 0 and args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(step_summary(args.name, args.run_dir)) + "\n")
    return code


def register(sub, common) -> None:
    p = sub.add_parser("step", parents=[common], help="run one step of the pipeline table in a run folder")
    p.add_argument("name", help="the step (momentor/steps.py), e.g. train_gesm")
    p.add_argument("--run-dir", required=True, help="the run's folder (DIR/data, DIR/work)")
    p.add_argument("--raw", help="raw data folder to link as DIR/data (the first step of a run must give it)")
    p.add_argument("--champion", help="champion folder shared by all runs (default: <paths.work>/<gate.champion>)")
    p.add_argument("--out", help="write the step's summary JSON here (its small JSON outputs, e.g. the decision)")
    sharded = p.add_mutually_exclusive_group()
    sharded.add_argument("--plan", action="store_true", help="write the shards a sharded step runs as (JSON)")
    sharded.add_argument("--shard", metavar="K/N", help="run shard K of N of a sharded step")
    sharded.add_argument("--merge", action="store_true", help="merge the shards of a sharded step")
    p.set_defaults(handler=step)
