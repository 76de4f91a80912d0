import pytest
import torch

from momentor import config as config_lib
from momentor.model import checkpoint


def test_round_trip_restores_trainable_tensors_and_config(tmp_path, tiny_model):
    cfg = config_lib.from_dict({}, ["model.preset=tiny"])
    with torch.no_grad():
        tiny_model.temporal.input_table.add_(1.0)
    folder = checkpoint.save(tiny_model, cfg, tmp_path / "ckpt")
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "trainable.safetensors"]
    loaded, loaded_cfg = checkpoint.load(folder)
    assert loaded_cfg == cfg
    for name, tensor in tiny_model.trainable_parameters().items():
        assert torch.equal(tensor, loaded.get_parameter(name))
    # only trainable tensors are stored: a few thousand numbers, not the LLM
    from safetensors.torch import load_file

    assert sum(t.numel() for t in load_file(str(folder / "trainable.safetensors")).values()) < 10_000


def test_mismatched_checkpoint_names_the_cause(tmp_path, tiny_model):
    cfg = config_lib.from_dict({}, ["model.preset=tiny", "model.num_temporal_tokens=8"])
    from momentor.model.builders import build_model

    other = build_model(cfg.model)
    checkpoint.save(other, cfg, tmp_path / "ckpt")
    with pytest.raises(ValueError, match="temporal.input_table.*num_temporal_tokens"):
        checkpoint.load_weights(tiny_model, tmp_path / "ckpt")


def test_incomplete_folder_is_not_a_checkpoint(tmp_path):
    (tmp_path / "ckpt.partial").mkdir()
    with pytest.raises(FileNotFoundError, match="not a complete momentor checkpoint"):
        checkpoint.load(tmp_path / "ckpt.partial")


def test_checkpoint_from_before_frame_norm_loads_with_the_plain_linear_it_was_trained_with(tmp_path, tiny_model):
    import yaml

    cfg = config_lib.from_dict({}, ["model.preset=tiny"])
    folder = checkpoint.save(tiny_model, cfg, tmp_path / "ckpt")
    raw = yaml.safe_load((folder / "config.yaml").read_text())
    assert raw["model"].pop("frame_norm") is True
    (folder / "config.yaml").write_text(yaml.safe_dump(raw))
    loaded, loaded_cfg = checkpoint.load(folder)
    assert loaded_cfg.model.frame_norm is False
    assert loaded.projection.target_norm is None
