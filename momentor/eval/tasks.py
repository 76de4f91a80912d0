"""The four evaluation tasks behind one call, and the metrics/plots files that DVC, KFP and Airflow read.

``evaluate(task, gt, pred, cfg)`` returns the task's result dict (for ``qvhighlights`` exactly the JSON of
moment_detr's evaluator). ``merge_metrics`` files it under the task's name in one combined metrics JSON
(``{"grounding": {...}, "qvhighlights": {...}}``), the file ``dvc metrics show``, the gate and the report
read; the resolved config goes beside it (``<name>.config.yaml``). The per-item scores of a result
(``items``, :mod:`momentor.eval.items`) stay out of it, in the task's ``--out`` file. ``write_plot`` writes
the task's threshold curve as a CSV for ``dvc plots show``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from momentor import config as config_lib
from momentor.eval.jsonio import EvalInputError, write_json

TASKS = ("qvhighlights", "grounding", "dense_captioning", "action_segmentation")


def evaluate(
    task: str, gt, pred, cfg: config_lib.Config, split=None, source=None, durations=None, meteor=None
) -> dict:
    """Score the predictions file ``pred`` against the ground truth ``gt`` for ``task``."""
    if task == "qvhighlights":
        from momentor.eval import items, qvhighlights

        truth = qvhighlights.load_ground_truth(gt, split, source)
        submission = qvhighlights.load_predictions(pred)
        result = qvhighlights.evaluate(submission, truth, gt, pred)
        if submission and "pred_saliency_scores" in submission[0]:
            result["items"] = items.highlight_items(submission, truth)
        return result
    if task == "grounding":
        from momentor.eval import grounding

        convention = grounding.GroundingConvention.from_config(cfg.eval)
        return grounding.evaluate_files(gt, pred, convention, durations, split, source)
    if task == "dense_captioning":
        from momentor.eval import dense_captioning

        return dense_captioning.evaluate_files(gt, pred, meteor, cfg.eval.soda_aggregation, split, source)
    if task == "action_segmentation":
        from momentor.eval import action_segmentation

        from momentor.eval import items

        background = tuple(cfg.eval.segmentation_background)
        result = action_segmentation.evaluate_files(gt, pred, background, split)
        truth = action_segmentation.load_ground_truth(gt, split)
        result["items"] = items.segmentation_items(truth, action_segmentation.load_predictions(pred), background)
        return result
    raise EvalInputError(f"unknown task {task!r}; use one of {', '.join(TASKS)}")


def truth_fingerprint(task: str, gt, split=None, source=None, durations=None) -> str:
    """The fingerprint of a task's ground truth (what ``items.fingerprint`` of its results holds)."""
    if task == "grounding":
        from momentor.eval import grounding

        return grounding.truth_fingerprint(grounding.load_ground_truth(gt, durations, split, source))
    if task == "dense_captioning":
        from momentor.eval import dense_captioning

        return dense_captioning.truth_fingerprint(dense_captioning.load_ground_truth(gt, split, source))
    if task == "qvhighlights":
        from momentor.eval import items, qvhighlights

        return items.highlight_fingerprint(qvhighlights.load_ground_truth(gt, split, source))
    if task == "action_segmentation":
        from momentor.eval import action_segmentation, items

        return items.fingerprint(sorted(action_segmentation.load_ground_truth(gt, split).items()))
    raise EvalInputError(f"unknown task {task!r}; use one of {', '.join(TASKS)}")


def read_metrics(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise EvalInputError(f"{path}: a metrics file holds a JSON object {{task: results}}")
    return data


def merge_metrics(path: str | Path, task: str, result: dict, cfg: config_lib.Config | None = None) -> Path:
    """Put ``result`` under ``task`` in the combined metrics file, keeping the other tasks' results.

    The per-item scores stay in the task's own result file: the combined file holds aggregates only.
    """
    path = Path(path)
    metrics = read_metrics(path)
    metrics[task] = {k: v for k, v in result.items() if k != "items"}
    write_json(path, metrics)
    if cfg is not None:
        from momentor import atomic

        atomic.write_text(path.with_suffix(".config.yaml"), config_lib.dump(cfg))
    return path


def plot_rows(task: str, result: dict) -> list[dict]:
    """The task's metric-versus-threshold curve as rows (the x column first)."""
    if task == "qvhighlights":
        full = result.get("full") or {}
        mr_map, r1 = full.get("MR-mAP") or {}, full.get("MR-R1") or {}
        return [{"iou": float(t), "MR-mAP": mr_map[t], "MR-R1": r1.get(t)} for t in r1]
    if task == "grounding":
        return [{"iou": float(k[3:]), "R1": v} for k, v in result.items() if k.startswith("R1@")]
    if task == "dense_captioning":
        return [{"tiou": float(t), **v} for t, v in result.get("per_tiou", {}).items()]
    if task == "action_segmentation":
        return [{"overlap": int(k[3:]), "F1": v} for k, v in result.items() if k.startswith("F1@")]
    return []


def write_plot(folder: str | Path, task: str, result: dict) -> Path | None:
    rows = plot_rows(task, result)
    if not rows:
        return None
    path = Path(folder) / f"{task}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def flatten(metrics: dict, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a nested metrics dict under dotted keys, as ``dvc metrics show`` names them."""
    flat = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat
