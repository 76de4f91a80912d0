"""CLI verbs of evaluation: ``evaluate``, ``gate``, ``promote`` and ``report``.

momentor evaluate TASK --gt FILE --pred FILE [--out FILE] [--metrics FILE] [--plots DIR]
momentor gate --metrics FILE [--champion DIR] --out decision.json [--fail-on-reject]
momentor promote --checkpoint DIR --metrics FILE --decision decision.json [--champion DIR]
momentor report --metrics FILE [--champion DIR] [--decision FILE] [--timeline TASK GT PRED]...
                [--train-log FILE] --out report.html
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
from pathlib import Path

from momentor.cli import load_config
from momentor.eval.tasks import TASKS  # light: the task modules load inside the handlers

log = logging.getLogger(__name__)


def _reports_input_errors(handler):
    """Bad input ends the verb with its message (exit code 1) instead of a traceback."""

    @functools.wraps(handler)
    def wrapped(args: argparse.Namespace) -> int:
        from momentor.eval.jsonio import EvalInputError

        try:
            return handler(args)
        except EvalInputError as err:
            print(f"momentor {args.verb}: {err}", file=sys.stderr)
            return 1

    return wrapped


def _champion_dir(args, cfg) -> Path:
    return Path(args.champion) if args.champion else Path(cfg.paths.work) / cfg.gate.champion


@_reports_input_errors
def run_evaluate(args: argparse.Namespace) -> int:
    from momentor.eval import tasks
    from momentor.eval.jsonio import write_json

    cfg = load_config(args)
    result = tasks.evaluate(args.task, args.gt, args.pred, cfg, args.split, args.source, args.durations)
    if args.out:
        write_json(args.out, result)
        log.info("wrote %s", args.out)
    else:
        print(json.dumps(result, indent=4))
    if args.metrics:
        tasks.merge_metrics(args.metrics, args.task, result, cfg)
        log.info("merged %s into %s", args.task, args.metrics)
    if args.plots:
        path = tasks.write_plot(args.plots, args.task, result)
        if path:
            log.info("wrote %s", path)
    return 0


@_reports_input_errors
def run_gate(args: argparse.Namespace) -> int:
    from momentor.eval import gate

    cfg = load_config(args)
    decision = gate.run_gate(
        args.metrics, cfg.gate.floors, _champion_dir(args, cfg), cfg.gate.max_regression, args.out
    )
    for reason in decision["reasons"]:
        bound = reason.get("floor", reason.get("champion"))
        log.info(
            "%s %s %s: %s vs %s",
            "pass" if reason["passed"] else "FAIL",
            reason["check"],
            reason["metric"],
            reason["value"],
            bound,
        )
    log.info("gate %s; decision in %s", "passed" if decision["passed"] else "REJECTED", args.out)
    return 1 if args.fail_on_reject and not decision["passed"] else 0


@_reports_input_errors
def run_promote(args: argparse.Namespace) -> int:
    from momentor.eval import gate
    from momentor.eval.jsonio import read_json

    cfg = load_config(args)
    decision = read_json(args.decision) if args.decision else None
    champion = _champion_dir(args, cfg)
    if args.status and decision is not None and not decision.get("passed") and not args.force:
        # a pipeline without branches (DVC) records the rejection and goes on to the report
        failed = [r["metric"] for r in decision.get("reasons", []) if not r["passed"]]
        _write_status(args.status, {"promoted": False, "failed": failed, "champion": str(champion)})
        log.info("gate rejected the model (failed: %s); champion %s kept", ", ".join(failed), champion)
        return 0
    release = gate.promote(args.checkpoint, args.metrics, champion, decision, args.force,
                           keep=cfg.gate.keep_releases)
    log.info("promoted %s: %s -> %s", args.checkpoint, champion, release)
    if args.status:
        _write_status(args.status, {"promoted": True, "release": str(release), "champion": str(champion)})
    return 0


def _write_status(path: str, status: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(status, indent=1) + "\n")


@_reports_input_errors
def run_report(args: argparse.Namespace) -> int:
    from momentor.eval import figures, gate, report, tasks, timelines
    from momentor.eval.jsonio import EvalInputError, read_json

    cfg = load_config(args)
    if not Path(args.metrics).is_file():
        raise EvalInputError(
            f"{args.metrics}: no metrics file; run momentor evaluate ... --metrics {args.metrics}"
        )
    drawn = {}
    for task, gt, pred in args.timeline or []:
        if task not in TASKS:
            raise EvalInputError(f"--timeline: unknown task {task!r}; use one of {', '.join(TASKS)}")
        drawn[task] = timelines.samples(task, gt, pred, cfg.eval.report_samples)
    page = report.render(
        tasks.read_metrics(args.metrics),
        champion=gate.champion_metrics(_champion_dir(args, cfg)),
        decision=read_json(args.decision) if args.decision else None,
        timelines=drawn,
        training=figures.read_training_log(args.train_log) if args.train_log else None,
    )
    log.info("wrote %s", report.write(args.out, page))
    return 0


def register(sub, common) -> None:
    p = sub.add_parser(
        "evaluate", parents=[common], help="score predictions against a benchmark's ground truth"
    )
    p.add_argument("task", choices=TASKS)
    p.add_argument(
        "--gt", required=True, help="ground-truth file (native benchmark format) or manifest folder"
    )
    p.add_argument("--pred", required=True, help="predictions file (format: see the task module's docstring)")
    p.add_argument("--out", help="write the task's result JSON here (default: print it)")
    p.add_argument("--metrics", help="also merge the result under TASK into this combined metrics JSON")
    p.add_argument("--plots", help="also write the task's threshold curve CSV into this folder (dvc plots)")
    p.add_argument("--split", help="manifest ground truth: only this split")
    p.add_argument(
        "--source",
        help="manifest ground truth (grounding, dense_captioning): only this source, e.g. charades_sta",
    )
    p.add_argument("--durations", help="Charades-STA: Charades_v1_test.csv (default: beside the --gt txt)")
    p.set_defaults(handler=run_evaluate)

    p = sub.add_parser("gate", parents=[common], help="decide whether the evaluated model may be promoted")
    p.add_argument("--metrics", required=True, help="combined metrics JSON of the candidate")
    p.add_argument("--champion", help="champion folder (default: <paths.work>/<gate.champion>)")
    p.add_argument("--out", required=True, help="write the decision JSON here")
    p.add_argument("--fail-on-reject", action="store_true", help="exit 1 when the gate rejects")
    p.set_defaults(handler=run_gate)

    p = sub.add_parser("promote", parents=[common], help="make a checkpoint the champion (after the gate)")
    p.add_argument("--checkpoint", required=True, help="checkpoint folder to promote")
    p.add_argument("--metrics", required=True, help="its combined metrics JSON")
    p.add_argument("--decision", help="the gate's decision JSON (required unless --force)")
    p.add_argument("--champion", help="champion folder (default: <paths.work>/<gate.champion>)")
    p.add_argument("--force", action="store_true", help="promote without a passing gate decision")
    p.add_argument(
        "--status",
        help="write {promoted, ...} here; with it a rejected model is recorded and the exit is 0 (for DVC)",
    )
    p.set_defaults(handler=run_promote)

    p = sub.add_parser("report", parents=[common], help="write the HTML evaluation report of a run")
    p.add_argument("--metrics", required=True, help="combined metrics JSON of the run")
    p.add_argument("--champion", help="champion folder (default: <paths.work>/<gate.champion>)")
    p.add_argument("--decision", help="the gate's decision JSON, shown on top")
    p.add_argument(
        "--timeline",
        nargs=3,
        action="append",
        metavar=("TASK", "GT", "PRED"),
        help="draw predicted-vs-true timelines of sample videos (repeatable)",
    )
    p.add_argument("--train-log", help="per-step training log (CSV or JSONL: step, loss, stage)")
    p.add_argument("--out", required=True, help="HTML file to write")
    p.set_defaults(handler=run_report)
