"""The Moment-10M data engine: event boundaries, instance tracks and instructions for the 8 task types."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def engine(params: Input[Artifact], raw: str, data_version: str, manifest: Input[Dataset], features: Input[Dataset],
           updated_manifest: Output[Dataset], engine_report: Output[Artifact]):
    """``momentor engine``: a copy of the manifest with the engine's rows, and the engine's report."""
    from momentor.artifact_workspace import run_verb

    run_verb(["engine"], params.path, raw=raw, inputs={"features": features.path},
             updates={"manifest": (manifest.path, updated_manifest.path)}, outputs={"engine": engine_report.path})
