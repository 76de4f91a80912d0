"""One training stage (modality alignment, GESM pretraining or instruction tuning) of the trainable Momentor parts."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def train(params: Input[Artifact], manifest: Input[Dataset], features: Input[Dataset], stage: str,
          model: Output[Model], training: Output[Metrics], init_model: Input[Model] = None):
    """``momentor train --stage STAGE`` (from ``init_model`` when given): the final checkpoint, and the last
    step's losses and throughput as metrics (a disabled stage hands on its initial weights)."""
    import json
    import os

    from momentor.artifact_workspace import run_verb

    argv = ["train", "--stage", stage, "--out", "work/train", "--no-progress"]
    if init_model is not None:
        argv += ["--init", init_model.path]
    run_verb(argv, params.path, inputs={"manifest": manifest.path, "features": features.path},
             outputs={"train/final": model.path})
    state = json.loads(open(os.path.join(model.path, "training_state.json")).read())
    training.log_metric("steps", state.get("step", 0))
    for key, value in (state.get("metrics") or {}).items():
        if key not in ("step", "stage"):
            training.log_metric(key, float(value))
