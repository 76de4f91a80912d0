"""Promotion gate: paired intervals against the baselines and the champion on the same items, floors, and the
champion's releases (through the CLI: evaluate → rescore-champion → gate → promote)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from safetensors.torch import load_file
from eval_files import write_json, write_jsonl

from momentor import config
from momentor.cli import main
from momentor.eval import champion as champion_lib
from momentor.eval import gate
from momentor.eval.items import items_block
from momentor.eval.jsonio import EvalInputError
from momentor.hashing import file_sha256
from momentor.model.card import read_card_metadata

ROOT = Path(__file__).resolve().parents[2]


def _result(values, task="grounding", fingerprint="split-1") -> dict:
    ids = [f"q{i}" for i in range(len(values))]
    return {"items": items_block(task, ids, values, fingerprint)}


def _gate(**overrides):
    return config.load(None, [f"gate.{k}={v}" for k, v in overrides.items()]).gate


def _hits(n_hit: int, n: int = 60, offset: int = 0) -> list[float]:
    return [100.0 if offset <= i < offset + n_hit else 0.0 for i in range(n)]


def _decide(candidate, random=None, fixed=None, champion=None, gate_cfg=None, metrics=None):
    baselines = {name: {"grounding": result} for name, result in (("random", random), ("fixed", fixed)) if result}
    return gate.decide(metrics or {"grounding": {"R1@0.5": 0.0}}, {"grounding": candidate}, baselines,
                       None if champion is None else {"grounding": champion}, gate_cfg or _gate())


def _check(decision, name) -> dict:
    return next(c for c in decision["reasons"] if c["check"] == name)


def test_an_untrained_candidate_is_rejected_by_the_random_baseline_check():
    decision = _decide(_result(_hits(0)), random=_result(_hits(6)), fixed=_result(_hits(20)))
    assert not decision["passed"]
    failed = [c for c in decision["reasons"] if c["verdict"] == "fail"]
    assert [c["check"] for c in failed] == ["baseline:random"]
    assert failed[0]["difference"] == -10.0 and failed[0]["shortfall"] > 0 and "random baseline" in failed[0]["note"]
    # the fixed baseline is computed and shown, not gated by default
    assert _check(decision, "baseline:fixed")["verdict"] == "shown"


def test_a_candidate_must_beat_the_random_baseline_with_confidence_not_by_a_hair():
    assert not _decide(_result(_hits(7)), random=_result(_hits(6)))["passed"]  # +1.7 points on 60 queries
    decision = _decide(_result(_hits(30)), random=_result(_hits(6)))
    random = _check(decision, "baseline:random")
    assert decision["passed"] and random["verdict"] == "pass" and random["interval"][0] > 0


def test_the_fixed_baseline_gates_when_listed():
    candidate, fixed = _result(_hits(20)), _result(_hits(25))
    assert _decide(candidate, _result(_hits(2)), fixed)["passed"]
    decision = _decide(candidate, _result(_hits(2)), fixed, gate_cfg=_gate(beat_fixed="[grounding]"))
    assert not decision["passed"] and _check(decision, "baseline:fixed")["verdict"] == "fail"


def test_a_listed_baseline_without_its_result_fails_and_says_how_to_make_it():
    decision = _decide(_result(_hits(30)))
    random = _check(decision, "baseline:random")
    assert not decision["passed"] and "momentor predict --baseline random" in random["note"]


def test_a_candidate_identical_to_the_champion_is_not_a_regression():
    same = _hits(20)
    decision = _decide(_result(same), random=_result(_hits(2)), champion=_result(list(same)))
    compared = _check(decision, "champion")
    assert decision["passed"] and compared["verdict"] == "pass"
    assert compared["difference"] == 0.0 and compared["interval"] == [0.0, 0.0]


def test_a_candidate_clearly_worse_than_the_champion_is_rejected_by_how_much():
    decision = _decide(_result(_hits(15)), random=_result(_hits(2)), champion=_result(_hits(40)))
    compared = _check(decision, "champion")
    assert not decision["passed"] and compared["verdict"] == "fail"
    assert compared["difference"] == pytest.approx(-41.6667, abs=1e-3) and compared["interval"][1] < 0
    assert compared["shortfall"] == pytest.approx(-compared["interval"][1])
    assert decision["tasks"]["grounding"]["models"]["champion"]["value"] == pytest.approx(66.6667, abs=1e-3)


def test_a_small_drop_within_the_noise_or_the_tolerance_passes():
    # 2 of 60 queries lost: the interval of the difference reaches above 0, so it is not called a regression
    champion = _result(_hits(20))
    assert _decide(_result(_hits(18)), random=_result(_hits(2)), champion=champion)["passed"]
    worse = _result(_hits(10))
    assert not _decide(worse, random=_result(_hits(2)), champion=champion)["passed"]
    assert _decide(worse, random=_result(_hits(2)), champion=champion, gate_cfg=_gate(tolerance=40))["passed"]


def test_results_on_other_items_are_not_paired():
    with pytest.raises(EvalInputError, match="other ground truth"):
        _decide(_result(_hits(20)), random=_result(_hits(2), fingerprint="split-2"))


def test_floors_and_tasks_without_items():
    metrics = {"grounding": {"R1@0.5": 33.33}, "qvhighlights": {"brief": {"MR-full-mAP": 10.0}}}
    decision = _decide(_result(_hits(20)), random=_result(_hits(2)), metrics=metrics,
                       gate_cfg=_gate(floors="{grounding.R1@0.5: 40}"))
    floor = _check(decision, "floor")
    assert not decision["passed"] and floor["shortfall"] == pytest.approx(6.67) and floor["verdict"] == "fail"
    skipped = _check(decision, "items")
    assert skipped["task"] == "qvhighlights" and skipped["verdict"] == "skipped" and "no per-item" in skipped["note"]


def test_a_relaxed_gate_is_recorded_and_shown():
    assert gate.relaxed_settings(_gate()) == []
    relaxed = gate.relaxed_settings(_gate(beat_random="[]", tolerance=5))
    assert relaxed == ["gate.beat_random: grounding dropped", "gate.tolerance: 5.0 points (default 0.0)"]
    from momentor.eval import report

    decision = {**_decide(_result(_hits(30)), random=_result(_hits(2))), "relaxed": relaxed}
    assert "asks less than the defaults: gate.beat_random: grounding dropped" in report.render({}, decision=decision)


def test_unknown_tasks_in_the_baseline_lists_are_config_errors():
    with pytest.raises(config.ConfigError, match="gate.beat_random"):
        _gate(beat_random="[youcook2]")


# ------------------------------------------------------------------------------------------------------------
# through the CLI, on the real Charades-STA test queries


def _cli(*argv) -> int:
    return main([*argv[:1], "--params", "params.yaml", *argv[1:]])


def _predictions(fixtures_dir, folder: Path, shift: float) -> Path:
    """Each query's true window moved by ``shift`` seconds, as ``<folder>/grounding.json``."""
    from momentor.eval import grounding

    queries = grounding.load_ground_truth(fixtures_dir / "charades_sta" / "charades_sta_test.txt")
    folder.mkdir(parents=True, exist_ok=True)
    return write_jsonl(folder / "grounding.json", [
        {"query_id": q.query_id, "video_id": q.video_id,
         "pred_windows": [[q.windows[0][0] + shift, q.windows[0][1] + shift, 1.0]]} for q in queries])


def _evaluate(gt, pred, out: Path) -> None:
    assert _cli("evaluate", "grounding", "--gt", str(gt), "--pred", str(pred), "--out", str(out / "grounding.json"),
                "--metrics", str(out / "metrics.json"), "--headline", str(out / "headline.json")) == 0


def _checkpoint(folder: Path, value: float) -> Path:
    """A checkpoint folder (tiny preset's config) with one trainable tensor filled with ``value``."""
    import torch
    from safetensors.torch import save_file

    from momentor import config as config_lib
    from momentor.model.checkpoint import CONFIG, WEIGHTS

    folder.mkdir(exist_ok=True)
    save_file({"projection.weight": torch.full((2, 2), value)}, str(folder / WEIGHTS))
    (folder / CONFIG).write_text(config_lib.dump(config_lib.from_dict({"model": {"preset": "tiny"}})))
    return folder


def _gate_cli(run: Path, champion: Path, *extra, checkpoint=None) -> tuple[int, dict]:
    checkpoint = checkpoint or run.parent / "ckpt"
    code = _cli("gate", "--metrics", str(run / "eval" / "metrics.json"), "--baseline-results", str(run / "baselines"),
                "--champion-results", str(run / "champion"), "--champion", str(champion), "--checkpoint",
                str(checkpoint), "--out", str(run / "decision.json"), *extra)
    return code, json.loads((run / "decision.json").read_text())


def _run(fixtures_dir, tmp_path, name: str, shift: float, champion: Path) -> Path:
    """One run's evaluation: the candidate's predictions and results, the baselines', the champion re-scored."""
    gt = fixtures_dir / "charades_sta" / "charades_sta_test.txt"
    run = tmp_path / name
    _evaluate(gt, _predictions(fixtures_dir, run / "predictions", shift), run / "eval")
    for baseline, off in (("random", 9.0), ("fixed", 6.0)):  # far-off windows stand in for the baselines
        folder = run / "baselines" / baseline
        _evaluate(gt, _predictions(fixtures_dir, folder / "predictions", off), folder)
    assert _cli("rescore-champion", "--gt", str(gt), "--tasks", "grounding", "--champion", str(champion),
                "--out", str(run / "champion")) == 0
    return run


def test_evaluate_rescore_gate_promote_through_the_cli(fixtures_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)  # params.yaml
    champion = tmp_path / "champion"
    checkpoint = _checkpoint(tmp_path / "ckpt", 1.0)

    first = _run(fixtures_dir, tmp_path, "first", 0.0, champion)
    assert json.loads((first / "champion" / "champion.json").read_text())["champion"] is None
    code, decision = _gate_cli(first, champion)
    assert code == 0 and decision["passed"] and decision["champion"] is None
    assert [(c["check"], c["verdict"]) for c in decision["reasons"]] == [
        ("finite_weights", "pass"), ("baseline:random", "pass"), ("baseline:fixed", "shown"), ("champion", "skipped")]
    headline = json.loads((first / "eval" / "headline.json").read_text())
    assert headline["grounding"]["R1@0.5"] == 100.0 and set(headline["grounding"]) >= {"R1@0.5_low", "mIoU"}
    assert _cli("promote", "--checkpoint", str(checkpoint), "--metrics", str(first / "eval" / "metrics.json"),
                "--decision", str(first / "decision.json"), "--results", str(first / "eval"),
                "--predictions", str(first / "predictions"), "--baselines", str(first / "baselines"),
                "--data-version", "v-first", "--champion", str(champion)) == 0
    first_release = champion.resolve()
    assert (champion / "predictions" / "grounding.json").is_file() and (champion / "results" / "grounding.json").is_file()
    # the release's model is in the Hugging Face layout, its card carries the metrics, baselines and data version
    card = read_card_metadata(champion / "model" / "README.md")
    scores = {m["type"]: m["value"] for m in card["model-index"][0]["results"][0]["metrics"]}
    assert scores["R1@0.5"] == 100.0 and card["momentor"]["data_version"] == "v-first"
    assert card["momentor"]["baselines"]["random"]["grounding"]["R1@0.5"] < 100.0

    # the same split: the champion's stored predictions are re-scored, an identical candidate is no regression
    same = _run(fixtures_dir, tmp_path, "same", 0.0, champion)
    marker = json.loads((same / "champion" / "champion.json").read_text())
    assert marker["predictions"].startswith("reused")
    code, decision = _gate_cli(same, champion)
    compared = next(c for c in decision["reasons"] if c["check"] == "champion")
    assert code == 0 and compared["verdict"] == "pass" and compared["interval"] == [0.0, 0.0]
    # promoting the champion's own checkpoint again changes nothing
    assert _cli("promote", "--checkpoint", str(checkpoint), "--metrics", str(same / "eval" / "metrics.json"),
                "--decision", str(same / "decision.json"), "--champion", str(champion)) == 0
    assert champion.resolve() == first_release

    # a clearly worse candidate on the same queries is rejected, by the champion check, and not promoted
    worse = _run(fixtures_dir, tmp_path, "worse", 3.0, champion)
    code, decision = _gate_cli(worse, champion, "--fail-on-reject")
    assert code == 1 and not decision["passed"]
    assert [c["check"] for c in decision["reasons"] if not c["passed"]] == ["champion"]
    _checkpoint(checkpoint, 2.0)
    assert _cli("promote", "--checkpoint", str(checkpoint), "--metrics", str(worse / "eval" / "metrics.json"),
                "--decision", str(worse / "decision.json"), "--champion", str(champion)) == 1
    assert "rejected" in capsys.readouterr().err and champion.resolve() == first_release

    # the champion exists but was not re-scored on this split: the gate refuses to compare old numbers
    capsys.readouterr()
    assert _cli("gate", "--metrics", str(worse / "eval" / "metrics.json"), "--champion", str(champion),
                "--baseline-results", str(worse / "baselines"), "--out", str(tmp_path / "d.json")) == 1
    assert "not re-scored" in capsys.readouterr().err


def _bound(checkpoint: Path, metrics: Path, champion: Path) -> dict:
    """A passing decision bound to this checkpoint, these metrics and the current champion, as the gate writes."""
    return {"passed": True, "reasons": [],
            "candidate": {"checkpoint_digest": champion_lib.checkpoint_digest(checkpoint),
                          "metrics_digest": file_sha256(metrics)},
            "champion_release": champion_lib.current_release(champion)}


def test_promote_checks_the_decision_is_about_this_checkpoint_these_metrics_and_this_champion(tmp_path):
    checkpoint, champion = _checkpoint(tmp_path / "ckpt", 1.0), tmp_path / "champion"
    metrics = write_json(tmp_path / "m.json", {"grounding": {"R1@0.5": 30.0}})
    with pytest.raises(EvalInputError, match="no digests"):  # a hand-written {"passed": true}
        champion_lib.promote(checkpoint, metrics, champion, {"passed": True})
    decision = _bound(checkpoint, metrics, champion)
    _checkpoint(checkpoint, float("nan"))  # the checkpoint changed after the gate judged it
    with pytest.raises(EvalInputError, match="another checkpoint"):
        champion_lib.promote(checkpoint, metrics, champion, decision)
    decision = _bound(checkpoint, metrics, champion)
    other = _checkpoint(tmp_path / "other", 3.0)
    champion_lib.promote(other, metrics, champion, _bound(other, metrics, champion))  # the champion moved on
    with pytest.raises(EvalInputError, match="champion changed"):
        champion_lib.promote(checkpoint, metrics, champion, decision)
    forced = champion_lib.promote(checkpoint, metrics, champion, decision, force=True)
    assert json.loads((forced / "promotion.json").read_text())["forced"] is True


def test_the_gate_rejects_non_finite_weights(fixtures_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    champion = tmp_path / "champion"
    run = _run(fixtures_dir, tmp_path, "nan", 0.0, champion)
    code, decision = _gate_cli(run, champion, checkpoint=_checkpoint(tmp_path / "nan-ckpt", float("nan")))
    weights = decision["reasons"][0]
    assert code == 0 and not decision["passed"] and weights["check"] == "finite_weights"
    assert weights["verdict"] == "fail" and "projection.weight" in weights["note"]


def test_promote_needs_a_decision(tmp_path):
    _checkpoint(tmp_path / "ckpt", 1.0)
    metrics = write_json(tmp_path / "m.json", {"grounding": {"R1@0.5": 30.0}})
    with pytest.raises(EvalInputError, match="--decision"):
        champion_lib.promote(tmp_path / "ckpt", metrics, tmp_path / "champion")
    release = champion_lib.promote(tmp_path / "ckpt", metrics, tmp_path / "champion", force=True)
    assert json.loads((release / "promotion.json").read_text())["forced"] is True
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvalInputError, match="empty is not a model to promote"):
        champion_lib.promote(tmp_path / "empty", metrics, tmp_path / "champion", force=True)


def test_plain_champion_folder_is_kept_as_a_release(tmp_path):
    legacy = tmp_path / "champion"
    legacy.mkdir()
    write_json(legacy / "metrics.json", {"grounding": {"R1@0.5": 1.0}})
    _checkpoint(tmp_path / "ckpt", 1.0)
    champion_lib.promote(tmp_path / "ckpt", write_json(tmp_path / "m.json", {"grounding": {"R1@0.5": 2.0}}), legacy,
                         force=True)
    assert legacy.is_symlink()
    kept = list((tmp_path / "champion.releases").glob("legacy-*"))
    assert len(kept) == 1 and json.loads((kept[0] / "metrics.json").read_text())["grounding"]["R1@0.5"] == 1.0


def test_past_releases_are_pruned_to_the_retention_the_user_sets(tmp_path):
    champion = tmp_path / "champion"
    released = []
    for i in range(5):
        _checkpoint(tmp_path / "ckpt", float(i))
        metrics = write_json(tmp_path / "m.json", {"grounding": {"R1@0.5": float(i)}})
        release = champion_lib.promote(tmp_path / "ckpt", metrics, champion, force=True, keep=2)
        os.utime(release, ns=(i * 10**9, i * 10**9))  # promotion order, whatever the file system's clock
        released.append(release)
    left = sorted(p.name for p in (tmp_path / "champion.releases").iterdir())
    # the current champion and the two newest past ones: rollback stays possible, the rest is gone
    assert left == sorted(r.name for r in released[-3:])
    assert champion.resolve() == released[-1].resolve()
    released_weights = load_file(champion / "model" / "model.safetensors")  # the Hugging Face layout
    assert released_weights["projection.weight"].eq(4.0).all()
    assert champion_lib.prune_releases(champion, 0) == [released[-2], released[-3]]
    assert [p.name for p in (tmp_path / "champion.releases").iterdir()] == [released[-1].name]


def test_a_retried_promotion_after_success_changes_nothing(tmp_path):
    """KFP retries a promote pod that died after the swap: the champion is already this checkpoint."""
    checkpoint, champion = _checkpoint(tmp_path / "ckpt", 1.0), tmp_path / "champion"
    metrics = write_json(tmp_path / "m.json", {"grounding": {"R1@0.5": 30.0}})
    decision = _bound(checkpoint, metrics, champion)
    release = champion_lib.promote(checkpoint, metrics, champion, decision)
    assert champion_lib.promote(checkpoint, metrics, champion, decision) == release
    assert [p.name for p in (tmp_path / "champion.releases").iterdir()] == [release.name]
