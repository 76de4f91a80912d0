"""The ``momentor export`` verb."""

from __future__ import annotations

import json


def register(sub, common) -> None:
    p = sub.add_parser(
        "export",
        parents=[common],
        help="export the frame encoder, projection and temporal infusion as ONNX, with parity checks",
        description="Writes encoder.onnx, frame_embedder.onnx, infusion.onnx (and encoder_int8.onnx when it keeps "
        "retrieval quality) with a dynamic batch axis, plus metadata.json with the parity measured against PyTorch.",
    )
    p.add_argument("--checkpoint", default=None, help="checkpoint folder (default: the seeded initial model)")
    p.add_argument("--out", default=None, help="export folder (default: <paths.work>/export)")
    p.set_defaults(handler=run_export)


def run_export(args) -> int:
    from pathlib import Path

    from momentor.cli import load_config
    from momentor.export.onnx_export import export_model

    cfg = load_config(args)
    out = Path(args.out) if args.out else Path(cfg.paths.work) / "export"
    from momentor.folder_lock import hold

    with hold(out, "export"):
        metadata = export_model(cfg, out, checkpoint=args.checkpoint)
    summary = {
        "folder": str(out),
        "preset": metadata["preset"],
        "encoder_id": metadata["encoder_id"],
        "provider": metadata["parity_runtime"]["provider"],
        "graphs": {
            name: max(r["max_abs_error"] for r in g["parity"]["batches"].values())
            if "parity" in g
            else "int8"
            for name, g in metadata["graphs"].items()
        },
        "int8": {k: metadata["int8"].get(k) for k in ("kept", "cosine_mean", "top5_retrieval", "reason")},
    }
    print(json.dumps(summary, indent=2))
    return 0
