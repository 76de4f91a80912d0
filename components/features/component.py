"""Frame features of the manifest's videos with the configured frozen encoder."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def features(params: Input[Artifact], raw: str, data_version: str, manifest: Input[Dataset],
             features: Output[Dataset], updated_manifest: Output[Dataset]):
    """``momentor features``; the manifest's video paths point into ``raw``. Videos that fail to decode are
    quarantined in the manifest, so the step hands on an updated copy of it."""
    from momentor.artifact_workspace import run_verb

    run_verb(["features", "--no-progress"], params.path, raw=raw,
             updates={"manifest": (manifest.path, updated_manifest.path)}, outputs={"features": features.path})
