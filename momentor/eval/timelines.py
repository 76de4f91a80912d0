"""Predicted-vs-true timeline samples of each task, for the report: a few items spread over the split."""

from __future__ import annotations

from momentor.eval.figures import TimelineSample

TOP_PREDICTIONS = 3  # ranked windows drawn for the retrieval tasks


def _spread(ids: list, n: int) -> list:
    """``n`` ids evenly spaced over the sorted ids (deterministic, and not only the first videos)."""
    ids = sorted(ids, key=str)
    if len(ids) <= n:
        return ids
    step = (len(ids) - 1) / max(n - 1, 1)
    return [ids[round(i * step)] for i in range(n)]


def _ranked(windows) -> list[tuple[float, float, str]]:
    return [
        (float(w[0]), float(w[1]), f"#{k + 1} {float(w[2]):.2f}")
        for k, w in enumerate(windows[:TOP_PREDICTIONS])
    ]


def grounding_samples(gt, pred, n: int, durations=None) -> list[TimelineSample]:
    from momentor.eval import grounding

    queries = {q.query_id: q for q in grounding.load_ground_truth(gt, durations)}
    predictions = grounding.load_predictions(pred)
    samples = []
    for qid in _spread([q for q in queries if q in predictions], n):
        q = queries[qid]
        true = [(float(s), float(e), "") for s, e in q.windows]
        samples.append(TimelineSample(f"{q.video_id}: {q.text}", q.duration, true, _ranked(predictions[qid])))
    return samples


def qvhighlights_samples(gt, pred, n: int) -> list[TimelineSample]:
    from momentor.eval import qvhighlights

    truth = {r["qid"]: r for r in qvhighlights.load_ground_truth(gt)}
    predictions = {r["qid"]: r for r in qvhighlights.load_predictions(pred)}
    samples = []
    for qid in _spread([q for q in truth if q in predictions], n):
        record = truth[qid]
        true = [(float(s), float(e), "") for s, e in record["relevant_windows"]]
        ranked = _ranked(predictions[qid].get("pred_relevant_windows", []))
        samples.append(
            TimelineSample(f"qid {qid}: {record.get('query', '')}", float(record["duration"]), true, ranked)
        )
    return samples


def dense_captioning_samples(gt, pred, n: int) -> list[TimelineSample]:
    from momentor.eval import dense_captioning

    truth = dense_captioning.load_ground_truth(gt)
    predictions = dense_captioning.load_predictions(pred)
    samples = []
    for video in _spread([v for v in truth if v in predictions], n):
        t, p = truth[video], predictions[video]
        ends = [e for _, e in t.timestamps] + [e for _, e in p.timestamps]
        length = float(t.duration or max(ends))
        true = [(float(s), float(e), c) for (s, e), c in zip(t.timestamps, t.sentences)]
        guess = [(float(s), float(e), c) for (s, e), c in zip(p.timestamps, p.sentences)]
        samples.append(TimelineSample(video, length, true, guess))
    return samples


def label_runs(labels: list[str]) -> list[tuple[float, float, str]]:
    """Runs of equal frame labels as (first frame, frame after the last, label)."""
    runs, start = [], 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            runs.append((float(start), float(i), labels[start]))
            start = i
    return runs


def action_segmentation_samples(gt, pred, n: int) -> list[TimelineSample]:
    from momentor.eval import action_segmentation

    truth = action_segmentation.load_ground_truth(gt)
    predictions = action_segmentation.load_predictions(pred)
    return [
        TimelineSample(
            video,
            float(len(truth[video])),
            label_runs(truth[video]),
            label_runs(predictions[video]),
            "frames",
        )
        for video in _spread([v for v in truth if v in predictions], n)
    ]


def samples(task: str, gt, pred, n: int) -> list[TimelineSample]:
    readers = {
        "grounding": grounding_samples,
        "qvhighlights": qvhighlights_samples,
        "dense_captioning": dense_captioning_samples,
        "action_segmentation": action_segmentation_samples,
    }
    return readers[task](gt, pred, n)
