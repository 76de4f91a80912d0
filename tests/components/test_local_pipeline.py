"""The whole pipeline, run locally with KFP's SubprocessRunner through ``momentor pipeline run-local`` on the
tiny preset and a small sample corpus: once the gate passes (export + promote), once it cannot (an
impossible floor: the report). Slow (every step, twice); test_local_gate_branches.py covers the branches fast.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from momentor import cli

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.integration,
              pytest.mark.filterwarnings("ignore:.*have no effect in the current local runner"),
              pytest.mark.filterwarnings("ignore:You may be attemping to run a task that uses custom")]

SMALL = ["model.preset=tiny", "data.sample.num_videos=6", "train.gesm.max_steps=2", "train.instruct.max_steps=2"]


def _run_local(work, *overrides: str) -> dict:
    out = work.parent / f"summary-{len(os.listdir(work.parent))}.json"
    argv = ["pipeline", "run-local", "--params", str(ROOT / "params.yaml"), "--out", str(out)]
    for override in [*SMALL, f"paths.work={work}", *overrides]:
        argv += ["-S", override]
    started = time.perf_counter()
    assert cli.main(argv) == 0
    summary = json.loads(out.read_text())
    print(f"local pipeline run: {time.perf_counter() - started:.0f} s, branch {summary['branch']}")
    return summary


def test_whole_pipeline_passes_then_fails_the_gate(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    champion = work / "champion"

    passed = _run_local(work, "gate.beat_random=[]")  # 2 steps do not beat chance: ask nothing of them first
    assert passed["passed"] is True and passed["branch"] == "promote"
    assert os.path.isfile(os.path.join(passed["run_dir"], "report", "page"))
    run_dir = passed["run_dir"]
    assert os.path.isfile(os.path.join(run_dir, "export", "onnx", "encoder.onnx"))
    promotion = json.loads((champion / "promotion.json").read_text())
    assert promotion["checkpoint"].startswith(run_dir)  # this run's candidate is the champion now
    release = os.path.realpath(champion)

    failed = _run_local(work)  # the default gate: the random-baseline check rejects them
    assert failed["passed"] is False and failed["branch"] == "report"
    assert ("grounding", "baseline:random") in [(c["task"], c["check"]) for c in failed["decision"]["reasons"]
                                                 if not c["passed"]]
    compared = [c for c in failed["decision"]["reasons"] if c["check"] == "champion"]
    assert compared and all(c["interval"] is not None for c in compared)  # the champion on the same queries
    assert not os.path.exists(os.path.join(failed["run_dir"], "promote"))
    assert os.path.isfile(os.path.join(failed["run_dir"], "report-2", "page"))  # the rejected branch's report
    assert failed["decision"]["champion"] == str(champion)  # judged against the first run's champion
    assert os.path.realpath(champion) == release, "a rejected candidate changed the champion"
