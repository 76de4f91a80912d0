"""A local HTTP server that answers the few KFP REST v2beta1 calls of ``kfp.Client`` and records them.

No KFP backend runs on this machine; this server is the far end of the real ``kfp.Client`` code path
(healthz, experiments, runs create/get), so a test can assert what a submit actually sends.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

RUN_ID = "5f0c1d9e-run"
CREATED = "2026-11-24T03:00:00Z"
EXPERIMENT_ID = "a1b2c3-experiment"


class KfpApiServer:
    """``with KfpApiServer(branch="promote") as server: kfp.Client(host=server.url)``; ``server.requests``."""

    def __init__(self, branch: str = "promote", final_state: str = "SUCCEEDED", running_polls: int = 0):
        """``running_polls``: how many GETs of the run answer RUNNING before it reaches ``final_state``."""
        self.branch, self.final_state, self.running_polls = branch, final_state, running_polls
        self.requests: list[dict] = []
        self.experiments: list[dict] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> KfpApiServer:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def calls(self, method: str, path_pattern: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == method and re.fullmatch(path_pattern, r["path"])]

    def _answer(self, method: str, path: str, body: dict | None) -> tuple[int, dict]:
        if path == "/apis/v2beta1/healthz":
            return 200, {"multi_user": False, "commit_sha": "test", "tag_name": "2.5.0"}
        if path == "/apis/v2beta1/experiments" and method == "GET":
            return 200, {"experiments": self.experiments, "total_size": len(self.experiments)}
        if path == "/apis/v2beta1/experiments" and method == "POST":
            experiment = {**body, "experiment_id": EXPERIMENT_ID, "storage_state": "AVAILABLE", "created_at": CREATED}
            self.experiments.append(experiment)
            return 200, experiment
        if path == "/apis/v2beta1/runs" and method == "POST":
            return 200, {**body, "run_id": RUN_ID, "state": "PENDING", "created_at": CREATED}
        if path == f"/apis/v2beta1/runs/{RUN_ID}" and method == "GET":
            # the report runs on both branches; promote only when the gate passed
            tasks = [{"display_name": "gate", "state": "SUCCEEDED"},
                     {"display_name": "report", "state": "SUCCEEDED"},
                     {"display_name": "promote", "state": "SUCCEEDED" if self.branch == "promote" else "SKIPPED"}]
            polls = len(self.calls("GET", path))  # this request included
            if polls <= self.running_polls:
                return 200, {"run_id": RUN_ID, "state": "RUNNING", "created_at": CREATED,
                             "run_details": {"task_details": tasks[:1]}}
            return 200, {"run_id": RUN_ID, "state": self.final_state, "created_at": CREATED,
                         "run_details": {"task_details": tasks}}
        return 404, {"error": f"{method} {path} is not answered by this test server", "code": 5}

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                server.requests.append({"method": method, "path": url.path, "query": parse_qs(url.query),
                                        "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                status, answer = server._answer(method, url.path, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802 (http.server's names)
                self._serve("GET")

            def do_POST(self):  # noqa: N802
                self._serve("POST")

            def log_message(self, *args):  # keep the test output quiet
                pass

        return Handler
