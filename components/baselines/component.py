"""The random and fixed baselines predicted and scored on the evaluation split (the gate compares with them)."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def baselines(params: Input[Artifact], manifest: Input[Dataset], tasks: list, split: str,
              results: Output[Dataset]):
    """``momentor baselines``: ``<random|fixed>/<task>.json`` results (with their predictions) in ``results``.
    They never look at the video, so they depend on the manifest and the params only (KFP caches them)."""
    from momentor.artifact_workspace import run_verb

    run_verb(["baselines", "--gt", "work/manifest", "--split", split, "--tasks", *tasks, "--out", "work/baselines"],
             params.path, inputs={"manifest": manifest.path}, outputs={"baselines": results.path})
