"""DVC compares runs: the short headline file that `dvc metrics show/diff` reads is where git tracks it, and
two runs with different params show their headline keys side by side (real DVC, on the real dvc.yaml)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from momentor import steps

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHARADES = "charades_sta/charades_sta_test.txt"


def _predictions(fixtures_dir: Path, path: Path, shift: float) -> Path:
    from momentor.eval import grounding

    queries = grounding.load_ground_truth(fixtures_dir / CHARADES)
    path.write_text("".join(json.dumps({"query_id": q.query_id, "video_id": q.video_id,
                                        "pred_windows": [[q.windows[0][0] + shift, q.windows[0][1] + shift, 1.0]]})
                            + "\n" for q in queries))
    return path


def test_the_headline_file_is_the_dvc_metric_and_git_tracks_it():
    metrics = [m for s in steps.enabled_steps() for m in s.outs if m.startswith("metrics/")]
    assert metrics == ["metrics/headline.json", "metrics/plots"]
    ignored = subprocess.run(["git", "check-ignore", "-q", "metrics/headline.json"], cwd=ROOT)
    assert ignored.returncode == 1, "metrics/ is git-ignored: dvc metrics diff and dvc exp show could not compare"


def test_dvc_metrics_diff_between_two_runs_with_different_params(fixtures_dir, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, repo / name)
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}

    def run(*cmd) -> str:
        return subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True, text=True).stdout

    def evaluate(shift: float, *overrides: str) -> None:
        pred = _predictions(fixtures_dir, tmp_path / "pred.jsonl", shift)
        run("momentor", "evaluate", "grounding", "--gt", str(fixtures_dir / CHARADES), "--pred", str(pred),
            "--out", str(tmp_path / "grounding.json"), "--headline", "metrics/headline.json",
            "--plots", "metrics/plots", *[a for o in overrides for a in ("-S", o)])

    run("git", "init", "-q")
    run("dvc", "init", "-q")
    evaluate(0.0)
    run("git", "add", "-A")
    run("git", "commit", "-qm", "first run")
    # the second run: other params (the headline interval's confidence) and another model (shifted windows)
    text = (repo / "params.yaml").read_text().replace("confidence: 0.95", "confidence: 0.9")
    (repo / "params.yaml").write_text(text)
    evaluate(2.0, "gate.confidence=0.9")

    shown = run("dvc", "metrics", "show")
    assert "grounding.R1@0.5" in shown and "grounding.R1@0.5_low" in shown and "METEOR" not in shown
    assert max(len(line) for line in shown.splitlines()) < 200  # a readable table, not the full results
    diff = json.loads(run("dvc", "metrics", "diff", "--json"))["metrics/headline.json"]
    assert diff["grounding.R1@0.5"]["old"] == 100.0 and diff["grounding.R1@0.5"]["new"] < 100.0
    params = json.loads(run("dvc", "params", "diff", "--json"))["params.yaml"]
    assert (params["gate.confidence"]["old"], params["gate.confidence"]["new"]) == (0.95, 0.9)
