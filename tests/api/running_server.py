"""``momentor serve``'s app on uvicorn in a thread, on a free port: real HTTP on 127.0.0.1 (tests, benchmark)."""

from __future__ import annotations


class RunningServer:
    """``momentor serve``'s app on uvicorn in a thread, on a free port: real HTTP on 127.0.0.1."""

    def __init__(self, app):
        import socket
        import threading

        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        import time

        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        return self

    def wait_ready(self, timeout: float = 120) -> None:
        import time

        import httpx

        deadline = time.monotonic() + timeout
        while httpx.get(f"{self.url}/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the model did not load"
            time.sleep(0.1)

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=30)
