"""ONNX Runtime against PyTorch: elementwise for the fp32 graphs, by frame retrieval for the int8 variant.

Stated tolerance of the fp32 graphs: |ort − torch| <= 1e-4 + 1e-3·|torch| (``export.atol``, ``export.rtol``);
measured here: ~5e-7 for the tiny CLIP, ~1e-5 for EfficientNet-Lite0 (features up to ~6).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from momentor.export.metadata import read_metadata
from momentor.export.onnx_export import cached_encoder, encoder_export_dir, ensure_encoder_export
from momentor.export.parity import ParityError, compare, parity_frames, retrieval_parity
from momentor.export.runtime import OnnxFrameEncoder, open_session
from momentor.model.builders import build_model

ATOL, RTOL = 1e-4, 1e-3


def _session(folder, name):
    session = open_session(folder / f"{name}.onnx", "cpu")
    return lambda x: session.run(None, {session.get_inputs()[0].name: np.ascontiguousarray(x)})[0]


@pytest.fixture(scope="module")
def tiny_model(tiny_export):
    _, _, cfg = tiny_export
    return build_model(cfg.model, seed=cfg.seed).eval()  # rebuilt here, not taken from the export


@pytest.mark.parametrize("batch", [1, 3, 32])
def test_encoder_and_frame_embedder_match_pytorch(tiny_export, tiny_model, batch):
    folder, _, _ = tiny_export
    frames = torch.randint(
        0, 256, (batch, 45, 60, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(7)
    )
    with torch.inference_mode():
        pixels = tiny_model.encoder.preprocess(frames)  # (b, 3, 32, 32)
        features = tiny_model.encoder.embed(pixels)  # (b, 32)
        embeddings = tiny_model.projection(features)  # (b, 64)
    onnx_features = _session(folder, "encoder")(pixels.numpy())
    onnx_embeddings = _session(folder, "frame_embedder")(pixels.numpy())
    assert onnx_features.shape == (batch, 32) and onnx_embeddings.shape == (batch, 64)
    np.testing.assert_allclose(onnx_features, features.numpy(), atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(onnx_embeddings, embeddings.numpy(), atol=ATOL, rtol=RTOL)


def test_infusion_after_frame_embedder_gives_momentor_frame_embeddings(tiny_export, tiny_model):
    folder, _, _ = tiny_export
    frames = parity_frames(2 * 16, 32, seed=11)  # 2 videos x M = 16 frames
    with torch.inference_mode():
        pixels = tiny_model.encoder.preprocess(frames)
        features = tiny_model.encoder.embed(pixels).reshape(2, 16, -1)  # (b, m, f)
        expected = tiny_model.frame_embeddings(
            features, tiny_model.tables()
        )  # W·f + b + ½(Ẽ_in[m] + Ẽ_out[m])
    embedded = _session(folder, "frame_embedder")(pixels.numpy()).reshape(2, 16, -1)  # (b, m, d)
    llm_inputs = _session(folder, "infusion")(embedded)
    np.testing.assert_allclose(llm_inputs, expected.numpy(), atol=ATOL, rtol=RTOL)
    assert np.abs(llm_inputs - embedded).max() > 1e-2  # the temporal tokens really are added
    # the same table for every video, different for every frame position
    np.testing.assert_allclose(llm_inputs[0] - embedded[0], llm_inputs[1] - embedded[1], atol=1e-6)
    assert np.abs((llm_inputs - embedded)[0, 0] - (llm_inputs - embedded)[0, 1]).max() > 1e-3


def test_parity_beyond_the_tolerance_fails_the_export_and_installs_nothing(tiny_config):
    cfg = tiny_config(atol=0.0, rtol=0.0)  # float rounding alone exceeds a zero tolerance
    with pytest.raises(
        ParityError, match=r"encoder at batch \d+: max \|error\| .*tolerance atol=0.0 rtol=0.0"
    ):
        ensure_encoder_export(cfg)
    target = encoder_export_dir(cfg)
    assert not target.exists()
    (partial,) = target.parent.glob(f"{target.name}.partial-*")  # kept for inspection, as the message says
    assert not read_metadata(partial)["graphs"]["encoder"]["parity"]["ok"]


def test_compare_applies_the_allclose_rule():
    reference = np.array([[1.0, -2.0, 0.0]])
    assert compare(reference, reference + 1e-4 + 1e-3 * np.abs(reference) - 1e-9, 1e-4, 1e-3)["ok"]
    result = compare(reference, reference + np.array([[0.0, 0.0, 2e-4]]), 1e-4, 1e-3)
    assert not result["ok"] and result["max_abs_error"] == pytest.approx(2e-4)
    assert compare(reference, reference[:, :2], 1e-4, 1e-3) == {
        "ok": False,
        "reason": "shape [1, 2] != torch [1, 3]",
    }


def test_retrieval_parity_of_identical_noisy_and_scrambled_features():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 16))
    same = retrieval_parity(features, features.copy())
    assert same["cosine_min"] == pytest.approx(1.0) and same["top1_agreement"] == 1.0
    noisy = retrieval_parity(features, features + rng.normal(scale=0.05, size=features.shape))
    assert 0.99 < noisy["cosine_mean"] < 1.0 and noisy["top5_retrieval"] == 1.0
    scrambled = retrieval_parity(features, rng.permutation(features))
    assert scrambled["cosine_mean"] < 0.5 and scrambled["top1_agreement"] < 0.3


@pytest.mark.slow
def test_cpu_preset_encoder_matches_pytorch_on_real_frames(tmp_path):
    """EfficientNet-Lite0 with its ImageNet weights, on frames of a real clip, at batch 1, 3 and 32 (~40 s)."""
    from momentor import assets, config
    from momentor.data.decode import sample_frames
    from momentor.model.encoder import EncoderSpec, build_encoder

    cfg = config.from_dict({"model": {"preset": "cpu"}, "paths": {"cache": str(tmp_path)}})
    onnx_encoder = cached_encoder(cfg)
    torch_encoder = build_encoder(EncoderSpec("efficientnet_lite0"))
    frames, _ = sample_frames(assets.sample_clip("bikes.mp4"), 36, short_side=224)
    start = 0
    for batch in (1, 3, 32):
        chunk = torch.from_numpy(frames[start : start + batch])
        start += batch
        np.testing.assert_allclose(
            onnx_encoder(chunk).numpy(), torch_encoder(chunk).numpy(), atol=ATOL, rtol=RTOL
        )
