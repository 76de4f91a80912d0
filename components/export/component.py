"""ONNX export of the frame encoder of the promoted model (only in the gate's passing branch)."""

from kfp import dsl
from kfp.dsl import Artifact, Input, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def export(params: Input[Artifact], model: Input[Model], onnx: Output[Model]):
    """``momentor export``: the ONNX files, checked against PyTorch within ``export.atol``."""
    from momentor.artifact_workspace import run_verb

    run_verb(["export", "--checkpoint", model.path, "--out", "work/export"], params.path,
             outputs={"export": onnx.path})
