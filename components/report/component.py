"""The evaluation report, after the gate and before the decision is carried out, on both branches: the candidate
next to the champion it was judged against and the baselines, with the gate's decision on top."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def report(params: Input[Artifact], metrics_file: Input[Artifact], decision: Input[Artifact],
           baseline_results: Input[Dataset], champion_results: Input[Dataset], champion_dir: str,
           page: Output[HTML], gesm_model: Input[Model] = None, instruct_model: Input[Model] = None):
    """``momentor report``, with the training curves of the stages that ran (each stage's ``metrics.csv``
    travels with its model). KFP's UI shows the HTML artifact."""
    import os

    from momentor.artifact_workspace import run_verb

    logs = [a for m in (gesm_model, instruct_model) if m is not None for a in ("--train-log", os.path.join(m.path, "metrics.csv"))
            if os.path.isfile(os.path.join(m.path, "metrics.csv"))]
    run_verb(["report", "--metrics", metrics_file.path, "--decision", decision.path, "--baseline-results",
              baseline_results.path, "--champion-results", champion_results.path, "--champion", champion_dir,
              *logs, "--out", page.path], params.path)
