"""Export of a trained checkpoint, of the paper preset's code path (through a tiny CLIP), and the int8 floors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from momentor import config
from momentor.export.metadata import read_metadata, weights_sha256
from momentor.export.onnx_export import export_model
from momentor.export.parity import parity_frames
from momentor.export.runtime import open_session
from momentor.model import checkpoint
from momentor.model.builders import build_model, tiny_llm, tiny_tokenizer


def _run(path, x):
    session = open_session(path, "cpu")
    return session.run(None, {session.get_inputs()[0].name: np.ascontiguousarray(x)})[0]


def test_checkpoint_projection_is_exported_and_int8_below_its_floor_is_dropped(tmp_path):
    cfg = config.from_dict({
        "model": {"preset": "tiny"}, "paths": {"cache": str(tmp_path / "cache")},
        "export": {"int8_min_cosine": 1.01, "parity_batch_sizes": [1, 3]},  # a floor no int8 graph can pass
    })  # fmt: skip
    model = build_model(cfg.model, seed=cfg.seed)
    initial = weights_sha256(model.projection)
    with torch.no_grad():  # stands in for training: only the trainable parts change
        model.projection.weight.mul_(-2.0)
        model.temporal.input_table.add_(1.0)
    checkpoint.save(model, cfg, tmp_path / "ckpt")
    metadata = export_model(cfg, tmp_path / "export", checkpoint=tmp_path / "ckpt")
    out = tmp_path / "export"
    assert metadata["checkpoint"] == str(tmp_path / "ckpt") and metadata == read_metadata(out)
    assert metadata["weights_sha256"]["projection"] == weights_sha256(model.projection) != initial
    frames = parity_frames(2 * 16, 32, seed=5)
    with torch.inference_mode():
        pixels = model.encoder.preprocess(frames)
        features = model.encoder.embed(pixels)
        projected = model.projection(features)  # the trained W, b
        expected = model.frame_embeddings(
            features.reshape(2, 16, -1), model.tables()
        )  # and the trained tables
    embedded = _run(out / "frame_embedder.onnx", pixels.numpy())
    np.testing.assert_allclose(embedded, projected.numpy(), atol=1e-4, rtol=1e-3)
    np.testing.assert_allclose(_run(out / "infusion.onnx", embedded.reshape(2, 16, -1)), expected.numpy(),
                               atol=1e-4, rtol=1e-3)  # fmt: skip
    int8 = metadata["int8"]
    if "no real frames" in int8.get("reason", ""):
        pytest.skip(f"the sample clips are not available: {int8['reason']}")
    assert not int8["kept"] and "below a quality floor" in int8["reason"] and 0.9 < int8["cosine_mean"] < 1.01
    assert "encoder_int8" not in metadata["graphs"] and not (out / "encoder_int8.onnx").exists()
    assert not list(tmp_path.glob("export.*"))  # no temporary or old folder left


def test_text_timestamp_baseline_has_no_infusion_graph(tmp_path):
    cfg = config.from_dict({
        "model": {"preset": "tiny", "timestamps": "text"}, "paths": {"cache": str(tmp_path / "cache")},
        "export": {"int8": False, "parity_batch_sizes": [1, 3]},
    })  # fmt: skip
    metadata = export_model(cfg, tmp_path / "export")
    assert (
        set(metadata["graphs"]) == {"encoder", "frame_embedder"}
        and not (tmp_path / "export/infusion.onnx").exists()
    )
    assert metadata["timestamps"] == "text" and metadata["int8"] == {
        "kept": False,
        "reason": "export.int8 is false",
    }


def test_paper_preset_exports_through_a_tiny_clip_config(tmp_path):
    """The paper preset's path (CLIP from a local folder, 224 px, M = N = 300) with a tiny CLIP and LLM."""
    from transformers import CLIPVisionConfig, CLIPVisionModel

    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              image_size=224, patch_size=32)  # fmt: skip
    CLIPVisionModel(vision).save_pretrained(tmp_path / "clip")
    tokenizer = tiny_tokenizer()
    tokenizer.save_pretrained(tmp_path / "llm")
    tiny_llm(len(tokenizer), seed=0).save_pretrained(tmp_path / "llm")
    cfg = config.from_dict({
        "model": {"preset": "paper", "encoder_path": str(tmp_path / "clip"), "llm_path": str(tmp_path / "llm")},
        "paths": {"cache": str(tmp_path / "cache")}, "export": {"int8": False},
    })  # fmt: skip
    metadata = export_model(cfg, tmp_path / "export")
    assert metadata["preset"] == "paper" and metadata["encoder_id"] == f"clip:{tmp_path / 'clip'}:224"
    assert metadata["input"]["size"] == 224 and metadata["num_frames"] == 300
    assert metadata["graphs"]["infusion"]["inputs"][0]["shape"] == ["batch", 300, 64]
    assert all(g["parity"]["ok"] for g in metadata["graphs"].values())
    model = build_model(cfg.model, seed=cfg.seed)
    pixels = model.encoder.preprocess(parity_frames(3, 224, seed=9))
    with torch.inference_mode():
        expected = model.encoder.embed(pixels).numpy()
    np.testing.assert_allclose(
        _run(tmp_path / "export/encoder.onnx", pixels.numpy()), expected, atol=1e-4, rtol=1e-3
    )
