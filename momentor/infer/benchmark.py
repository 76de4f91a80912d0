"""``momentor benchmark``: the paper's zero-shot evaluation on your copy of a benchmark, in one command.

    momentor benchmark FORMAT --annotations PATH --videos DIR --checkpoint CKPT --out DIR [--split S]

reads the benchmark's native annotation files (``FORMAT``: a reader of :mod:`momentor.data.formats`) and its
videos into a manifest of its own (``<out>/work/manifest``), extracts the frame features with the checkpoint's
frozen encoder (``<out>/work/features``), predicts the benchmark's tasks with the checkpoint
(``<out>/predictions/<task>.json``) and scores them with the reference evaluators (``<out>/<task>.json`` and
``<out>/metrics.json``). Nothing is trained; the project's own manifest and work folder are not touched.

The tasks of each benchmark, as the paper and its peers report them:

| format | tasks |
|---|---|
| ``charades_sta`` | grounding (R1@0.3/0.5/0.7, mIoU) |
| ``activitynet_captions`` | grounding, dense_captioning |
| ``qvhighlights`` | qvhighlights (HL mAP and HIT@1, with the MR metrics of the same windows) |
| ``breakfast`` | action_segmentation (MoF, Edit, F1@10/25/50) |
| ``youcook2`` | dense_captioning |

The split is the one the annotation files name (Charades-STA ``test``, QVHighlights and ActivityNet ``val``,
...); with several, ``--split`` picks one. Conventions are the run's config (``-S eval....``), e.g.
``-S eval.segmentation_background=[SIL]`` for Breakfast (its background label fills uncovered frames and is
left out of Edit and F1).
"""

from __future__ import annotations

import logging
from pathlib import Path

from momentor import config as config_lib

log = logging.getLogger(__name__)

BENCHMARK_TASKS = {
    "charades_sta": ("grounding",),
    "activitynet_captions": ("grounding", "dense_captioning"),
    "qvhighlights": ("qvhighlights",),
    "breakfast": ("action_segmentation",),
    "youcook2": ("dense_captioning",),
}


def benchmark_config(cfg: config_lib.Config, fmt: str, annotations, videos, out, checkpoint) -> config_lib.Config:
    """``cfg`` reading only the benchmark, working under ``<out>/work``, with the checkpoint's model section."""
    from momentor.config import SourceConfig
    from momentor.model import pretrained

    if fmt not in BENCHMARK_TASKS:
        raise ValueError(f"benchmark format {fmt!r}: use one of {', '.join(BENCHMARK_TASKS)}")
    trained = pretrained.load_config(pretrained.resolve(checkpoint))  # a released model or a checkpoint
    source = SourceConfig(format=fmt, path=str(annotations), videos=None if videos is None else str(videos))
    data = cfg.data.model_copy(update={"sources": [source]})
    paths = cfg.paths.model_copy(update={"work": str(Path(out) / "work")})
    return cfg.model_copy(update={"data": data, "paths": paths, "model": trained.model})


def run_benchmark(cfg: config_lib.Config, fmt: str, annotations, videos, checkpoint, out, split: str | None = None,
                  tasks: tuple[str, ...] | None = None, batch_size: int = 16) -> dict:
    """Ingest, features, predict and evaluate (see the module docstring); returns ``{task: result}``."""
    from momentor.data.features import extract_features
    from momentor.data.ingest import ingest
    from momentor.data.manifest import read_table
    from momentor.eval import tasks as eval_tasks
    from momentor.eval.jsonio import write_json
    from momentor.infer.predict import predict

    out = Path(out)
    run_cfg = benchmark_config(cfg, fmt, annotations, videos, out, checkpoint)
    manifest = Path(run_cfg.paths.work) / "manifest"
    summary = ingest(run_cfg, manifest)
    log.info("ingested %s: %s (%d quarantined)", annotations, summary["tables"], summary["quarantined"])
    splits = sorted(set(read_table(manifest, "videos")["split"]))
    if split is None and len(splits) != 1:
        raise ValueError(f"{annotations}: the benchmark has the splits {splits}; choose one with --split")
    split = split or splits[0]
    if split not in splits:
        raise ValueError(f"{annotations}: no {split!r} split; it has {splits}")
    extract_features(run_cfg, manifest, progress=False)
    tasks = tuple(tasks or BENCHMARK_TASKS[fmt])
    written = predict(run_cfg, checkpoint, out / "predictions", split=split, manifest_dir=manifest, tasks=tasks,
                      batch_size=batch_size)
    results = {}
    for task in tasks:
        results[task] = eval_tasks.evaluate(task, manifest, written[task], run_cfg, split)
        write_json(out / f"{task}.json", results[task])
        eval_tasks.merge_metrics(out / "metrics.json", task, results[task], run_cfg)
    return results
