"""The momentor Kubeflow pipeline: data version → ingest → features → validate → engine → validate
instructions → GESM → instruction tuning → predict → evaluate, with the baselines and the champion scored on
the same split → gate, then ``dsl.If`` the gate passed: report → export → promote, ``dsl.Else``: the report.

One task per enabled step of ``momentor/steps.py`` (a test compares them), each with that step's
resources and a retry policy with backoff; a sharded step (features, engine) is a ``dsl.ParallelFor`` of
shard tasks over the config's ``pipeline.shards`` and a merge task under the step's name. The workspace claim (``workspace_pvc``, mounted at
``/workspace`` through kfp-kubernetes) is the run's durable state: the raw data it reads in place, the
data-hash state cache, training checkpoints (a retried training pod resumes there) and the champion with
its past releases, so the gate of run N+1 sees what run N promoted. The first task computes the raw
data's content version, uncached; every data-dependent task takes it as an input, so KFP's cache hits
exactly when the bytes are the same.

Parameters carry only overrides of ``params.yaml`` (the defaults live once, in the package) and where things
are. Compile: ``momentor pipeline compile`` (writes ``components/compiled/momentor_pipeline.yaml``, committed).
"""

from kfp import dsl, kubernetes

from components import IMAGE
from components.baselines.component import baselines
from components.config.component import resolve_config
from components.data_version.component import data_version
from components.engine.component import engine, engine_shard
from components.evaluate.component import evaluate
from components.export.component import export
from components.features.component import features, features_shard, shard_plan
from components.gate.component import gate
from components.ingest.component import ingest
from components.predict.component import predict
from components.promote.component import promote
from components.report.component import report
from components.rescore_champion.component import rescore_champion
from components.train.component import train, train_pod
from components.validate.component import validate
from momentor import steps

ACCELERATOR = "nvidia.com/gpu"
WORKSPACE = "/workspace"  # where the workspace claim is mounted in every pod that needs it
EVAL_TASKS = list(steps.EVAL_TASKS)
#: retries of every task: a lost node or an evicted pod costs a retry, not the run
RETRY = {"num_retries": 3, "backoff_duration": "60s", "backoff_factor": 2.0, "backoff_max_duration": "1800s"}
#: tasks that are not steps of the table (the run's config, its data version, the shards, the training pods'
#: size): light resources
INFRASTRUCTURE = ("resolve_config", "data_version", "shard_plan", "train_pod")


def _on(task, step: str, image, gpus=None, workspace_pvc=None, pod=None):
    """Run ``task`` as the table's step ``step``: its name, image, resources, retries, and the workspace volume
    when ``workspace_pvc`` is given. GPU steps get ``gpus``, an ``(accelerator type, count)`` pair of strings
    or string channels (KFP's driver reads a resource placeholder as a string: an integer channel would read
    as "" and the step get no GPU on a cluster); with ``pod`` (a :func:`train_pod` task) the resources and
    accelerators are its outputs instead, set at run time."""
    if step in INFRASTRUCTURE:
        need = dict(zip(("cpu", "memory", "gpu"), steps.RESOURCES["light"]))
    else:
        need = steps.resources(step)
    if pod is not None:
        sized = pod.outputs
        need = {"cpu": sized["cpu"], "memory": sized["memory"], "gpu": False}
        task.set_accelerator_type(sized["accelerator"]).set_accelerator_limit(sized["accelerators"])
        task.after(pod)  # kfp 2.17 makes no dependency of a resource's producer: the task would not wait for it
    task.set_display_name(step.replace("_", "-")).set_container_image(image)
    task.set_cpu_request(need["cpu"]).set_memory_request(need["memory"]).set_memory_limit(need["memory"])
    task.set_retry(**RETRY)
    if need["gpu"] and gpus is not None:
        task.set_accelerator_type(gpus[0]).set_accelerator_limit(gpus[1])
    if workspace_pvc is not None:
        kubernetes.mount_pvc(task, pvc_name=workspace_pvc, mount_path=WORKSPACE)
    return task


def gate_and_release(params, candidate, evaluation: dict, references: dict, champion_dir, image,
                     workspace_pvc=None, gesm_model=None, data_version=None):
    """The gate, then ``dsl.If`` it passed: report → export → promote, ``dsl.Else``: the report; the decision.

    ``evaluation``: the candidate's ``metrics_file``, ``results`` (per-item) and ``predictions``;
    ``references``: the ``baseline_results`` and ``champion_results`` on the same split. The report is
    written on both branches before the decision is carried out, so it compares the candidate with the
    champion it was judged against. (One report task before the condition would do the same, but KFP's
    local runner cannot resolve a lone ``dsl.If``'s condition, and the pipeline must run locally.) Called
    inside a pipeline function (this one, or a test's pipeline over imported artifacts).
    """
    metrics_file = evaluation["metrics_file"]
    # the gate reads, and promote changes, the champion folder: state outside the artifacts, never cached
    decided = _on(gate(params=params, model=candidate, metrics_file=metrics_file, results=evaluation["results"],
                       champion_dir=champion_dir, **references), "gate", image,
                  workspace_pvc=workspace_pvc).set_caching_options(False)
    decision = decided.outputs["decision"]

    def write_report():
        stages = {"instruct_model": candidate, **({"gesm_model": gesm_model} if gesm_model is not None else {})}
        return _on(report(params=params, metrics_file=metrics_file, decision=decision, champion_dir=champion_dir,
                          **stages, **references),
                   "report", image, workspace_pvc=workspace_pvc).set_caching_options(False)

    with dsl.If(decided.outputs["passed"] == True, name="gate-passed"):  # noqa: E712 (a KFP condition)
        page = write_report()
        onnx = _on(export(params=params, model=candidate), "export", image)
        _on(promote(params=params, model=candidate, metrics_file=metrics_file, decision=decision,
                    results=evaluation["results"], predictions=evaluation["predictions"],
                    baseline_results=references["baseline_results"], champion_dir=champion_dir,
                    **({"data_version": data_version} if data_version is not None else {})),
            "promote", image, workspace_pvc=workspace_pvc
            ).set_caching_options(False).after(onnx, page)
    with dsl.Else(name="gate-rejected"):
        write_report()
    return decision


def references(params, manifest, features, champion_dir, split, image, gpus=None, workspace_pvc=None,
               after=None) -> dict:
    """The baselines' and the champion's results on the evaluation split: what the gate compares with.
    ``gpus``: the re-scoring's accelerator type and count (see :func:`_on`), from the task ``after``."""
    fixed = _on(baselines(params=params, manifest=manifest, tasks=EVAL_TASKS, split=split), "baselines", image)
    # the champion is state on the workspace volume, outside the artifacts: never cached
    champion = _on(rescore_champion(params=params, manifest=manifest, features=features, tasks=EVAL_TASKS,
                                    split=split, champion_dir=champion_dir), "rescore_champion", image, gpus,
                   workspace_pvc).set_caching_options(False)
    if after is not None:
        champion.after(after)  # kfp 2.17 makes no dependency of a resource's producer
    return {"baseline_results": fixed.outputs["results"], "champion_results": champion.outputs["results"]}


def sharded_features(params, manifest, data: dict, plan, image, gpus=None, workspace_pvc=None):
    """The features step of the table, sharded: one task per item of the ``plan`` (a shard of the config's
    ``pipeline.shards``, with the raw data and its version), each cached by its own inputs (its shard among
    them), then the merge; the merge task."""
    with dsl.ParallelFor(plan, name="features-shards") as item:
        accelerator = {"accelerator": gpus[0], "accelerators": gpus[1]} if gpus is not None else {}
        part = _on(features_shard(params=params, manifest=manifest, shard=item.shard, raw=item.raw,
                                  data_version=item.data_version, **accelerator),
                   "features", image, gpus, workspace_pvc).set_display_name("features-shard")
    return _on(features(params=params, manifest=manifest, parts=dsl.Collected(part.outputs["part"]), **data),
               "features", image, workspace_pvc=workspace_pvc)  # links the parts: no accelerator


def sharded_engine(params, manifest, frames, data: dict, plan, image, workspace_pvc=None, after=None):
    """The engine step, sharded like :func:`sharded_features`, its shards ``after`` a task (the validation);
    the merge task."""
    with dsl.ParallelFor(plan, name="engine-shards") as item:
        part = _on(engine_shard(params=params, manifest=manifest, features=frames, shard=item.shard, raw=item.raw,
                                data_version=item.data_version), "engine", image, workspace_pvc=workspace_pvc
                   ).set_display_name("engine-shard")
        if after is not None:
            part.after(after)  # data that fails validation goes no further
    return _on(engine(params=params, manifest=manifest, parts=dsl.Collected(part.outputs["part"]), **data), "engine",
               image, workspace_pvc=workspace_pvc)


@dsl.pipeline(name="momentor", description="Train, evaluate, gate and promote Momentor (arXiv 2402.11435).")
def momentor_pipeline(
    raw_data_uri: str = "",
    preset: str = "",
    overrides: list = [],
    gate_floors: dict = {},
    workspace_pvc: str = "momentor-workspace",
    workspace: str = WORKSPACE,
    champion_dir: str = f"{WORKSPACE}/champion",
    eval_split: str = "test",
    image: str = IMAGE,
    gpus: int = 0,
    nodes: int = 1,
    trainjob_template: str = "momentor-trainjob",
) -> dsl.Artifact:
    """Returns the gate's decision artifact.

    Args:
        raw_data_uri: the raw data folder as the pods see it (on the workspace volume, laid out like the
            project's ``data/``), read in place; ``sample`` builds the embedded sample corpus once. Empty
            fails the run at its first step: a run never falls back to the sample corpus by accident.
        preset: ``model.preset`` (``tiny``, ``cpu``, ``paper``); empty keeps the params' preset.
        overrides: ``key.path=value`` overrides of params.yaml, e.g. ``["train.gesm.max_steps=20"]``.
        gate_floors: ``gate.floors``, e.g. ``{"grounding.R1@0.5": 25}``; empty keeps the params' floors.
        workspace_pvc: the PersistentVolumeClaim of the durable workspace (the Helm chart creates it).
        workspace: where that claim is mounted; change it only for local runs, where nothing is mounted.
        champion_dir: the champion folder, on the workspace volume (past releases sit beside it).
        eval_split: the manifest split the candidate is evaluated on.
        image: the momentor image of every task.
        gpus: accelerators for feature extraction, training and prediction (0: CPU); with ``nodes > 1``, per
            training node.
        nodes: training nodes; more than 1 trains each stage as a Kubeflow Trainer TrainJob made from the
            chart's template (the chart's ``training.pipeline.enabled``), on the same workspace claim.
        trainjob_template: the ConfigMap holding that template (``<release>-trainjob``).
    """
    params = _on(resolve_config(preset=preset, gate_floors=gate_floors, overrides=overrides), "resolve_config",
                 image).outputs["params"]
    found = _on(data_version(params=params, raw_data_uri=raw_data_uri, workspace=workspace), "data_version",
                image, workspace_pvc=workspace_pvc).set_caching_options(False)
    raw, version = found.outputs["raw"], found.outputs["version"]
    data = {"raw": raw, "data_version": version}

    manifest = _on(ingest(params=params, **data), "ingest", image, workspace_pvc=workspace_pvc
                   ).outputs["manifest"]
    plan = _on(shard_plan(params=params, **data), "shard_plan", image).output
    # the steps' resources, computed at run time: KFP's driver reads them as strings (see train_pod)
    pod = _on(train_pod(nodes=nodes, gpus=gpus, accelerator=ACCELERATOR), "train_pod", image)
    step_gpus = (pod.outputs["step_accelerator"], pod.outputs["step_accelerators"])  # features, predict, re-scoring
    extracted = sharded_features(params, manifest, data, plan, image, step_gpus, workspace_pvc)
    frames, manifest = extracted.outputs["features"], extracted.outputs["updated_manifest"]
    checked = _on(validate(params=params, manifest=manifest, features=frames, suites=["manifest", "features"],
                           **data), "validate", image, workspace_pvc=workspace_pvc)
    mined = sharded_engine(params, manifest, frames, data, plan, image, workspace_pvc, after=checked)
    corpus = mined.outputs["updated_manifest"]
    instructions = _on(validate(params=params, manifest=corpus, suites=["instructions"], data_version=version),
                       "validate_instructions", image)

    stage_inputs = {"params": params, "manifest": corpus, "features": frames, "data_version": version,
                    "workspace": workspace, "nodes": nodes, "gpus": gpus, "image": image,
                    "trainjob_template": trainjob_template}
    # With nodes > 1 a training task only creates a TrainJob and waits for it; its pod must then hold no GPU,
    # or on a cluster of exactly `nodes` GPU nodes the job could never be scheduled. One task per stage whose
    # resources the train_pod task computes at run time (KFP's driver resolves them), not dsl.If(nodes > 1)
    # with a light and a GPU task: their models would need dsl.OneOf, which kfp 2.17's local runner cannot
    # resolve for artifacts ("Expected 1 artifact in ArtifactSelectorSpec. Got: 2"); the pipeline runs locally.
    gesm = _on(train(stage="gesm", **stage_inputs), "train_gesm", image, workspace_pvc=workspace_pvc, pod=pod)
    gesm.after(instructions)
    instruct = _on(train(stage="instruct", init_model=gesm.outputs["model"], **stage_inputs), "train_instruct",
                   image, workspace_pvc=workspace_pvc, pod=pod)
    candidate = instruct.outputs["model"]

    predictions = _on(predict(params=params, manifest=corpus, features=frames, model=candidate, split=eval_split),
                      "predict", image, step_gpus).after(pod).outputs["predictions"]
    scored = _on(evaluate(params=params, manifest=corpus, predictions=predictions, tasks=EVAL_TASKS,
                          split=eval_split), "evaluate", image)
    evaluation = {"metrics_file": scored.outputs["metrics_file"], "results": scored.outputs["results"],
                  "predictions": predictions}
    compared = references(params, corpus, frames, champion_dir, eval_split, image, step_gpus, workspace_pvc,
                          after=pod)
    return gate_and_release(params, candidate, evaluation, compared, champion_dir, image, workspace_pvc,
                            gesm_model=gesm.outputs["model"], data_version=version)
