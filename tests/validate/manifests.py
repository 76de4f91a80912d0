"""A small valid manifest with feature files, written by the manifest's writer; tests break copies of it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from momentor import config
from momentor.data.features import encoder_spec, feature_dir, num_frames
from momentor.data.manifest import write_table
from momentor.model.builders import encoder_dim


def conversation(question: str, answer: str) -> str:
    return json.dumps([{"from": "human", "value": f"<video>\n{question}"}, {"from": "gpt", "value": answer}])


def project_config(root: Path, policy: str = "clip", stop: bool = True) -> config.Config:
    """The tiny preset (M = 16 frames of d = 32), fp32 features, the manifest under ``root/work``."""
    return config.from_dict(
        {
            "model": {"preset": "tiny"},
            "paths": {"work": str(root / "work")},
            "data": {"feature_bf16": False, "past_end_policy": policy},
            "validate": {"stop_on_failure": stop},
        }
    )


def write_good_manifest(cfg: config.Config) -> Path:
    """3 videos (2 with a file and features, 1 annotation-only), rows in every table; returns the folder."""
    work = Path(cfg.paths.work)
    manifest = work / "manifest"
    files = work / "videos"
    files.mkdir(parents=True, exist_ok=True)
    videos = []
    for k, (duration, with_file) in enumerate([(10.0, True), (8.5, True), (30.0, False)]):
        path = ""
        if with_file:
            path = str(files / f"v{k}.mp4")
            Path(path).write_bytes(b"not decoded by validation")
        videos.append(
            {
                "video_id": f"v{k}",
                "path": path,
                "duration": duration,
                "fps": 8.0 if with_file else 0.0,
                "source": "sample",
                "split": "train",
                "sha256": f"sha{k}" if with_file else "",
            }
        )
    write_table(manifest, "videos", videos)
    write_table(
        manifest,
        "segments",
        [
            {
                "segment_id": "v0_s0",
                "video_id": "v0",
                "start": 0.0,
                "end": 4.0,
                "caption": "a red circle",
                "origin": "gt",
            },
            {
                "segment_id": "v0_s1",
                "video_id": "v0",
                "start": 4.0,
                "end": 10.0,
                "caption": "a blue box",
                "origin": "gt",
            },
            {
                "segment_id": "v2_s0",
                "video_id": "v2",
                "start": 3.0,
                "end": 29.5,
                "caption": "cooking",
                "origin": "gt",
            },
        ],
    )
    write_table(
        manifest,
        "queries",
        [
            {
                "query_id": "q0",
                "video_id": "v0",
                "text": "the red circle",
                "windows": [[0.0, 4.0]],
                "split": "train",
                "source": "sample",
                "relevant_clip_ids": [],
                "saliency_scores": [],
            },
            {
                "query_id": "q1",
                "video_id": "v2",
                "text": "stirring",
                "windows": [[3.0, 9.0], [12.0, 30.0]],
                "split": "train",
                "source": "sample",
                "relevant_clip_ids": [1, 2],
                "saliency_scores": [[4, 3, 4]],
            },
        ],
    )
    write_table(
        manifest,
        "instructions",
        [
            {
                "instruction_id": "i0",
                "video_id": "v0",
                "task": "gesm",
                "score": 0.9,
                "split": "train",
                "conversations": conversation(
                    "List the events.", "<t=0> ~ <t=4>: a red circle. <t=4> ~ <t=10>: a blue box."
                ),
            },
            {
                "instruction_id": "i1",
                "video_id": "v1",
                "task": "direct_segment_localization",
                "score": 0.7,
                "split": "train",
                "conversations": conversation("When is the blue box there?", "<t=2.5> ~ <t=8.5>."),
            },
            {
                "instruction_id": "i2",
                "video_id": "v2",
                "task": "segment_captioning",
                "score": 1.0,
                "split": "train",
                "conversations": conversation("Describe <t=3> to <t=29.5>.", "Someone cooks."),
            },
        ],
    )
    write_table(
        manifest,
        "tracks",
        [
            {
                "track_id": "t0",
                "video_id": "v0",
                "label": "red circle",
                "times": [0.0, 0.5, 1.0],
                "boxes": [[0.1, 0.1, 0.3, 0.3], [0.2, 0.1, 0.4, 0.3], [0.3, 0.1, 0.5, 0.3]],
            },
        ],
    )
    write_table(
        manifest, "frame_labels", [{"video_id": "v2", "labels": ["SIL", "pour", "pour"], "fps": 15.0}]
    )
    for video in videos[:2]:
        write_features(cfg, video["video_id"], video["duration"], video["sha256"])
    return manifest


def write_features(cfg, video_id, duration, sha256, m=None, d=None, dtype=torch.float32, poison=None) -> Path:
    """A feature file as ``momentor features`` writes it (``poison`` puts that value into the features)."""
    m = m or num_frames(cfg.model)
    d = d or encoder_dim(encoder_spec(cfg.model))
    features = torch.randn(m, d, generator=torch.Generator().manual_seed(0)).to(dtype)
    if poison is not None:
        features[1, 2] = poison
    times = torch.from_numpy(np.arange(m) * (duration / (m - 1))).float()
    folder = feature_dir(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{video_id}.safetensors"
    save_file(
        {"features": features, "times": times}, str(path), metadata={"sha256": sha256, "video_id": video_id}
    )
    return path
