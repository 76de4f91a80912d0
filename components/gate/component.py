"""The promotion gate: paired bootstrap intervals against the baselines and the re-scored champion; its
decision drives dsl.If."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def gate(params: Input[Artifact], model: Input[Model], metrics_file: Input[Artifact], results: Input[Dataset],
         baseline_results: Input[Dataset], champion_results: Input[Dataset], champion_dir: str,
         decision: Output[Artifact], checks: Output[Metrics]) -> NamedTuple("GateOutputs", passed=bool):
    """``momentor gate``: the candidate's per-item results against the baselines' and the champion's (re-scored
    on the same split by the rescore_champion task, for the champion in ``champion_dir`` on the workspace
    volume) and the candidate ``model``'s weights (finite; the decision is bound to their digest, which promote
    checks); writes the decision artifact, logs each check's difference and returns ``passed``."""
    import json
    from collections import namedtuple

    from momentor.artifact_workspace import run_verb

    run_verb(["gate", "--metrics", metrics_file.path, "--results", results.path, "--baseline-results",
              baseline_results.path, "--champion-results", champion_results.path, "--checkpoint", model.path,
              "--champion", champion_dir,
              "--out", decision.path], params.path)
    verdict = json.loads(open(decision.path).read())
    for check in verdict["reasons"]:
        name = f"{check['task']}.{check['metric']} {check['check']}"
        checks.log_metric(f"{name} passed", 1.0 if check["passed"] else 0.0)
        if check["difference"] is not None:
            checks.log_metric(f"{name} difference", check["difference"])
    return namedtuple("GateOutputs", ["passed"])(bool(verdict["passed"]))
