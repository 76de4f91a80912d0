"""``Momentor``: load a model once, ask it about videos, save it in the Hugging Face layout."""

from __future__ import annotations

import threading
from pathlib import Path

from momentor.api.results import Event, Highlights, Segment, Window
from momentor.api.video import features_of
from momentor.data.quarantine import BadInput


class Momentor:
    """A trained Momentor ready to answer (frozen LLM and frame encoder, trained temporal parts).

    Load with :meth:`from_pretrained` (a released folder, a training checkpoint or a training run folder). The
    task methods take a video (path, :class:`~momentor.api.VideoFeatures` or :class:`~momentor.api.Frames`) and
    return plain results in seconds. Calls are serialised on one lock: one model, one generation at a time
    (a server bounds its concurrency above this).
    """

    def __init__(self, predictor, source: Path):
        self._predictor = predictor
        self.source = source
        self._featurizer = None
        self._lock = threading.Lock()

    # -- loading and saving ----------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, path: str | Path) -> Momentor:
        """Rebuild the model saved at ``path`` (see :mod:`momentor.model.pretrained` for the layout)."""
        from momentor.infer.predict import Predictor
        from momentor.model import pretrained
        from momentor.train.launch import passive_thread_waits

        passive_thread_waits()
        folder = pretrained.resolve(path)
        return cls(Predictor.load(folder), folder)

    def save_pretrained(self, path: str | Path, *, metrics: dict | None = None, baselines: dict | None = None,
                        data_version: str | None = None) -> Path:
        """Write ``config.json``, ``model.safetensors`` and a model card (with ``metrics`` by task, the
        ``baselines``' results by name and task, and the ``data_version`` it was trained on)."""
        from momentor.model import pretrained

        return pretrained.save_pretrained(self._predictor.model, self.config, path, metrics=metrics,
                                          baselines=baselines, data_version=data_version)

    @property
    def config(self):
        """The resolved config the model was trained with."""
        return self._predictor.cfg

    @property
    def num_frames(self) -> int:
        return self._predictor.model.prompts.num_frames

    # -- the tasks ------------------------------------------------------------------------------------------

    def ground(self, video, query: str, max_new_tokens: int | None = None) -> list[Window]:
        """The windows where ``query`` happens, best first."""
        return self._windows(video, query, max_new_tokens)[0]

    def caption(self, video, max_new_tokens: int = 256) -> list[Event]:
        """The video's events with their times (the GESM task)."""
        return self._events(video, max_new_tokens)[0]

    def highlights(self, video, query: str, max_new_tokens: int | None = None) -> Highlights:
        """Saliency of each 2 s clip for ``query`` and the ranked windows (QVHighlights' format), read from the
        grounding answer (recipe: :mod:`momentor.infer.highlights`)."""
        from momentor.data.engine.ground_truth import CLIP_SECONDS
        from momentor.infer.highlights import window_saliency

        windows, duration = self._windows(video, query, max_new_tokens)
        saliency = window_saliency([(w.start, w.end, w.score) for w in windows], duration)
        return Highlights(saliency, windows, CLIP_SECONDS)

    def segment(self, video, labels: list[str], fps: float = 15.0, background: str = "background",
                max_new_tokens: int = 256) -> list[Segment]:
        """The video cut into stretches of one action each: the dense captions mapped onto ``labels`` by
        sentence similarity, ``background`` where no caption covers (recipe: :mod:`momentor.infer.segmentation`).
        ``fps``: the frame rate the labels are decided at (Breakfast's 15)."""
        from momentor.infer.segmentation import events_to_frames

        labels = [_text(label, "label") for label in labels] if labels else []
        if not labels:
            raise BadQuery("an empty label set", "give the dataset's action labels, e.g. ['pour milk', 'stir']")
        events, duration = self._events(video, max_new_tokens)
        frames = events_to_frames([{"timestamp": [e.start, e.end], "sentence": e.text} for e in events], labels,
                                  duration, max(1, round(duration * fps)), background)
        return runs(frames, duration)

    def ask(self, video, question: str, max_new_tokens: int | None = None) -> tuple[str, list[float]]:
        """A free question about the video: (the answer's text, the times in it in seconds)."""
        from momentor.infer.answers import with_video

        answer, _ = self._answer(video, with_video(_text(question, "question")),
                                 max_new_tokens or self.config.eval.max_new_tokens)
        return answer.text, list(answer.timestamps)

    # -- plumbing -------------------------------------------------------------------------------------------

    def features(self, video):
        """(features (m, f), duration s) of a video as the model sees it."""
        return features_of(self.config, video, self._frame_featurizer)

    def _windows(self, video, query: str, max_new_tokens: int | None) -> tuple[list[Window], float]:
        from momentor.infer.answers import answer_windows, grounding_question

        answer, duration = self._answer(video, grounding_question(_text(query, "query")),
                                        max_new_tokens or self.config.eval.max_new_tokens)
        return [Window(s, e, score) for s, e, score in answer_windows(answer, duration)], duration

    def _events(self, video, max_new_tokens: int) -> tuple[list[Event], float]:
        from momentor.infer.answers import answer_events, gesm_question

        answer, duration = self._answer(video, gesm_question(), max_new_tokens)
        events = [Event(e["timestamp"][0], e["timestamp"][1], e["sentence"]) for e in answer_events(answer, duration)]
        return events, duration

    def _answer(self, video, conversation: list[dict], max_new_tokens: int):
        with self._lock:
            features, duration = self.features(video)
            (answer,) = self._predictor.answer([conversation], [features], [duration], max_new_tokens, 1)
        return answer, duration

    def _frame_featurizer(self):
        if self._featurizer is None:
            from momentor.data.features import FrameFeaturizer

            self._featurizer = FrameFeaturizer(self.config, seed=self.config.seed)
        return self._featurizer

    def __repr__(self) -> str:
        return f"Momentor(preset={self.config.model.preset!r}, source={str(self.source)!r})"


def runs(frame_labels: list[str], duration: float) -> list[Segment]:
    """Consecutive equal frame labels as segments in seconds (frame i covers [i, i + 1) · duration / n)."""
    step = duration / len(frame_labels)
    segments, start = [], 0
    for i in range(1, len(frame_labels) + 1):
        if i == len(frame_labels) or frame_labels[i] != frame_labels[start]:
            segments.append(Segment(round(start * step, 3), round(i * step, 3), frame_labels[start]))
            start = i
    return segments


class BadQuery(BadInput):
    """A query or question the model cannot take; the message says what to give instead."""


def _text(value: str, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadQuery(f"an empty {name}", f"give the {name} as a non-empty sentence")
    return value.strip()
