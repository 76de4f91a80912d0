"""CLI verbs of evaluation: ``evaluate``, ``rescore-champion``, ``gate``, ``promote`` and ``report``.

momentor evaluate TASK --gt FILE [FILE ...] --pred FILE [--out FILE] [--metrics FILE] [--headline FILE]
                  [--plots DIR]
momentor baselines --gt DIR --split test --out DIR [--tasks ...]
momentor rescore-champion --gt DIR --split test --out DIR [--tasks ...] [--champion DIR]
momentor gate --metrics FILE [--results DIR] [--baseline-results DIR] [--champion-results DIR]
              [--checkpoint DIR] [--champion DIR] --out decision.json [--fail-on-reject]
momentor promote --checkpoint DIR --metrics FILE --decision decision.json [--results DIR]
                 [--predictions DIR] [--champion DIR] [--status FILE]
momentor report --metrics FILE [--decision FILE] [--results DIR] [--baseline-results DIR]
                [--champion-results DIR] [--champion DIR] [--timeline TASK GT PRED]...
                [--train-log FILE]... --out report.html
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
    if len(args.gt) > 1 and args.task != "dense_captioning":
        from momentor.eval.jsonio import EvalInputError

        raise EvalInputError(f"--gt: {args.task} takes one ground truth; several are for dense_captioning")
    gt = args.gt[0] if len(args.gt) == 1 else args.gt  # dense captioning scores several files together
    result = tasks.evaluate(args.task, gt, args.pred, cfg, args.split, args.source, args.durations)
    if args.out:
        write_json(args.out, result)
        log.info("wrote %s", args.out)
    else:
        print(json.dumps(result, indent=4))
    if args.metrics:
        tasks.merge_metrics(args.metrics, args.task, result, cfg)
        log.info("merged %s into %s", args.task, args.metrics)
    if args.headline:
        from momentor.eval.items import merge_headline

        merge_headline(args.headline, args.task, result, cfg.gate)
        log.info("merged %s headline keys into %s", args.task, args.headline)
    if args.plots:
        path = tasks.write_plot(args.plots, args.task, result)
        if path:
            log.info("wrote %s", path)
    return 0


@_reports_input_errors
def run_gate(args: argparse.Namespace) -> int:
    from momentor.eval import gate

    cfg = load_config(args)
    decision = gate.run_gate(args.metrics, args.results, args.baseline_results, args.champion_results,
                             _champion_dir(args, cfg), cfg.gate, args.out, checkpoint=args.checkpoint)
    for check in decision["reasons"]:
        log.info("%-7s %s %s %s: %s", check["verdict"].upper(), check["task"], check["metric"], check["check"],
                 check["note"])
    for setting in decision["relaxed"]:
        log.warning("gate relaxed from the defaults: %s", setting)
    log.info("gate %s; decision in %s", "passed" if decision["passed"] else "REJECTED", args.out)
    return 1 if args.fail_on_reject and not decision["passed"] else 0


@_reports_input_errors
def run_baselines(args: argparse.Namespace) -> int:
    from momentor.eval import tasks
    from momentor.eval.items import HEADLINE_KEYS
    from momentor.eval.jsonio import write_json
    from momentor.infer.baselines import write_baseline

    cfg = load_config(args)
    for kind in ("random", "fixed"):
        folder = Path(args.out) / kind
        for task in args.tasks:
            pred = write_baseline(task, args.gt, args.split, kind, folder / "predictions", cfg.seed,
                                  tuple(cfg.eval.segmentation_background))
            result = tasks.evaluate(task, args.gt, pred, cfg, args.split)
            write_json(folder / f"{task}.json", result)
            shown = result.get("brief", result)
            log.info("%s baseline, %s: %s", kind, task, {k: shown[k] for k in HEADLINE_KEYS[task] if k in shown})
    return 0


@_reports_input_errors
def run_rescore_champion(args: argparse.Namespace) -> int:
    from momentor.eval import champion, tasks

    cfg = load_config(args)

    def predict(checkpoint, out, redo):
        # the champion's checkpoint on the candidate's split: the same verb function as `momentor predict`
        from momentor.train.launch import passive_thread_waits

        passive_thread_waits()  # before torch is imported
        from momentor.infer.predict import predict as run_predict

        run_predict(cfg, checkpoint, out, split=args.split, manifest_dir=args.gt, tasks=redo)

    marker = champion.rescore(
        _champion_dir(args, cfg),
        tuple(args.tasks),
        fingerprint_of=lambda task: tasks.truth_fingerprint(task, args.gt, args.split),
        evaluate=lambda task, pred: tasks.evaluate(task, args.gt, pred, cfg, args.split),
        predict=predict,
        out=args.out,
    )
    log.info("champion on %s (%s): %s", args.split, args.out,
             marker.get("note") or f"{marker['release']}, {marker['predictions']}")
    return 0


@_reports_input_errors
def run_promote(args: argparse.Namespace) -> int:
    from momentor.eval import champion as champion_lib
    from momentor.eval.jsonio import read_json
    from momentor.eval.report import read_references

    cfg = load_config(args)
    decision = read_json(args.decision) if args.decision else None
    champion = _champion_dir(args, cfg)
    if args.status and decision is not None and not decision.get("passed") and not args.force:
        # a pipeline without branches (DVC) records the rejection and goes on to the report
        failed = champion_lib.failed_checks(decision)
        _write_status(args.status, {"promoted": False, "failed": failed, "champion": str(champion)})
        log.info("gate rejected the model (failed: %s); champion %s kept", ", ".join(failed), champion)
        return 0
    from momentor.folder_lock import hold

    with hold(champion, "promote"):  # one promotion at a time: the binding check and the swap together
        release = champion_lib.promote(args.checkpoint, args.metrics, champion, decision, args.force,
                                       keep=cfg.gate.keep_releases, results=args.results,
                                       predictions=args.predictions,
                                       baselines=read_references(args.baselines) if args.baselines else None,
                                       data_version=args.data_version or champion_lib.recorded_data_version())
    log.info("promoted %s: %s -> %s", args.checkpoint, champion, release)
    if args.status:
        _write_status(args.status, {"promoted": True, "release": str(release), "champion": str(champion)})
    return 0


def _write_status(path: str, status: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(status, indent=1) + "\n")


@_reports_input_errors
def run_report(args: argparse.Namespace) -> int:
    from momentor.eval import figures, report, tasks, timelines
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
    training = [row for path in args.train_log or [] for row in figures.read_training_log(path)]
    page = report.render(
        tasks.read_metrics(args.metrics),
        decision=read_json(args.decision) if args.decision else None,
        references=report.read_references(args.baseline_results, args.champion_results),
        champion=str(_champion_dir(args, cfg)),
        timelines=drawn,
        training=training or None,
    )
    log.info("wrote %s", report.write(args.out, page))
    return 0


def _split_arguments(p) -> None:
    """The split the gate's references are scored on, and its gated tasks (baselines, rescore-champion)."""
    from momentor.eval.items import HEADLINES  # light: numpy loads inside its functions

    p.add_argument("--gt", required=True, help="manifest folder of the split (as momentor evaluate --gt)")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--tasks", nargs="+", default=list(HEADLINES), choices=tuple(HEADLINES))


def register(sub, common) -> None:
    p = sub.add_parser(
        "evaluate", parents=[common], help="score predictions against a benchmark's ground truth"
    )
    p.add_argument("task", choices=TASKS)
    p.add_argument(
        "--gt", required=True, nargs="+", action="extend",
        help="ground-truth file (native benchmark format) or manifest folder; dense_captioning scores several "
             "together (--gt val_1.json val_2.json, or --gt repeated), as densevid_eval's -r",
    )
    p.add_argument("--pred", required=True, help="predictions file (format: see the task module's docstring)")
    p.add_argument("--out", help="write the task's result JSON here (default: print it)")
    p.add_argument("--metrics", help="also merge the result under TASK into this combined metrics JSON")
    p.add_argument(
        "--headline", help="also merge the task's few headline keys into this short file (dvc metrics)"
    )
    p.add_argument("--plots", help="also write the task's threshold curve CSV into this folder (dvc plots)")
    p.add_argument("--split", help="manifest ground truth: only this split")
    p.add_argument(
        "--source",
        help="manifest ground truth (grounding, dense_captioning, qvhighlights): only this source, e.g. "
        "charades_sta",
    )
    p.add_argument("--durations", help="Charades-STA: Charades_v1_test.csv (default: beside the --gt txt)")
    p.set_defaults(handler=run_evaluate)

    p = sub.add_parser(
        "baselines", parents=[common],
        help="predict and score the random and fixed baselines on a split (the gate compares with them)",
    )
    _split_arguments(p)
    p.add_argument("--out", required=True, help="folder for <random|fixed>/<task>.json and their predictions/")
    p.set_defaults(handler=run_baselines)

    p = sub.add_parser(
        "rescore-champion", parents=[common],
        help="score the champion on a split: its stored predictions when the split is unchanged, else it predicts",
    )
    _split_arguments(p)
    p.add_argument("--champion", help="champion folder (default: <paths.work>/<gate.champion>)")
    p.add_argument("--out", required=True,
                   help="folder for <task>.json results, predictions/ and champion.json (always written)")
    p.set_defaults(handler=run_rescore_champion)

    p = sub.add_parser("gate", parents=[common], help="decide whether the evaluated model may be promoted")
    p.add_argument("--metrics", required=True, help="combined metrics JSON of the candidate")
    p.add_argument("--results", help="folder of the candidate's <task>.json results (default: the metrics' folder)")
    p.add_argument("--baseline-results", help="folder of <random|fixed>/<task>.json baseline results")
    p.add_argument("--champion-results", help="the folder momentor rescore-champion wrote")
    p.add_argument("--checkpoint", help="the candidate's checkpoint: its weights must be finite, and the decision is "
                                        "bound to it (promote checks the digest)")
    p.add_argument("--champion", help="champion folder (default: <paths.work>/<gate.champion>)")
    p.add_argument("--out", required=True, help="write the decision JSON here")
    p.add_argument("--fail-on-reject", action="store_true", help="exit 1 when the gate rejects")
    p.set_defaults(handler=run_gate)

    p = sub.add_parser("promote", parents=[common], help="make a checkpoint the champion (after the gate)")
    p.add_argument("--checkpoint", required=True, help="checkpoint folder to promote")
    p.add_argument("--metrics", required=True, help="its combined metrics JSON")
    p.add_argument("--decision", help="the gate's decision JSON (required unless --force)")
    p.add_argument("--champion", help="champion folder (default: <paths.work>/<gate.champion>)")
    p.add_argument("--results", help="folder of its <task>.json results, stored with the release")
    p.add_argument("--predictions", help="folder of its <task>.json predictions, stored with the release")
    p.add_argument("--baselines", help="the baselines' results folder (momentor baselines --out): shown in the "
                                       "released model's card beside its own scores")
    p.add_argument("--data-version", help="the version of the data it was trained on, for the model card "
                                          "(default: the run's data_version.json, else the md5 of data/ in data.dvc)")
    p.add_argument("--force", action="store_true", help="promote without a passing gate decision")
    p.add_argument(
        "--status",
        help="write {promoted, ...} here; with it a rejected model is recorded and the exit is 0 (for DVC)",
    )
    p.set_defaults(handler=run_promote)

    p = sub.add_parser("report", parents=[common], help="write the HTML evaluation report of a run")
    p.add_argument("--metrics", required=True, help="combined metrics JSON of the run")
    p.add_argument("--decision", help="the gate's decision JSON: checks, intervals, the models compared")
    p.add_argument("--baseline-results", help="folder of <random|fixed>/<task>.json baseline results")
    p.add_argument("--champion-results", help="the folder momentor rescore-champion wrote")
    p.add_argument("--champion", help="champion folder (default: <paths.work>/<gate.champion>)")
    p.add_argument(
        "--timeline",
        nargs=3,
        action="append",
        metavar=("TASK", "GT", "PRED"),
        help="draw predicted-vs-true timelines of sample videos (repeatable)",
    )
    p.add_argument("--train-log", action="append",
                   help="per-step training log (CSV or JSONL: step, loss, stage); repeat for every stage")
    p.add_argument("--out", required=True, help="HTML file to write")
    p.set_defaults(handler=run_report)
