"""``momentor features``: frame features of every manifest video from the frozen encoder, cached.

For each video with a file, M frames are decoded at t_m = m·T/(M−1) (:func:`momentor.data.decode.sample_frames`,
M from the model preset) and encoded in batches of ``data.feature_batch_size``. Output, per encoder::

    <paths.work>/features/<key>/<video_id>.safetensors   tensors "features" (m, d) float32, "times" (m,)
    <paths.work>/features/<key>/index.parquet            video_id, file, sha256, num_frames, dim, duration
    <paths.work>/features/<key>/encoder.json             what <key> stands for

``<key>`` hashes the encoder id, M, the compute precision and the backend (other than torch), so features of
different encoders or backends never mix, and switching the backend re-extracts into its own folder.
Each file's metadata holds the video's content hash: a re-run skips every video whose file is unchanged,
and as files are written atomically (temporary file, then rename), a killed run resumes where it stopped.
Videos that fail to decode go to the manifest's ``quarantine.jsonl`` (stage ``features``); the run goes on.

Shards: ``shard=(K, N)`` extracts only the videos of shard K (:mod:`momentor.data.shards`) into
``<paths.work>/shards/features/K-of-N/<key>/`` (same layout, its own index and quarantine part);
:func:`merge_features` then links the N parts' files into ``<paths.work>/features/<key>/`` and writes the index
and quarantine over the whole manifest: the same bytes as one process over all videos.

Precision: with ``data.feature_bf16`` the encoder runs under bf16 autocast when the CPU has bf16 matrix
units (AVX512-BF16 or AMX); features are stored as float32 either way. Backend: ``data.feature_backend``
``torch`` (the PyTorch encoder) or ``onnx`` (the exported encoder, :mod:`momentor.export.runtime`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save

from momentor import atomic
from momentor.data import shards as sharding
from momentor.config import Config, ModelConfig
from momentor.data.decode import sample_frames
from momentor.data.manifest import QUARANTINE_FILE, read_table
from momentor.data.quarantine import BadInput, Quarantine
from momentor.hashing import file_sha256
from momentor.model.encoder import EncoderSpec, build_encoder

log = logging.getLogger(__name__)


def encoder_spec(cfg: ModelConfig) -> EncoderSpec:
    """The frozen encoder of the model preset (defined by the model builders)."""
    from momentor.model.builders import encoder_spec as preset_encoder_spec

    return preset_encoder_spec(cfg)


def num_frames(cfg: ModelConfig) -> int:
    """M, the frames per video of the model preset (``model.num_frames`` overrides it)."""
    from momentor.model.builders import preset_num_frames

    return preset_num_frames(cfg)


def bf16_supported() -> bool:
    """Whether this CPU has bf16 matrix units (otherwise bf16 autocast is slower than fp32)."""
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def precision(cfg: Config) -> str:
    use_bf16 = cfg.data.feature_bf16 and cfg.data.feature_backend == "torch" and bf16_supported()
    return "bf16" if use_bf16 else "fp32"


def feature_key(spec: EncoderSpec, m: int, compute: str, backend: str = "torch") -> str:
    """Folder name of one feature set: encoder, frame count, precision and (other than torch) backend."""
    backend_part = "" if backend == "torch" else f"|{backend}"  # torch keeps the keys of earlier caches
    return hashlib.sha256(f"{spec.id}|m={m}|{compute}{backend_part}".encode()).hexdigest()[:16]


def feature_dir(cfg: Config, shard: tuple[int, int] | None = None) -> Path:
    """The folder of the features that ``cfg`` asks for (training and evaluation read from here), or of
    shard ``(K, N)``'s part of them."""
    key = feature_key(encoder_spec(cfg.model), num_frames(cfg.model), precision(cfg), cfg.data.feature_backend)
    if shard is not None:
        return sharding.part_dir(cfg.paths.work, "features", *shard) / key
    return Path(cfg.paths.work) / "features" / key


def encoder_info(cfg: Config) -> dict:
    """What a feature folder's key stands for (its ``encoder.json``, and every file's metadata)."""
    return {"encoder_id": encoder_spec(cfg.model).id, "num_frames": num_frames(cfg.model),
            "precision": precision(cfg), "backend": cfg.data.feature_backend}


def load_features(path: str | Path) -> tuple[torch.Tensor, torch.Tensor]:
    """``features`` (m, d) float32 and ``times`` (m,) of one video."""
    with safe_open(str(path), "pt") as f:
        return f.get_tensor("features"), f.get_tensor("times")


def _metadata(path: Path) -> dict:
    try:
        with safe_open(str(path), "pt") as f:
            return f.metadata() or {}
    except Exception:  # an unreadable cache file is simply recomputed  # noqa: BLE001
        return {}


class FrameFeaturizer:
    """uint8 frames (m, h, w, 3) -> features (m, d) float32, in batches, with the configured backend."""

    def __init__(self, cfg: Config, seed: int = 0):
        self.spec = encoder_spec(cfg.model)
        self.batch_size = cfg.data.feature_batch_size
        self.compute = precision(cfg)
        if cfg.data.feature_backend == "onnx":
            from momentor.export.onnx_export import cached_encoder  # only this backend needs onnxruntime

            self.encoder = cached_encoder(cfg)
        else:
            self.encoder = build_encoder(self.spec, seed=seed)

    @property
    def short_side(self) -> int:
        """The shorter side, in pixels, that frames are decoded at for this encoder."""
        return getattr(self.encoder, "image_size", self.spec.image_size)

    @torch.inference_mode()
    def __call__(self, frames: np.ndarray) -> torch.Tensor:
        out = []
        for start in range(0, len(frames), self.batch_size):
            batch = torch.from_numpy(frames[start : start + self.batch_size])  # (b, h, w, 3) uint8
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.compute == "bf16"):
                out.append(torch.as_tensor(self.encoder(batch)).float())  # (b, d)
        return torch.cat(out)  # (m, d)


def _save_atomic(path: Path, features: torch.Tensor, times: np.ndarray, metadata: dict) -> None:
    tensors = {"features": features.contiguous(), "times": torch.from_numpy(times).float()}
    data = _sorted_metadata(save(tensors, metadata={k: str(v) for k, v in metadata.items()}))
    atomic.write_bytes(path, data)  # a killed run never leaves a half-written feature file


def _sorted_metadata(data: bytes) -> bytes:
    """The same safetensors file with its metadata keys in sorted order. safetensors writes them in the
    order of a Rust hash map, which changes from call to call; sorted, equal features give equal bytes
    (a re-run, a shard and the merge write the same file). The header keeps its length and padding."""
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    header["__metadata__"] = dict(sorted(header.get("__metadata__", {}).items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode().ljust(size)
    if len(text) != size:  # not the compact JSON safetensors writes: keep the file as it is
        return data
    return data[:8] + text + data[8 + size :]


def extract_features(cfg: Config, manifest_dir: str | Path | None = None, progress: bool = True,
                     shard: tuple[int, int] | None = None) -> dict:
    """Features of every manifest video that has a file (of shard ``(K, N)``'s videos); returns a summary
    (counts, videos/s)."""
    from tqdm import tqdm

    manifest_dir = Path(manifest_dir or Path(cfg.paths.work) / "manifest")
    videos = read_table(manifest_dir, "videos")
    if shard is not None:
        videos = sharding.select(videos, *shard)
    with_file = videos[videos["path"] != ""]
    out = feature_dir(cfg, shard)
    if shard is not None:
        sharding.start_part(out.parent)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.tmp"):
        stale.unlink()
    m = num_frames(cfg.model)
    featurizer = FrameFeaturizer(cfg, seed=cfg.seed)
    info = encoder_info(cfg)
    atomic.write_json(out / "encoder.json", info, indent=None)
    # a shard keeps its quarantine entries in its part; the merge puts them in the manifest
    quarantine = Quarantine((manifest_dir if shard is None else out.parent) / QUARANTINE_FILE, "features")

    def decode(row):  # runs in a worker thread so that decoding overlaps encoding (PyAV releases the GIL)
        path = Path(row.path)
        sha = file_sha256(path) if path.exists() else ""
        target = out / f"{row.video_id}.safetensors"
        meta = _metadata(target) if target.exists() else {}
        if sha and meta.get("sha256") == sha and meta.get("encoder_id") == featurizer.spec.id:
            return row, sha, None
        return row, sha, sample_frames(path, m, short_side=featurizer.short_side, seek_gap_s=cfg.data.seek_gap_s)

    counts = {
        "videos": len(with_file),
        "extracted": 0,
        "cached": 0,
        "quarantined": 0,
        "no_file": len(videos) - len(with_file),
    }
    started = time.perf_counter()
    rows = list(with_file.itertuples(index=False))
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = [pool.submit(decode, row) for row in rows[:2]]
        bar = tqdm(total=len(rows), unit="video", disable=not progress, desc="features")
        for i in range(len(rows)):
            if i + 2 < len(rows):
                pending.append(pool.submit(decode, rows[i + 2]))
            try:
                row, sha, decoded = pending[i].result()
                pending[i] = None  # drop the frames as soon as they are encoded
            except BadInput as err:
                quarantine.add_error(rows[i].video_id, rows[i].path, err)
                counts["quarantined"] += 1
                bar.update()
                continue
            if decoded is None:
                counts["cached"] += 1
            else:
                frames, times = decoded
                features = featurizer(frames)  # (m, d)
                meta = {**info, "sha256": sha, "video_id": row.video_id, "duration": row.duration}
                _save_atomic(out / f"{row.video_id}.safetensors", features, times, meta)
                counts["extracted"] += 1
            bar.update()
        bar.close()
    seconds = time.perf_counter() - started
    index = write_index(out, videos, featurizer.spec.id)
    if shard is not None:
        sharding.mark_done(out.parent)
    summary = {**counts, "indexed": index, "seconds": round(seconds, 2), "folder": str(out), **info}
    summary["videos_per_s"] = round(counts["extracted"] / seconds, 3) if counts["extracted"] else None
    return summary


def merge_features(cfg: Config, shards: int, manifest_dir: str | Path | None = None) -> dict:
    """The ``shards`` parts into the features folder: each video's file linked (or copied) from its shard's
    part, then ``encoder.json``, the index and the quarantine written as one process over all videos writes
    them; a summary."""
    manifest_dir = Path(manifest_dir or Path(cfg.paths.work) / "manifest")
    videos = read_table(manifest_dir, "videos")
    out = feature_dir(cfg)
    parts = [part / out.name for part in sharding.part_dirs(cfg.paths.work, "features", shards)]
    out.mkdir(parents=True, exist_ok=True)
    info = encoder_info(cfg)
    atomic.write_json(out / "encoder.json", info, indent=None)
    linked = 0
    for video_id in videos.loc[videos["path"] != "", "video_id"]:
        source = parts[sharding.shard_of(video_id, shards)] / f"{video_id}.safetensors"
        if source.is_file():
            _link_atomic(source, out / source.name)
            linked += 1
    quarantined = sharding.merge_quarantine(manifest_dir, "features", [p.parent for p in parts], videos)
    index = write_index(out, videos, info["encoder_id"])
    return {"shards": shards, "merged": linked, "quarantined": quarantined, "indexed": index, "folder": str(out),
            **info}


def _link_atomic(source: Path, target: Path) -> None:
    """``target`` becomes a hard link to ``source`` (a copy across file systems), replaced in one rename."""
    if target.exists() and target.stat().st_ino == source.stat().st_ino:
        return
    import shutil

    with atomic.writing(target) as tmp:
        try:
            os.link(source, tmp)
        except OSError:  # another file system: copy the bytes
            shutil.copyfile(source, tmp)


def write_index(out: Path, videos, encoder_id: str) -> int:
    """Rewrite ``index.parquet`` from the feature files present (the files, not the run, are the truth)."""
    import pandas as pd

    rows = []
    for row in videos.itertuples(index=False):
        target = out / f"{row.video_id}.safetensors"
        meta = _metadata(target) if target.exists() else {}
        if meta.get("encoder_id") != encoder_id or meta.get("sha256") != row.sha256:
            continue
        with safe_open(str(target), "pt") as f:
            m, d = f.get_slice("features").get_shape()
        rows.append({"video_id": row.video_id, "file": target.name, "sha256": row.sha256, "num_frames": m,
                     "dim": d, "duration": row.duration})  # fmt: skip
    columns = ["video_id", "file", "sha256", "num_frames", "dim", "duration"]
    table = pd.DataFrame(rows, columns=columns)
    with atomic.writing(out / "index.parquet") as tmp:
        table.to_parquet(tmp, index=False)
    return len(table)
