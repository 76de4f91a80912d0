"""Inference verbs: ``predict`` (a manifest split into prediction files); ``ask`` (one video, one question)."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub, common) -> None:
    from momentor.eval.tasks import TASKS  # light: the task modules load inside the handlers

    p = sub.add_parser(
        "predict", parents=[common],
        help="run a split through a checkpoint: grounding, dense captions, highlights, action segmentation",
    )
    p.add_argument("--checkpoint", help="checkpoint folder, or a training run folder (uses its final/)")
    p.add_argument(
        "--baseline",
        choices=("random", "fixed"),
        help="instead of a model: a baseline that never looks at the video (see momentor/infer/baselines.py)",
    )
    p.add_argument("--out", required=True, help="folder for <task>.json, one per task")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--manifest", default=None, help="manifest folder (default: <paths.work>/manifest)")
    p.add_argument(
        "--tasks",
        nargs="+",
        default=list(TASKS),
        choices=TASKS,
        help="qvhighlights: highlight detection (saliency + windows); action_segmentation: frame labels",
    )
    p.add_argument("--batch-size", type=int, default=16, help="questions generated together")
    p.add_argument(
        "--max-new-tokens", type=int, default=None, help="grounding answers (default: eval.max_new_tokens)"
    )
    p.add_argument("--max-caption-tokens", type=int, default=256, help="dense-captioning answers")
    p.set_defaults(handler=predict)

    p = sub.add_parser(
        "benchmark", parents=[common],
        help="zero-shot evaluation of a checkpoint on your copy of Charades-STA, ActivityNet Captions, "
             "QVHighlights, Breakfast or YouCook2 (native files + videos): ingest, features, predict, evaluate",
    )
    p.add_argument("format", choices=("charades_sta", "activitynet_captions", "qvhighlights", "breakfast",
                                      "youcook2"), help="the benchmark's annotation format (momentor/data/formats)")
    p.add_argument("--annotations", required=True, help="the benchmark's annotation file, or the folder of its files")
    p.add_argument("--videos", required=True, help="folder of its videos, named <video_id>.<ext>")
    p.add_argument("--checkpoint", required=True, help="checkpoint folder, or a training run folder (uses its final/)")
    p.add_argument("--out", required=True, help="folder for <task>.json results, metrics.json, predictions/, work/")
    p.add_argument("--split", default=None, help="the split to score when the files hold several")
    p.add_argument("--tasks", nargs="+", default=None, choices=TASKS,
                   help="default: the benchmark's tasks (momentor/infer/benchmark.py)")
    p.add_argument("--batch-size", type=int, default=16, help="questions generated together")
    p.set_defaults(handler=benchmark)

    p = sub.add_parser(
        "ask", parents=[common], help='ask a trained model about a video: momentor ask VIDEO "question"'
    )
    p.add_argument("video", help="any video file PyAV can read")
    p.add_argument("question", help='e.g. "When does the red circle move upward?"')
    p.add_argument(
        "--checkpoint", required=True,
        help="released model (e.g. work/champion/model), checkpoint, or training run folder (uses its final/)"
    )
    p.add_argument("--max-new-tokens", type=int, default=None, help="default: eval.max_new_tokens")
    p.add_argument("--json", action="store_true", help='print {"answer", "timestamps"} instead of the text')
    p.set_defaults(handler=ask)


def predict(args: argparse.Namespace) -> int:
    from momentor.train.launch import passive_thread_waits

    passive_thread_waits()  # before torch is imported
    from momentor.cli import load_config
    from momentor.infer.predict import predict as run_predict

    cfg = load_config(args)
    if args.baseline:
        from momentor.infer.baselines import write_baseline

        manifest = args.manifest or f"{cfg.paths.work}/manifest"
        for task in args.tasks:
            path = write_baseline(task, manifest, args.split, args.baseline, args.out, cfg.seed,
                                  tuple(cfg.eval.segmentation_background))
            print(f"{task} ({args.baseline} baseline): {path}")
        return 0
    if not args.checkpoint:
        print("momentor predict: give --checkpoint (or --baseline)", file=sys.stderr)
        return 2
    written = run_predict(
        cfg,
        args.checkpoint,
        args.out,
        split=args.split,
        manifest_dir=args.manifest,
        tasks=tuple(args.tasks),
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        max_caption_tokens=args.max_caption_tokens,
    )
    for task, path in written.items():
        print(f"{task}: {path}")
    return 0


def benchmark(args: argparse.Namespace) -> int:
    from momentor.train.launch import passive_thread_waits

    passive_thread_waits()  # before torch is imported
    from momentor.cli import load_config
    from momentor.eval.items import HEADLINE_KEYS
    from momentor.infer.benchmark import run_benchmark

    cfg = load_config(args)
    try:
        results = run_benchmark(cfg, args.format, args.annotations, args.videos, args.checkpoint, args.out,
                                args.split, tuple(args.tasks) if args.tasks else None, args.batch_size)
    except (ValueError, FileNotFoundError) as err:  # bad input (EvalInputError, ConfigError are ValueErrors)
        print(f"momentor benchmark: {err}", file=sys.stderr)
        return 1
    for task, result in results.items():
        shown = result.get("brief", result)
        print(f"{task}: " + ", ".join(f"{k} {shown[k]}" for k in HEADLINE_KEYS[task] if k in shown))
    print(f"results: {args.out}/<task>.json, {args.out}/metrics.json")
    return 0


def ask(args: argparse.Namespace) -> int:
    from momentor.train.launch import passive_thread_waits

    passive_thread_waits()  # before torch is imported
    from momentor import Momentor
    from momentor.data.quarantine import BadInput

    model = Momentor.from_pretrained(args.checkpoint)
    try:
        text, timestamps = model.ask(args.video, args.question, args.max_new_tokens)
    except BadInput as err:
        print(f"momentor ask: {args.video}: {err}", file=sys.stderr)
        return 1
    print(json.dumps({"answer": text, "timestamps": timestamps}) if args.json else text)
    return 0
