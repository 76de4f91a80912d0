"""``momentor serve``: load the champion (or any released model) once and answer over HTTP until stopped."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub, common) -> None:
    p = sub.add_parser("serve", parents=[common], help="serve a model over HTTP (FastAPI; /docs lists the endpoints)")
    p.add_argument("--model", default=None,
                   help="released model, checkpoint or training run folder (default: serve.model, else the champion)")
    p.add_argument("--host", default=None, help="default: serve.host")
    p.add_argument("--port", type=int, default=None, help="default: serve.port")
    p.set_defaults(handler=serve)


def model_source(cfg, model: str | None) -> Path:
    """What to serve: ``--model``, else ``serve.model``, else the champion; a champion folder (a release)
    gives its model."""
    from momentor.eval.champion import exists, model_folder

    path = Path(model or cfg.serve.model or Path(cfg.paths.work) / "champion")
    return model_folder(path) if exists(path) else path


def serve(args: argparse.Namespace) -> int:
    from momentor.train.launch import passive_thread_waits

    passive_thread_waits()  # before torch is imported
    import uvicorn

    from momentor.cli import load_config
    from momentor.serve.app import create_app

    cfg = load_config(args)
    settings = cfg.serve.model_copy(update={k: v for k, v in (("host", args.host), ("port", args.port)) if v})
    app = create_app(model_source(cfg, args.model), settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
    return 0
