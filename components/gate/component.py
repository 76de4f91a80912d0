"""The promotion gate: floors and non-regression against the champion; its decision drives dsl.If."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Input, Metrics, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def gate(params: Input[Artifact], metrics_file: Input[Artifact], champion_dir: str, decision: Output[Artifact],
         checks: Output[Metrics]) -> NamedTuple("GateOutputs", passed=bool):
    """``momentor gate`` against the champion in ``champion_dir`` (on the durable workspace volume: the
    champion promoted by the previous run): writes the decision artifact and returns its ``passed``."""
    import json
    from collections import namedtuple

    from momentor.artifact_workspace import run_verb

    run_verb(["gate", "--metrics", metrics_file.path, "--champion", champion_dir, "--out", decision.path],
             params.path)
    verdict = json.loads(open(decision.path).read())
    for reason in verdict["reasons"]:
        checks.log_metric(f"{reason['check']}:{reason['metric']}", 1.0 if reason["passed"] else 0.0)
    return namedtuple("GateOutputs", ["passed"])(bool(verdict["passed"]))
