"""Predictions of a checkpoint on the evaluation split, one file per evaluation task."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def predict(params: Input[Artifact], manifest: Input[Dataset], features: Input[Dataset], model: Input[Model],
            predictions: Output[Dataset]):
    """``momentor predict``: ``<task>.json`` prediction files in ``predictions``."""
    from momentor.artifact_workspace import run_verb

    run_verb(["predict", "--checkpoint", model.path, "--out", "work/predictions"], params.path,
             inputs={"manifest": manifest.path, "features": features.path},
             outputs={"predictions": predictions.path})
