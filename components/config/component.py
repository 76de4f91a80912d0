"""Resolve the run's config: package defaults + the pipeline's overrides, validated, as one params file."""

from kfp import dsl
from kfp.dsl import Artifact, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def resolve_config(params: Output[Artifact], preset: str = "", gate_floors: dict = {}, overrides: list = []):
    """Write the resolved ``params.yaml`` every later step reads (a bad override fails here, named)."""
    from momentor import pipeline_runs

    pipeline_runs.resolve_params(params.path, preset, gate_floors, overrides)
