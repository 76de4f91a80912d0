"""A local HTTP server that answers the Kubernetes API calls of ``momentor trainjob`` and records them.

No cluster runs on this machine; this server is the far end of the real ``kubernetes`` client code path
(ConfigMap get; TrainJob create, get, delete) and plays the Trainer controller for the TrainJobs created on
it: a created job first holds ``Created``, then after ``running_polls`` reads of it ``Complete`` or
``Failed`` (with ``reason`` and ``message``). ``run``, when given, is called with the created TrainJob before
it completes: a test runs the trainer's args there, as the job's pods would. Use
``write_kubeconfig(path)`` and ``$KUBECONFIG`` to point the client here.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

TRAINJOBS = r"/apis/trainer\.kubeflow\.org/v1alpha1/namespaces/([^/]+)/trainjobs"
CONFIGMAP = r"/api/v1/namespaces/([^/]+)/configmaps/([^/]+)"


class KubeApiServer:
    """``with KubeApiServer(configmaps={("ml", "momentor-trainjob"): {...}}) as server: ...``"""

    def __init__(self, configmaps: dict | None = None, outcome: str = "Complete", running_polls: int = 1,
                 reason: str = "", message: str = "", run: Callable[[dict], None] | None = None,
                 existing: dict | None = None):
        """``existing``: TrainJobs on the cluster already, ``{(namespace, name): object}``."""
        self.configmaps = configmaps or {}
        self.outcome, self.running_polls, self.reason, self.message, self.run = (
            outcome, running_polls, reason, message, run)
        self.jobs: dict[tuple[str, str], dict] = dict(existing or {})
        self.requests: list[dict] = []
        self._polls: dict[tuple[str, str], int] = {key: 0 for key in self.jobs}
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> KubeApiServer:
        serve = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05})
        serve.daemon = True
        serve.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def write_kubeconfig(self, path: Path, namespace: str = "ml") -> Path:
        config = {"apiVersion": "v1", "kind": "Config", "current-context": "test",
                  "clusters": [{"name": "test", "cluster": {"server": self.url}}],
                  "users": [{"name": "test", "user": {}}],
                  "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test",
                                                            "namespace": namespace}}]}
        path.write_text(yaml.safe_dump(config))
        return path

    def calls(self, method: str, path_pattern: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == method and re.fullmatch(path_pattern, r["path"])]

    def _status(self, code: int, reason: str, text: str) -> tuple[int, dict]:
        return code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason,
                      "message": text, "code": code}

    def _answer(self, method: str, path: str, body: dict | None) -> tuple[int, dict]:
        if found := re.fullmatch(CONFIGMAP, path):
            key = (found[1], found[2])
            if method == "GET" and key in self.configmaps:
                return 200, {"kind": "ConfigMap", "apiVersion": "v1",
                             "metadata": {"name": key[1], "namespace": key[0]}, "data": self.configmaps[key]}
            return self._status(404, "NotFound", f'configmaps "{key[1]}" not found')
        if (found := re.fullmatch(TRAINJOBS, path)) and method == "POST":
            key = (found[1], body["metadata"]["name"])
            if key in self.jobs:
                return self._status(409, "AlreadyExists", f'trainjobs.trainer.kubeflow.org "{key[1]}" exists')
            metadata = {**body["metadata"], "namespace": key[0], "uid": f"uid-{len(self.jobs)}"}
            created = {**body, "metadata": metadata, "status": {"conditions": [
                {"type": "Created", "status": "True", "reason": "JobsCreated"}]}}
            self.jobs[key], self._polls[key] = created, 0
            return 201, created
        if found := re.fullmatch(TRAINJOBS + r"/([^/]+)", path):
            key = (found[1], found[2])
            if key not in self.jobs:
                return self._status(404, "NotFound", f'trainjobs.trainer.kubeflow.org "{key[1]}" not found')
            if method == "DELETE":
                return 200, self.jobs.pop(key)
            return 200, self._progress(key)
        return self._status(404, "NotFound", f"{method} {path} is not served here")

    def _progress(self, key: tuple[str, str]) -> dict:
        """The Trainer controller's part: after ``running_polls`` reads the job finishes."""
        job = self.jobs[key]
        self._polls[key] += 1
        if self._polls[key] > self.running_polls and len(job["status"]["conditions"]) == 1:
            if self.run is not None:
                self.run(job)
            final = {"type": self.outcome, "status": "True", "reason": self.reason or f"Jobs{self.outcome}",
                     "message": self.message or f"jobs {self.outcome.lower()}"}
            job["status"]["conditions"].append(final)
        return job

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                path = self.path.split("?")[0]
                server.requests.append({"method": self.command, "path": path, "query": self.path,
                                        "body": body})
                code, answer = server._answer(self.command, path, body)
                data = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, *args):
                pass

        return Handler
