"""The evaluation report, after the gate and before promotion, on both branches: the candidate against the
champion it was judged against, and the gate's decision on top."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Input, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def report(params: Input[Artifact], metrics_file: Input[Artifact], decision: Input[Artifact], champion_dir: str,
           page: Output[HTML]):
    """``momentor report`` with the gate's decision on top; KFP's UI shows the HTML artifact."""
    from momentor.artifact_workspace import run_verb

    run_verb(["report", "--metrics", metrics_file.path, "--decision", decision.path, "--champion", champion_dir,
              "--out", page.path], params.path)
