"""A real Airflow deployment for tests, on 127.0.0.1 only: the services the scheduler path needs, each a
process of its own with its own log, in a throw-away ``AIRFLOW_HOME`` (SQLite, LocalExecutor).

- ``dag-processor`` parses the dags folder into the database (the scheduler never parses DAG files);
- ``scheduler`` creates runs (the asset-triggered ones too) and runs their tasks with the LocalExecutor;
- ``api-server`` serves the REST API the test drives and the execution API every Airflow 3 task talks to.

No triggerer (no deferrable task in local mode) and none of ``airflow standalone``'s extras: on 2 cores every
idle Python service costs. ``with AirflowServices(home, env) as airflow: airflow.api("GET", "/dags")``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
SERVICES = ("dag-processor", "scheduler", "api-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AirflowServices:
    """Migrate the database, start :data:`SERVICES`, wait for the API; on exit stop them (their process groups)."""

    def __init__(self, home: Path, env: dict, cwd: Path, boot_timeout: float = 240):
        self.home, self.cwd, self.boot_timeout = Path(home), cwd, boot_timeout
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "AIRFLOW_HOME": str(home), "AIRFLOW__API__HOST": "127.0.0.1",
                    "AIRFLOW__API__PORT": str(self.port), "AIRFLOW__API__WORKERS": "1",
                    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                    # the scheduler signs the tasks' tokens and the API server checks them: one secret
                    "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
                    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                    "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        self.processes: dict[str, subprocess.Popen] = {}

    def log(self, name: str) -> Path:
        return self.home / f"{name}.log"

    def __enter__(self) -> AirflowServices:
        self.home.mkdir(parents=True, exist_ok=True)
        migrated = subprocess.run([AIRFLOW, "db", "migrate"], env=self.env, capture_output=True, text=True,
                                  timeout=300)
        if migrated.returncode:
            pytest.fail(f"airflow db migrate failed:\n{migrated.stderr[-4000:]}")
        try:
            for name in SERVICES:
                with self.log(name).open("w") as out:
                    self.processes[name] = subprocess.Popen([AIRFLOW, name], env=self.env, cwd=self.cwd, stdout=out,
                                                            stderr=subprocess.STDOUT, start_new_session=True)
            self.wait("the API server", lambda: self.api("GET", "/api/v2/monitor/health"), self.boot_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """SIGTERM each service's process group (the service and the task processes it forked), then SIGKILL."""
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        for process in self.processes.values():  # forked children outlive a SIGTERMed parent
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        """One REST call; a GET that meets a 5xx is asked again (up to 3 times): SQLite answers "database is
        locked" while the scheduler writes, which a production database would not."""
        for attempt in range(4):
            request = urllib.request.Request(f"{self.url}{path}", method=method,
                                             data=None if body is None else json.dumps(body).encode(),
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    return json.loads(answer.read() or b"{}")
            except urllib.error.HTTPError as err:
                if method == "GET" and err.code >= 500 and attempt < 3:
                    time.sleep(2 * (attempt + 1))
                    continue
                raise AssertionError(f"{method} {path}: {err.code} {err.read()[:2000]!r}") from None

    def wait(self, what: str, check, timeout: float, poll: float = 2):
        """``check()``'s first truthy value within ``timeout`` s; else fail with the services' log tails."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    pytest.fail(f"airflow {name} exited ({process.returncode}) while waiting for {what}:\n"
                                + self.tails())
            try:
                value = check()
                if value:
                    return value
            except (OSError, AssertionError):
                pass
            time.sleep(poll)
        pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}:\n{self.tails()}")

    def tails(self, chars: int = 4000) -> str:
        return "\n".join(f"--- {name}.log (tail) ---\n{self.log(name).read_text(errors='replace')[-chars:]}"
                         for name in self.processes if self.log(name).is_file())

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        """A task instance's log as the API serves it (the worker's log file), for failure messages."""
        from urllib.parse import quote

        try:
            found = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/"
                                    f"{task_id}/logs/{try_number}?full_content=true")
        except AssertionError as err:
            return str(err)
        content = found.get("content")
        if isinstance(content, list):
            return "\n".join((str(c.get("event", c)) + (f" {c['error_detail']}" if c.get("error_detail") else ""))
                             if isinstance(c, dict) else str(c) for c in content)
        return str(content)
