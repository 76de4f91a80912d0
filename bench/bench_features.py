"""Frame features on the cpu preset: bf16 autocast vs fp32, encoder alone and end to end (videos/s).

Rows:
- EfficientNet-Lite0 on 32 real frames at 224 px, frames/s, bf16 autocast vs fp32 (same frames, same run);
- ``momentor features`` on an 8-video sample corpus (decode + encode + atomic writes), videos/s, bf16 vs fp32;
- bf16/fp32 parity: smallest per-frame cosine similarity of the two feature sets.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, report, row

from momentor import assets, config
from momentor.data.decode import sample_frames
from momentor.data.features import extract_features
from momentor.data.ingest import ingest
from momentor.data.sample_corpus import build_sample_corpus
from momentor.model.encoder import EncoderSpec, build_encoder

VIDEOS = 8


def encode(encoder, x: torch.Tensor, bf16: bool) -> torch.Tensor:
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        return encoder(x)


def main() -> None:
    frames = np.concatenate(
        [
            sample_frames(assets.sample_clip(n), 16, short_side=224)[0][:, :224, :224]
            for n in ("bikes.mp4", "bigbuckbunny.mp4")
        ]
    )
    x = torch.from_numpy(frames)  # (32, 224, 224, 3)
    encoder = build_encoder(EncoderSpec("efficientnet_lite0"))
    encode(encoder, x, True), encode(encoder, x, False)  # warm up both oneDNN paths
    t_bf16, t_fp32 = (
        best_of(lambda: encode(encoder, x, True), 3),
        best_of(lambda: encode(encoder, x, False), 3),
    )
    rows = [row("EfficientNet-Lite0, 32 frames 224 px", len(x) / t_bf16, "frames/s", "fp32", len(x) / t_fp32)]
    cosine = torch.nn.functional.cosine_similarity(encode(encoder, x, True), encode(encoder, x, False), dim=1)
    rows.append(row("bf16 vs fp32 feature cosine (min over frames)", float(cosine.min()), "cosine",
                    note=f"mean {float(cosine.mean()):.4f}"))  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build_sample_corpus(config.Config().data.sample, tmp / "sample", num_videos=VIDEOS)
        rates = {}
        for bf16 in (True, False):
            cfg = config.from_dict({
                "model": {"preset": "cpu"},
                "paths": {"work": str(tmp / f"work_{bf16}")},
                "data": {"sources": [{"format": "sample", "path": str(tmp / "sample")}], "feature_bf16": bf16},
            })  # fmt: skip
            ingest(cfg)
            extract_features(cfg, progress=False)  # warm: model load and first-call costs out of the timing
            for f in (Path(cfg.paths.work) / "features").glob("*/*.safetensors"):
                f.unlink()
            rates[bf16] = extract_features(cfg, progress=False)["videos_per_s"]
        rows.append(row(f"momentor features, cpu preset, {VIDEOS} videos", rates[True], "videos/s", "fp32", rates[False],
                        note="M=32 frames per video, decode overlapped with encode"))  # fmt: skip
    report("features", rows)


if __name__ == "__main__":
    main()
