"""Promotion gate: floors, non-regression, no champion, and the atomic champion switch (through the CLI)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from eval_files import write_json

from momentor.cli import main
from momentor.eval import gate
from momentor.eval.jsonio import EvalInputError

FLOORS = {"grounding.R1@0.5": 20.0, "qvhighlights.brief.MR-full-mAP": 0.0}


def _metrics(r1, mr_map=10.0):
    return {
        "grounding": {"R1@0.5": r1, "convention": {"iou_inclusive": True}},
        "qvhighlights": {"brief": {"MR-full-mAP": mr_map}},
    }


def test_passes_floors_without_a_champion():
    decision = gate.decide(_metrics(25.0), FLOORS, champion=None)
    assert decision["passed"]
    assert [(r["metric"], r["check"], r["passed"]) for r in decision["reasons"]] == [
        ("grounding.R1@0.5", "floor", True),
        ("qvhighlights.brief.MR-full-mAP", "floor", True),
    ]


def test_fails_below_a_floor():
    decision = gate.decide(_metrics(19.99), FLOORS, champion=None)
    assert not decision["passed"]
    assert [r["metric"] for r in decision["reasons"] if not r["passed"]] == ["grounding.R1@0.5"]


def test_fails_on_regression_beyond_the_allowance():
    champion = _metrics(30.0, mr_map=10.0)
    assert gate.decide(_metrics(29.5, 10.0), FLOORS, champion, max_regression=0.5)["passed"]
    decision = gate.decide(_metrics(29.4, 10.0), FLOORS, champion, max_regression=0.5)
    failed = [r for r in decision["reasons"] if not r["passed"]]
    assert not decision["passed"] and len(failed) == 1
    assert failed[0] == {
        "metric": "grounding.R1@0.5",
        "check": "champion",
        "value": 29.4,
        "champion": 30.0,
        "passed": False,
    }


def test_missing_metric_fails_and_says_why():
    decision = gate.decide({"grounding": {"R1@0.5": 50.0}}, FLOORS, champion=None)
    missing = decision["reasons"][1]
    assert not decision["passed"] and missing["value"] is None and "missing" in missing["note"]


def test_champion_without_the_metric_is_not_compared():
    decision = gate.decide(_metrics(25.0), FLOORS, champion={"grounding": {"R1@0.5": 24.0}})
    assert decision["passed"]
    assert "not compared" in decision["reasons"][-1]["note"]


def _cli(*argv) -> int:
    return main([*argv[:1], "--params", "params.yaml", *argv[1:]])


def test_gate_then_promote_then_regression_through_the_cli(tmp_path, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # the project root, for params.yaml
    champion = tmp_path / "champion"
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "weights.safetensors").write_bytes(b"first")
    first = write_json(tmp_path / "first.json", _metrics(30.0))
    floors = "gate.floors={grounding.R1@0.5: 20.0}"

    assert (
        _cli(
            "gate",
            "-S",
            floors,
            "--metrics",
            str(first),
            "--champion",
            str(champion),
            "--out",
            str(tmp_path / "d1.json"),
        )
        == 0
    )
    d1 = json.loads((tmp_path / "d1.json").read_text())
    assert d1["passed"] and d1["champion"] is None and "no champion" in d1["note"]

    assert (
        _cli(
            "promote",
            "--checkpoint",
            str(checkpoint),
            "--metrics",
            str(first),
            "--decision",
            str(tmp_path / "d1.json"),
            "--champion",
            str(champion),
        )
        == 0
    )
    assert (
        champion.is_symlink() and (champion / "checkpoint" / "weights.safetensors").read_bytes() == b"first"
    )
    assert json.loads((champion / "metrics.json").read_text())["grounding"]["R1@0.5"] == 30.0
    first_release = champion.resolve()

    worse = write_json(tmp_path / "worse.json", _metrics(25.0))
    assert (
        _cli(
            "gate",
            "-S",
            floors,
            "--metrics",
            str(worse),
            "--champion",
            str(champion),
            "--out",
            str(tmp_path / "d2.json"),
            "--fail-on-reject",
        )
        == 1
    )
    d2 = json.loads((tmp_path / "d2.json").read_text())
    assert not d2["passed"] and d2["reasons"][1]["champion"] == 30.0
    # a rejected model is not promoted: the champion still points at the first release
    (checkpoint / "weights.safetensors").write_bytes(b"second")
    assert (
        _cli(
            "promote",
            "--checkpoint",
            str(checkpoint),
            "--metrics",
            str(worse),
            "--decision",
            str(tmp_path / "d2.json"),
            "--champion",
            str(champion),
        )
        == 1
    )
    assert champion.resolve() == first_release

    better = write_json(tmp_path / "better.json", _metrics(31.0))
    assert (
        _cli(
            "gate",
            "-S",
            floors,
            "--metrics",
            str(better),
            "--champion",
            str(champion),
            "--out",
            str(tmp_path / "d3.json"),
        )
        == 0
    )
    assert (
        _cli(
            "promote",
            "--checkpoint",
            str(checkpoint),
            "--metrics",
            str(better),
            "--decision",
            str(tmp_path / "d3.json"),
            "--champion",
            str(champion),
        )
        == 0
    )
    assert (champion / "checkpoint" / "weights.safetensors").read_bytes() == b"second"
    assert first_release.is_dir() and champion.resolve() != first_release  # old release kept for rollback
    assert not list(champion.parent.glob(".*.partial")) and not list(champion.parent.glob(".*link"))


def test_promote_needs_a_decision(tmp_path):
    (tmp_path / "ckpt").mkdir()
    metrics = write_json(tmp_path / "m.json", _metrics(30.0))
    with pytest.raises(EvalInputError, match="--decision"):
        gate.promote(tmp_path / "ckpt", metrics, tmp_path / "champion")
    release = gate.promote(tmp_path / "ckpt", metrics, tmp_path / "champion", force=True)
    assert json.loads((release / "promotion.json").read_text())["forced"] is True


def test_plain_champion_folder_is_kept_as_a_release(tmp_path):
    legacy = tmp_path / "champion"
    legacy.mkdir()
    write_json(legacy / "metrics.json", _metrics(1.0))
    (tmp_path / "ckpt").mkdir()
    gate.promote(tmp_path / "ckpt", write_json(tmp_path / "m.json", _metrics(2.0)), legacy, {"passed": True})
    assert legacy.is_symlink()
    kept = list((tmp_path / "champion.releases").glob("legacy-*"))
    assert len(kept) == 1 and json.loads((kept[0] / "metrics.json").read_text())["grounding"]["R1@0.5"] == 1.0


def test_past_releases_are_pruned_to_the_retention_the_user_sets(tmp_path):
    champion = tmp_path / "champion"
    released = []
    for i in range(5):
        (tmp_path / "ckpt").mkdir(exist_ok=True)
        (tmp_path / "ckpt" / "weights.safetensors").write_bytes(str(i).encode())
        release = gate.promote(tmp_path / "ckpt", write_json(tmp_path / "m.json", _metrics(float(i))), champion,
                               {"passed": True}, keep=2)
        os.utime(release, ns=(i * 10**9, i * 10**9))  # promotion order, whatever the file system's clock
        released.append(release)
    left = sorted(p.name for p in (tmp_path / "champion.releases").iterdir())
    # the current champion and the two newest past ones: rollback stays possible, the rest is gone
    assert left == sorted(r.name for r in released[-3:])
    assert champion.resolve() == released[-1].resolve()
    assert (champion / "checkpoint" / "weights.safetensors").read_bytes() == b"4"
    assert gate.prune_releases(champion, 0) == [released[-2], released[-3]]
    assert [p.name for p in (tmp_path / "champion.releases").iterdir()] == [released[-1].name]
