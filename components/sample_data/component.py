"""Build the embedded sample corpus (real H.264 videos with exact ground truth) as the raw data."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def sample_data(params: Input[Artifact], raw: Output[Dataset]):
    """``momentor sample-data``: the corpus lands in ``<raw>/sample`` (the ``data/sample`` of a project)."""
    from momentor.artifact_workspace import run_verb

    run_verb(["sample-data"], params.path, raw=raw.path)
