"""The raw data of the run: the embedded sample corpus, or a snapshot of a given folder."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def raw_data(params: Input[Artifact], raw_data_uri: str, raw: Output[Dataset]):
    """``momentor sample-data`` into ``<raw>/sample`` (a project's ``data/sample``) when ``raw_data_uri`` is
    empty; else a copy of that folder (laid out like a project's ``data/``, as the pod sees it: a mounted
    volume), so the run keeps the exact data it trained on.

    One component rather than ``dsl.If`` + ``dsl.importer`` + ``dsl.OneOf``: KFP's local runner cannot
    resolve a ``OneOf`` of artifacts, and the pipeline must run locally.
    """
    import shutil

    from momentor.artifact_workspace import run_verb

    if raw_data_uri:
        shutil.copytree(raw_data_uri, raw.path, symlinks=False)
    else:
        run_verb(["sample-data"], params.path, raw=raw.path)
