"""The server's two limits: how large an upload may be, and how many requests may answer or wait at once."""

from __future__ import annotations

import asyncio
import contextlib
import json

from starlette.exceptions import HTTPException


class Busy(Exception):
    """Every answer slot is taken and the waiting line is full."""


class Slots:
    """``concurrency`` requests answer at once, ``queue`` more may wait; the next are refused at once."""

    def __init__(self, concurrency: int, queue: int):
        self.concurrency, self.queue = concurrency, queue
        self._semaphore: asyncio.Semaphore | None = None
        self.waiting = 0

    @contextlib.asynccontextmanager
    async def take(self):
        if self._semaphore is None:  # created in the server's event loop
            self._semaphore = asyncio.Semaphore(self.concurrency)
        if self._semaphore.locked() and self.waiting >= self.queue:
            raise Busy(f"busy: {self.concurrency} answers in progress and {self.waiting} waiting "
                       f"(serve.concurrency, serve.queue); retry shortly")
        self.waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self.waiting -= 1
        try:
            yield
        finally:
            self._semaphore.release()


class UploadLimit:
    """ASGI middleware: refuse a request body over ``max_bytes`` with 413, whether or not it says its length.

    A declared ``Content-Length`` over the limit is refused before a byte is read; a body without one (chunked)
    is counted as it streams and cut off when it passes the limit, so no oversized upload fills the disk.
    """

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(send, int(declared))
        seen = 0
        started = False

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge(seen, self.message(seen))
            return message

        async def tracked_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _TooLarge as err:
            if not started:
                await self._refuse(send, err.size)

    def message(self, size: int) -> str:
        return (f"upload of {size / 1e6:.1f} MB or more is over the limit of {self.max_bytes / 1e6:g} MB "
                "(serve.max_upload_mb): send a shorter or re-encoded video")

    async def _refuse(self, send, size: int) -> None:
        body = json.dumps({"detail": self.message(size)}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(HTTPException):
    """Raised from the body stream: the app's exception handling answers 413 with the message."""

    def __init__(self, size: int, detail: str):
        super().__init__(413, detail, headers={"Connection": "close"})
        self.size = size
