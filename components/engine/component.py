"""The Moment-10M data engine: event boundaries, instance tracks and instructions for the 8 task types, in
shards (the plan of ``components/features``), then the merge of their parts."""

from typing import List

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def engine_shard(params: Input[Artifact], raw: str, data_version: str, manifest: Input[Dataset],
                 features: Input[Dataset], shard: str, part: Output[Dataset]):
    """``momentor engine --shard K/N``: the engine's rows and counts of shard K's videos (its part)."""
    from momentor.artifact_workspace import run_verb
    from momentor.data.shards import parse_shard, part_dir

    name = str(part_dir("", "engine", *parse_shard(shard)))  # where the verb writes it under work/
    run_verb(["engine", "--shard", shard], params.path, raw=raw,
             inputs={"manifest": manifest.path, "features": features.path}, outputs={name: part.path})


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def engine(params: Input[Artifact], raw: str, data_version: str, manifest: Input[Dataset],
           parts: Input[List[Dataset]], updated_manifest: Output[Dataset], engine_report: Output[Artifact]):
    """``momentor engine --merge N``: a copy of the manifest with the engine's rows, and the engine's report."""
    from momentor.artifact_workspace import run_verb
    from momentor.data.shards import part_name

    inputs = {f"shards/engine/{part_name(p.path)}": p.path for p in parts}  # each part says which it is
    run_verb(["engine", "--merge", str(len(parts))], params.path, raw=raw, inputs=inputs,
             updates={"manifest": (manifest.path, updated_manifest.path)}, outputs={"engine": engine_report.path})
