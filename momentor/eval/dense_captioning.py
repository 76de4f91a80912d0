"""Dense video captioning: SODA_c, CIDEr, METEOR and localisation P/R/F1, per video then averaged.

METEOR and CIDEr follow ActivityNet's official ``densevid_eval`` (v2, per-video): for each tIoU threshold
in (0.3, 0.5, 0.7, 0.9), every predicted event is paired with each ground-truth event it overlaps with
tIoU >= threshold (an event overlapping none is paired with a string that matches nothing); the pairs of a
video are scored together (METEOR 1.5's corpus score of the video, CIDEr-D with the video's own document
frequencies); scores are averaged over videos, then over thresholds. A video of the ground truth without
any prediction scores 0 (the official rule; dropping such videos inflates the score). At most 1000
predictions per video are used, in the given order. Captions lose non-ASCII characters and are
PTB-tokenized (lower case, no punctuation) first.

SODA_c follows the SODA paper (Fujita et al., ECCV 2020): events of a video are sorted by start time, the
order-preserving assignment between predictions and ground truth that maximizes the sum of IoU x METEOR is
found by dynamic programming, and F = 2PR / (P + R) with P = best sum / #predictions, R = best sum / #ground
truth. ``soda_aggregation`` chooses how videos combine: ``video`` (default) averages F over videos (the
PDVC / Vid2Seq evaluators that papers report, and the current ``fujiso/SODA`` script), ``corpus`` sums the
best scores and counts over videos first (the first version of ``fujiso/SODA``). A video without predictions
scores 0 either way (``fujiso/SODA`` itself leaves such videos out).

Localisation: Precision and Recall at each tIoU (strict ``>``), their means over videos and thresholds,
and F1 = 2PR / (P + R) of the means, as densevid_eval's ``evaluate_detection`` computes them
(:mod:`momentor.eval.localisation`).

Several reference files (ActivityNet Captions' val_1 and val_2) are scored together the way each reference
evaluator does it: the videos are the union of the files'; METEOR and CIDEr pair a prediction with every
event of every file it overlaps (densevid_eval's ``evaluate_tiou``: one pool of pairs per video, not a best
of); Precision and Recall take each video's best over the files (each on its own); SODA_c is the mean of
the SODA_c against each file (PDVC's ``eval_soda`` and Vid2Seq's ``SODA_c_1``/``SODA_c_2``, the figures
papers report; the ``fujiso/SODA`` script would instead merge the files' events, or with ``-mr`` keep each
video's best-F file). With one file every metric is as before.

Values are percent, rounded to 2 decimals. ``items`` holds each video's METEOR averaged over the tIoU
thresholds (their mean is METEOR), for the gate's paired bootstrap (:mod:`momentor.eval.items`).

Ground truth: ActivityNet Captions JSON ``{video_id: {"duration", "timestamps", "sentences"}}``; the
COCO-style files of TimeChat/YouCook2 ``{"annotations": [{"image_id", "segments", "pure_cap", ...}]}``;
or a manifest folder (``segments.parquet`` rows with ``origin == "gt"``; ``--split`` and ``--source``
filter through ``videos.parquet``). Predictions: ``{"results": {video_id: [{"timestamp": [s, e],
"sentence": str}, ...]}}`` (ActivityNet); the bare ``{video_id: [...]}`` mapping and a ``caption`` key instead
of ``sentence`` are accepted too. A predicted video that is not in the ground truth is an error. Video ids
lose a video-file extension in both (TimeChat's ``abc.mp4`` is the manifest's ``abc``).
"""

from __future__ import annotations

import logging
import random
import string
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from momentor.eval import localisation, manifest_tables
from momentor.eval.caption_scorers import Meteor, cider, ptb_tokenize, remove_nonascii
from momentor.intervals import as_windows, iou_matrix_densevid
from momentor.eval.items import fingerprint, items_block
from momentor.eval.jsonio import EvalInputError, describe_ids, read_json

log = logging.getLogger(__name__)

TIOUS = (0.3, 0.5, 0.7, 0.9)
MAX_PROPOSALS = 1000
VIDEO_EXTENSIONS = {"mp4", "mkv", "webm", "avi", "mov", "mpg", "m4v"}


@dataclass
class VideoEvents:
    timestamps: np.ndarray  # (k, 2) seconds
    sentences: list[str]
    duration: float | None = None
    tokens: list[str] = field(default_factory=list)  # PTB-tokenized sentences, filled by tokenize()


# ---------------------------------------------------------------------------------------------------------
# inputs


def video_key(name: str) -> str:
    """A video id without a path or a video-file extension (TimeChat keys YouCook2 by ``<id>.mp4``, the
    manifest by ``<id>``), so either form of ground truth and predictions match."""
    name = str(name).split("/")[-1]
    stem, dot, ext = name.rpartition(".")
    return stem if dot and ext.lower() in VIDEO_EXTENSIONS else name


def load_ground_truth(
    path: str | Path, split: str | None = None, source: str | None = None
) -> dict[str, VideoEvents]:
    if manifest_tables.is_manifest(path, "segments"):
        segments = manifest_tables.read_table(path, "segments")
        segments = segments[segments["origin"] == "gt"]
        wanted = set(
            manifest_tables.read_table(path, "videos", split=split, source=source)["video_id"].astype(str)
        )
        length = manifest_tables.durations(path)
        videos = {}
        for video, rows in segments.groupby("video_id", sort=False):
            if str(video) in wanted:
                windows = rows[["start", "end"]].to_numpy(dtype=np.float64)
                videos[str(video)] = VideoEvents(
                    windows, rows["caption"].astype(str).tolist(), length.get(str(video))
                )
        return videos
    data = read_json(path)
    if isinstance(data, dict) and "annotations" in data:
        return _read_coco_style(data["annotations"], path)
    if not isinstance(data, dict):
        raise EvalInputError(f"{path}: not dense-captioning ground truth (expected a JSON object)")
    videos = {
        str(video): VideoEvents(
            as_windows(e["timestamps"], f"{path}: {video}"), list(e["sentences"]), e.get("duration")
        )
        for video, e in data.items()
    }
    for video, events in videos.items():
        # densevid_eval divides by a video's number of events, and a caption needs its window
        if not events.sentences or len(events.sentences) != len(events.timestamps):
            raise EvalInputError(
                f"{path}: {video} has {len(events.timestamps)} timestamps and {len(events.sentences)} "
                "sentences; each video needs at least one event, with one sentence per timestamp"
            )
    return videos


def _read_coco_style(annotations: list[dict], path) -> dict[str, VideoEvents]:
    """TimeChat's YouCook2/ActivityNet files: captions come from ``pure_cap`` split on '. '."""
    videos = {}
    for entry in annotations:
        video = video_key(entry["image_id"])
        if "pure_cap" in entry:
            captions = entry["pure_cap"].split(". ")
        else:
            captions = [c.strip(" ") for c in entry["caption"].split(".") if len(c) > 5]
        if len(captions) != len(entry["segments"]):
            raise EvalInputError(
                f"{path}: {video} has {len(entry['segments'])} segments but {len(captions)} captions; "
                "fix the file"
            )
        videos[video] = VideoEvents(
            as_windows(entry["segments"], f"{path}: {video}"), captions, entry.get("duration")
        )
    return videos


def load_predictions(path: str | Path) -> dict[str, VideoEvents]:
    data = read_json(path)
    results = data.get("results", data) if isinstance(data, dict) else None
    if not isinstance(results, dict):
        raise EvalInputError(f"{path}: expected {{'results': {{video_id: [{{'timestamp', 'sentence'}}]}}}}")
    videos = {}
    for video, events in results.items():
        try:
            windows = as_windows([e["timestamp"] for e in events], f"{path}: {video}")
            sentences = [str(e["sentence"] if "sentence" in e else e["caption"]) for e in events]
        except (KeyError, TypeError) as err:
            raise EvalInputError(
                f"{path}: video {video}: each event needs 'timestamp' [s, e] and 'sentence'"
            ) from err
        videos[video_key(video)] = VideoEvents(windows[:MAX_PROPOSALS], sentences[:MAX_PROPOSALS])
    return videos


def tokenize(*collections: dict[str, VideoEvents]) -> None:
    """Fill ``tokens`` of every video with one PTB call over all distinct captions."""
    distinct = list(
        dict.fromkeys(remove_nonascii(s) for c in collections for v in c.values() for s in v.sentences)
    )
    tokens = dict(zip(distinct, ptb_tokenize(distinct)))
    for collection in collections:
        for video in collection.values():
            video.tokens = [tokens[remove_nonascii(s)] for s in video.sentences]


# ---------------------------------------------------------------------------------------------------------
# scoring


def soda_best_score(matrix: np.ndarray) -> float:
    """Largest sum of ``matrix`` (g, p) over order-preserving one-to-one assignments (SODA's DP)."""
    best = np.zeros(matrix.shape[1])
    for i in range(matrix.shape[0]):
        diagonal = np.concatenate([[0.0], best[:-1]]) + matrix[i] if i else matrix[i]  # (p,)
        # dp[i, j] = max(dp[i-1, j], dp[i, j-1], dp[i-1, j-1] + m[i, j]); the left term is a running max
        best = np.maximum.accumulate(np.maximum(best, diagonal) if i else diagonal)
    return float(best[-1])


def _garbage(rng: random.Random) -> str:
    # a reference that matches nothing, as the official evaluator's random string
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(10, 20)))


def score(
    gt: dict[str, VideoEvents] | list[dict[str, VideoEvents]],
    pred: dict[str, VideoEvents],
    meteor: Meteor,
    soda_aggregation="video",
) -> dict:
    """Metrics over the videos of ``gt`` (one reference set, or a list of them: ActivityNet's val_1 and
    val_2); ``gt`` and ``pred`` must be tokenized."""
    references = [gt] if isinstance(gt, dict) else list(gt)
    videos = list(dict.fromkeys(video for ref in references for video in ref))
    rng = random.Random(0)
    plans = []  # per video: (pairs per tIoU, per reference set (its index, SODA pairs, iou (g, p)))
    for video in videos:
        guess = pred.get(video)
        if guess is None or not guess.sentences:
            plans.append(None)
            continue
        truths = [(r, ref[video]) for r, ref in enumerate(references) if video in ref]
        ious = [iou_matrix_densevid(guess.timestamps, truth.timestamps) for _, truth in truths]  # (p, g) each
        garbage = [_garbage(rng) for _ in guess.tokens]
        by_tiou = []
        for tiou in TIOUS:
            pairs = []
            for j, hyp in enumerate(guess.tokens):
                # densevid pairs a prediction with every event of every reference file it overlaps
                refs = [
                    truth.tokens[i]
                    for (_, truth), iou in zip(truths, ious)
                    for i in np.flatnonzero(iou[j] >= tiou)
                ] or [garbage[j]]
                pairs.extend((hyp, [ref]) for ref in refs)
            by_tiou.append(pairs)
        p_order = np.argsort(guess.timestamps[:, 0], kind="stable")
        soda_plans = []
        for (r, truth), iou in zip(truths, ious):
            g_order = np.argsort(truth.timestamps[:, 0], kind="stable")
            pairs = [(guess.tokens[j], [truth.tokens[i]]) for i in g_order for j in p_order]
            soda_plans.append((r, pairs, iou[np.ix_(p_order, g_order)].T))  # iou: (g, p) in time order
        plans.append((by_tiou, soda_plans))

    # METEOR statistics of every pair in one stream, then one EVAL per group: per video, one group per tIoU,
    # then the SODA pairs of each reference set
    groups = [pairs for plan in plans if plan is not None for pairs in (*plan[0], *(s[1] for s in plan[1]))]
    stats = iter(meteor.stats([pair for pairs in groups for pair in pairs]))
    evaluated = iter(meteor.evaluate_stats([[next(stats) for _ in pairs] for pairs in groups]))

    meteor_scores = np.zeros((len(videos), len(TIOUS)))
    cider_scores = np.zeros((len(videos), len(TIOUS)))
    # per reference set and video: SODA's best sum, #predictions, #ground truth
    soda = [{video: [0.0, 0, len(truth.sentences)] for video, truth in ref.items()} for ref in references]
    for v, (plan, video) in enumerate(zip(plans, videos)):
        if plan is None:
            continue
        by_tiou, soda_plans = plan
        for t, pairs in enumerate(by_tiou):
            meteor_scores[v, t] = next(evaluated)[0]
            cider_scores[v, t] = cider(
                {k: refs for k, (_, refs) in enumerate(pairs)}, {k: [h] for k, (h, _) in enumerate(pairs)}
            )
        for r, _, iou in soda_plans:
            segment = np.array(next(evaluated)[1]).reshape(iou.shape)  # (g, p)
            soda[r][video][:2] = soda_best_score(iou * segment), iou.shape[1]

    missing = [video for video, plan in zip(videos, plans) if plan is None]
    _, precision, recall = localisation.per_video(
        [{video: truth.timestamps for video, truth in ref.items()} for ref in references],
        {video: guess.timestamps for video, guess in pred.items()},
        TIOUS,
    )  # (v, t) each
    located = localisation.summary(precision, recall, TIOUS)
    # per video METEOR averaged over tIoUs: their mean is METEOR (a mean of means over the same grid)
    per_video = 100 * meteor_scores.mean(1)  # (v,)
    # SODA_c of several reference sets: the mean of each set's SODA_c, as PDVC and Vid2Seq report it
    soda_c = np.mean([_soda_f(np.array(list(rows.values()), float), soda_aggregation) for rows in soda])
    return {
        "SODA_c": round(100 * float(soda_c), 2),
        "CIDEr": round(100 * float(cider_scores.mean(0).mean()), 2),
        "METEOR": round(100 * float(meteor_scores.mean(0).mean()), 2),
        "Precision": located["Precision"],
        "Recall": located["Recall"],
        "F1": located["F1"],
        "per_tiou": {
            str(t): {"CIDEr": round(100 * float(c), 2), "METEOR": round(100 * float(m), 2)}
            | located["per_tiou"][str(t)]
            for t, c, m in zip(TIOUS, cider_scores.mean(0), meteor_scores.mean(0))
        },
        "num_videos": len(videos),
        "reference_files": len(references),
        "videos_without_prediction": len(missing),
        "soda_aggregation": soda_aggregation,
        "items": items_block("dense_captioning", videos, per_video, truth_fingerprint(gt)),
    }


def truth_fingerprint(gt: dict[str, VideoEvents] | list[dict[str, VideoEvents]]) -> str:
    """The videos' events and captions: equal fingerprints, same evaluation. One reference set (or a list
    of one) gives the set's own fingerprint; several, the fingerprint of their fingerprints in order."""
    references = [gt] if isinstance(gt, dict) else list(gt)
    if len(references) > 1:
        return fingerprint([truth_fingerprint(ref) for ref in references])
    rows = [[v, e.duration, e.timestamps.tolist(), e.sentences] for v, e in references[0].items()]
    return fingerprint(rows)


def _soda_f(soda: np.ndarray, aggregation: str) -> float:
    """F from per-video (best sum, #pred, #gt): averaged over videos, or from corpus totals."""
    if aggregation == "corpus":
        best, n_pred, n_gt = soda.sum(0)
        p, r = (best / n_pred if n_pred else 0.0), best / n_gt
        return 2 * p * r / (p + r) if p + r > 0 else 0.0
    f = np.zeros(len(soda))
    for v, (best, n_pred, n_gt) in enumerate(soda):
        if n_pred:
            p, r = best / n_pred, best / n_gt
            f[v] = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return float(f.mean())


def evaluate_files(
    gt_path, pred_path, meteor: Meteor | None = None, soda_aggregation="video", split=None, source=None
) -> dict:
    """Score ``pred_path`` against ``gt_path``: one ground-truth file or folder, or a list of them scored
    together (ActivityNet Captions' val_1 and val_2, as densevid_eval's ``-r val_1.json val_2.json``)."""
    paths = [gt_path] if isinstance(gt_path, (str, Path)) else list(gt_path)
    references = [load_ground_truth(path, split, source) for path in paths]
    for path, ref in zip(paths, references):
        if not ref:
            raise EvalInputError(
                f"{path}: no video to evaluate; check the file (and --split/--source for a manifest)"
            )
    pred = load_predictions(pred_path)
    known = {video for ref in references for video in ref}
    extra = set(pred) - known
    if extra:
        raise EvalInputError(
            f"{pred_path}: {len(extra)} predicted videos are not in {', '.join(map(str, paths))}: "
            f"{describe_ids(extra)}; predict the ground truth's videos or pass the matching --gt"
        )
    missing = known - set(pred)
    if missing:
        log.warning("%d videos have no prediction and score 0: %s", len(missing), describe_ids(missing))
    tokenize(*references, pred)
    gt = references[0] if len(references) == 1 else references
    if meteor is not None:
        return score(gt, pred, meteor, soda_aggregation)
    with Meteor() as own:
        return score(gt, pred, own, soda_aggregation)
