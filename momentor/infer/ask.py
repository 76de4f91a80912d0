"""``momentor ask VIDEO "question"``: one question about any video file, answered with times in seconds.

The video is decoded with the data part's sampler (M frames, both ends included, any container PyAV reads),
the frames go through the frozen encoder the checkpoint was trained on (with the feature extractor's
batching and precision), and the model answers greedily: "From 12.4 s to 15.0 s." A file that cannot be
decoded is a :class:`momentor.data.decode.DecodeError` whose message says what is wrong and what to do.
"""

from __future__ import annotations

from pathlib import Path

from momentor.config import Config
from momentor.data.decode import sample_frames
from momentor.infer.answers import with_video
from momentor.infer.predict import Predictor
from momentor.model.generate import Answer


def video_features(cfg: Config, path: str | Path, seed: int, featurizer=None):
    """(features (m, f), duration s) of one video file with the frozen encoder of ``cfg.model``.

    ``featurizer``: a :class:`momentor.data.features.FrameFeaturizer` to reuse (a server keeps one loaded).
    """
    from momentor.data.features import FrameFeaturizer, num_frames

    featurizer = featurizer or FrameFeaturizer(cfg, seed=seed)
    short_side = getattr(featurizer.encoder, "image_size", featurizer.spec.image_size)
    frames, times = sample_frames(
        path, num_frames(cfg.model), short_side=short_side, seek_gap_s=cfg.data.seek_gap_s
    )
    return featurizer(frames), float(times[-1])


def ask(
    cfg: Config, checkpoint: str | Path, video: str | Path, question: str, max_new_tokens: int | None = None
) -> Answer:
    """Answer ``question`` about ``video`` with the model of ``checkpoint``; ``cfg`` gives the decoding and
    feature settings of this run (its ``model`` section is replaced by the checkpoint's)."""
    predictor = Predictor.load(checkpoint)
    run_cfg = cfg.model_copy(update={"model": predictor.cfg.model})
    features, duration = video_features(run_cfg, video, seed=predictor.cfg.seed)
    (answer,) = predictor.answer(
        [with_video(question)], [features], [duration], max_new_tokens or cfg.eval.max_new_tokens, 1
    )
    return answer
