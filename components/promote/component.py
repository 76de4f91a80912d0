"""Make the candidate the champion (only in the gate's passing branch)."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def promote(params: Input[Artifact], model: Input[Model], metrics_file: Input[Artifact], decision: Input[Artifact],
            results: Input[Dataset], predictions: Input[Dataset], baseline_results: Input[Dataset], champion_dir: str,
            promotion: Output[Artifact], data_version: str = ""):
    """``momentor promote`` into ``champion_dir`` (on the workspace volume), with the candidate's per-item results
    and predictions, so the next run's gate re-scores it without predicting again; the release holds the model
    in the Hugging Face layout with a card (its metrics beside the baselines', the data version); the promotion
    record as artifact. A retry after a promotion that succeeded changes nothing (the same checkpoint is the
    champion)."""
    import os
    import shutil

    from momentor.artifact_workspace import run_verb

    run_verb(["promote", "--checkpoint", model.path, "--metrics", metrics_file.path, "--decision", decision.path,
              "--results", results.path, "--predictions", predictions.path, "--baselines", baseline_results.path,
              "--champion", champion_dir] + (["--data-version", data_version] if data_version else []),
             params.path)
    shutil.copyfile(os.path.join(champion_dir, "promotion.json"), promotion.path)
    promotion.metadata["champion"] = os.path.realpath(champion_dir)
