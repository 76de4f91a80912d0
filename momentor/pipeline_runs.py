"""Compile, submit and run the Kubeflow pipeline of ``components/`` (behind ``momentor pipeline ...``).

The pipeline's parameters carry only overrides of ``params.yaml``; everything else is the package's
defaults. A submit turns the submitter's resolved config (``--params`` file plus ``-S``) into the minimal
list of ``key.path=value`` overrides against those defaults (:func:`config_overrides`), so what a Helm
ConfigMap or a local ``params.yaml`` changes reaches every step, and nothing else does.

Both ways of running the pipeline end in the same *run summary* (a JSON-able dict), which the Airflow DAG
reads to branch on the gate:

    {"mode": "kfp" | "local", "state": "SUCCEEDED" | ..., "branch": "promote" | "report" | None,
     "passed": bool | None, "decision": {...} | None, "run_id" | "pipeline_root": ...}

``kfp`` and ``kfp.local`` are imported inside the functions: importing this module stays light.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

from momentor import config as config_lib

PIPELINE_FILE = "components/pipeline.py"  # relative to the project root
PACKAGE_FILE = "components/compiled/momentor_pipeline.yaml"
PACKAGE_ENV = "MOMENTOR_PIPELINE_PACKAGE"  # where an image keeps the compiled pipeline
PIPELINE_NAME = "momentor"
#: the task that runs only when the gate passed (the report runs on both branches)
PROMOTE_TASK = "promote"


# ---------------------------------------------------------------------------------------------------------
# overrides


def _differences(value: Any, default: Any, prefix: str) -> list[str]:
    """``key=value`` overrides that turn ``default`` into ``value`` (sections recurse, the rest is whole)."""
    if isinstance(value, config_lib.Section) and type(value) is type(default):
        out = []
        for name in type(value).model_fields:
            out += _differences(getattr(value, name), getattr(default, name), f"{prefix}{name}.")
        return out
    if value == default:
        return []
    plain = config_lib.to_dict(value) if isinstance(value, config_lib.Section) else value
    if isinstance(plain, list):
        plain = [config_lib.to_dict(v) if isinstance(v, config_lib.Section) else v for v in plain]
    # JSON is YAML flow style: the override parser reads it back to the same value and type
    return [f"{prefix[:-1]}={json.dumps(plain)}"]


def config_overrides(cfg: config_lib.Config) -> list[str]:
    """The minimal ``-S`` list that turns the package defaults into ``cfg``."""
    return _differences(cfg, config_lib.from_dict({}), "")


def pipeline_overrides(preset: str = "", gate_floors: dict | None = None, overrides: list | None = None) -> list[str]:
    """The ``-S`` list of the pipeline's parameters: the free list first, then the named ones win."""
    out = [str(o) for o in overrides or []]
    if preset:
        out.append(f"model.preset={preset}")
    if gate_floors:
        out.append(f"gate.floors={json.dumps(gate_floors)}")
    return out


def resolve_params(out: str | Path, preset: str = "", gate_floors: dict | None = None,
                   overrides: list | None = None) -> config_lib.Config:
    """Write the resolved config (package defaults + the pipeline's overrides) to ``out``, validated."""
    cfg = config_lib.load(None, pipeline_overrides(preset, gate_floors, overrides))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(config_lib.dump(cfg))
    return cfg


# ---------------------------------------------------------------------------------------------------------
# compile


def load_pipeline(pipeline_file: str | Path = PIPELINE_FILE):
    """The ``@dsl.pipeline`` function of ``components/pipeline.py``, loaded by path.

    The package never imports ``components/`` (it is not part of the installed package); the project root,
    the folder above ``components/``, goes on ``sys.path`` so that the file's ``components.*`` imports work.
    """
    pipeline_file = Path(pipeline_file).resolve()
    if not pipeline_file.is_file():
        raise config_lib.ConfigError(
            f"pipeline file {pipeline_file} not found; run from the project root or pass --pipeline-file")
    root = str(pipeline_file.parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    spec = importlib.util.spec_from_file_location("components.pipeline", pipeline_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules["components.pipeline"] = module
    spec.loader.exec_module(module)
    return module.momentor_pipeline


def compile_pipeline(out: str | Path = PACKAGE_FILE, pipeline_file: str | Path = PIPELINE_FILE) -> Path:
    """Compile the pipeline to the YAML package at ``out``."""
    from kfp import compiler

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(load_pipeline(pipeline_file), str(out))
    return out


def find_package(package: str | Path | None = None) -> Path:
    """The compiled pipeline: ``package``, else ``$MOMENTOR_PIPELINE_PACKAGE``, else the project's file."""
    path = Path(package or os.environ.get(PACKAGE_ENV) or PACKAGE_FILE)
    if not path.is_file():
        raise config_lib.ConfigError(
            f"compiled pipeline {path} not found; run `momentor pipeline compile` from the project root, "
            f"pass --package, or set ${PACKAGE_ENV}")
    return path


# ---------------------------------------------------------------------------------------------------------
# submit to a KFP endpoint


def kfp_client(endpoint: str):
    """A ``kfp.Client`` for ``endpoint``, authenticated the way the Helm chart's pods are.

    ``$KFP_TOKEN`` (a bearer token from a Secret) wins; else ``$KF_PIPELINES_SA_TOKEN_PATH`` (a projected
    ServiceAccount token, multi-user Kubeflow) is read, and re-read when it expires; else no credentials.
    """
    import kfp
    from kfp.client import ServiceAccountTokenVolumeCredentials

    token = os.environ.get("KFP_TOKEN") or None
    token_path = os.environ.get("KF_PIPELINES_SA_TOKEN_PATH")
    credentials = ServiceAccountTokenVolumeCredentials(token_path) if token_path and not token else None
    return kfp.Client(host=endpoint, existing_token=token, credentials=credentials)


def submit(endpoint: str, arguments: dict, package: str | Path | None = None, experiment: str = PIPELINE_NAME,
           run_name: str | None = None, wait: bool = False, timeout_s: float = 6 * 3600,
           poll_s: float = 10.0) -> dict:
    """Start a run of the compiled pipeline on ``endpoint``; with ``wait``, wait for it and read its branch."""
    package = find_package(package)  # before connecting: a missing package is the user's to fix
    client = kfp_client(endpoint)
    result = client.create_run_from_pipeline_package(
        str(package), arguments=arguments, run_name=run_name, experiment_name=experiment)
    summary: dict = {"mode": "kfp", "endpoint": endpoint, "run_id": result.run_id, "state": None, "branch": None,
                     "passed": None, "decision": None, "arguments": arguments}
    if wait:
        run = client.wait_for_run_completion(result.run_id, timeout=timeout_s, sleep_duration=poll_s)
        summary["state"] = str(run.state).upper() if run.state else None
        summary["branch"] = branch_of_run(run)
        summary["passed"] = None if summary["branch"] is None else summary["branch"] == "promote"
    return summary


def branch_of_run(run) -> str | None:
    """Which gate branch a finished KFP run took: ``promote`` when its promote task succeeded, ``report``
    when the report did and promote did not run, None when neither (the run failed before)."""
    details = getattr(run, "run_details", None)
    succeeded = {(t.display_name or "").lower() for t in getattr(details, "task_details", None) or []
                 if str(t.state).upper() == "SUCCEEDED"}
    if PROMOTE_TASK in succeeded:
        return "promote"
    return "report" if "report" in succeeded else None


# ---------------------------------------------------------------------------------------------------------
# run locally (kfp.local: every component in a subprocess of this Python, artifacts on disk)


def run_local(arguments: dict, pipeline_root: str | Path, package: str | Path | None = None) -> dict:
    """Run the compiled pipeline here with KFP's SubprocessRunner; the run summary.

    Only lightweight Python components run locally, in this interpreter (``use_venv=False``: momentor is
    already installed here), so the image and resource requests of the tasks are not used.
    """
    from kfp import components, local

    pipeline_root = Path(pipeline_root).resolve()
    pipeline_root.mkdir(parents=True, exist_ok=True)
    pipeline = components.load_component_from_file(str(find_package(package)))
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(pipeline_root),
               raise_on_error=True)
    task = pipeline(**arguments)
    decision_path = Path(task.output.path)  # the pipeline's output: the gate decision artifact
    run_dir = decision_path.parent.parent  # <root>/<pipeline-run>/<gate task>/<artifact>
    decision = json.loads(decision_path.read_text())
    reported = any(p.name.split("-")[0] == "report" for p in run_dir.iterdir())  # report, report-2: one a branch
    branch = "promote" if (run_dir / PROMOTE_TASK).is_dir() else "report" if reported else None
    return {"mode": "local", "pipeline_root": str(pipeline_root), "run_dir": str(run_dir), "state": "SUCCEEDED",
            "branch": branch, "passed": bool(decision.get("passed")),
            "decision": decision, "decision_path": str(decision_path), "arguments": arguments}


# ---------------------------------------------------------------------------------------------------------
# data version


def data_version(raw: str | Path | None, cfg: config_lib.Config) -> dict:
    """The version of a run's raw data (:mod:`momentor.data.version`): a hash of every file's content, with
    the md5s kept in ``<paths.cache>/data-state.sqlite`` so unchanged files are not read again.

    ``raw`` None: the sample corpus built from the config, whose version is its config (``data.sample``).
    When the folder is DVC-tracked (``data.dvc`` beside ``data/``), DVC's md5 is reported too, as
    ``dvc_md5``: it is only current while nobody changed the folder after ``dvc add``, so it never replaces
    the content hash. The result includes the ``listing`` (relative path -> md5) that the run read.
    """
    import hashlib

    from momentor.data import version

    if raw is None:
        sample = json.dumps(config_lib.to_dict(cfg.data.sample), sort_keys=True)
        return {"version": hashlib.sha256(sample.encode()).hexdigest()[:32], "source": "sample-corpus",
                "files": cfg.data.sample.num_videos, "raw": None, "listing": {}}
    raw = Path(raw)
    try:
        found = version.folder_version(raw, Path(cfg.paths.cache).expanduser() / "data-state.sqlite")
    except version.MissingData as err:
        raise config_lib.ConfigError(str(err)) from err
    dvc_file = raw.with_name(raw.name + ".dvc")
    if dvc_file.is_file():
        found["dvc_md5"] = version.dvc_md5(dvc_file)
    return found


SAMPLE = "sample"  # the raw_data_uri that asks for the embedded sample corpus


def resolve_raw_data(raw_data_uri: str, params: str | Path, workspace: str | Path, listing: str | Path,
                     overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """Where a pipeline run reads its raw data, and its version; the listing of what it read goes to ``listing``.

    ``raw_data_uri`` is a folder as the pods see it (on the workspace volume), laid out like a project's
    ``data/``; it is read in place, never copied. ``sample`` builds the embedded sample corpus once into
    ``<workspace>/data/sample-<config version>`` (idempotent: a second run with the same ``data.sample``
    reuses it). An empty uri is an error: a run never falls back to the sample corpus by accident.
    """
    import shutil
    import uuid

    from momentor.artifact_workspace import run_verb
    from momentor.data.version import write_listing

    cfg = config_lib.load(params, list(overrides))
    workspace = Path(workspace)
    if not raw_data_uri:
        raise config_lib.ConfigError(
            "raw_data_uri is empty: give the raw data folder as the pods see it (e.g. /workspace/data/drop-42), "
            f"or {SAMPLE!r} for the embedded sample corpus")
    if raw_data_uri == SAMPLE:
        raw = workspace / "data" / f"sample-{data_version(None, cfg)['version'][:12]}"
        if not raw.is_dir():
            staging = raw.with_name(f".{raw.name}.{uuid.uuid4().hex[:6]}")
            run_verb(["sample-data"], str(params), list(overrides), raw=str(staging))
            try:
                staging.rename(raw)
            except OSError:  # another run built it meanwhile: same config, same corpus
                shutil.rmtree(staging, ignore_errors=True)
    else:
        raw = Path(raw_data_uri)
    cached = config_lib.load(params, [*overrides, f"paths.cache={workspace / '.cache'}"])
    found = data_version(raw, cached)
    write_listing(found, listing)
    return {k: v for k, v in found.items() if k != "listing"}


# ---------------------------------------------------------------------------------------------------------
# training checkpoints on the workspace volume


def code_version() -> str:
    """sha256 of the installed ``momentor`` package's Python sources: the code a step runs."""
    import hashlib

    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(f"{path.relative_to(root).as_posix()}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()


def checkpoint_dir(workspace: str | Path, stage: str, params: str | Path, data_version: str,
                   init_weights: str | Path | None = None) -> Path:
    """Where a pipeline's training stage keeps its checkpoints on the durable workspace:
    ``<workspace>/checkpoints/<key>/<stage>``, so a retried or rescheduled pod resumes there.

    The key is a hash of everything the stage computes from: the resolved params file, the raw data's content
    version, the stage, the initial weights (``init_weights``, the previous stage's weights file) and the
    code (:func:`code_version`). Not KFP's run id: passed as an input it would enter the task's cache key
    (KFP fingerprints the input parameter values, input artifact names, output specs, image, command and
    PVC names) and no run would ever hit the cache; nor would a re-submitted failed run resume. With the
    code in the key, a new image never mistakes an old image's finished stage (``final``, which ``train``
    does not re-run) for its own. Two runs of identical inputs started together would train in one folder;
    started one after the other, the second hits KFP's cache instead.
    """
    import hashlib

    digest = hashlib.sha256()
    for part in (Path(params).read_bytes(), data_version.encode(), stage.encode(), code_version().encode()):
        digest.update(part + b"\0")
    if init_weights is not None:
        digest.update(Path(init_weights).read_bytes())
    return Path(workspace) / "checkpoints" / digest.hexdigest()[:16] / stage
