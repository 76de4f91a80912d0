"""One training stage (GESM pretraining or instruction tuning) of the trainable Momentor parts."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def train(params: Input[Artifact], manifest: Input[Dataset], features: Input[Dataset], stage: str,
          model: Output[Model], training: Output[Metrics], init_model: Input[Model] = None):
    """``momentor train --stage STAGE`` (from ``init_model`` when given); the checkpoint and final loss."""
    import json
    import os

    from momentor.artifact_workspace import run_verb

    argv = ["train", "--stage", stage, "--out", "work/checkpoint"]
    if init_model is not None:
        argv += ["--init", init_model.path]
    run_verb(argv, params.path, inputs={"manifest": manifest.path, "features": features.path},
             outputs={"checkpoint": model.path})
    summary = os.path.join(model.path, "train_summary.json")
    if os.path.exists(summary):
        for key, value in json.loads(open(summary).read()).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                training.log_metric(key, value)
