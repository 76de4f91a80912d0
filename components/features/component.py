"""Frame features of the manifest's videos with the configured frozen encoder, in shards: the plan
(``pipeline.shards`` of the run's config), one task per shard over its videos (``dsl.ParallelFor``), and
the merge of their parts into the features artifact."""

from typing import List

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def shard_plan(params: Input[Artifact], raw: str, data_version: str) -> list:
    """What the sharded steps fan out over: per shard (``K/N`` of the config's ``pipeline.shards``), the raw
    data and its version, so that the loop body reads them from its item. (KFP 2.17's local runner sets every
    upstream task's output parameter a loop reads to the loop item; the item carries them instead.)"""
    from momentor.step_commands import shard_plan as plan

    return [{"shard": shard, "raw": raw, "data_version": data_version} for shard in plan(params.path, [])]


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def features_shard(params: Input[Artifact], raw: str, data_version: str, manifest: Input[Dataset], shard: str,
                   part: Output[Dataset], accelerator: str = "", accelerators: str = "0"):
    """``momentor features --shard K/N``: the features of shard K's videos (its part, with its quarantine
    entries). KFP caches each shard by its inputs, ``shard`` included: a retried or re-run shard redoes
    only its own videos. ``accelerator`` and ``accelerators`` are the task's accelerator type and count (strings:
    KFP's driver reads resources as strings), inputs so that KFP hands them into the ParallelFor (kfp 2.17 does
    not for a resource alone: the loop then lacks them). The local runner replaces an upstream output that a
    loop reads with the loop item: they are not read here, and it sets no resources."""
    from momentor.artifact_workspace import run_verb
    from momentor.data.shards import parse_shard, part_dir

    name = str(part_dir("", "features", *parse_shard(shard)))  # where the verb writes it under work/
    run_verb(["features", "--no-progress", "--shard", shard], params.path, raw=raw, inputs={"manifest": manifest.path},
             outputs={name: part.path})


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def features(params: Input[Artifact], raw: str, data_version: str, manifest: Input[Dataset],
             parts: Input[List[Dataset]], features: Output[Dataset], updated_manifest: Output[Dataset]):
    """``momentor features --merge N`` over the shards' parts: the features of every video, as one process
    writes them. Videos that failed to decode are quarantined in the manifest, so the step hands on an
    updated copy of it."""
    from momentor.artifact_workspace import run_verb
    from momentor.data.shards import part_name

    inputs = {f"shards/features/{part_name(p.path)}": p.path for p in parts}  # each part says which it is
    run_verb(["features", "--merge", str(len(parts))], params.path, raw=raw, inputs=inputs,
             updates={"manifest": (manifest.path, updated_manifest.path)}, outputs={"features": features.path})
