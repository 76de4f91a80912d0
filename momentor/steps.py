"""The pipeline's steps, written once: every orchestrator's graph is derived from this table or checked
against it.

- ``dvc.yaml`` is generated from it (``momentor pipeline compile``; a test keeps the committed file current).
- ``dags/momentor_step_table.py`` is the same table as a plain literal, generated the same way, because the
  Airflow image has no momentor to import; the DAGs build one task per enabled step from it, with its
  resources.
- ``components/pipeline.py`` wires one KFP component per enabled step (KFP needs typed artifacts, so the
  wiring is written there) and takes its resources and retry policy from here; a test checks that the
  compiled pipeline runs exactly the enabled steps.

A step is one or more ``momentor`` verb commands run from a project folder (``data/`` = the raw data,
``work/`` = the run's work folder), so the same command line serves ``dvc repro``, an Airflow task and a
pod. ``when`` places a step after the gate: ``passed`` steps run only when the gate passed, ``rejected``
ones only when it did not, ``always`` ones in every run (DVC has no branches: its promote verb is a no-op
on a rejection). The report is written after the gate and before promotion, on both branches, so it
compares the candidate with the champion it was judged against. A disabled step runs nowhere; its verb stays for users who run it by hand.
"""

from __future__ import annotations

import dataclasses

#: (cpu request, memory request = limit, needs an accelerator) per kind of step
RESOURCES = {
    "light": ("500m", "1Gi", False),
    "data": ("1", "4Gi", False),
    "features": ("4", "16Gi", True),
    "engine": ("2", "8Gi", False),
    "train": ("8", "64Gi", True),
    "predict": ("4", "32Gi", True),
}

#: the tasks every pipeline predicts, evaluates, gates and reports (the evaluators' names; ``momentor predict``
#: writes ``<task>.json`` for each): temporal grounding, dense captioning, highlight detection in QVHighlights'
#: format, action segmentation
EVAL_TASKS = ("grounding", "dense_captioning", "qvhighlights", "action_segmentation")

#: the code each kind of step depends on, for DVC (a change re-runs the step)
CODE = {
    "model": "momentor/model",
    "train": "momentor/train",
}


@dataclasses.dataclass(frozen=True)
class Step:
    """One pipeline step.

    Attributes:
        name: the step's name in every orchestrator (DVC stage, KFP task, Airflow task).
        cmds: ``momentor`` command lines, run in order from the project folder.
        deps: data it reads (``data`` or ``work/...``), and the code it runs (``momentor/...``).
        params: params.yaml keys it reads (DVC re-runs it when they change).
        outs: what it writes; ``persist`` outs survive a re-run (a resumable cache), ``metrics`` ones are
            small files git tracks.
        resources: a key of :data:`RESOURCES`.
        when: ``always``, ``passed`` or ``rejected`` (relative to the gate's decision).
        durable: it reads or writes state that outlives the run (the champion): never cached.
        enabled: False keeps the step out of every orchestrator.
        always_run: ``dvc repro`` runs it every time: it reads state no dependency names (the champion).
        sharded: it runs as ``pipeline.shards`` shards and a merge (:func:`shard_stage`, :func:`merge_stage`):
            its one command takes ``--shard K/N`` and ``--merge N``.
    """

    name: str
    cmds: tuple[str, ...]
    deps: tuple[str, ...]
    params: tuple[str, ...]
    outs: tuple[str, ...]
    resources: str
    when: str = "always"
    durable: bool = False
    enabled: bool = True
    persist: tuple[str, ...] = ()
    uncached: tuple[str, ...] = ()
    always_run: bool = False
    sharded: bool = False

    @property
    def needs(self) -> tuple[str, ...]:
        """The enabled steps whose outputs this step reads."""
        names = []
        for step in enabled_steps():
            if step.name != self.name and any(_reads(dep, out) for dep in self.deps for out in step.outs):
                names.append(step.name)
        return tuple(names)


def _reads(dep: str, out: str) -> bool:
    return dep == out or dep.startswith(out + "/") or out.startswith(dep + "/")


def _train(stage: str, init: str | None, enabled: bool = True) -> Step:
    cmd = f"momentor train --stage {stage} --manifest work/dataset --out work/train/{stage} --no-progress"
    if init:
        cmd = cmd.replace(" --manifest", f" --init work/train/{init}/final --manifest")
    deps = ("work/dataset", "work/features", "work/validate/instructions")
    return Step(
        name=f"train_{stage}",
        cmds=(cmd,),
        deps=deps + ((f"work/train/{init}",) if init else ()) + (CODE["model"], CODE["train"]),
        params=("seed", "model", "train"),
        outs=(f"work/train/{stage}",),
        persist=(f"work/train/{stage}",),  # checkpoints: a killed or retried stage resumes
        resources="train",
        enabled=enabled,
    )


STEPS: tuple[Step, ...] = (
    Step(
        name="ingest",
        cmds=("momentor ingest --out work/manifest",),
        deps=("data", "momentor/data/ingest.py", "momentor/data/formats", "momentor/data/manifest.py"),
        params=("data.sources", "data.past_end_policy"),
        outs=("work/manifest",),
        resources="data",
    ),
    Step(
        name="features",
        cmds=("momentor features --manifest work/manifest --no-progress",),
        deps=("work/manifest/videos.parquet", "momentor/data/features.py", "momentor/data/decode.py",
              "momentor/model/encoder.py"),
        params=("model.preset", "model.num_frames", "model.encoder_path", "data.feature_batch_size",
                "data.feature_backend", "data.feature_bf16"),
        outs=("work/features",),
        persist=("work/features",),  # a content-addressed cache: a re-run skips finished videos
        resources="features",
        sharded=True,
    ),
    Step(
        name="validate",
        cmds=("momentor validate --manifest work/manifest --report work/validate/data --suite manifest "
              "--suite features",),
        deps=("work/manifest", "work/features", "momentor/validate"),
        params=("validate",),
        outs=("work/validate/data",),
        resources="data",
    ),
    Step(
        name="engine",
        cmds=("momentor engine --manifest work/manifest --out work/dataset",),
        deps=("work/manifest", "work/features", "work/validate/data", "momentor/data/engine"),
        params=("seed", "engine"),
        outs=("work/dataset", "work/engine"),
        resources="engine",
        sharded=True,
    ),
    Step(
        name="validate_instructions",
        cmds=("momentor validate --manifest work/dataset --report work/validate/instructions "
              "--suite instructions",),
        deps=("work/dataset", "momentor/validate"),
        params=("validate",),
        outs=("work/validate/instructions",),
        resources="data",
    ),
    # modality alignment on event clips: an ablation, off in every preset
    _train("align", None, enabled=False),
    _train("gesm", None),
    _train("instruct", "gesm"),
    Step(
        name="predict",
        cmds=("momentor predict --checkpoint work/train/instruct --manifest work/dataset --split test "
              "--out work/predictions",),
        deps=("work/train/instruct", "work/dataset", "work/features", "momentor/infer", CODE["model"]),
        params=("eval.max_new_tokens",),
        outs=("work/predictions",),
        resources="predict",
    ),
    Step(
        name="evaluate",
        cmds=tuple(
            f"momentor evaluate {task} --gt work/dataset --split test --pred work/predictions/{task}.json "
            f"--out work/eval/{task}.json --metrics work/eval/metrics.json --headline metrics/headline.json "
            "--plots metrics/plots"
            for task in EVAL_TASKS
        ),
        deps=("work/predictions", "work/dataset", "momentor/eval"),
        params=("eval", "gate.resamples", "gate.confidence", "gate.seed"),
        outs=(*(f"work/eval/{task}.json" for task in EVAL_TASKS), "work/eval/metrics.config.yaml",
              "work/eval/metrics.json", "metrics/headline.json", "metrics/plots"),
        uncached=("work/eval/metrics.json", "metrics/headline.json", "metrics/plots"),
        resources="data",
    ),
    Step(
        name="baselines",
        cmds=("momentor baselines --gt work/dataset --split test --out work/eval/baselines",),
        deps=("work/dataset", "momentor/infer/baselines.py", "momentor/eval"),
        params=("seed", "eval"),
        outs=("work/eval/baselines",),
        resources="light",
    ),
    Step(
        name="rescore_champion",
        cmds=("momentor rescore-champion --gt work/dataset --split test --out work/eval/champion",),
        deps=("work/dataset", "work/features", "momentor/eval/champion.py", "momentor/infer", CODE["model"]),
        params=("eval",),
        outs=("work/eval/champion",),
        uncached=("work/eval/champion",),
        resources="predict",
        durable=True,
        always_run=True,  # cheap when the champion is unchanged: its stored predictions are re-scored
    ),
    Step(
        name="gate",
        cmds=("momentor gate --metrics work/eval/metrics.json --baseline-results work/eval/baselines "
              "--champion-results work/eval/champion --checkpoint work/train/instruct/final "
              "--out work/eval/decision.json",),
        deps=("work/train/instruct", "work/eval/metrics.json", *(f"work/eval/{task}.json" for task in EVAL_TASKS),
              "work/eval/baselines", "work/eval/champion", "momentor/eval/gate.py", "momentor/eval/bootstrap.py"),
        params=("gate",),
        outs=("work/eval/decision.json",),
        uncached=("work/eval/decision.json",),
        resources="light",
        durable=True,
    ),
    Step(
        name="export",
        cmds=("momentor export --checkpoint work/train/instruct/final --out work/export",),
        deps=("work/train/instruct", "work/eval/decision.json", "momentor/export"),
        params=("model", "export"),
        outs=("work/export",),
        resources="engine",
        when="passed",
    ),
    Step(
        name="promote",
        cmds=("momentor promote --checkpoint work/train/instruct/final --metrics work/eval/metrics.json "
              "--decision work/eval/decision.json --results work/eval --predictions work/predictions "
              "--baselines work/eval/baselines --status work/eval/promotion.json",),
        deps=("work/train/instruct", "work/eval/decision.json", "work/predictions", "work/eval/baselines",
              "work/export", "work/report"),
        params=("gate",),
        outs=("work/eval/promotion.json",),
        uncached=("work/eval/promotion.json",),
        resources="light",
        when="passed",
        durable=True,
    ),
    Step(
        name="report",
        cmds=("momentor report --metrics work/eval/metrics.json --decision work/eval/decision.json "
              "--baseline-results work/eval/baselines --champion-results work/eval/champion "
              "--timeline grounding work/dataset work/predictions/grounding.json "
              "--timeline action_segmentation work/dataset work/predictions/action_segmentation.json "
              "--train-log work/train/gesm/metrics.csv --train-log work/train/instruct/metrics.csv "
              "--out work/report/index.html",),
        deps=("work/eval/metrics.json", "work/eval/decision.json", "work/eval/baselines", "work/eval/champion",
              "work/predictions", "work/train/gesm/metrics.csv", "work/train/instruct/metrics.csv",
              "momentor/eval/report.py", "momentor/eval/templates"),
        params=(),
        outs=("work/report",),
        resources="light",
        durable=True,
    ),
)


def enabled_steps() -> tuple[Step, ...]:
    """The steps every orchestrator runs, in order."""
    return tuple(step for step in STEPS if step.enabled)


def step(name: str) -> Step:
    """The step called ``name``."""
    for candidate in STEPS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no pipeline step {name!r}; the steps are {', '.join(s.name for s in STEPS)}")


def shard_stage(step: Step, shard: str, shards: int) -> Step:
    """Shard ``shard`` (``K/N``, or a template such as DVC's ``${item}/N``) of a sharded step: the step's
    command on the shard's videos, writing the shard's part (``work/shards/<step>/K-of-N``), which persists
    when the step's outputs do (a re-run or a retried shard redoes only what its part lacks)."""
    from momentor.data.shards import part_dir

    part = str(part_dir("work", step.name, shard.split("/")[0], shards))
    return dataclasses.replace(step, name=f"{step.name}_shard", cmds=(f"{step.cmds[0]} --shard {shard}",),
                               outs=(part,), persist=(part,) if step.persist else (), uncached=(), sharded=False)


def merge_stage(step: Step, shards: int) -> Step:
    """The merge of a sharded step's ``shards`` parts: the step's outputs, as one process writes them."""
    from momentor.data.shards import part_dir

    parts = tuple(str(part_dir("work", step.name, k, shards)) for k in range(shards))
    return dataclasses.replace(step, cmds=(f"{step.cmds[0]} --merge {shards}",), deps=(*step.deps, *parts),
                               sharded=False)


def resources(name: str) -> dict:
    """``{"cpu", "memory", "gpu"}`` of the step called ``name``."""
    cpu, memory, gpu = RESOURCES[step(name).resources]
    return {"cpu": cpu, "memory": memory, "gpu": gpu}


def training_pod(nodes: int, gpus: int) -> dict:
    """``{"cpu", "memory", "accelerators"}`` of a training step's own pod on a cluster. On one node it trains:
    the ``train`` resources and ``gpus`` accelerators. With ``nodes > 1`` it only creates a Kubeflow Trainer
    TrainJob and waits for it (``momentor trainjob``; the job's pods train): ``light`` resources and no
    accelerator, or it would hold GPUs of the nodes the job is waiting for (on a cluster of exactly ``nodes``
    GPU nodes, the job could never be scheduled)."""
    cpu, memory, _ = RESOURCES["light" if nodes > 1 else "train"]
    return {"cpu": cpu, "memory": memory, "accelerators": 0 if nodes > 1 else max(gpus, 0)}
