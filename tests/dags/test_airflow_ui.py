"""The Airflow UI (``airflow standalone`` on 127.0.0.1) shows the retraining DAG, and a run triggered from its
trigger form runs: the scheduler executes the DAG, which submits the pipeline, on the last data announced
through Airflow's REST API, to a local KFP API server.

Slow (Airflow's four services start in ~1 min) and needs Debian's chromium + chromedriver and selenium:
    bash scripts/install_browser.sh && .venv/bin/python -m pytest -m slow tests/dags/test_airflow_ui.py
The form's behaviour without a browser is covered by test_dag_files.py (the Params) and test_retrain_dag.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from airflow_testing import ROOT, airflow_env

sys.path.insert(0, str(ROOT / "tests" / "components"))
from kfp_api_server import KfpApiServer  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.integration]
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage", "--window-size=1400,1000"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


def _wait(what: str, check, timeout: float, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except OSError:
            pass
        time.sleep(2)
    pytest.fail(f"timed out waiting for {what}; airflow log tail:\n{log.read_text()[-6000:]}")


@pytest.fixture
def airflow_ui(tmp_path):
    """``airflow standalone`` on a free port of 127.0.0.1, every user an admin, the KFP server as default."""
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("chromium/chromedriver not installed: run bash scripts/install_browser.sh")
    pytest.importorskip("selenium", reason="selenium not installed: run bash scripts/install_browser.sh")
    port = _free_port()
    with KfpApiServer(branch="promote") as kfp:
        env = airflow_env(tmp_path / "airflow")
        env.update(AIRFLOW__API__HOST="127.0.0.1", AIRFLOW__API__PORT=str(port),
                   AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True", AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
                   AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
                   MOMENTOR_KFP_ENDPOINT=kfp.url, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
        log = tmp_path / "standalone.log"
        with log.open("w") as out:
            server = subprocess.Popen([str(Path(sys.executable).with_name("airflow")), "standalone"], env=env,
                                      cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait("the API server and the DAG", lambda: _get(f"{url}/api/v2/dags/momentor_retrain")["dag_id"],
                  300, log)
            _announce(url)
            yield {"url": url, "kfp": kfp, "log": log}
        finally:
            _stop(server)


ANNOUNCED = {"raw": "/workspace/data/drop-ui", "version": "0123456789abcdef0123456789abcdef"}


def _announce(url: str) -> None:
    """An event of the raw-data Asset through Airflow's REST API, as a producer outside Airflow would send it."""
    asset = next(a for a in _get(f"{url}/api/v2/assets")["assets"] if a["uri"] == "momentor://data/raw")
    request = urllib.request.Request(f"{url}/api/v2/assets/events", method="POST",
                                     data=json.dumps({"asset_id": asset["id"], "extra": ANNOUNCED}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10):
        pass


def _stop(server: subprocess.Popen) -> None:
    """End standalone and the services it started (found before they are orphaned), nothing else."""
    import psutil

    family = [server, *psutil.Process(server.pid).children(recursive=True)]
    os.killpg(server.pid, signal.SIGTERM)
    gone, alive = psutil.wait_procs([psutil.Process(p.pid) if isinstance(p, subprocess.Popen) else p
                                     for p in family if psutil.pid_exists(p.pid)], timeout=60)
    for process in alive:
        process.kill()
    server.wait(10)


def test_dag_shows_in_the_ui_and_a_triggered_run_submits_the_pipeline(airflow_ui):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in BROWSER_FLAGS:
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    wait = WebDriverWait(browser, 60)
    try:
        browser.get(f"{airflow_ui['url']}/dags/momentor_retrain")
        shown = ("momentor_retrain", "momentor://data/raw", "resolve_data", "wait_for_pipeline",
                 "publish_champion")  # the DAG, its Asset schedule and its tasks
        wait.until(lambda b: all(s in b.find_element(By.TAG_NAME, "body").text for s in shown))
        wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "button[aria-label='Trigger Dag']"))).click()
        dialog = wait.until(ec.visibility_of_element_located(
            (By.XPATH, "//*[@role='dialog'][contains(., 'Trigger Dag')]")))
        wait.until(lambda _: "raw_data_uri" in dialog.text and "Run Parameters" in dialog.text)
        submit = [b for b in dialog.find_elements(By.TAG_NAME, "button") if b.text.strip() == "Trigger"][-1]
        browser.execute_script("arguments[0].scrollIntoView();", submit)
        wait.until(lambda _: submit.is_enabled())
        submit.click()
        wait.until(ec.invisibility_of_element(dialog))
    finally:
        browser.quit()

    runs_url = f"{airflow_ui['url']}/api/v2/dags/momentor_retrain/dagRuns?run_type=manual"
    run = _wait("the triggered run to finish", lambda: next(
        (r for r in _get(runs_url)["dag_runs"] if r["state"] in ("success", "failed")), None), 600, airflow_ui["log"])
    assert run["triggered_by"] == "ui"
    assert run["state"] == "success", f"the triggered run {run['dag_run_id']} failed"
    (submitted,) = [r for r in airflow_ui["kfp"].calls("POST", "/apis/v2beta1/runs")
                    if r["body"]["display_name"] == f"airflow {run['dag_run_id']}"]
    assert submitted["body"]["pipeline_spec"]["pipeline_spec"]["pipelineInfo"]["name"] == "momentor"
    # a manual run with no folder in the form trains on the last data announced (the fixture's event)
    assert submitted["body"]["runtime_config"]["parameters"]["raw_data_uri"] == ANNOUNCED["raw"]
    tasks = _get(f"{airflow_ui['url']}/api/v2/dags/momentor_retrain/dagRuns/{run['dag_run_id']}/taskInstances")
    states = {t["task_id"]: t["state"] for t in tasks["task_instances"]}
    assert states["publish_champion"] == "success" and states["report_rejection"] == "skipped"
