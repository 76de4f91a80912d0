"""Great Expectations checks of the manifest, the instructions and the features (the run stops on failure
when ``validate.stop_on_failure``)."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def validate(params: Input[Artifact], raw: Input[Dataset], manifest: Input[Dataset], features: Input[Dataset],
             validation: Output[Artifact]):
    """``momentor validate``: the summary and Data Docs land in ``validation``; video paths resolve in ``raw``."""
    from momentor.artifact_workspace import run_verb

    run_verb(["validate"], params.path, raw=raw.path, inputs={"manifest": manifest.path, "features": features.path},
             outputs={"validate": validation.path})
