"""Scores of the predictions against the manifest's ground truth, as KFP metrics and the combined file."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def evaluate(params: Input[Artifact], manifest: Input[Dataset], predictions: Input[Dataset], tasks: list,
             split: str, metrics_file: Output[Artifact], scores: Output[Metrics]):
    """``momentor evaluate TASK`` per task into one combined metrics file; every score is logged."""
    import json
    import os

    from momentor.artifact_workspace import run_verb
    from momentor.eval.tasks import flatten

    for task in tasks:
        run_verb(["evaluate", task, "--gt", "work/manifest", "--pred", os.path.join(predictions.path, f"{task}.json"),
                  "--split", split, "--metrics", metrics_file.path], params.path, inputs={"manifest": manifest.path})
    for key, value in flatten(json.loads(open(metrics_file.path).read())).items():
        scores.log_metric(key, value)
