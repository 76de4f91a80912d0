"""The gate's verbs on a real (tiny) model and corpus: an untrained candidate is rejected by the random
baseline check, and a champion whose split changed is re-scored by predicting with its checkpoint."""

from __future__ import annotations

import json

from momentor_tiny_corpus import corpus_overrides

from momentor.cli import main


def _verb(tiny_corpus, *argv) -> int:
    overrides = [a for o in corpus_overrides(tiny_corpus) for a in ("-S", o)]
    return main([*argv, "--params", "params.yaml", *overrides])


def test_an_untrained_model_is_rejected_and_a_changed_split_is_predicted_again(tiny_corpus, tiny_checkpoint, tmp_path,
                                                                              monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # params.yaml
    manifest = str(tiny_corpus / "work" / "manifest")
    champion = tmp_path / "champion"

    def evaluate(split: str, out):
        for task in ("grounding", "dense_captioning"):
            assert _verb(tiny_corpus, "evaluate", task, "--gt", manifest, "--split", split, "--pred",
                         str(tmp_path / f"pred-{split}" / f"{task}.json"), "--out", str(out / f"{task}.json"),
                         "--metrics", str(out / "metrics.json")) == 0

    # the untrained candidate (the builder's fresh model), through predict → evaluate → baselines → gate
    # (generation lengths as the re-scoring's `momentor predict` defaults: the same checkpoint, the same answers)
    assert _verb(tiny_corpus, "predict", "--checkpoint", str(tiny_checkpoint), "--manifest", manifest, "--split",
                 "test", "--out", str(tmp_path / "pred-test")) == 0
    evaluate("test", tmp_path / "eval")
    assert _verb(tiny_corpus, "baselines", "--gt", manifest, "--split", "test", "--out", str(tmp_path / "base")) == 0
    assert _verb(tiny_corpus, "rescore-champion", "--gt", manifest, "--champion", str(champion), "--out",
                 str(tmp_path / "champion-scores")) == 0
    decision_path = tmp_path / "decision.json"
    assert _verb(tiny_corpus, "gate", "--metrics", str(tmp_path / "eval" / "metrics.json"), "--baseline-results",
                 str(tmp_path / "base"), "--champion-results", str(tmp_path / "champion-scores"), "--champion",
                 str(champion), "--out", str(decision_path), "--fail-on-reject") == 1
    decision = json.loads(decision_path.read_text())
    failed = [(c["task"], c["check"]) for c in decision["reasons"] if not c["passed"]]
    assert ("grounding", "baseline:random") in failed
    assert set(decision["tasks"]["dense_captioning"]["models"]) == {"candidate", "random", "fixed"}

    # make it the champion anyway, with results scored on another split: its stored predictions cannot be reused
    assert _verb(tiny_corpus, "predict", "--checkpoint", str(tiny_checkpoint), "--manifest", manifest, "--split",
                 "train", "--out", str(tmp_path / "pred-train"), "--max-new-tokens", "6",
                 "--max-caption-tokens", "8") == 0
    evaluate("train", tmp_path / "eval-train")
    assert _verb(tiny_corpus, "promote", "--checkpoint", str(tiny_checkpoint), "--metrics",
                 str(tmp_path / "eval-train" / "metrics.json"), "--results", str(tmp_path / "eval-train"),
                 "--predictions", str(tmp_path / "pred-train"), "--champion", str(champion), "--force") == 0
    scores = tmp_path / "champion-scores"
    assert _verb(tiny_corpus, "rescore-champion", "--gt", manifest, "--champion", str(champion), "--out",
                 str(scores)) == 0
    marker = json.loads((scores / "champion.json").read_text())
    assert marker["predictions"].startswith("predicted with the champion's checkpoint")
    # the same checkpoint predicted the same split again: the same per-query scores as the candidate's
    for task in ("grounding", "dense_captioning"):
        again = json.loads((scores / f"{task}.json").read_text())["items"]
        ours = json.loads((tmp_path / "eval" / f"{task}.json").read_text())["items"]
        assert again == ours
