"""Highlight detection: a video and a query -> per-clip saliency scores and ranked windows (QVHighlights).

The paper evaluates highlight detection zero-shot on QVHighlights but gives no prompt for it, so the recipe
is the grounding one, read two ways:

1. the model is asked the grounding question ("When does this happen: {query}?", the engine's
   direct-localization phrasing, :mod:`momentor.infer.answers`); its windows, in answer order with scores
   1, 1/2, 1/3, ..., are the ranked ``pred_relevant_windows``;
2. the saliency of each 2 s clip (QVHighlights' convention: ``int(T / 2)`` clips) is the best
   ``score * f`` over the windows, ``f`` the fraction of the clip the window covers. A clip wholly inside the
   first window scores 1, clips the model did not name score 0.

Why this and not the probabilities of the temporal tokens: the answer is what the model commits to, the same
windows the grounding evaluator scores, so the two tasks measure one behaviour; and it needs no second pass.
The ground truth of the sample corpus is derived the same way from the true windows
(:mod:`momentor.data.engine.ground_truth`), so a perfect window gives a perfect saliency ranking.

Prediction record (``qvhighlights.json``, JSON Lines, :mod:`momentor.eval.qvhighlights`):
``{"qid", "query", "vid", "pred_relevant_windows": [[s, e, score], ...], "pred_saliency_scores": [...]}``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from momentor.data.engine.ground_truth import clip_coverage, num_clips
from momentor.data.manifest import read_table
from momentor.infer.answers import answer_windows, grounding_question


def window_saliency(windows, duration: float) -> list[float]:
    """Saliency of each 2 s clip: the best ``score * covered fraction`` over ``[[s, e, score], ...]``."""
    saliency = np.zeros(num_clips(duration))  # (c,)
    for start, end, score in windows:
        saliency = np.maximum(saliency, float(score) * clip_coverage(start, end, duration))
    return [round(float(x), 6) for x in saliency]


def highlight_record(qid: str, video_id: str, query: str, windows, duration: float) -> dict:
    """One prediction line of the QVHighlights evaluator from ranked windows."""
    return {
        "qid": qid,
        "query": query,
        "vid": video_id,
        "pred_relevant_windows": [[float(s), float(e), float(score)] for s, e, score in windows],
        "pred_saliency_scores": window_saliency(windows, duration),
    }


def highlights(predictor, features, duration: float, query: str, max_new_tokens: int | None = None):
    """(clip saliency list, ranked windows ``[[s, e, score], ...]``) of one video and one query.

    ``features``: the video's frame features (m, f), as :class:`momentor.train.dataset.FeatureStore` gives them.
    """
    (answer,) = predictor.answer([grounding_question(query)], [features], [duration],
                                 max_new_tokens or predictor.cfg.eval.max_new_tokens, 1)
    windows = answer_windows(answer, duration)
    return window_saliency(windows, duration), windows


def highlight_queries(manifest_dir: str | Path, split: str) -> list[tuple[str, str, str, float]]:
    """(query_id, video_id, text, duration) of the split's queries with clip saliency, the evaluator's query
    set (QVHighlights' own and those the engine derived)."""
    queries = read_table(manifest_dir, "queries")
    videos = read_table(manifest_dir, "videos")
    videos = videos[videos["split"] == split]
    durations = dict(zip(videos["video_id"].astype(str), videos["duration"].astype(float)))
    queries = queries[queries["video_id"].isin(durations) & (queries["relevant_clip_ids"].map(len) > 0)]
    return [(str(q), str(v), str(t), durations[str(v)])
            for q, v, t in zip(queries["query_id"], queries["video_id"], queries["text"])]


def predict_highlights(predictor, manifest_dir, split: str, features, batch_size: int, max_new_tokens: int,
                       known: dict[str, list] | None = None) -> list[dict]:
    """Prediction lines of every highlight query of ``split``.

    ``known``: query_id -> windows already answered by the same question (the grounding predictions of the
    same run): those queries are not asked again. A query whose video has no features gets no window and
    zero saliency (the evaluator scores it 0).
    """
    known = dict(known or {})
    rows = highlight_queries(manifest_dir, split)
    ask = [r for r in rows if r[0] not in known and features.has(r[1])]
    answers = predictor.answer([grounding_question(text) for _, _, text, _ in ask],
                               [features[v] for _, v, _, _ in ask], [d for *_, d in ask], max_new_tokens,
                               batch_size) if ask else []
    known.update({qid: answer_windows(a, d) for (qid, _, _, d), a in zip(ask, answers)})
    return [highlight_record(qid, video, text, known.get(qid, []), d) for qid, video, text, d in rows]
