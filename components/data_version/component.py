"""The raw data's location and content version: the first step, never cached, whose version keys every cache."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Input, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def data_version(params: Input[Artifact], raw_data_uri: str, workspace: str, listing: Output[Artifact]
                 ) -> NamedTuple("DataVersion", raw=str, version=str):
    """``momentor.pipeline_runs.resolve_raw_data``: the folder the run reads in place (``raw``) and the hash
    of its content (``version``). Every data-dependent step takes ``version`` as an input, so KFP's cache
    key changes exactly when some file's bytes change, wherever they sit. ``listing`` (path -> md5) keeps
    what the run read."""
    from collections import namedtuple

    from momentor.pipeline_runs import resolve_raw_data

    found = resolve_raw_data(raw_data_uri, params.path, workspace, listing.path)
    listing.metadata.update(version=found["version"], files=found["files"], raw=found["raw"])
    return namedtuple("DataVersion", ["raw", "version"])(found["raw"], found["version"])
