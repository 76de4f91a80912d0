"""``momentor predict``: a split of the manifest through a trained checkpoint, in the evaluators' formats.

Writes into ``--out`` (a folder), one file per evaluation task (``momentor evaluate TASK --pred``):

- ``grounding.json``: JSON Lines, one ``{"query_id", "video_id", "pred_windows": [[s, e, score], ...]}`` per
  query of ``queries.parquet`` in the split (:mod:`momentor.eval.grounding`). Question: the engine's
  direct-localization phrasing; windows: the answer's timestamp pairs.
- ``dense_captioning.json``: ``{"results": {video_id: [{"timestamp": [s, e], "sentence"}, ...]}}`` for every
  video of the split (:mod:`momentor.eval.dense_captioning`), from the GESM question. A model whose GESM
  stage was disabled still answers it (from instruction tuning alone): that is the GESM ablation's number.
- ``qvhighlights.json``: JSON Lines of QVHighlights' prediction format, one line per query with clip
  saliency (:mod:`momentor.infer.highlights`): the grounding answer's ranked windows and per-clip saliency.
- ``action_segmentation.json``: ``{video_id: [label, ...]}`` for every video with frame labels
  (:mod:`momentor.infer.segmentation`): the dense captions mapped onto the dataset's labels.

Highlights ask the grounding question and segmentation the GESM one: when the same run predicts grounding or
dense captioning too, their answers are reused, not generated twice.

Queries whose video has no features get no window (the evaluator scores them 0) and are counted.
Generation is batched (``--batch-size``) and greedy; bf16 as in training where the hardware has it.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from momentor import atomic
from momentor.config import Config
from momentor.data.manifest import read_table
from momentor.infer.answers import answer_events, answer_windows, gesm_question, grounding_question
from momentor.model import pretrained
from momentor.model.generate import Answer, generate
from momentor.model.momentor import Momentor
from momentor.train.dataset import FeatureStore
from momentor.train.deepspeed_config import use_bf16

log = logging.getLogger(__name__)
TASK_FILES = {
    "grounding": "grounding.json",
    "dense_captioning": "dense_captioning.json",
    "qvhighlights": "qvhighlights.json",
    "action_segmentation": "action_segmentation.json",
}


@dataclass
class Predictor:
    """A trained model ready to answer: the checkpoint's model, its config, its precision."""

    model: Momentor
    cfg: Config  # the checkpoint's resolved config
    bf16: bool

    @classmethod
    def load(cls, checkpoint: str | Path, with_encoder: bool = False) -> Predictor:
        model, cfg = pretrained.load(checkpoint, with_encoder=with_encoder)  # a release or a checkpoint
        bf16 = use_bf16(cfg.train)
        if bf16:
            model.store_llm_in_bf16()  # as in training (momentor.train.engine.prepare_model)
        if torch.cuda.is_available():
            model.cuda()
        model.eval()
        return cls(model, cfg, bf16)

    def precision(self):
        device = "cuda" if torch.cuda.is_available() else "cpu"
        return torch.autocast(device, dtype=torch.bfloat16) if self.bf16 else contextlib.nullcontext()

    def answer(
        self,
        conversations: list[list[dict]],
        features: list[torch.Tensor],
        durations: list[float],
        max_new_tokens: int,
        batch_size: int,
    ) -> list[Answer]:
        """Greedy answers to questions about videos with ``features`` (each (m, f)), in batches."""
        answers: list[Answer] = []
        for start in range(0, len(conversations), batch_size):
            stop = start + batch_size
            prompts = [self.model.prompts.encode(c, with_answer=False) for c in conversations[start:stop]]
            with self.precision():
                answers += generate(
                    self.model,
                    torch.stack(features[start:stop]),
                    prompts,
                    durations[start:stop],
                    max_new_tokens,
                )
        return answers


def split_videos(manifest_dir: Path, split: str) -> dict[str, float]:
    """video_id -> duration of the split's videos."""
    videos = read_table(manifest_dir, "videos")
    videos = videos[videos["split"] == split]
    return dict(zip(videos["video_id"].astype(str), videos["duration"].astype(float)))


def predict_grounding(
    predictor: Predictor,
    manifest_dir: Path,
    split: str,
    features: FeatureStore,
    batch_size: int,
    max_new_tokens: int,
) -> list[dict]:
    durations = split_videos(manifest_dir, split)
    queries = read_table(manifest_dir, "queries")
    queries = queries[queries["video_id"].isin(durations)]
    rows = [
        (str(q), str(v), str(t)) for q, v, t in zip(queries["query_id"], queries["video_id"], queries["text"])
    ]
    answerable = [r for r in rows if features.has(r[1])]
    if len(answerable) < len(rows):
        log.warning(
            "%d of %d %s queries have no video features: no window for them",
            len(rows) - len(answerable),
            len(rows),
            split,
        )
    answers = predictor.answer(
        [grounding_question(text) for _, _, text in answerable],
        [features[video] for _, video, _ in answerable],
        [durations[video] for _, video, _ in answerable],
        max_new_tokens,
        batch_size,
    )
    windows = {qid: answer_windows(a, durations[video]) for (qid, video, _), a in zip(answerable, answers)}
    return [
        {"query_id": qid, "video_id": video, "pred_windows": windows.get(qid, [])} for qid, video, _ in rows
    ]


def predict_dense_captions(
    predictor: Predictor,
    manifest_dir: Path,
    split: str,
    features: FeatureStore,
    batch_size: int,
    max_new_tokens: int,
) -> dict:
    durations = split_videos(manifest_dir, split)
    videos = [v for v in durations if features.has(v)]
    answers = predictor.answer(
        [gesm_question() for _ in videos],
        [features[v] for v in videos],
        [durations[v] for v in videos],
        max_new_tokens,
        batch_size,
    )
    return {"results": {v: answer_events(a, durations[v]) for v, a in zip(videos, answers)}}


def predict(
    cfg: Config,
    checkpoint: str | Path,
    out: str | Path,
    split: str = "test",
    manifest_dir: str | Path | None = None,
    tasks: tuple[str, ...] = tuple(TASK_FILES),
    batch_size: int = 16,
    max_new_tokens: int | None = None,
    max_caption_tokens: int = 256,
) -> dict[str, Path]:
    """Write the prediction files of ``tasks`` into ``out``; returns them by task.

    ``cfg`` (this run's config) says where the manifest and features are; the model and its settings come
    from the checkpoint.
    """
    from momentor.data.features import feature_dir

    predictor = Predictor.load(checkpoint)
    if "dense_captioning" in tasks and not predictor.cfg.train.gesm.enabled:
        log.warning(
            "%s was trained without the GESM stage: its dense captions answer a question it never saw "
            "(the GESM ablation)",
            checkpoint,
        )
    manifest_dir = Path(manifest_dir or Path(cfg.paths.work) / "manifest")
    folder = feature_dir(cfg.model_copy(update={"model": predictor.cfg.model}))
    features = FeatureStore(folder, predictor.model.prompts.num_frames)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    unknown = sorted(set(tasks) - set(TASK_FILES))
    if unknown:
        raise ValueError(f"unknown prediction task(s) {unknown}; use {', '.join(TASK_FILES)}")
    written, windows, events = {}, {}, {}
    max_new_tokens = max_new_tokens or cfg.eval.max_new_tokens
    if "grounding" in tasks:
        rows = predict_grounding(predictor, manifest_dir, split, features, batch_size, max_new_tokens)
        written["grounding"] = write_grounding(out, rows)
        windows = {r["query_id"]: r["pred_windows"] for r in rows if features.has(r["video_id"])}
    if "dense_captioning" in tasks:
        results = predict_dense_captions(
            predictor, manifest_dir, split, features, batch_size, max_caption_tokens
        )
        written["dense_captioning"] = write_dense_captioning(out, results)
        events = results["results"]
    if "qvhighlights" in tasks:
        from momentor.infer.highlights import predict_highlights

        lines = predict_highlights(predictor, manifest_dir, split, features, batch_size, max_new_tokens, windows)
        written["qvhighlights"] = write_highlights(out, lines)
    if "action_segmentation" in tasks:
        from momentor.infer.segmentation import predict_segmentation

        labels = predict_segmentation(predictor, manifest_dir, split, features, batch_size, max_caption_tokens,
                                      tuple(cfg.eval.segmentation_background), events)
        written["action_segmentation"] = write_segmentation(out, labels)
    return written


def write_grounding(out: str | Path, rows: list[dict]) -> Path:
    """``<out>/grounding.json``: JSON Lines of the grounding evaluator."""
    return _write(out, "grounding", _json_lines(rows))


def write_dense_captioning(out: str | Path, results: dict) -> Path:
    """``<out>/dense_captioning.json``: the dense-captioning evaluator's ``{"results": ...}``."""
    return _write(out, "dense_captioning", json.dumps(results, indent=1))


def write_highlights(out: str | Path, lines: list[dict]) -> Path:
    """``<out>/qvhighlights.json``: JSON Lines of QVHighlights' prediction format."""
    return _write(out, "qvhighlights", _json_lines(lines))


def write_segmentation(out: str | Path, labels: dict[str, list[str]]) -> Path:
    """``<out>/action_segmentation.json``: ``{video_id: [label per frame]}``."""
    return _write(out, "action_segmentation", json.dumps(labels))


def _json_lines(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def _write(out: str | Path, task: str, text: str) -> Path:
    """``<out>/<the task's file>``, written atomically (a reader never sees half a file; ``out`` is made)."""
    return atomic.write_text(Path(out) / TASK_FILES[task], text)
