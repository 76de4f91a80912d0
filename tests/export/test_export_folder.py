"""``momentor export``: checked graphs with a dynamic batch axis and metadata that says what they are."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import onnx
import pytest
import torch

from momentor.export.metadata import ExportFolderError, read_metadata, weights_sha256
from momentor.hashing import file_sha256
from momentor.model.builders import build_model


def test_every_graph_passes_the_checker_with_a_dynamic_batch_axis(tiny_export):
    folder, summary, cfg = tiny_export
    metadata = read_metadata(folder)
    assert {"encoder", "frame_embedder", "infusion"} <= set(metadata["graphs"])
    for name, entry in metadata["graphs"].items():
        model = onnx.load(str(folder / entry["file"]))
        onnx.checker.check_model(model, full_check=True)
        assert {o.version for o in model.opset_import if o.domain in ("", "ai.onnx")} == {cfg.export.opset}
        batch_in = model.graph.input[0].type.tensor_type.shape.dim[0]
        batch_out = model.graph.output[0].type.tensor_type.shape.dim[0]
        assert batch_in.dim_param and batch_in.dim_param == batch_out.dim_param, name  # symbolic, shared
        assert entry["sha256"] == hashlib.sha256(file_sha256(folder / entry["file"]).encode()).hexdigest()
    assert summary["folder"] == str(folder) and summary["provider"] == metadata["parity_runtime"]["provider"]


def test_metadata_records_preset_normalisation_names_and_weight_hashes(tiny_export):
    folder, _, cfg = tiny_export
    metadata = json.loads((folder / "metadata.json").read_text())
    model = build_model(cfg.model, seed=cfg.seed)  # rebuilt independently: the hashes must match its weights
    encoder = model.encoder
    assert metadata["preset"] == "tiny" and metadata["encoder_id"] == encoder.spec.id == "clip:tiny-random:32"
    assert metadata["input"]["size"] == 32
    np.testing.assert_allclose(metadata["input"]["mean"], encoder.mean.flatten().numpy())
    np.testing.assert_allclose(metadata["input"]["std"], encoder.std.flatten().numpy())
    assert metadata["opset"] == cfg.export.opset
    assert metadata["weights_sha256"]["encoder"] == weights_sha256(encoder)
    assert metadata["weights_sha256"]["projection"] == weights_sha256(model.projection)
    graphs = metadata["graphs"]
    assert [i["name"] for i in graphs["encoder"]["inputs"]] == ["pixels"]
    assert graphs["encoder"]["outputs"] == [{"name": "features", "dtype": "float32", "shape": ["batch", 32]}]
    assert graphs["frame_embedder"]["outputs"][0]["name"] == "embeddings"
    assert graphs["frame_embedder"]["outputs"][0]["shape"] == ["batch", model.projection.out_features]
    assert graphs["infusion"]["inputs"][0]["shape"] == ["batch", 16, model.projection.out_features]  # M = 16
    for name in ("encoder", "frame_embedder", "infusion"):
        parity = graphs[name]["parity"]
        assert parity["ok"] and parity["atol"] == cfg.export.atol and parity["rtol"] == cfg.export.rtol
    assert set(graphs["encoder"]["parity"]["batches"]) == {"1", "3", "32"}


def test_a_folder_with_a_missing_graph_is_refused_with_what_to_do(tiny_export, tmp_path):
    folder, _, _ = tiny_export
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "metadata.json").write_text((folder / "metadata.json").read_text())
    with pytest.raises(ExportFolderError, match="lacks encoder.onnx.*export again"):
        read_metadata(copy)
    (copy / "metadata.json").write_text("{not json")
    with pytest.raises(ExportFolderError, match="cannot be read"):
        read_metadata(copy)
    with pytest.raises(ExportFolderError, match="momentor export --out"):
        read_metadata(tmp_path / "nothing")


def test_weights_hash_changes_with_any_weight():
    layer = torch.nn.Linear(3, 2)
    before = weights_sha256(layer)
    with torch.no_grad():
        layer.bias[1] += 1e-6
    assert weights_sha256(layer) != before and len(before) == 64
