"""The momentor Kubeflow pipeline: data → features → validation → engine → GESM → instructions → evaluation
→ gate, then ``dsl.If`` the gate passed: export + promote, ``dsl.Else``: the rejection report.

Parameters carry only overrides of ``params.yaml`` (the defaults live once, in the package) and where things
are: ``overrides`` is a list of ``key.path=value`` strings (``momentor pipeline submit`` fills it from the
submitter's params file and ``-S``); ``preset`` and ``gate_floors`` are the same overrides as form fields.

Compile: ``momentor pipeline compile`` (writes ``components/compiled/momentor_pipeline.yaml``, committed).
"""

from kfp import dsl

from components import IMAGE
from components.config.component import resolve_config
from components.engine.component import engine
from components.evaluate.component import evaluate
from components.export.component import export
from components.features.component import features
from components.gate.component import gate
from components.ingest.component import ingest
from components.predict.component import predict
from components.promote.component import promote
from components.raw_data.component import raw_data
from components.report.component import report
from components.train.component import train
from components.validate.component import validate

ACCELERATOR = "nvidia.com/gpu"
#: (cpu request, memory limit) per step; GPU steps also get `gpus` accelerators
RESOURCES = {
    "light": ("500m", "1Gi"),
    "data": ("1", "4Gi"),
    "features": ("4", "16Gi"),
    "engine": ("2", "8Gi"),
    "train": ("8", "64Gi"),
    "predict": ("4", "32Gi"),
}
EVAL_TASKS = ["grounding", "dense_captioning"]


def _on(task, kind: str, image, gpus=None):
    """Run ``task`` in ``image`` with the requests of ``kind``; GPU steps get ``gpus`` accelerators."""
    cpu, memory = RESOURCES[kind]
    task.set_container_image(image).set_cpu_request(cpu).set_memory_request(memory).set_memory_limit(memory)
    if gpus is not None:
        task.set_accelerator_type(ACCELERATOR).set_accelerator_limit(gpus)
    return task


def gate_and_release(params, candidate, metrics_file, champion_dir, image):
    """The gate, then ``dsl.If`` it passed: export + promote, ``dsl.Else``: the report; its decision.

    Called inside a pipeline function (this one, or a test's pipeline over imported artifacts).
    """
    # the gate reads, and promote changes, the champion folder: state outside the artifacts, never cached
    decided = _on(gate(params=params, metrics_file=metrics_file, champion_dir=champion_dir), "light", image)
    decided.set_caching_options(False)
    decision = decided.outputs["decision"]
    with dsl.If(decided.outputs["passed"] == True, name="gate-passed"):  # noqa: E712 (a KFP condition)
        onnx = _on(export(params=params, model=candidate), "engine", image)
        _on(promote(params=params, model=candidate, metrics_file=metrics_file, decision=decision,
                    champion_dir=champion_dir), "light", image).set_caching_options(False).after(onnx)
    with dsl.Else(name="gate-rejected"):
        _on(report(params=params, metrics_file=metrics_file, decision=decision, champion_dir=champion_dir),
            "light", image).set_caching_options(False)
    return decision


@dsl.pipeline(name="momentor", description="Train, evaluate, gate and promote Momentor (arXiv 2402.11435).")
def momentor_pipeline(
    preset: str = "",
    overrides: list = [],
    gate_floors: dict = {},
    raw_data_uri: str = "",
    champion_dir: str = "/workspace/work/champion",
    eval_split: str = "test",
    image: str = IMAGE,
    gpus: int = 0,
) -> dsl.Artifact:
    """Returns the gate's decision artifact.

    Args:
        preset: ``model.preset`` (``tiny``, ``cpu``, ``paper``); empty keeps the params' preset.
        overrides: ``key.path=value`` overrides of params.yaml, e.g. ``["train.gesm.max_steps=20"]``.
        gate_floors: ``gate.floors``, e.g. ``{"grounding.R1@0.5": 25}``; empty keeps the params' floors.
        raw_data_uri: the raw data folder, as the pods see it (laid out like the project's ``data/``), copied
            into the run's ``raw`` artifact; empty builds the embedded sample corpus.
        champion_dir: the champion folder as the pods see it (a mounted volume: it outlives the run).
        eval_split: the manifest split the candidate is evaluated on.
        image: the momentor image of every task.
        gpus: accelerators for feature extraction, training and prediction (0: CPU).
    """
    config = _on(resolve_config(preset=preset, gate_floors=gate_floors, overrides=overrides), "light", image)
    params = config.outputs["params"]

    raw = _on(raw_data(params=params, raw_data_uri=raw_data_uri), "data", image).outputs["raw"]

    manifest = _on(ingest(params=params, raw=raw), "data", image).outputs["manifest"]
    extracted = _on(features(params=params, raw=raw, manifest=manifest), "features", image, gpus)
    frames, manifest = extracted.outputs["features"], extracted.outputs["updated_manifest"]
    checked = _on(validate(params=params, raw=raw, manifest=manifest, features=frames), "data", image)
    mined = _on(engine(params=params, raw=raw, manifest=manifest, features=frames), "engine", image)
    mined.after(checked)  # data that fails validation goes no further
    corpus = mined.outputs["updated_manifest"]

    align = _on(train(params=params, manifest=corpus, features=frames, stage="align"), "train", image, gpus)
    align.set_display_name("train-align")
    gesm = _on(train(params=params, manifest=corpus, features=frames, stage="gesm",
                     init_model=align.outputs["model"]), "train", image, gpus)
    gesm.set_display_name("train-gesm")
    instruct = _on(train(params=params, manifest=corpus, features=frames, stage="instruct",
                         init_model=gesm.outputs["model"]), "train", image, gpus)
    instruct.set_display_name("train-instruct")
    candidate = instruct.outputs["model"]

    predictions = _on(predict(params=params, manifest=corpus, features=frames, model=candidate, split=eval_split),
                      "predict", image, gpus).outputs["predictions"]
    scored = _on(evaluate(params=params, manifest=corpus, predictions=predictions, tasks=EVAL_TASKS,
                          split=eval_split), "data", image)
    metrics_file = scored.outputs["metrics_file"]

    return gate_and_release(params, candidate, metrics_file, champion_dir, image)

