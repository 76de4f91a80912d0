"""The sharded steps in KFP: the compiled pipeline fans features and the engine out with ``dsl.ParallelFor``
over the config's shard plan and merges the collected parts (fast, on the committed IR); a local run of the
sharded steps on KFP's SubprocessRunner gives the bytes the one-process verbs give (slow).

No ``from __future__ import annotations`` here: KFP reads the pipeline's annotations as types."""

import shutil
from pathlib import Path

import pytest
import yaml
from kfp import compiler, dsl

from momentor import config, pipeline_runs
from momentor.data.engine.run import run_engine
from momentor.data.features import extract_features
from momentor.data.ingest import ingest
from momentor.data.sample_corpus import build_sample_corpus

from components import IMAGE
from components.config.component import resolve_config
from components.features.component import shard_plan
from components.pipeline import sharded_engine, sharded_features

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.filterwarnings("ignore:.*have no effect in the current local runner"),
              pytest.mark.filterwarnings("ignore:You may be attemping to run a task that uses custom")]


def _spec() -> dict:
    return list(yaml.safe_load_all((ROOT / pipeline_runs.PACKAGE_FILE).read_text()))[0]


def test_each_sharded_step_is_a_parallel_for_over_the_plan_then_a_merge_of_the_collected_parts():
    spec = _spec()
    root = spec["root"]["dag"]["tasks"]
    loops = {t["taskInfo"]["name"]: t for t in root.values() if "parameterIterator" in t}
    assert set(loops) == {"features-shards", "engine-shards"}
    for step, loop in (("features", loops["features-shards"]), ("engine", loops["engine-shards"])):
        # the loop runs over the shard plan task's list (the config's pipeline.shards, known at run time)
        plan = loop["parameterIterator"]["items"]["inputParameter"]
        assert loop["inputs"]["parameters"][plan]["taskOutputParameter"]["producerTask"] == "shard-plan"
        body = spec["components"][loop["componentRef"]["name"]]["dag"]["tasks"]
        (shard,) = body.values()
        assert shard["taskInfo"]["name"] == f"{step}-shard"
        # each shard is cached by its own inputs, its shard among them: a retry or re-run redoes only its part
        assert shard["cachingOptions"] == {"enableCache": True}
        assert shard["inputs"]["parameters"]["shard"] == {
            "componentInputParameter": loop["parameterIterator"]["itemInput"],
            "parameterExpressionSelector": 'parseJson(string_value)["shard"]'}
        # no upstream task's output parameter enters the loop (KFP's local runner would set it to the loop item)
        # but the feature shards' accelerator strings (train-pod): resources, which the local runner ignores
        entering = [k for k, v in loop["inputs"]["parameters"].items() if "taskOutputParameter" in v and k != plan]
        assert all(k.startswith("pipelinechannel--train-pod-step_accelerator") for k in entering), entering
        assert "data_version" in shard["inputs"]["parameters"] and shard["retryPolicy"]["maxRetryCount"] >= 2
        # every pipeline input the shard reads reaches the loop (kfp 2.17 dropped `gpus`, used by an accelerator
        # limit alone, and the run failed: "Parent pipeline input argument 'pipelinechannel--gpus' not found")
        reached = set(spec["components"][loop["componentRef"]["name"]]["inputDefinitions"]["parameters"])
        read = {p["componentInputParameter"] for p in shard["inputs"]["parameters"].values()
                if "componentInputParameter" in p}
        assert read <= reached, read - reached
        # the merge, under the step's name, takes the parts collected from the loop
        merge = root[step]
        loop_key = next(k for k, t in root.items() if t is loop)
        assert merge["inputs"]["artifacts"]["parts"]["taskOutputArtifact"]["producerTask"] == loop_key
    assert "validate" in loops["engine-shards"]["dependentTasks"]  # unvalidated data goes no further
    executors = spec["deploymentSpec"]["executors"]
    assert "accelerator" in executors["exec-features-shard"]["container"]["resources"]
    assert "accelerator" not in executors["exec-features"]["container"]["resources"]  # the merge links files


@dsl.pipeline(name="momentor-shards")
def shards_only(overrides: list, raw: str, manifest_uri: str):
    params = resolve_config(preset="tiny", overrides=overrides).outputs["params"]
    manifest = dsl.importer(artifact_uri=manifest_uri, artifact_class=dsl.Dataset, reimport=True).output
    data = {"raw": raw, "data_version": "test"}
    plan = shard_plan(params=params, **data).output
    extracted = sharded_features(params, manifest, data, plan, IMAGE)
    frames = extracted.outputs["features"]
    sharded_engine(params, extracted.outputs["updated_manifest"], frames, data, plan, IMAGE)


def _files(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.endswith(".lock")}


@pytest.mark.slow
def test_the_local_runner_fans_out_and_merges_to_the_one_process_bytes(tmp_path):
    from kfp import local

    overrides = ["data.feature_bf16=false", "data.sample.num_videos=4", "data.sample.size=48",
                 f"data.sources=[{{format: sample, path: {tmp_path / 'data' / 'sample'}}}]"]
    cfg = config.from_dict({"model": {"preset": "tiny"}, "paths": {"work": str(tmp_path / "one")}}, overrides)
    build_sample_corpus(cfg.data.sample, tmp_path / "data" / "sample")
    ingest(cfg)
    shutil.copytree(tmp_path / "one" / "manifest", tmp_path / "input_manifest")
    extract_features(cfg, progress=False)
    run_engine(cfg, out_dir=tmp_path / "one" / "dataset")

    package = tmp_path / "shards.yaml"
    compiler.Compiler().compile(shards_only, str(package))
    from kfp import components

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp"),
               raise_on_error=True)
    components.load_component_from_file(str(package))(
        overrides=[*overrides, "pipeline.shards=2"], raw=str(tmp_path / "data"),
        manifest_uri=str(tmp_path / "input_manifest"))
    (run,) = (tmp_path / "kfp").iterdir()
    tasks = sorted(p.name for p in run.iterdir())
    # one iteration per shard of the plan, in each loop (features, then the engine)
    assert [name for name in tasks if "-iteration-" in name] == [
        "for-loop-1-iteration-0", "for-loop-1-iteration-1", "for-loop-2-iteration-0", "for-loop-2-iteration-1"]
    assert _files(run / "features" / "features") == _files(tmp_path / "one" / "features")
    merged = run / "engine" / "updated_manifest"
    for name in ("segments.parquet", "instructions.parquet"):
        assert (merged / name).read_bytes() == (tmp_path / "one" / "dataset" / name).read_bytes(), name
    for name in ("tracks.parquet", "instance_event.parquet"):
        assert (run / "engine" / "engine_report" / name).read_bytes() == (tmp_path / "one" / "engine" / name).read_bytes()
