"""The Python API: from_pretrained / save_pretrained in the Hugging Face layout, the task methods, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from momentor import Momentor
from momentor.api import Event, Frames, VideoFeatures, Window
from momentor.api.model import BadQuery
from momentor.api.video import BadVideo
from momentor.model import checkpoint, pretrained
from momentor.model.card import read_card_metadata

METRICS = {"grounding": {"R1@0.5": 22.73, "mIoU": 22.89, "num_queries": 66},
           "qvhighlights": {"HL-min-VeryGood-mAP": 38.46, "reference_files": 1},
           "dense_captioning": {"METEOR": 6.39, "CIDEr": 9.07, "per_tiou": {"0.3": {"METEOR": 8.46}}}}
BASELINES = {"random": {"grounding": {"R1@0.5": 9.09, "mIoU": 10.0}}}


@pytest.fixture(scope="module")
def model(tiny_checkpoint) -> Momentor:
    return Momentor.from_pretrained(tiny_checkpoint)


@pytest.fixture(scope="module")
def released(model, tmp_path_factory):
    return model.save_pretrained(tmp_path_factory.mktemp("release") / "momentor-tiny", metrics=METRICS,
                                 baselines=BASELINES, data_version="abc123")


def test_layout_is_the_hugging_face_one(released, tiny_checkpoint):
    assert sorted(p.name for p in released.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert all(p.stat().st_mode & 0o444 == 0o444 for p in released.iterdir())  # readable by a server's user
    config = json.loads((released / "config.json").read_text())
    assert config["model_type"] == "momentor" and config["architectures"] == ["Momentor"]
    assert config["preset"] == "tiny" and config["data_version"] == "abc123"
    # the weights are exactly the checkpoint's trainable tensors
    saved, trained = load_file(released / "model.safetensors"), load_file(tiny_checkpoint / checkpoint.WEIGHTS)
    assert saved.keys() == trained.keys()
    assert all(torch.equal(saved[k], trained[k]) for k in saved)


def test_model_card_carries_metrics_data_version_preset_and_use(released):
    meta = read_card_metadata(released / "README.md")
    assert meta["library_name"] == "momentor" and "base_model" not in meta  # the tiny test LLM is on no hub
    assert meta["momentor"]["preset"] == "tiny" and meta["momentor"]["data_version"] == "abc123"
    results = {r["task"]["type"]: {m["type"]: m["value"] for m in r["metrics"]} for r in meta["model-index"][0]["results"]}
    assert results["temporal-grounding"] == {"R1@0.5": 22.73, "mIoU": 22.89}  # counts are not metrics
    assert results["dense-video-captioning"] == {"METEOR": 6.39, "CIDEr": 9.07}
    assert results["highlight-detection"] == {"HL-min-VeryGood-mAP": 38.46}
    assert meta["momentor"]["baselines"]["random"]["grounding"]["R1@0.5"] == 9.09
    text = (released / "README.md").read_text()
    for section in ("## Intended use", "## Limits", "## Evaluation", "Momentor.from_pretrained"):
        assert section in text
    assert "| Temporal grounding | R1@0.5 | 22.73 | 9.09 |" in text


def test_round_trip_keeps_predictions_identical(model, released, corpus_video):
    again = Momentor.from_pretrained(released)
    assert again.config == model.config
    assert again.ground(corpus_video, "a red circle moves") == model.ground(corpus_video, "a red circle moves")
    assert again.caption(corpus_video) == model.caption(corpus_video)
    assert again.ask(corpus_video, "What happens?") == model.ask(corpus_video, "What happens?")
    # and they are the weights' answers: a freshly built (untrained) model answers otherwise
    features, duration = model.features(corpus_video)
    fresh_dir = released.parent / "fresh"
    from momentor.model.builders import build_model

    checkpoint.save(build_model(model.config.model, seed=model.config.seed, with_encoder=False), model.config,
                    fresh_dir)
    fresh = Momentor.from_pretrained(fresh_dir)
    video = VideoFeatures(features, duration)
    assert fresh.ask(video, "What happens?") != model.ask(video, "What happens?")


def test_features_frames_and_file_give_the_same_answers(model, corpus_video):
    import av

    features, duration = model.features(corpus_video)
    assert features.shape[0] == model.num_frames and duration > 0
    assert model.ground(VideoFeatures(features.numpy(), duration), "a circle") == model.ground(corpus_video, "a circle")
    with av.open(str(corpus_video)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
    from_frames, frames_duration = model.features(Frames(frames, fps))
    assert frames_duration == pytest.approx(duration, abs=1.5 / fps)
    # the same frames are picked; only the resize differs (swscale vs OpenCV, both area averaging)
    assert torch.nn.functional.cosine_similarity(from_frames, features).min() > 0.98


def test_results_are_plain_typed_seconds(model, corpus_video):
    windows = model.ground(corpus_video, "a red circle moves")
    events = model.caption(corpus_video)
    _, duration = model.features(corpus_video)
    assert all(isinstance(w, Window) and 0 <= w.start <= w.end <= duration for w in windows)
    assert all(isinstance(e, Event) and isinstance(e.text, str) and 0 <= e.start <= e.end <= duration for e in events)


@pytest.mark.parametrize("bad, named", [
    (VideoFeatures(np.zeros((3, 8), np.float32), 10.0), "features of shape (3, 8)"),
    (VideoFeatures(np.zeros((16, 8), np.float32), 0.0), "duration 0.0"),
    (Frames(np.zeros((4, 8, 8), np.uint8), 8.0), "frames of shape (4, 8, 8)"),
    (Frames(np.zeros((4, 8, 8, 3), np.uint8), 0.0), "fps 0.0"),
    (12345, "a video of type int"),
])
def test_bad_videos_are_named(model, bad, named):
    with pytest.raises(BadVideo, match=named.replace("(", r"\(").replace(")", r"\)")):
        model.ground(bad, "a query")


def test_missing_file_and_empty_query(model, tmp_path, corpus_video):
    from momentor.data.decode import DecodeError

    with pytest.raises(DecodeError, match="not found"):
        model.ground(tmp_path / "nothing.mp4", "a query")
    with pytest.raises(BadQuery, match="empty query"):
        model.ground(corpus_video, "   ")


def test_any_folder_kind_resolves(tiny_checkpoint, released, tmp_path):
    assert pretrained.resolve(released) == released
    assert pretrained.resolve(tiny_checkpoint) == tiny_checkpoint
    with pytest.raises(FileNotFoundError, match="config.json"):
        pretrained.resolve(tmp_path)


def test_the_card_links_the_llm_on_the_hub():
    from momentor import config as config_lib

    assert pretrained.hub_base_model(config_lib.from_dict({"model": {"preset": "cpu"}})) == (
        "HuggingFaceTB/SmolLM2-135M-Instruct")
    assert pretrained.hub_base_model(config_lib.from_dict({"model": {"preset": "paper"}})) == "lmsys/vicuna-7b-v1.1"
    local = config_lib.from_dict({"model": {"preset": "paper", "llm_path": "/models/vicuna"}})
    assert pretrained.hub_base_model(local) is None
