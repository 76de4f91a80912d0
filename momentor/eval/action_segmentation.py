"""Action segmentation: MoF, Edit and F1@{10,25,50}, as MS-TCN's ``eval.py`` computes them.

- MoF: frame accuracy pooled over all frames of all videos (every frame counts, background included).
- Edit: normalized Levenshtein distance between the predicted and true segment label sequences,
  ``(1 - D / max(len)) * 100``, averaged over videos.
- F1@k: a predicted segment is a true positive when its best same-label ground-truth segment has
  IoU >= k and is not taken yet; TP/FP/FN are summed over all videos first, then F1 is computed once.
- Background: labels in ``background`` (config ``eval.segmentation_background``) are left out of the
  segments of Edit and F1, as MS-TCN's ``bg_class``. Its default, ``["background"]``, excludes nothing on
  Breakfast, whose background label ``SIL`` therefore counts (MS-TCN's published numbers do the same);
  set it to ``["SIL"]`` to exclude it. MoF always counts every frame.
- Segment ends are frame indices as in MS-TCN: a segment ends at the frame where the next one starts, and
  the last segment of a video ends at its last frame index (one short of the frame count).
- Values are percent, rounded to 2 decimals.

Ground truth: a ``groundTruth`` folder of ``<video>.txt`` files (one label per line, Breakfast layout), or a
manifest folder with ``frame_labels.parquet`` (``video_id``, ``labels``; ``--split`` filters through
``videos.parquet``). Predictions: JSON ``{video_id: [label, ...]}``, JSON Lines ``{"video_id", "labels"}``,
or an MS-TCN results folder (one file per video, labels space-separated on its second line). Video ids are
file stems. Every ground-truth video needs a prediction of the same length.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from momentor.eval import manifest_tables
from momentor.eval.jsonio import EvalInputError, check_same_ids, read_json, read_jsonl

log = logging.getLogger(__name__)

OVERLAPS = (0.10, 0.25, 0.50)


def segments(labels: list[str], background=()) -> tuple[list[str], list[int], list[int]]:
    """Runs of equal labels, background runs left out: (labels, starts, ends) in frame indices."""
    names, starts, ends = [], [], []
    last = labels[0]
    if last not in background:
        names.append(last)
        starts.append(0)
    for i, label in enumerate(labels):
        if label != last:
            if label not in background:
                names.append(label)
                starts.append(i)
            if last not in background:
                ends.append(i)
            last = label
    if last not in background:
        ends.append(len(labels) - 1)  # MS-TCN's last end is the final index, not the frame count
    return names, starts, ends


def edit_score(pred: list[str], true: list[str], background=()) -> float:
    """Normalized Levenshtein similarity of the two segment label sequences, in percent."""
    p, _, _ = segments(pred, background)
    y, _, _ = segments(true, background)
    distance = np.zeros((len(p) + 1, len(y) + 1))
    distance[:, 0] = np.arange(len(p) + 1)
    distance[0, :] = np.arange(len(y) + 1)
    for j in range(1, len(y) + 1):
        for i in range(1, len(p) + 1):
            if y[j - 1] == p[i - 1]:
                distance[i, j] = distance[i - 1, j - 1]
            else:
                distance[i, j] = min(distance[i - 1, j], distance[i, j - 1], distance[i - 1, j - 1]) + 1
    return float((1 - distance[-1, -1] / max(len(p), len(y))) * 100)


def f1_counts(pred: list[str], true: list[str], overlap: float, background=()) -> tuple[int, int, int]:
    """(tp, fp, fn) of one video at one IoU threshold."""
    p_label, p_start, p_end = segments(pred, background)
    y_label, y_start, y_end = segments(true, background)
    y_start, y_end = np.array(y_start), np.array(y_end)
    y_label = np.array(y_label, dtype=object)
    hits = np.zeros(len(y_label), dtype=bool)
    tp = fp = 0
    for label, start, end in zip(p_label, p_start, p_end):
        if len(y_label) == 0:
            fp += 1
            continue
        # no clamp of the intersection, as in the reference: disjoint segments get a negative IoU
        intersection = np.minimum(end, y_end) - np.maximum(start, y_start)
        union = np.maximum(end, y_end) - np.minimum(start, y_start)
        iou = (intersection / union) * (y_label == label)
        best = int(np.argmax(iou))
        if iou[best] >= overlap and not hits[best]:
            tp += 1
            hits[best] = True
        else:
            fp += 1
    return tp, fp, int(len(y_label) - hits.sum())


def score(true: dict[str, list[str]], pred: dict[str, list[str]], background=("background",)) -> dict:
    """Metrics over the videos of ``true`` (each with a prediction of the same length)."""
    correct = total = 0
    edit = 0.0
    counts = np.zeros((len(OVERLAPS), 3))  # (overlap, [tp, fp, fn])
    for video, labels in true.items():
        guess = pred[video]
        if len(guess) != len(labels):
            raise EvalInputError(
                f"video {video}: {len(guess)} predicted labels for {len(labels)} frames; "
                "predict one label per frame"
            )
        correct += sum(a == b for a, b in zip(labels, guess))
        total += len(labels)
        edit += edit_score(guess, labels, background)
        for k, overlap in enumerate(OVERLAPS):
            counts[k] += f1_counts(guess, labels, overlap, background)
    result = {"MoF": round(100 * correct / total, 2), "Edit": round(edit / len(true), 2)}
    for (tp, fp, fn), overlap in zip(counts, OVERLAPS):
        with np.errstate(divide="ignore", invalid="ignore"):
            precision, recall = tp / (tp + fp), tp / (tp + fn)
            f1 = np.nan_to_num(2.0 * precision * recall / (precision + recall))
        result[f"F1@{round(overlap * 100)}"] = round(100 * float(f1), 2)
    result["num_videos"] = len(true)
    result["num_frames"] = total
    result["background"] = list(background)
    return result


# ---------------------------------------------------------------------------------------------------------
# inputs


def read_label_folder(folder: str | Path) -> dict[str, list[str]]:
    """``<video>.txt`` files with one label per line (a trailing empty line is not a frame)."""
    files = sorted(Path(folder).glob("*.txt"))
    if not files:
        raise EvalInputError(f"{folder}: no <video>.txt label files; point --gt at a groundTruth folder")
    return {f.stem: _lines(f.read_text()) for f in files}


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def load_ground_truth(path: str | Path, split: str | None = None) -> dict[str, list[str]]:
    if manifest_tables.is_manifest(path, "frame_labels"):
        frame = manifest_tables.read_table(path, "frame_labels")
        if split is not None:
            in_split = manifest_tables.video_splits(path)
            frame = frame[frame["video_id"].map(in_split) == split]
        return {str(row.video_id): [str(x) for x in row.labels] for row in frame.itertuples()}
    if Path(path).is_dir():
        return read_label_folder(path)
    raise EvalInputError(f"{path}: give a groundTruth folder of <video>.txt files or a manifest folder")


def load_predictions(path: str | Path) -> dict[str, list[str]]:
    path = Path(path)
    if path.is_dir():  # MS-TCN results: a header line, then the labels on one line
        return {f.stem: f.read_text().split("\n")[1].split() for f in sorted(path.iterdir()) if f.is_file()}
    if path.suffix == ".jsonl":
        records = read_jsonl(path)
        return {str(r["video_id"]): [str(x) for x in r["labels"]] for r in records}
    data = read_json(path)
    if not isinstance(data, dict):
        raise EvalInputError(f"{path}: expected {{video_id: [label, ...]}}")
    return {str(k): [str(x) for x in v] for k, v in data.items()}


def evaluate_files(gt_path, pred_path, background=("background",), split: str | None = None) -> dict:
    true = load_ground_truth(gt_path, split)
    if not true:
        raise EvalInputError(
            f"{gt_path}: no video to evaluate; check the folder (and --split for a manifest)"
        )
    pred = load_predictions(pred_path)
    check_same_ids(true, pred, "video", gt_path, pred_path)
    known = {label for labels in true.values() for label in labels}
    unknown = {label for labels in pred.values() for label in labels} - known
    if unknown:
        log.warning(
            "predicted labels never seen in the ground truth (counted as wrong): %s", sorted(unknown)[:10]
        )
    return score(true, pred, background)
