"""The champion scored on the candidate's evaluation split, so the gate compares the two on the same items."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def rescore_champion(params: Input[Artifact], manifest: Input[Dataset], features: Input[Dataset], tasks: list,
                     split: str, champion_dir: str, results: Output[Dataset]):
    """``momentor rescore-champion`` for the champion in ``champion_dir`` (on the workspace volume): its stored
    predictions re-scored when the split is unchanged since its promotion, else its checkpoint predicts the
    split. Without a champion the results folder holds only a marker saying so. Never cached: the champion
    is state outside the artifacts."""
    from momentor.artifact_workspace import run_verb

    run_verb(["rescore-champion", "--gt", "work/manifest", "--split", split, "--tasks", *tasks,
              "--champion", champion_dir, "--out", "work/champion_scores"], params.path,
             inputs={"manifest": manifest.path, "features": features.path},
             outputs={"champion_scores": results.path})
