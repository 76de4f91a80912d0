"""Checkpoints: only the trainable tensors (safetensors) with the resolved config beside them.

A checkpoint folder holds ``trainable.safetensors`` (projection, temporal tables, boundary embeddings: a few
MB even for the paper model, since the LLM and the encoder are frozen and rebuilt from their own weights) and
``config.yaml`` (the whole resolved config). Loading reads tensors with safetensors and YAML with
``safe_load``: nothing is ever unpickled. Writes go to a temporary folder renamed into place, so a killed
write never leaves a folder that looks complete.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from safetensors.torch import load_file, save_file

from momentor import config as config_lib
from momentor.model.momentor import Momentor

WEIGHTS = "trainable.safetensors"
CONFIG = "config.yaml"
FINAL = "final"  # a training run folder's finished checkpoint


def trainable_state(model: Momentor) -> dict:
    return {k: p.detach().contiguous().cpu() for k, p in model.trainable_parameters().items()}


def save(model: Momentor, cfg: config_lib.Config, folder: str | Path, extra_files: dict[str, str] | None = None) -> Path:
    """Write the trainable tensors and the resolved config to ``folder`` atomically.

    ``extra_files`` (name -> text) are written into the same folder before it is renamed into place.
    """
    folder = Path(folder)
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    save_file(trainable_state(model), str(partial / WEIGHTS), metadata={"format": "momentor-trainable-v1"})
    (partial / CONFIG).write_text(config_lib.dump(cfg))
    for name, text in (extra_files or {}).items():
        (partial / name).write_text(text)
    old = folder.with_name(folder.name + ".old")
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
    partial.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    return folder


def is_complete(folder: str | Path) -> bool:
    folder = Path(folder)
    return (folder / WEIGHTS).exists() and (folder / CONFIG).exists()


def load_config(folder: str | Path) -> config_lib.Config:
    raw = yaml.safe_load((Path(folder) / CONFIG).read_text())
    model = (raw or {}).get("model")
    if isinstance(model, dict) and "frame_norm" not in model:
        model["frame_norm"] = False  # written before the switch existed: the plain Linear it was trained with
    return config_lib.from_dict(raw)


def load_weights(model: Momentor, folder: str | Path) -> None:
    """Load trainable tensors into ``model``; every trainable tensor must be present with its shape."""
    load_state(model, load_file(str(Path(folder) / WEIGHTS)), folder)


def load_state(model: Momentor, state: dict, folder: str | Path) -> None:
    """Copy ``state`` (name -> tensor, read from ``folder``) into the model's trainable tensors."""
    params = model.trainable_parameters()
    missing, unexpected = sorted(set(params) - set(state)), sorted(set(state) - set(params))
    if missing or unexpected:
        raise ValueError(
            f"checkpoint {folder} does not fit this model (missing {missing}, unexpected {unexpected}); "
            "was it trained with another preset or timestamp mode? Check its config.yaml"
        )
    for name, tensor in state.items():
        if params[name].shape != tensor.shape:
            raise ValueError(
                f"checkpoint {folder}: {name} has shape {tuple(tensor.shape)}, the model expects "
                f"{tuple(params[name].shape)}; check model.num_temporal_tokens and the preset in its config.yaml"
            )
        params[name].data.copy_(tensor)


def load(folder: str | Path, with_encoder: bool = True) -> tuple[Momentor, config_lib.Config]:
    """Rebuild the model a checkpoint was trained with and load its trainable tensors."""
    from momentor.model.builders import build_model

    folder = Path(folder)
    if not is_complete(folder):
        raise FileNotFoundError(f"{folder} is not a complete momentor checkpoint (needs {WEIGHTS} and {CONFIG})")
    cfg = load_config(folder)
    model = build_model(cfg.model, seed=cfg.seed, with_encoder=with_encoder)
    load_weights(model, folder)
    return model, cfg


def resolve(path: str | Path) -> Path:
    """A model checkpoint folder, or a training run folder (its ``final`` checkpoint)."""
    path = Path(path)
    for folder in (path, path / FINAL):
        if is_complete(folder):
            return folder
    raise FileNotFoundError(
        f"{path} is neither a checkpoint ({WEIGHTS} + {CONFIG}) nor a finished training run "
        f"(with {FINAL}/); train it with `momentor train --out {path}` first"
    )


def nonfinite_tensors(folder: str | Path) -> list[str]:
    """Names of the checkpoint's trainable tensors that hold a NaN or an infinity (empty: all finite)."""
    import torch
    from safetensors.torch import load_file

    path = Path(folder) / WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no {WEIGHTS}; is {folder} a momentor checkpoint folder?")
    return [name for name, tensor in load_file(path).items() if not bool(torch.isfinite(tensor).all())]
