"""The exported encoder at run time: checked execution provider, FrameEncoder interface, on-demand cache."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from momentor.export import runtime
from momentor.export.onnx_export import encoder_export_dir, ensure_encoder_export
from momentor.export.runtime import CPU, CUDA, OnnxFrameEncoder, ProviderError, open_session
from momentor.model.encoder import EncoderSpec, build_encoder

ATOL, RTOL = 1e-4, 1e-3
no_gpu = pytest.mark.skipif(
    runtime.gpu_visible(), reason="a GPU is visible: the CPU fallback cannot be shown here"
)


def test_reported_provider_is_the_one_the_session_runs_on(tiny_export):
    folder, _, _ = tiny_export
    encoder = OnnxFrameEncoder.from_export(folder)
    assert encoder.provider == encoder.session.get_providers()[0]
    assert encoder.provider == (CUDA if runtime.gpu_visible() else CPU)


@no_gpu
def test_a_cuda_fallback_is_reported_as_cpu_and_is_an_error_when_cuda_is_required(
    tiny_export, monkeypatch, caplog
):
    folder, _, _ = tiny_export
    path = folder / "encoder.onnx"
    if CUDA in ort.get_available_providers():  # onnxruntime-gpu: asked for CUDA, it silently runs on the CPU
        assert ort.InferenceSession(str(path), providers=[CUDA, CPU]).get_providers() == [CPU]
    with pytest.raises(ProviderError, match=f"(asked for {CUDA} but runs on {CPU}|has no CUDA provider)"):
        open_session(path, "cuda")
    # "auto" on a machine that looks like it has a GPU: CUDA is asked for, and the CPU it gets is what is reported
    monkeypatch.setattr(runtime, "gpu_visible", lambda: True)
    with caplog.at_level(logging.WARNING, logger="momentor.export.runtime"):
        encoder = OnnxFrameEncoder.from_export(folder, device="auto")
    assert encoder.provider == CPU == encoder.session.get_providers()[0]
    if CUDA in ort.get_available_providers():
        assert f"asked for {CUDA} but runs on {CPU}" in caplog.text


def test_onnx_encoder_has_the_frame_encoder_interface(tiny_export):
    folder, _, cfg = tiny_export
    onnx_encoder = OnnxFrameEncoder.from_export(folder)
    torch_encoder = build_encoder(EncoderSpec("clip", image_size=32, tiny=True), seed=cfg.seed)
    frames = torch.randint(
        0, 256, (5, 48, 64, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(3)
    )
    assert onnx_encoder.spec == torch_encoder.spec and (onnx_encoder.dim, onnx_encoder.image_size) == (32, 32)
    assert torch.equal(onnx_encoder.preprocess(frames), torch_encoder.preprocess(frames))  # one preprocessing
    features = onnx_encoder(frames)
    assert (
        isinstance(features, torch.Tensor) and features.dtype == torch.float32 and features.shape == (5, 32)
    )
    torch.testing.assert_close(features, torch_encoder(frames), atol=ATOL, rtol=RTOL)
    torch.testing.assert_close(onnx_encoder(frames.numpy()), features)  # numpy frames work too
    with pytest.raises(
        KeyError, match="no 'decoder' graph .*encoder, encoder_int8, frame_embedder, infusion"
    ):
        OnnxFrameEncoder.from_export(folder, graph="decoder")


def test_int8_variant_is_kept_with_the_retrieval_parity_it_records(tiny_export):
    from momentor.export.parity import retrieval_parity
    from momentor.export.quantize import EVALUATION_CLIPS, EVALUATION_FRAMES_PER_CLIP, clip_pixels

    folder, summary, cfg = tiny_export
    fp32 = OnnxFrameEncoder.from_export(folder)
    report = fp32.metadata["int8"]
    if not report["kept"] and "no real frames" in report.get("reason", ""):
        pytest.skip(f"the sample clips are not available: {report['reason']}")
    assert report["kept"] and summary["int8"]["kept"]
    assert report["cosine_mean"] >= cfg.export.int8_min_cosine
    assert report["top5_retrieval"] >= cfg.export.int8_min_top5_retrieval
    int8 = OnnxFrameEncoder.from_export(folder, graph="encoder_int8")
    held_out = clip_pixels(fp32.preprocess, 32, EVALUATION_CLIPS, EVALUATION_FRAMES_PER_CLIP)
    again = retrieval_parity(fp32.embed(held_out).numpy(), int8.embed(held_out).numpy())
    assert again == pytest.approx({k: report[k] for k in again})  # what metadata.json says is what it does
    assert again["cosine_mean"] < 1.0  # it really is a different (quantised) graph


def test_ensure_encoder_export_exports_once_then_reuses_and_repairs(tiny_config):
    from momentor import config

    cfg = tiny_config()
    folder = ensure_encoder_export(cfg)
    assert folder == encoder_export_dir(cfg) and folder.parent == Path(cfg.paths.cache) / "onnx"
    stamp = (folder / "encoder.onnx").stat().st_mtime_ns
    assert ensure_encoder_export(cfg) == folder and (folder / "encoder.onnx").stat().st_mtime_ns == stamp
    (folder / "encoder.onnx").unlink()  # a damaged cache is exported again, not trusted
    assert ensure_encoder_export(cfg) == folder and (folder / "encoder.onnx").exists()
    assert list(folder.parent.iterdir()) == [folder]  # no temporary folders left behind
    other_seed = config.from_dict({**config.to_dict(cfg), "seed": 1})
    assert encoder_export_dir(other_seed) != folder  # random tiny weights: the seed is part of the key


def test_feature_extraction_switches_to_the_exported_encoder(tiny_export):
    from momentor import config
    from momentor.data.features import FrameFeaturizer

    torch_cfg = config.from_dict(config.to_dict(tiny_export[2]), ["data.feature_bf16=false"])
    onnx_cfg = config.from_dict(config.to_dict(torch_cfg), ["data.feature_backend=onnx"])
    frames = np.random.default_rng(0).integers(0, 256, (40, 36, 48, 3), dtype=np.uint8)  # > one feature batch
    onnx_featurizer = FrameFeaturizer(onnx_cfg, seed=onnx_cfg.seed)
    assert isinstance(onnx_featurizer.encoder, OnnxFrameEncoder)
    expected = FrameFeaturizer(torch_cfg, seed=torch_cfg.seed)(frames)  # (40, 32)
    torch.testing.assert_close(onnx_featurizer(frames), expected, atol=ATOL, rtol=RTOL)
