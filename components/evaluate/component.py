"""Scores of the predictions against the manifest's ground truth: per-task results, the combined file and the
headline metrics."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def evaluate(params: Input[Artifact], manifest: Input[Dataset], predictions: Input[Dataset], tasks: list,
             split: str, metrics_file: Output[Artifact], results: Output[Dataset], scores: Output[Metrics]):
    """``momentor evaluate TASK`` per task: ``<task>.json`` results with their per-item scores in ``results``
    (what the gate resamples), the combined aggregates in ``metrics_file``, and each task's few headline keys
    (with the headline's interval) logged as KFP metrics."""
    import json
    import os

    from momentor.artifact_workspace import run_verb

    os.makedirs(results.path, exist_ok=True)
    headline = os.path.join(results.path, "headline.json")
    for task in tasks:
        run_verb(["evaluate", task, "--gt", "work/manifest", "--pred", os.path.join(predictions.path, f"{task}.json"),
                  "--split", split, "--out", os.path.join(results.path, f"{task}.json"), "--metrics",
                  metrics_file.path, "--headline", headline], params.path, inputs={"manifest": manifest.path})
    for task, entry in json.loads(open(headline).read()).items():
        for key, value in entry.items():
            scores.log_metric(f"{task}.{key}", value)
