"""How close an exported graph comes to PyTorch: elementwise for fp32, by retrieval quality for int8.

fp32 parity is the ``np.allclose`` rule, ``|ort − torch| <= atol + rtol·|torch|`` (``export.atol``,
``export.rtol``), checked per batch size (``export.parity_batch_sizes``) so that the dynamic batch axis is
exercised; the largest absolute and relative errors and the smallest cosine similarity are recorded too.

int8 cannot meet an elementwise tolerance; what it must keep is what the features are used for, finding
similar frames. :func:`retrieval_parity` compares int8 features to fp32 ones on real frames: cosine similarity
per frame, and for each frame whether its nearest other frame (by cosine) is the same under both
(``top1_agreement``; a strict figure, as neighbouring frames of a video are near-ties) or lies within the int8
top 5 (``top5_retrieval``).
"""

from __future__ import annotations

import numpy as np
import torch


class ParityError(AssertionError):
    """An exported graph whose outputs differ from PyTorch beyond the tolerance."""


def parity_frames(batch: int, size: int, seed: int) -> torch.Tensor:
    """Seeded uint8 frames (b, h, w, 3), larger than ``size`` and not square, so the resize and the crop run."""
    generator = torch.Generator().manual_seed(seed)
    h, w = size + size // 4, size + size // 2
    return torch.randint(0, 256, (batch, h, w, 3), dtype=torch.uint8, generator=generator)


def compare(reference: np.ndarray, output: np.ndarray, atol: float, rtol: float) -> dict:
    """Elementwise agreement of ``output`` with ``reference`` (same shape, (b, ..., d))."""
    if reference.shape != output.shape:
        return {"ok": False, "reason": f"shape {list(output.shape)} != torch {list(reference.shape)}"}
    reference, output = reference.astype(np.float64), output.astype(np.float64)
    error = np.abs(output - reference)
    flat_ref, flat_out = reference.reshape(-1, reference.shape[-1]), output.reshape(-1, output.shape[-1])
    cosine = (flat_ref * flat_out).sum(1) / (
        np.linalg.norm(flat_ref, axis=1) * np.linalg.norm(flat_out, axis=1) + 1e-12
    )
    return {
        "ok": bool(np.all(error <= atol + rtol * np.abs(reference))),
        "max_abs_error": float(error.max()),
        "max_rel_error": float((error / (np.abs(reference) + 1e-6)).max()),
        "max_abs_value": float(np.abs(reference).max()),
        "min_cosine": float(cosine.min()),
    }


def batch_parity(run_onnx, run_torch, inputs: dict[int, np.ndarray], atol: float, rtol: float) -> dict:
    """Parity of ``run_onnx`` against ``run_torch`` (each: array -> array) for each batch of ``inputs``.

    Returns ``{"ok", "atol", "rtol", "batches": {b: compare(...)}}``.
    """
    batches = {}
    for b, array in inputs.items():
        with torch.inference_mode():
            reference = np.asarray(run_torch(array))
        batches[str(b)] = compare(reference, np.asarray(run_onnx(array)), atol, rtol)
    return {"ok": all(r["ok"] for r in batches.values()), "atol": atol, "rtol": rtol, "batches": batches}


def failures(parity: dict[str, dict]) -> list[str]:
    """One line per graph and batch whose parity failed, naming the error and the tolerance."""
    lines = []
    for graph, result in parity.items():
        for b, r in result["batches"].items():
            if not r["ok"]:
                detail = (
                    r.get("reason")
                    or f"max |error| {r['max_abs_error']:.3g} (values up to {r['max_abs_value']:.3g})"
                )
                lines.append(
                    f"{graph} at batch {b}: {detail}, tolerance atol={result['atol']} rtol={result['rtol']}"
                )
    return lines


def _unit(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-12)


def retrieval_parity(reference: np.ndarray, variant: np.ndarray) -> dict:
    """How well ``variant`` features (n, d) keep the frame retrieval of ``reference`` features (n, d)."""
    if len(reference) < 6:
        raise ValueError(f"retrieval parity needs at least 6 frames, got {len(reference)}")
    ref, var = _unit(reference), _unit(variant)
    cosine = (ref * var).sum(1)  # (n,)
    sim_ref, sim_var = ref @ ref.T, var @ var.T  # (n, n)
    np.fill_diagonal(sim_ref, -np.inf)  # a frame does not retrieve itself
    np.fill_diagonal(sim_var, -np.inf)
    nearest = sim_ref.argmax(1)  # (n,)
    top5 = np.argsort(-sim_var, axis=1)[:, :5]  # (n, 5)
    return {
        "frames": len(ref),
        "cosine_mean": float(cosine.mean()),
        "cosine_min": float(cosine.min()),
        "top1_agreement": float((nearest == sim_var.argmax(1)).mean()),
        "top5_retrieval": float((top5 == nearest[:, None]).any(1).mean()),
    }
