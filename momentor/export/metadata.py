"""``metadata.json`` of an export folder: what each graph is, what it expects, and how close it came to PyTorch.

An export folder holds up to four graphs, each with a dynamic batch axis::

    encoder.onnx          pixels (b, 3, s, s) -> features (b, f)          what feature extraction uses
    frame_embedder.onnx   pixels (b, 3, s, s) -> embeddings (b, d)        W·f + b, the trained projection (+ frame_norm)
    infusion.onnx         frame_embeddings (b, m, d) -> llm_inputs (b, m, d)   + ½(Ẽ_in[m] + Ẽ_out[m])
    encoder_int8.onnx     like encoder.onnx, static int8 (only when it keeps retrieval quality)

``metadata.json`` beside them records the preset, the encoder (its id and spec), the input normalisation
(mean, std, size: the graphs take *normalised* pixels, so a consumer must know them), the opset and exporter,
SHA-256 hashes of the weights and of each file, each graph's input and output names and shapes, and the
parity measured at export. Legend: b batch, m frames, s image side, f feature width, d LLM width.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import nn

METADATA = "metadata.json"
FORMAT = "momentor-onnx-v1"
#: graph name -> file name
GRAPH_FILES = {
    "encoder": "encoder.onnx",
    "frame_embedder": "frame_embedder.onnx",
    "infusion": "infusion.onnx",
    "encoder_int8": "encoder_int8.onnx",
}


class ExportFolderError(FileNotFoundError):
    """An export folder that is missing, incomplete or of another format; the message says what to do."""


def weights_sha256(*modules: nn.Module) -> str:
    """A hash of every tensor (name, dtype, shape, bytes) of ``modules``: what the graphs were exported from."""
    digest = hashlib.sha256()
    for i, module in enumerate(modules):
        state = module.state_dict()
        for name in sorted(state):
            tensor = state[name].detach().cpu().contiguous()
            digest.update(f"{i}.{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
            digest.update(
                tensor.reshape(-1).view(torch.uint8).numpy().tobytes()
            )  # 0-d too (num_batches_tracked)
    return digest.hexdigest()




def graph_signature(path: Path) -> dict:
    """Input and output names, element types and shapes of an ONNX file (a dynamic axis shows as its name)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)

    def describe(values) -> list[dict]:
        return [
            {
                "name": v.name,
                "dtype": onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type).name,
                "shape": [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim],
            }
            for v in values
        ]

    return {"inputs": describe(model.graph.input), "outputs": describe(model.graph.output)}


def write_metadata(folder: Path, metadata: dict) -> Path:
    path = Path(folder) / METADATA
    path.write_text(json.dumps(metadata, indent=2) + "\n")
    return path


def read_metadata(folder: str | Path) -> dict:
    """The metadata of an export folder; ExportFolderError when it is not one."""
    folder = Path(folder)
    path = folder / METADATA
    if not path.exists():
        raise ExportFolderError(
            f"{folder} is not a momentor ONNX export (no {METADATA}); create one with "
            "`momentor export --out DIR`, or set data.feature_backend=onnx to export the encoder on demand"
        )
    try:
        metadata = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ExportFolderError(f"{path} cannot be read ({err}); export again") from err
    found = metadata.get("format") if isinstance(metadata, dict) else None
    if found != FORMAT:
        raise ExportFolderError(f"{path} has format {found!r}, this momentor reads {FORMAT!r}; export again")
    missing = [info["file"] for info in metadata["graphs"].values() if not (folder / info["file"]).exists()]
    if missing:
        raise ExportFolderError(f"{folder} lacks {', '.join(missing)} listed in its {METADATA}; export again")
    return metadata


def graph_entry(metadata: dict, graph: str) -> dict:
    """The metadata of one graph; a KeyError that lists the graphs the folder has."""
    if graph not in metadata["graphs"]:
        raise KeyError(
            f"this export has no {graph!r} graph (it has {', '.join(sorted(metadata['graphs']))}); "
            + ("int8 was not kept: see metadata.json 'int8'" if graph == "encoder_int8" else "export again")
        )
    return metadata["graphs"][graph]
