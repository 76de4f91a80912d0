"""``momentor pipeline submit`` through the real kfp.Client against a local server that records the calls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from momentor import cli, config, pipeline_runs

from kfp_api_server import EXPERIMENT_ID, RUN_ID, KfpApiServer

ROOT = Path(__file__).resolve().parents[2]
PARAMS = str(ROOT / "params.yaml")


@pytest.fixture(autouse=True)
def no_ambient_credentials(monkeypatch):
    for name in ("KFP_TOKEN", "KF_PIPELINES_SA_TOKEN_PATH", "MOMENTOR_IMAGE", "MOMENTOR_PIPELINE_PACKAGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(ROOT)  # the compiled pipeline is found as in a checkout


def test_config_overrides_are_minimal_and_round_trip():
    assert pipeline_runs.config_overrides(config.load(PARAMS)) == []  # params.yaml holds the defaults
    changed = [
        "model.preset=tiny",
        "train.gesm.max_steps=3",
        'gate.floors={"grounding.R1@0.5": 101, "dense_captioning.METEOR": 1.5}',  # dotted keys inside a dict
        "data.sources=[{format: charades_sta, path: 'data/charades sta', split: test}]",
        "pipeline.schedule='@daily'",
        "eval.iou_round=2",
    ]
    cfg = config.load(PARAMS, changed)
    overrides = pipeline_runs.config_overrides(cfg)
    assert len(overrides) == len(changed)
    assert config.from_dict({}, overrides) == cfg
    assert 'gate.floors={"grounding.R1@0.5": 101.0, "dense_captioning.METEOR": 1.5}' in overrides


def test_submit_uploads_the_package_and_starts_a_run_with_the_overrides(tmp_path, capsys):
    out = tmp_path / "summary.json"
    with KfpApiServer(branch="promote") as server:
        code = cli.main(["pipeline", "submit", "--params", PARAMS, "--endpoint", server.url, "--experiment",
                         "nightly", "-S", "model.preset=tiny", "-S", "train.gesm.max_steps=2",
                         "--arg", "gpus=1", "--arg", "champion_dir=/mnt/models/champion", "--wait",
                         "--out", str(out)])
    assert code == 0
    (created,) = server.calls("POST", "/apis/v2beta1/experiments")
    assert created["body"]["display_name"] == "nightly"
    (run,) = server.calls("POST", "/apis/v2beta1/runs")
    body = run["body"]
    assert body["experiment_id"] == EXPERIMENT_ID
    pipeline, platform = yaml.safe_load_all((ROOT / pipeline_runs.PACKAGE_FILE).read_text())
    # the committed package, as compiled, with its Kubernetes platform spec (the workspace volume)
    assert body["pipeline_spec"]["pipeline_spec"] == pipeline
    assert body["pipeline_spec"]["platform_spec"] == platform
    assert body["runtime_config"]["parameters"] == {
        "overrides": ['model.preset="tiny"', "train.gesm.max_steps=2"],
        "gpus": 1,
        "champion_dir": "/mnt/models/champion",
    }
    assert server.calls("GET", f"/apis/v2beta1/runs/{RUN_ID}")  # --wait polled the run
    summary = json.loads(out.read_text())
    assert (summary["run_id"], summary["state"], summary["branch"], summary["passed"]) == (
        RUN_ID, "SUCCEEDED", "promote", True)


def test_submit_reads_the_rejected_branch_and_a_failed_run(tmp_path):
    with KfpApiServer(branch="report", final_state="FAILED") as server:
        code = cli.main(["pipeline", "submit", "--params", PARAMS, "--endpoint", server.url, "--wait",
                         "--out", str(tmp_path / "s.json")])
    assert code == 1  # a failed run fails the submit (the CronJob and the DAG see it)
    summary = json.loads((tmp_path / "s.json").read_text())
    assert (summary["state"], summary["branch"], summary["passed"]) == ("FAILED", "report", False)
    assert server.calls("POST", "/apis/v2beta1/runs")[0]["body"]["runtime_config"]["parameters"] == {
        "overrides": []}


def test_bearer_token_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KFP_TOKEN", "secret-token-1")
    monkeypatch.setenv("MOMENTOR_IMAGE", "registry.example/momentor:0.1.0")
    with KfpApiServer() as server:
        assert cli.main(["pipeline", "submit", "--params", PARAMS, "--endpoint", server.url]) == 0
    (run,) = server.calls("POST", "/apis/v2beta1/runs")
    assert run["headers"]["authorization"] == "Bearer secret-token-1"
    assert run["body"]["runtime_config"]["parameters"]["image"] == "registry.example/momentor:0.1.0"


def test_projected_service_account_token(monkeypatch, tmp_path):
    token = tmp_path / "token"
    token.write_text("projected-sa-token\n")
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(token))
    with KfpApiServer() as server:
        assert cli.main(["pipeline", "submit", "--params", PARAMS, "--endpoint", server.url]) == 0
    (run,) = server.calls("POST", "/apis/v2beta1/runs")
    assert run["headers"]["authorization"] == "Bearer projected-sa-token"


def test_submit_without_endpoint_or_package_says_what_to_do(tmp_path, monkeypatch, capsys):
    assert cli.main(["pipeline", "submit", "--params", PARAMS]) == 2
    assert "pass --endpoint URL or set pipeline.kfp_endpoint" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)
    assert cli.main(["pipeline", "submit", "--params", PARAMS, "--endpoint", "http://127.0.0.1:9"]) == 2
    assert "momentor pipeline compile" in capsys.readouterr().err


def test_the_kfp_cli_command_of_the_readme(tmp_path):
    """``kfp --endpoint URL run create ...`` as components/README.md shows it (the kfp CLI has no `run submit`)."""
    import subprocess
    import sys

    kfp_cli = str(Path(sys.executable).with_name("kfp"))
    with KfpApiServer() as server:
        done = subprocess.run(
            [kfp_cli, "--endpoint", server.url, "run", "create", "--experiment-name", "momentor", "--package-file",
             str(ROOT / pipeline_runs.PACKAGE_FILE), "preset=tiny", 'overrides=["train.gesm.max_steps=20"]',
             'gate_floors={"grounding.R1@0.5": 25}'],
            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    (run,) = server.calls("POST", "/apis/v2beta1/runs")
    assert run["body"]["runtime_config"]["parameters"] == {
        "preset": "tiny", "overrides": ["train.gesm.max_steps=20"], "gate_floors": {"grounding.R1@0.5": 25}}
