"""Write each orchestrator's view of the step table (:mod:`momentor.steps`): ``dvc.yaml`` and the Airflow DAGs'
literal copy of the table. ``momentor pipeline compile`` writes both (with the KFP package); tests keep the
committed files equal to what this module writes.
"""

from __future__ import annotations

import dataclasses
import pprint
from pathlib import Path

import yaml

from momentor import steps

DVC_FILE = "dvc.yaml"
AIRFLOW_TABLE = "dags/momentor_step_table.py"
GENERATED = "generated from momentor/steps.py by `momentor pipeline compile`; do not edit"

DVC_HEADER = f"""\
# The momentor pipeline for `dvc repro` ({GENERATED}).
# Each stage is one `momentor` verb: the logic lives in the package, the stage names its inputs, parameters
# (from params.yaml) and outputs. Raw data (videos + annotations) is versioned by data.dvc.
"""

#: the tracker's (DVCLive's) curves of each training stage: train/{loss,lr,samples_per_s,...}, val/loss
TRAINING_CURVES = {stage: f"work/train/{stage}/dvclive/plots/metrics" for stage in ("gesm", "instruct")}
DVC_PLOTS = [
    {"training_loss": {"template": "linear", "x": "step", "y": {
        f"{folder}/{split}/loss.tsv": "loss" for folder in TRAINING_CURVES.values() for split in ("train", "val")}}},
    *({folder: {"x": "step"}} for folder in TRAINING_CURVES.values()),
    {"metrics/plots/grounding.csv": {"x": "iou"}},
    {"metrics/plots/dense_captioning.csv": {"x": "tiou"}},
]


def _dvc_stage(step: steps.Step) -> dict:
    stage: dict = {"cmd": step.cmds[0] if len(step.cmds) == 1 else list(step.cmds), "deps": list(step.deps)}
    if step.params:
        stage["params"] = list(step.params)
    outs, metrics = [], []
    for out in step.outs:
        if out == "metrics/headline.json":  # the short file `dvc metrics show/diff` and `dvc exp show` read
            metrics.append({out: {"cache": False}})
        elif out in step.persist:
            outs.append({out: {"persist": True}})
        elif out in step.uncached:
            outs.append({out: {"cache": False}})
        else:
            outs.append(out)
    stage["outs"] = outs
    if metrics:
        stage["metrics"] = metrics
    if step.always_run:  # e.g. the champion's scores: the gate re-runs only when they changed
        stage["always_changed"] = True
    return stage


def dvc_yaml(shards: int = 1) -> str:
    """The text of ``dvc.yaml``: one stage per enabled step, then the plots. With ``shards`` > 1 a sharded
    step is a ``foreach`` stage over its shards (``<step>_shard@K``) and its merge, under the step's name."""
    stages = {}
    for step in steps.enabled_steps():
        if step.sharded and shards > 1:
            shard = _dvc_stage(steps.shard_stage(step, f"${{item}}/{shards}", shards))
            stages[f"{step.name}_shard"] = {"foreach": list(range(shards)), "do": shard}
            step = steps.merge_stage(step, shards)
        stages[step.name] = _dvc_stage(step)
    body = yaml.safe_dump({"stages": stages}, sort_keys=False, width=110)
    plots = yaml.safe_dump({"plots": DVC_PLOTS}, sort_keys=False, width=110)
    return DVC_HEADER + body + "\n# `dvc plots show`: training curves and the evaluation threshold curves\n" + plots


def airflow_table() -> str:
    """The text of ``dags/momentor_step_table.py``: the enabled steps as plain dicts, with their resources."""
    rows = []
    for step in steps.enabled_steps():
        row = {k: v for k, v in dataclasses.asdict(step).items()
               if k in ("name", "cmds", "when", "durable", "persist", "sharded")}
        row["cmds"] = list(row["cmds"])
        row["persist"] = list(row["persist"])
        row["needs"] = list(step.needs)
        row["kind"] = step.resources
        row["resources"] = steps.resources(step.name)
        rows.append(row)
    return (f'"""The pipeline\'s steps for the Airflow DAGs ({GENERATED}).\n\n'
            "A literal, because the Airflow image has no momentor to import.\n\"\"\"\n\n"
            f"STEPS = {pprint.pformat(rows, width=110, sort_dicts=False)}\n")


def write_all(root: str | Path = ".", shards: int = 1) -> list[Path]:
    """Write ``dvc.yaml`` (with ``shards`` shards of the sharded steps: DVC reads no count at run time)
    and the Airflow table under the project ``root``; the paths written."""
    root = Path(root)
    written = []
    for name, text in ((DVC_FILE, dvc_yaml(shards)), (AIRFLOW_TABLE, airflow_table())):
        path = root / name
        path.write_text(text)
        written.append(path)
    return written
