"""Predictions of a checkpoint on the evaluation split: grounding windows and dense captions."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def predict(params: Input[Artifact], manifest: Input[Dataset], features: Input[Dataset], model: Input[Model],
            split: str, predictions: Output[Dataset]):
    """``momentor predict``: ``grounding.json`` and ``dense_captioning.json`` in ``predictions``."""
    from momentor.artifact_workspace import run_verb

    run_verb(["predict", "--checkpoint", model.path, "--split", split, "--out", "work/predictions"], params.path,
             inputs={"manifest": manifest.path, "features": features.path},
             outputs={"predictions": predictions.path})
