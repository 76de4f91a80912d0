"""The exportable twins of the model's parts, and the one function that turns a twin into a checked ONNX file.

Each twin is a plain ``nn.Module`` whose ``forward`` takes and returns tensors only, built from the *same*
modules the model runs (no copy of any weight or formula): the graph and the model cannot drift apart.

Exporter: ``torch.onnx.export(..., dynamo=True)``, the default of torch 2.13 (``torch.export`` + onnxscript).
Both exporters give fp32 parity to ~1e-5 here; the dynamo one is kept because the TorchScript one is
deprecated (it warns on every call), and because its graph is already optimised (batch norms folded: 92
nodes for EfficientNet-Lite0 against 448) and names every axis (the TorchScript one left the feature width
of the CLIP graph symbolic). Its cost is speed: ~6 s for the first export in a process, ~2 s after.
EfficientNet-Lite0 needs no patching: it uses ReLU6, not the MemoryEfficientSwish autograd function of the
larger EfficientNets (so ``net.set_swish(memory_efficient=False)`` must *not* be called: it would replace
the ReLU6 by Swish), and its static-same-padding convolutions pad by a constant fixed at 224 px, which does
not depend on the batch axis.

Legend: b batch, m frames, s image side, f feature width, d LLM width.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from momentor.model.encoder import FrameEncoder
from momentor.model.momentor import FrameProjection


class EncoderGraph(nn.Module):
    """Normalised pixels (b, 3, s, s) -> frame features (b, f): what feature extraction computes."""

    input_names = ("pixels",)
    output_names = ("features",)

    def __init__(self, encoder: FrameEncoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.encoder.embed(pixels).float()  # (b, f)


class FrameEmbedderGraph(nn.Module):
    """Normalised pixels (b, 3, s, s) -> projected frame embeddings W·f + b, rescaled under frame_norm (b, d)."""

    input_names = ("pixels",)
    output_names = ("embeddings",)

    def __init__(self, encoder: FrameEncoder, projection: FrameProjection):
        super().__init__()
        self.encoder, self.projection = encoder, projection

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        features = self.encoder.embed(pixels)  # (b, f)
        return self.projection(features)  # (b, d)


class InfusionGraph(nn.Module):
    """Frame embeddings (b, m, d) -> LLM inputs (b, m, d): adds ½(Ẽ_in[m] + Ẽ_out[m]) to frame m.

    ``infusion`` is ``TemporalPerception.frame_infusion(m, tables)`` (m, d), computed by the model itself
    (interpolated on the token grid when M ≠ N); NTP leaves the tables' values unchanged, so it is a constant.
    """

    input_names = ("frame_embeddings",)
    output_names = ("llm_inputs",)

    def __init__(self, infusion: torch.Tensor):
        super().__init__()
        self.register_buffer("infusion", infusion.detach().float().clone())  # (m, d)

    def forward(self, frame_embeddings: torch.Tensor) -> torch.Tensor:
        return frame_embeddings + self.infusion  # (b, m, d)


@contextlib.contextmanager
def quiet_logs(*names: str):
    """Silence the per-call chatter of the exporter and the quantiser below ERROR, for these loggers only.

    The name ``root`` stands for records logged on the root logger itself (``logging.info(...)``, which
    ONNX Runtime's quantiser uses); records of other loggers that merely propagate to it are kept.
    """
    root = logging.getLogger()
    below_error = logging.Filter()
    below_error.filter = lambda record: record.levelno >= logging.ERROR  # type: ignore[method-assign]
    loggers = [
        logging.getLogger(name) for name in names if name != "root"
    ]  # their children inherit the level
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    if "root" in names:
        root.addFilter(
            below_error
        )  # a logger's filter sees only the records logged on it, not propagated ones
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.export's own deprecations, not ours to fix
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
        root.removeFilter(below_error)


EXPORTER_LOGGERS = ("torch.onnx", "torch.export", "torch._export", "onnxscript", "onnx_ir")


def export_graph(twin: nn.Module, example: torch.Tensor, path: Path, opset: int) -> Path:
    """Export ``twin`` to ``path`` with a dynamic batch axis (axis 0 of its input) and run ``onnx.checker``.

    Args:
        twin: one of the twins above, in eval mode.
        example: an example input with a batch of at least 2 (a batch of 1 would be specialised away).
        path: the ``.onnx`` file to write; weights over 2 GB go to ``<path>.data`` beside it.
        opset: the default-domain opset.
    """
    import onnx

    if example.shape[0] < 2:
        raise ValueError(
            f"export example batch must be >= 2 (got {example.shape[0]}), or axis 0 is fixed to it"
        )
    twin.eval()
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    with quiet_logs(*EXPORTER_LOGGERS), torch.no_grad():
        program = torch.onnx.export(
            twin,
            (example,),
            dynamo=True,
            opset_version=opset,
            input_names=twin.input_names,
            output_names=twin.output_names,
            dynamic_shapes={twin.input_names[0]: {0: batch}},
            verbose=False,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    program.save(str(path))  # external data only when over the 2 GB protobuf limit
    onnx.checker.check_model(str(path), full_check=True)  # a path, so that external data is checked too
    return path


def graph_files(path: Path) -> list[Path]:
    """The ONNX file and its external-data file when it has one."""
    return [p for p in (path, path.with_name(path.name + ".data")) if p.exists()]
