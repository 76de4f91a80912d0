"""Frame features: shapes and times, cache by content hash, resume, quarantine, bf16 parity."""

import numpy as np
import pytest
import torch
from video_files import write_counter_video

from momentor import config
from momentor.data.decode import sample_frames, sample_times
from momentor.data.features import extract_features, feature_dir, load_features
from momentor.data.ingest import ingest
from momentor.data.quarantine import read_quarantine
from momentor.data.sample_corpus import build_sample_corpus
from momentor.model.encoder import EncoderSpec, build_encoder


@pytest.fixture
def tiny_project(tmp_path, tiny_corpus_cfg):
    """A 2-video sample corpus, ingested, with the tiny preset (tiny CLIP at 32 px, M = 16)."""
    build_sample_corpus(tiny_corpus_cfg, tmp_path / "sample")
    cfg = config.from_dict({
        "model": {"preset": "tiny"},
        "paths": {"work": str(tmp_path / "work")},
        "data": {"sources": [{"format": "sample", "path": str(tmp_path / "sample")}], "feature_bf16": False},
    })  # fmt: skip
    ingest(cfg)
    return cfg


def test_features_match_the_encoder_on_the_sampled_frames(tiny_project):
    cfg = tiny_project
    summary = extract_features(cfg, progress=False)
    assert summary["extracted"] == 2 and summary["indexed"] == 2 and summary["precision"] == "fp32"
    folder = feature_dir(cfg)
    features, times = load_features(folder / "sample_000.safetensors")
    video = folder.parent.parent.parent / "sample" / "sample_000.mp4"
    frames, expected_times = sample_frames(video, 16, short_side=32)
    assert features.shape == (16, 32) and features.dtype == torch.float32
    np.testing.assert_allclose(times.numpy(), expected_times, rtol=1e-6)
    np.testing.assert_allclose(expected_times, sample_times(expected_times[-1], 16))
    encoder = build_encoder(EncoderSpec("clip", image_size=32, tiny=True), seed=cfg.seed)
    torch.testing.assert_close(features, encoder(torch.from_numpy(frames)))
    import pandas as pd

    index = pd.read_parquet(folder / "index.parquet")
    assert index["video_id"].tolist() == ["sample_000", "sample_001"] and set(index["num_frames"]) == {16}


def test_rerun_skips_and_killed_run_resumes(tiny_project):
    cfg = tiny_project
    extract_features(cfg, progress=False)
    folder = feature_dir(cfg)
    assert extract_features(cfg, progress=False)["cached"] == 2
    # a run killed while writing sample_001: its file is missing and a temporary file lies around
    (folder / "sample_001.safetensors").rename(folder / "sample_001.safetensors.tmp")
    before = load_features(folder / "sample_000.safetensors")[0]
    summary = extract_features(cfg, progress=False)
    assert (summary["extracted"], summary["cached"], summary["indexed"]) == (1, 1, 2)
    assert not list(folder.glob("*.tmp"))
    torch.testing.assert_close(load_features(folder / "sample_000.safetensors")[0], before)


def test_changed_video_content_is_recomputed(tiny_project, tmp_path):
    cfg = tiny_project
    extract_features(cfg, progress=False)
    write_counter_video(tmp_path / "sample" / "sample_001.mp4", count=40, size=64)  # same name, new content
    assert extract_features(cfg, progress=False)["extracted"] == 1


def test_undecodable_video_is_quarantined_and_the_run_goes_on(tiny_project, tmp_path):
    cfg = tiny_project
    (tmp_path / "sample" / "sample_000.mp4").write_bytes(b"\x00" * 1000)  # corrupted after ingest
    summary = extract_features(cfg, progress=False)
    assert (summary["extracted"], summary["quarantined"], summary["indexed"]) == (1, 1, 1)
    (entry,) = read_quarantine(tmp_path / "work" / "manifest" / "quarantine.jsonl")
    assert entry["item"] == "sample_000" and entry["stage"] == "features" and entry["hint"]


def test_bf16_and_fp32_features_of_the_cpu_encoder_agree():
    # EfficientNet-Lite0 (real ImageNet weights) on real frames: bf16 autocast keeps each frame's direction
    from momentor import assets

    frames = np.concatenate(
        [
            sample_frames(assets.sample_clip(n), 4, short_side=224)[0][:, :224, :224]
            for n in ("bikes.mp4", "carphone_pristine.mp4")
        ]
    )
    encoder = build_encoder(EncoderSpec("efficientnet_lite0"))
    x = torch.from_numpy(frames)
    with torch.inference_mode():
        fp32 = encoder(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = encoder(x)
    assert bf16.dtype == torch.float32
    cosine = torch.nn.functional.cosine_similarity(fp32, bf16, dim=1)
    assert cosine.min() > 0.99, cosine
    assert not torch.equal(fp32, bf16)  # autocast really ran in bf16


def test_onnx_backend_gives_the_torch_features_in_its_own_cache(tiny_project):
    pytest.importorskip(
        "momentor.export.onnx_export", reason="the ONNX export of the encoder is not in this tree"
    )
    cfg = tiny_project
    extract_features(cfg, progress=False)
    torch_file = feature_dir(cfg) / "sample_000.safetensors"
    torch_features, torch_bytes = load_features(torch_file)[0], torch_file.read_bytes()
    onnx_cfg = config.from_dict(config.to_dict(cfg), ["data.feature_backend=onnx"])
    assert feature_dir(onnx_cfg) != feature_dir(cfg)
    summary = extract_features(onnx_cfg, progress=False)  # same work folder: nothing reused from torch
    assert summary["extracted"] == 2 and summary["cached"] == 0
    assert summary["precision"] == "fp32" and summary["backend"] == "onnx"
    onnx_features = load_features(feature_dir(onnx_cfg) / "sample_000.safetensors")[0]
    torch.testing.assert_close(onnx_features, torch_features, atol=1e-4, rtol=1e-4)
    assert torch_file.read_bytes() == torch_bytes
    assert extract_features(onnx_cfg, progress=False)["cached"] == 2
