"""``momentor serve``: the model loaded once, answering the paper's tasks over HTTP (FastAPI on uvicorn).

Endpoints (``/docs`` has the OpenAPI page):

- ``GET /healthz``: the process is alive (liveness); answers while the model loads.
- ``GET /readyz``: 200 once the model is loaded, 503 before (readiness: no traffic until then).
- ``GET /v1/model``: what is served (preset, source, the release it was loaded from, the card's metadata).
- ``POST /v1/grounding`` (``video`` file, ``query``), ``/v1/captions`` (``video``), ``/v1/highlights``
  (``video``, ``query``), ``/v1/segments`` (``video``, ``labels``: a JSON list), ``/v1/ask`` (``video``,
  ``question``): multipart forms; JSON answers in seconds.

Bad requests get a 4xx whose ``detail`` names what is wrong and what to send: a missing field or an empty or
too long query (422), a video the decoder cannot read (422, the decoder's reason), an upload over
``serve.max_upload_mb`` (413, refused from its Content-Length before it is read, or once the stream passes the
limit). Concurrency is bounded: ``serve.concurrency`` answers are generated at once, ``serve.queue`` requests
may wait for a slot, and the next get 503 with ``Retry-After`` at once (a load balancer retries elsewhere),
rather than piling up until every client times out. A promotion reaches the server by itself: serving the
champion, it loads the new release when the champion's link moves (:mod:`momentor.serve.served`).

Why FastAPI and not KServe's model server: our requests are a video file plus a sentence and our answers are
typed JSON (windows, events, labels); the Open Inference Protocol's tensor-in/tensor-out form would carry them
as opaque BYTES tensors and lose the per-field validation and errors above. FastAPI validates with pydantic
(the library of our config), documents the API itself, and is already in the dependency set. KServe can still
run this container as a custom predictor (any HTTP server); the chart's ``serve`` Deployment runs it directly.
"""

# no `from __future__ import annotations`: FastAPI reads the endpoints' annotations, which use local names

import asyncio
import contextlib
import json
import logging
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, File, Form, HTTPException, UploadFile
from fastapi.responses import JSONResponse

from momentor.api.results import as_dict
from momentor.config.serving import ServeConfig
from momentor.data.quarantine import BadInput
from momentor.serve.limits import Busy, Slots, UploadLimit
from momentor.serve.served import Served

log = logging.getLogger(__name__)


def create_app(source: str | Path, settings: ServeConfig | None = None, load=None) -> FastAPI:
    """The app serving the model at ``source`` (any folder ``Momentor.from_pretrained`` takes)."""
    settings = settings or ServeConfig()
    served = Served(source, load, settings.reload_seconds)
    slots = Slots(settings.concurrency, settings.queue)
    # the answers run on these threads only: torch's OpenMP thread team is per calling thread, so a fixed
    # set of threads reuses its teams instead of starting new ones on whichever pool thread is free
    workers = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="momentor-answer")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        served.start()
        yield
        served.stop()
        workers.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="momentor", summary="Momentor: when things happen in a video", lifespan=lifespan)
    app.add_middleware(UploadLimit, max_bytes=int(settings.max_upload_mb * 1e6))
    Query = Annotated[str, Form(min_length=1, max_length=settings.max_query_chars)]
    Video = Annotated[UploadFile, File(description="the video file (any container PyAV reads)")]

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "alive"}

    @app.get("/readyz")
    def readyz():
        if served.model is None:
            state = {"status": "failed", "error": served.error} if served.error else {"status": "loading"}
            return JSONResponse(state, status_code=503)
        return {"status": "ready"}

    @app.get("/v1/model")
    def model_info() -> dict:
        model = _ready(served)
        card = Path(model.source) / "README.md"
        meta = {}
        if card.is_file():
            from momentor.model.card import read_card_metadata

            with contextlib.suppress(ValueError):
                meta = read_card_metadata(card)
        return {"source": str(model.source), "loaded_from": served.target, "preset": model.config.model.preset,
                "card": meta, "reload_error": served.error}

    async def answer(video: UploadFile, call):
        model = _ready(served)
        try:
            async with slots.take():
                with tempfile.TemporaryDirectory(prefix="momentor-serve-") as tmp:
                    path = Path(tmp) / Path(video.filename or "video").name
                    with path.open("wb") as f:
                        await asyncio.to_thread(shutil.copyfileobj, video.file, f)
                    answered = await asyncio.get_running_loop().run_in_executor(workers, call, model, path)
                    return as_dict(answered)
        except Busy as err:
            raise HTTPException(503, str(err), headers={"Retry-After": "1"}) from None
        except BadInput as err:
            raise HTTPException(422, f"{video.filename}: {err}") from None

    @app.post("/v1/grounding")
    async def grounding(video: Video, query: Query) -> dict:
        return {"windows": await answer(video, lambda m, p: m.ground(p, query))}

    @app.post("/v1/captions")
    async def captions(video: Video) -> dict:
        return {"events": await answer(video, lambda m, p: m.caption(p))}

    @app.post("/v1/highlights")
    async def highlights(video: Video, query: Query) -> dict:
        return await answer(video, lambda m, p: m.highlights(p, query))

    @app.post("/v1/segments")
    async def segments(video: Video, labels: Annotated[str, Form(description='JSON list: ["pour milk", ...]')]):
        return {"segments": await answer(video, lambda m, p: m.segment(p, _labels(labels)))}

    @app.post("/v1/ask")
    async def ask(video: Video, question: Query) -> dict:
        text, times = await answer(video, lambda m, p: m.ask(p, question))
        return {"answer": text, "timestamps": times}

    return app


def _ready(served: Served):
    if served.model is None:
        raise HTTPException(503, f"the model is not loaded ({served.error or 'still loading'})",
                            headers={"Retry-After": "5"})
    return served.model


def _labels(text: str) -> list[str]:
    try:
        labels = json.loads(text)
    except json.JSONDecodeError:
        labels = None
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x.strip() for x in labels):
        raise HTTPException(422, f"labels {text[:80]!r}: send a JSON list of non-empty strings, e.g. "
                                 '["pour milk", "stir"]')
    return labels
