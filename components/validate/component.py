"""Great Expectations checks of the manifest and the features (stops the run on failure when configured)."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def validate(params: Input[Artifact], manifest: Input[Dataset], features: Input[Dataset],
             validation: Output[Artifact]):
    """``momentor validate``: the validation results and Data Docs land in ``validation``."""
    from momentor.artifact_workspace import run_verb

    run_verb(["validate"], params.path, inputs={"manifest": manifest.path, "features": features.path},
             outputs={"validation": validation.path})
