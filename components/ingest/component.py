"""Read the configured sources of the raw data into the canonical manifest."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def ingest(params: Input[Artifact], raw: str, data_version: str, manifest: Output[Dataset]):
    """``momentor ingest``; ``data.sources`` paths such as ``data/sample`` resolve inside ``raw`` (read in place;
    ``data_version`` is the content version of ``raw``: it keys the cache)."""
    from momentor.artifact_workspace import run_verb

    run_verb(["ingest"], params.path, raw=raw, outputs={"manifest": manifest.path})
    manifest.metadata["data_version"] = data_version
