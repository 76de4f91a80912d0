"""The train component with ``nodes > 1``: a TrainJob made from the chart's template (rendered by the real
helm), created through the real ``kubernetes`` client on a local server that speaks the Kubernetes API for
ConfigMaps and TrainJobs (``kube_api_server.py``, the Trainer controller's part played there). A failed job
fails the step with its reason; a retried step adopts or replaces its job; a completed one returns the model
the job's args trained on the workspace volume, in the single-pod step's checkpoint folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from kfp import dsl
from kubeflow_trainer_api.models import TrainerV1alpha1TrainJob
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))  # the shared corpus builder
from kube_api_server import KubeApiServer  # noqa: E402
from momentor_tiny_corpus import corpus_overrides, tiny_corpus_root  # noqa: E402

from components.train.component import train  # noqa: E402
from momentor import pipeline_runs  # noqa: E402
from momentor.artifact_workspace import StepFailed  # noqa: E402
from momentor.model.checkpoint import WEIGHTS  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "momentor"
IMAGE = "registry.example/momentor:0.1.0-mpi"
JOBS = "/apis/trainer.kubeflow.org/v1alpha1/namespaces/ml/trainjobs"


@pytest.fixture(scope="module")
def configmaps() -> dict:
    """The chart's TrainJob template ConfigMap of release ``momentor`` in ``ml``, as helm renders it."""
    from momentor import assets

    try:
        helm = assets.helm_binary()
    except assets.AssetError as err:
        pytest.skip(f"helm binary unavailable: {err}")
    values = CHART / "ci" / "training-pipeline.yaml"
    rendered = subprocess.run([str(helm), "template", "momentor", str(CHART), "-n", "ml", "-f", str(values),
                               "--show-only", "templates/trainjob.yaml"], capture_output=True, text=True,
                              check=True).stdout
    (found,) = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "ConfigMap"]
    assert found["metadata"]["name"] == "momentor-trainjob"  # the pipeline's default trainjob_template
    return {("ml", "momentor-trainjob"): found["data"]}


@pytest.fixture(autouse=True)
def fixed_code_version(monkeypatch):
    """The checkpoint key hashes the package's sources: other edits during a run must not move it between the
    step and the test's own computation of it."""
    monkeypatch.setattr(pipeline_runs, "code_version", lambda: "the code under test")


@pytest.fixture
def kube(monkeypatch, tmp_path):
    """``kube(**server_options)``: a started KubeApiServer that ``$KUBECONFIG`` points at (namespace ml)."""
    started = []
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)  # not in a pod: the kubeconfig is used
    monkeypatch.setenv("MOMENTOR_TRAINJOB_POLL_SECONDS", "0.05")

    def start(**options) -> KubeApiServer:
        server = KubeApiServer(**options).__enter__()
        started.append(server)
        monkeypatch.setenv("KUBECONFIG", str(server.write_kubeconfig(tmp_path / "kubeconfig")))
        return server

    yield start
    for server in started:
        server.__exit__(None, None, None)


def _inputs(tmp_path: Path) -> dict:
    params = tmp_path / "params.yaml"
    pipeline_runs.resolve_params(params)
    for name in ("manifest", "features"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.txt").write_text(name)
    return {"params": params, "manifest": tmp_path / "manifest", "features": tmp_path / "features"}


def _step(tmp_path: Path, inputs: dict, workspace: Path, nodes: int = 2, name: str = "out"):
    """One pod's run of the train component, with its own output artifacts."""
    model = dsl.Model(uri=str(tmp_path / name / "model"))
    metrics = dsl.Metrics(uri=str(tmp_path / name / "metrics"))
    train.python_func(params=dsl.Artifact(uri=str(inputs["params"])),
                      manifest=dsl.Dataset(uri=str(inputs["manifest"])),
                      features=dsl.Dataset(uri=str(inputs["features"])), stage="gesm", data_version="v1",
                      workspace=str(workspace), model=model, training=metrics, nodes=nodes, image=IMAGE)
    return model, metrics


def test_a_failed_trainjob_fails_the_step_with_its_reason(kube, configmaps, tmp_path, capfd):
    server = kube(configmaps=configmaps, outcome="Failed", running_polls=2, reason="JobSetFailed",
                  message='jobset "momentor-train-gesm" failed: launcher exited 137 (OOMKilled)')
    inputs, workspace = _inputs(tmp_path), tmp_path / "workspace"
    with pytest.raises(StepFailed, match="the gesm TrainJob did not complete"):
        _step(tmp_path, inputs, workspace)
    out = pipeline_runs.checkpoint_dir(workspace, "gesm", inputs["params"], "v1")  # the single-pod step's
    name = f"momentor-train-gesm-{out.parent.name[:12]}"
    assert (f'TrainJob ml/{name} failed: JobSetFailed: jobset "momentor-train-gesm" failed: launcher exited '
            f"137 (OOMKilled) (its launcher's log: kubectl -n ml logs -l jobset.sigs.k8s.io/jobset-name={name},"
            "jobset.sigs.k8s.io/replicatedjob-name=launcher)") in capfd.readouterr().err
    (created,) = server.calls("POST", JOBS)
    job = created["body"]
    assert TrainerV1alpha1TrainJob.from_dict(job).to_dict() == job  # what reached the API is a valid TrainJob
    trainer = job["spec"]["trainer"]
    staged = out.parent / "gesm-inputs"
    assert job["metadata"]["name"] == name
    assert job["metadata"]["labels"]["momentor/checkpoint-key"] == out.parent.name
    assert (trainer["numNodes"], trainer["image"]) == (2, IMAGE)
    assert trainer["args"] == ["train", "--stage", "gesm", "--out", str(out), "--params",
                               str(staged / "params.yaml"), "-S",
                               f"paths.work={staged / 'work'}", "--no-progress"]
    # the inputs wait on the volume every node mounts; the step polled until the Failed condition
    assert (staged / "work" / "features" / "features.txt").read_text() == "features"
    assert (staged / "params.yaml").read_bytes() == inputs["params"].read_bytes()
    assert len(server.calls("GET", f"{JOBS}/{name}")) == 3


@pytest.mark.parametrize("earlier", ["Failed", "Created"])
def test_a_retried_step_replaces_its_failed_trainjob_and_waits_for_a_running_one(kube, configmaps, tmp_path,
                                                                                 earlier):
    inputs, workspace = _inputs(tmp_path), tmp_path / "workspace"
    key = pipeline_runs.checkpoint_dir(workspace, "gesm", inputs["params"], "v1").parent.name
    name = f"momentor-train-gesm-{key[:12]}"
    conditions = [{"type": "Created", "status": "True"}] + (
        [{"type": "Failed", "status": "True", "reason": "JobSetFailed", "message": "node lost"}]
        if earlier == "Failed" else [])
    old = {"apiVersion": "trainer.kubeflow.org/v1alpha1", "kind": "TrainJob", "metadata": {"name": name},
           "spec": {"trainer": {"numNodes": 2}}, "status": {"conditions": conditions}}
    server = kube(configmaps=configmaps, outcome="Failed", reason="DeadlineExceeded", message="too slow",
                  existing={("ml", name): old})
    with pytest.raises(StepFailed):
        _step(tmp_path, inputs, workspace)
    methods = [r["method"] for r in server.requests if r["path"].startswith(JOBS)]
    if earlier == "Failed":  # deleted, gone, created again: training resumes from the volume's checkpoints
        assert methods[:5] == ["POST", "GET", "DELETE", "GET", "POST"]
        assert "propagationPolicy=Foreground" in server.calls("DELETE", f"{JOBS}/{name}")[0]["query"]
    else:  # the earlier attempt's job still runs: waited for, not duplicated
        assert "DELETE" not in methods and methods.count("POST") == 1
        assert server.jobs[("ml", name)]["spec"] == old["spec"]


def test_a_retried_step_whose_trainjob_completed_returns_the_model_on_the_volume(kube, configmaps, tmp_path):
    """The pod was lost after its TrainJob finished: the retry finds the job Complete and the model the job
    wrote in the stage's checkpoint folder, and creates nothing."""
    inputs, workspace = _inputs(tmp_path), tmp_path / "workspace"
    out = pipeline_runs.checkpoint_dir(workspace, "gesm", inputs["params"], "v1")
    name = f"momentor-train-gesm-{out.parent.name[:12]}"
    (out / "final").mkdir(parents=True)  # what the finished job's rank 0 left on the volume
    (out / "final" / WEIGHTS).write_bytes(b"weights of the finished job")
    (out / "final" / "training_state.json").write_text('{"step": 7, "metrics": {"loss": 1.25}}')
    done = [{"type": "Created", "status": "True"},
            {"type": "Complete", "status": "True", "reason": "JobsCompleted"}]
    server = kube(configmaps=configmaps, existing={("ml", name): {"metadata": {"name": name},
                                                                  "status": {"conditions": done}}})
    model, metrics = _step(tmp_path, inputs, workspace)
    assert (Path(model.path) / WEIGHTS).read_bytes() == b"weights of the finished job"
    assert model.metadata["checkpoints"] == str(out)
    assert metrics.metadata == {"steps": 7, "loss": 1.25}
    assert [r["method"] for r in server.requests if r["path"].startswith(JOBS)] == ["POST", "GET", "GET"]


def test_without_the_charts_template_the_step_says_what_to_install(kube, tmp_path, capfd):
    kube(configmaps={})
    with pytest.raises(StepFailed):
        _step(tmp_path, _inputs(tmp_path), tmp_path / "workspace")
    assert "install the momentor chart in ml with training.pipeline.enabled=true" in capfd.readouterr().err


@pytest.mark.slow
def test_a_completed_trainjob_returns_the_model_its_args_trained_on_the_volume(kube, configmaps,
                                                                             tmp_path_factory, tmp_path):
    """The server runs the created TrainJob's args as its pods would (one process here, no mpirun) in the
    workspace; the step then returns that model. It equals the single-pod step's on the same inputs."""
    corpus = tiny_corpus_root(tmp_path_factory)
    params = tmp_path / "params.yaml"
    pipeline_runs.resolve_params(params, overrides=[*corpus_overrides(corpus), "train.micro_batch_size=2",
                                                    "train.gesm.max_steps=2"])
    inputs = {"params": params, "manifest": corpus / "work" / "manifest",
              "features": corpus / "work" / "features"}
    launcher = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_PORT")  # the job's pods start without them
    env = {k: v for k, v in os.environ.items() if k not in launcher}

    def run_pods(job: dict) -> None:
        subprocess.run([sys.executable, "-m", "momentor.cli", *job["spec"]["trainer"]["args"]],
                       cwd=tmp_path, env=env, check=True, capture_output=True)

    kube(configmaps=configmaps, run=run_pods)
    model, metrics = _step(tmp_path, inputs, tmp_path / "workspace")
    out = pipeline_runs.checkpoint_dir(tmp_path / "workspace", "gesm", params, "v1")
    assert model.metadata["checkpoints"] == str(out) and (out / "final" / WEIGHTS).is_file()
    assert metrics.metadata["steps"] == 2
    single, _ = _step(tmp_path, inputs, tmp_path / "single-pod-workspace", nodes=1, name="single")
    multi, one = load_file(str(Path(model.path) / WEIGHTS)), load_file(str(Path(single.path) / WEIGHTS))
    assert multi.keys() == one.keys()
    for name in multi:
        torch.testing.assert_close(multi[name], one[name], rtol=0, atol=1e-6)
