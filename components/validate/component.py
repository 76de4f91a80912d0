"""Great Expectations suites over the manifest (and features): data that fails stops the pipeline here."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def validate(params: Input[Artifact], data_version: str, manifest: Input[Dataset], suites: list,
             validation: Output[Artifact], features: Input[Dataset] = None, raw: str = ""):
    """``momentor validate --suite ...``: the summary and Data Docs land in ``validation``. The data steps
    run it with the manifest and feature suites (the video files the manifest names are checked in ``raw``);
    the instruction step with the instruction suite over the engine's manifest, which reads no raw data."""
    from momentor.artifact_workspace import run_verb

    inputs = {"manifest": manifest.path, **({"features": features.path} if features is not None else {})}
    argv = ["validate", *(a for suite in suites for a in ("--suite", suite))]
    run_verb(argv, params.path, raw=raw or None, inputs=inputs, outputs={"validate": validation.path})
