"""ONNX Runtime sessions whose execution provider is checked, and the exported encoder as a FrameEncoder.

onnxruntime-gpu lists the CUDA and TensorRT providers as available on any machine, and when CUDA is asked for
but cannot run (no GPU, or no CUDA 13 / cuDNN 9 libraries) it falls back to the CPU without failing. So the
provider is never assumed: :func:`open_session` reads back ``session.get_providers()``, the providers the
session really registered, first = the one that runs the graph. ``device="cuda"`` turns a fallback into an
error; ``"auto"`` asks for CUDA only when an NVIDIA device is visible (so CPU machines do not log a failed
CUDA load on every session) and reports what it got.

:class:`OnnxFrameEncoder` has the call interface of :class:`~momentor.model.encoder.FrameEncoder` (uint8
frames (b, h, w, 3) -> (b, d) float32) and reuses its preprocessing: the resize, crop and normalisation run
in :meth:`FrameEncoder.preprocess` itself, with the mean, std and size the export recorded, and only the
network runs in ONNX Runtime. Legend: b batch, s image side, d feature width.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from momentor.export.metadata import graph_entry, read_metadata
from momentor.model.encoder import EncoderSpec, FrameEncoder

log = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
_NVIDIA_DEVICES = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/dxg")  # Linux, containers, WSL


class ProviderError(RuntimeError):
    """The execution provider that was required is not the one the session runs on."""


def gpu_visible() -> bool:
    """Whether an NVIDIA device is visible to this process (the driver's files, not torch: it may be CPU-only)."""
    return any(Path(p).exists() for p in _NVIDIA_DEVICES)


def requested_providers(device: str) -> list:
    """The provider list to ask ONNX Runtime for on ``device`` (``auto``, ``cpu`` or ``cuda``)."""
    import onnxruntime as ort

    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"export device {device!r} is not known; use auto, cpu or cuda")
    if device == "cpu" or (device == "auto" and not gpu_visible()):
        return [CPU]
    if CUDA not in ort.get_available_providers():
        if device == "cuda":
            raise ProviderError(
                f"this onnxruntime build ({ort.__version__}) has no CUDA provider; install onnxruntime-gpu "
                "instead of onnxruntime, or set export.device=cpu"
            )
        return [CPU]
    # TF32 off: the parity recorded at export is fp32 parity, and TF32 convolutions would drift from it
    return [(CUDA, {"use_tf32": "0"}), CPU]


def open_session(path: str | Path, device: str = "auto", threads: int | None = None):
    """An ``InferenceSession`` on ``device`` whose provider is checked (see the module docstring).

    Raises:
        ProviderError: ``device="cuda"`` and the session fell back to the CPU.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    requested = requested_providers(device)
    session = ort.InferenceSession(str(path), options, providers=requested)
    used = session.get_providers()[0]
    asked = requested[0][0] if isinstance(requested[0], tuple) else requested[0]
    if used != asked:
        message = (
            f"{Path(path).name}: ONNX Runtime was asked for {asked} but runs on {used} (no usable GPU, or the "
            "CUDA 13 / cuDNN 9 libraries onnxruntime-gpu needs are not installed)"
        )
        if device == "cuda":
            raise ProviderError(message + "; install them, or set export.device=auto or cpu")
        log.warning("%s; going on with %s", message, used)
    return session


class OnnxFrameEncoder:
    """An exported frame encoder with the interface of FrameEncoder.

    Args:
        folder: an export folder (``momentor export`` or :func:`~momentor.export.onnx_export.ensure_encoder_export`).
        graph: ``encoder`` (fp32) or ``encoder_int8``.
        device: ``auto``, ``cpu`` or ``cuda`` (see :func:`open_session`).

    Attributes:
        provider: the execution provider the session really runs on (``session.get_providers()[0]``).
    """

    def __init__(self, folder: str | Path, graph: str = "encoder", device: str = "auto"):
        self.folder = Path(folder)
        self.metadata = read_metadata(self.folder)
        entry = graph_entry(self.metadata, graph)
        self.spec = EncoderSpec(**self.metadata["encoder_spec"])
        self.dim = int(entry["outputs"][0]["shape"][-1])
        self.input_name, self.output_name = entry["inputs"][0]["name"], entry["outputs"][0]["name"]
        norm = self.metadata["input"]
        self.image_size = int(norm["size"])
        # the torch encoders' own preprocessing, holding only the recorded mean and std (no network weights)
        self.preprocessing = FrameEncoder(self.spec, self.dim, tuple(norm["mean"]), tuple(norm["std"])).eval()
        self.session = open_session(self.folder / entry["file"], device)
        self.provider = self.session.get_providers()[0]

    @classmethod
    def from_export(
        cls, folder: str | Path, graph: str = "encoder", device: str = "auto"
    ) -> OnnxFrameEncoder:
        return cls(folder, graph=graph, device=device)

    def preprocess(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        """uint8 frames (b, h, w, 3) -> normalised pixels (b, 3, s, s)."""
        with torch.inference_mode():
            return self.preprocessing.preprocess(torch.as_tensor(frames))

    def embed(self, pixels: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Normalised pixels (b, 3, s, s) -> features (b, d) float32."""
        array = np.ascontiguousarray(torch.as_tensor(pixels, dtype=torch.float32).numpy())
        return torch.from_numpy(self.session.run([self.output_name], {self.input_name: array})[0])

    def __call__(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        """uint8 frames (b, h, w, 3) -> features (b, d) float32."""
        return self.embed(self.preprocess(frames))

    def __repr__(self) -> str:
        return f"OnnxFrameEncoder({self.spec.id}, {self.folder}, provider={self.provider})"
