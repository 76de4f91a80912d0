"""``momentor export``: the frozen frame encoder, the projection and the temporal infusion as checked ONNX graphs.

:func:`export_model` writes a full export folder (see :mod:`momentor.export.metadata` for its layout) from a
checkpoint, or from the seeded initial model of the configured preset when no checkpoint is given; the
checkpoint's own config decides the preset. :func:`export_encoder` writes only the encoder (no LLM is
loaded), and :func:`ensure_encoder_export` does so into the cache, keyed by the encoder id, on first use: what
``data.feature_backend: onnx`` runs on.

Every graph is checked by ``onnx.checker`` and then run in ONNX Runtime against its PyTorch twin at each of
``export.parity_batch_sizes``; the infusion is checked end to end, ``infusion(frame_embedder(pixels))``
against ``Momentor.frame_embeddings(encoder(pixels))``. A graph beyond the tolerance fails the export
(:class:`~momentor.export.parity.ParityError`) and nothing is renamed into place. Folders are written under a
temporary name and renamed, so a killed export never looks complete.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import torch
from torch import nn

from momentor.config import Config, ExportConfig
from momentor.export.graphs import EncoderGraph, FrameEmbedderGraph, InfusionGraph, export_graph, graph_files
from momentor.export.metadata import (
    FORMAT,
    GRAPH_FILES,
    ExportFolderError,
    graph_signature,
    read_metadata,
    weights_sha256,
    write_metadata,
)
from momentor.export.parity import ParityError, batch_parity, failures, parity_frames, retrieval_parity
from momentor.export.runtime import OnnxFrameEncoder, open_session
from momentor.hashing import file_sha256
from momentor.model.encoder import EncoderSpec, FrameEncoder

log = logging.getLogger(__name__)


def _run(session):
    """array -> array through a one-input, one-output session."""
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: np.ascontiguousarray(x, dtype=np.float32)})[0]


def _torch(twin: nn.Module):
    return lambda x: twin(torch.from_numpy(x)).float().numpy()


class _Writer:
    """Exports graphs into one folder, checks each against PyTorch, and gathers the metadata."""

    def __init__(self, folder: Path, cfg: ExportConfig, encoder: FrameEncoder):
        self.folder, self.cfg, self.encoder = folder, cfg, encoder
        self.graphs: dict[str, dict] = {}
        self.parity: dict[str, dict] = {}
        self.sessions: dict = {}
        size = encoder.image_size
        with torch.inference_mode():
            self.pixels = {
                b: encoder.preprocess(parity_frames(b, size, seed=b)).numpy()
                for b in sorted(set(cfg.parity_batch_sizes))
            }  # b -> (b, 3, s, s)
            self.example = encoder.preprocess(
                parity_frames(2, size, seed=0)
            )  # (2, 3, s, s): batch 1 would be fixed

    def add(
        self, name: str, twin: nn.Module, example: torch.Tensor, inputs: dict, run_torch=None, run_onnx=None
    ):
        """Export ``twin`` as graph ``name`` and measure its parity on ``inputs`` (batch -> array)."""
        path = export_graph(twin, example, self.folder / GRAPH_FILES[name], self.cfg.opset)
        session = self.sessions[name] = open_session(path, self.cfg.device)
        self.parity[name] = batch_parity(
            run_onnx or _run(session), run_torch or _torch(twin), inputs, self.cfg.atol, self.cfg.rtol
        )
        self.graphs[name] = {**self._entry(name), "parity": self.parity[name]}
        log.info("exported %s: parity %s", path.name, "ok" if self.parity[name]["ok"] else "FAILED")

    def _entry(self, name: str) -> dict:
        path = self.folder / GRAPH_FILES[name]
        digest = hashlib.sha256("".join(file_sha256(p) for p in graph_files(path)).encode()).hexdigest()
        return {"file": path.name, **graph_signature(path), "sha256": digest}

    def add_int8(self) -> dict:
        """Quantise the encoder graph; keep it only if it passes the quality floors. Returns the report."""
        from momentor.assets import AssetError
        from momentor.data.quarantine import BadInput
        from momentor.export.quantize import (
            CALIBRATION_CLIPS,
            EVALUATION_CLIPS,
            EVALUATION_FRAMES_PER_CLIP,
            clip_pixels,
            quantize_int8,
        )

        report = {
            "min_cosine": self.cfg.int8_min_cosine,
            "min_top5_retrieval": self.cfg.int8_min_top5_retrieval,
        }
        s = self.encoder.image_size
        try:
            calibration = clip_pixels(
                self.encoder.preprocess, s, CALIBRATION_CLIPS, self.cfg.int8_calibration_frames
            )
            held_out = clip_pixels(self.encoder.preprocess, s, EVALUATION_CLIPS, EVALUATION_FRAMES_PER_CLIP)
        except (AssetError, BadInput) as err:  # the export stays usable without its optional variant
            return {**report, "kept": False, "reason": f"no real frames to calibrate on: {err}"}
        path = self.folder / GRAPH_FILES["encoder_int8"]
        quantize_int8(self.folder / GRAPH_FILES["encoder"], path, EncoderGraph.input_names[0], calibration)
        int8 = open_session(path, self.cfg.device)
        quality = retrieval_parity(_run(self.sessions["encoder"])(held_out), _run(int8)(held_out))
        kept = (
            quality["cosine_mean"] >= report["min_cosine"]
            and quality["top5_retrieval"] >= report["min_top5_retrieval"]
        )
        report.update(kept=kept, calibration_clips=list(CALIBRATION_CLIPS), evaluation_clips=list(EVALUATION_CLIPS),
                      calibration_frames=len(calibration), **quality)  # fmt: skip
        if kept:
            self.graphs["encoder_int8"] = {**self._entry("encoder_int8"), "retrieval_parity": quality}
        else:
            report["reason"] = (
                "below a quality floor (export.int8_min_cosine / export.int8_min_top5_retrieval)"
            )
            for p in graph_files(path):
                p.unlink()
        log.info("int8 encoder: cosine %.4f, top-5 retrieval %.3f -> %s", quality["cosine_mean"],
                 quality["top5_retrieval"], "kept" if kept else "dropped")  # fmt: skip
        return report

    def metadata(self, **fields) -> dict:
        import onnx
        import onnxruntime as ort
        import onnxscript

        encoder = self.encoder
        first = next(iter(self.sessions.values()))
        int8 = fields.pop("int8")
        return {
            "format": FORMAT,
            **fields,
            "encoder_id": encoder.spec.id,
            "encoder_spec": dataclasses.asdict(encoder.spec),
            "input": {
                "name": "pixels",
                "layout": "NCHW",
                "dtype": "float32",
                "size": encoder.image_size,
                "mean": encoder.mean.flatten().tolist(),
                "std": encoder.std.flatten().tolist(),
                "preprocessing": "uint8 RGB / 255, short side resized to size (bicubic, antialiased), centre crop, "
                "(x - mean) / std: momentor.model.encoder.FrameEncoder.preprocess",
            },
            "opset": self.cfg.opset,
            "exporter": {
                "api": "torch.onnx.export(dynamo=True)",
                "torch": torch.__version__,
                "onnxscript": onnxscript.__version__,
                "onnx": onnx.__version__,
            },
            "parity_runtime": {
                "onnxruntime": ort.__version__,
                "device": self.cfg.device,
                "provider": first.get_providers()[0],
            },
            "graphs": self.graphs,
            "int8": int8,
        }

    def finish(self, target: Path, metadata: dict, keep_existing: bool = False) -> Path:
        """Write the metadata, fail on a parity failure, and rename the folder into place.

        ``keep_existing``: keep a complete export of the same encoder that another process installed meanwhile.
        """
        write_metadata(self.folder, metadata)
        bad = failures(self.parity)
        if bad:
            raise ParityError(
                "ONNX Runtime does not match PyTorch within the tolerance: "
                + "; ".join(bad)
                + f". Nothing was "
                f"installed; the graphs and metadata are in {self.folder}. Check the exporter versions, or widen "
                "export.atol / export.rtol if the error is float rounding of a larger model"
            )
        if keep_existing and _complete(target, self.encoder.spec):
            shutil.rmtree(self.folder, ignore_errors=True)
            return target
        return _install(self.folder, target)


def _install(partial: Path, target: Path) -> Path:
    old = target.with_name(target.name + ".old")
    if target.exists():
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    partial.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target


@contextlib.contextmanager
def _partial(target: Path):
    """A fresh temporary folder beside ``target``; removed on failure, except a parity failure (kept to inspect)."""
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        yield partial
    except ParityError:
        raise
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def export_model(cfg: Config, out: str | Path, checkpoint: str | Path | None = None) -> dict:
    """Export encoder, frame embedder and infusion of a checkpoint (or of the seeded initial model).

    Args:
        cfg: the config; its ``export`` section decides opset, tolerance, device and the int8 variant.
        out: the export folder (replaced if it exists).
        checkpoint: a checkpoint folder; None exports the model ``build_model(cfg.model, cfg.seed)`` builds.

    Returns:
        The metadata written to ``out/metadata.json``.
    """
    from momentor.model import pretrained
    from momentor.model.builders import build_model, preset_spec

    if checkpoint is not None:
        model, model_cfg = pretrained.load(checkpoint, with_encoder=True)  # a release or a checkpoint
    else:
        model, model_cfg = build_model(cfg.model, seed=cfg.seed, with_encoder=True), cfg
    model.eval()
    spec = preset_spec(model_cfg.model)
    with _partial(Path(out)) as partial:
        writer = _Writer(partial, cfg.export, model.encoder)
        writer.add("encoder", EncoderGraph(model.encoder), writer.example, writer.pixels)
        twin = FrameEmbedderGraph(model.encoder, model.projection)
        writer.add("frame_embedder", twin, writer.example, writer.pixels)
        hashes = {"encoder": weights_sha256(model.encoder), "projection": weights_sha256(model.projection)}
        if model.use_temporal_tokens:  # the text-timestamp baseline has no temporal tokens to infuse
            hashes["infusion"] = _add_infusion(writer, model, spec.num_frames)
        int8 = writer.add_int8() if cfg.export.int8 else {"kept": False, "reason": "export.int8 is false"}
        metadata = writer.metadata(
            preset=model_cfg.model.preset,
            checkpoint=str(checkpoint) if checkpoint is not None else None,
            seed=model_cfg.seed,
            num_frames=spec.num_frames,
            num_temporal_tokens=spec.num_temporal_tokens,
            timestamps=model_cfg.model.timestamps,
            feature_dim=model.projection.in_features,
            embed_dim=model.projection.out_features,
            weights_sha256=hashes,
            int8=int8,
        )
        writer.finish(Path(out), metadata)
    return metadata


def _add_infusion(writer: _Writer, model, m: int) -> str:
    """Export the infusion of m frames and check it end to end; returns the hash of its table."""
    pixels = writer.pixels[max(writer.pixels)]  # (u, 3, s, s)
    with torch.no_grad():
        tables = model.tables()
        twin = InfusionGraph(model.temporal.frame_infusion(m, tables))  # table (m, d)
        features = model.encoder.embed(torch.from_numpy(pixels))  # (u, f)
    embeddings = _run(writer.sessions["frame_embedder"])(pixels)  # (u, d)
    # frame j of video i is parity frame (i·m + j) mod u: the u frames are encoded once, as every graph
    # before the infusion works frame by frame
    videos = {b: np.arange(b * m) % len(pixels) for b in (1, 2)}  # b videos -> frame indices (b·m,)

    def run_torch(idx):  # Momentor.frame_embeddings itself: W·f + b + ½(Ẽ_in[m] + Ẽ_out[m])
        return (
            model.frame_embeddings(features[idx].reshape(-1, m, features.shape[-1]), tables).float().numpy()
        )

    def run_onnx(idx):  # (b, m, d) from the two graphs in a row
        return _run(writer.sessions["infusion"])(embeddings[idx].reshape(-1, m, embeddings.shape[-1]))

    example = torch.from_numpy(embeddings[videos[2]].reshape(2, m, -1))  # (2, m, d)
    writer.add("infusion", twin, example, videos, run_torch, run_onnx)
    return weights_sha256(twin)


def encoder_export_dir(cfg: Config) -> Path:
    """The cache folder of the encoder export of ``cfg``: keyed by encoder id (and seed for random weights)."""
    from momentor.model.builders import encoder_spec

    spec = encoder_spec(cfg.model)
    seed = cfg.seed if spec.tiny else "-"  # random tiny weights depend on the seed, real ones do not
    key = f"{spec.id}|seed={seed}|opset={cfg.export.opset}|torch={torch.__version__}"
    return Path(cfg.paths.cache).expanduser() / "onnx" / hashlib.sha256(key.encode()).hexdigest()[:16]


def export_encoder(cfg: Config, out: str | Path, int8: bool = False, keep_existing: bool = False) -> dict:
    """Export only the frame encoder of ``cfg``'s preset (``encoder.onnx``, and ``encoder_int8.onnx`` if asked
    for and good enough) into ``out``; no LLM is loaded. Returns the metadata."""
    from momentor.model.builders import encoder_spec
    from momentor.model.encoder import build_encoder

    encoder = build_encoder(encoder_spec(cfg.model), seed=cfg.seed)
    with _partial(Path(out)) as partial:
        writer = _Writer(partial, cfg.export, encoder)
        writer.add("encoder", EncoderGraph(encoder), writer.example, writer.pixels)
        metadata = writer.metadata(
            preset=cfg.model.preset, checkpoint=None, seed=cfg.seed, feature_dim=encoder.dim,
            weights_sha256={"encoder": weights_sha256(encoder)},
            int8=writer.add_int8() if int8 else {"kept": False, "reason": "not asked for (encoder-only export)"},
        )  # fmt: skip
        writer.finish(Path(out), metadata, keep_existing=keep_existing)
    return metadata


def ensure_encoder_export(cfg: Config) -> Path:
    """The folder of ``encoder.onnx`` for ``cfg``'s preset, exported into the cache on first use."""
    from momentor.model.builders import encoder_spec

    folder = encoder_export_dir(cfg)
    spec: EncoderSpec = encoder_spec(cfg.model)
    if not _complete(folder, spec):  # missing, or broken: exported (again)
        log.info("exporting the %s encoder to ONNX once, into %s", spec.id, folder)
        export_encoder(cfg, folder, keep_existing=True)  # two processes may race here: the first one wins
    return folder


def cached_encoder(cfg: Config) -> OnnxFrameEncoder:
    """The fp32 ONNX encoder of ``cfg``'s preset (feature extraction's ``onnx`` backend), exported on first use."""
    return OnnxFrameEncoder(ensure_encoder_export(cfg), device=cfg.export.device)


def _complete(folder: Path, spec: EncoderSpec) -> bool:
    try:
        return read_metadata(folder)["encoder_id"] == spec.id
    except ExportFolderError:
        return False
