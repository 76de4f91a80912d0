"""The DVC pipeline: every stage is a momentor verb whose arguments parse; the whole run on the tiny preset (slow)."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from momentor import cli, config, steps

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _stage_commands():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        cmds = stage["cmd"] if isinstance(stage["cmd"], list) else [stage["cmd"]]
        for cmd in cmds:
            yield name, shlex.split(cmd)


def test_every_stage_is_a_momentor_verb_whose_arguments_parse():
    parser = cli.build_parser()
    names = []
    for name, argv in _stage_commands():
        assert argv[0] == "momentor", f"stage {name} runs {argv[0]}, not a momentor verb"
        args = parser.parse_args(argv[1:])  # exits (SystemExit) on an unknown flag
        assert args.handler is not None
        names.append(name)
    assert names == [s.name for s in steps.enabled_steps() for _ in s.cmds]


def test_dvc_sees_the_step_tables_edges():
    """DVC itself reads dvc.yaml: its graph has exactly the table's enabled steps and their dependencies."""
    out = subprocess.run([str(BIN / "dvc"), "dag", "--md"], cwd=ROOT, capture_output=True, text=True, check=True)
    nodes = dict(re.findall(r'(node\d+)\["([^"]+)"\]', out.stdout))
    edges = {(nodes[a], nodes[b]) for a, b in re.findall(r"(node\d+)-->(node\d+)", out.stdout)}
    assert set(nodes.values()) == {"data.dvc"} | {s.name for s in steps.enabled_steps()}
    expected = {("data.dvc", "ingest")} | {(need, s.name) for s in steps.enabled_steps() for need in s.needs}
    assert edges == expected
    assert ("gate", "promote") in edges and ("report", "promote") in edges and ("gate", "report") in edges


def _copy_project(target: Path) -> None:
    top = {".venv", "work", "data", ".git", ".dvc-remote", "bench"}
    shutil.copytree(ROOT, target, ignore=lambda folder, names: {n for n in names if n == "__pycache__"}
                    | (top & set(names) if Path(folder) == ROOT else set()))


@pytest.mark.slow
@pytest.mark.integration
def test_dvc_repro_runs_the_whole_pipeline_then_nothing(tmp_path):
    project = tmp_path / "momentor"
    _copy_project(project)
    # 3 steps do not beat the random baseline: this test is about the pipeline, so the first run is promoted
    overrides = ["model.preset=tiny", "data.sample.num_videos=8", "train.gesm.max_steps=3", "train.instruct.max_steps=3",
                 "gate.beat_random=[]"]
    (project / "params.yaml").write_text(config.dump(config.load(project / "params.yaml", overrides)))
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "MOMENTOR_TIMINGS": str(tmp_path / "t.jsonl"),
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    run = lambda *cmd: subprocess.run(cmd, cwd=project, env=env, check=True, capture_output=True, text=True)  # noqa: E731
    run("git", "init", "-q")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "t")
    run("momentor", "sample-data")
    run("dvc", "add", "-q", "data")
    (tmp_path / "t.jsonl").unlink()
    run("dvc", "repro")
    verbs = [json.loads(line)["verb"] for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert verbs[:4] == ["ingest", "features", "validate", "engine"] and verbs[-2:] == ["report", "promote"]
    decision = json.loads((project / "work/eval/decision.json").read_text())
    assert decision["passed"] is True
    assert json.loads((project / "work/eval/promotion.json").read_text())["promoted"] is True
    assert (project / "work/export/encoder.onnx").exists() and (project / "work/report/index.html").exists()
    metrics = run("dvc", "metrics", "show", "--json").stdout
    assert "R1@0.5" in metrics and "METEOR" in metrics
    assert (project / "metrics/headline.json").is_file() and (project / "work/eval/baselines/random").is_dir()
    # the second repro: the champion changed (the first run promoted), so it is re-scored, and what follows the
    # gate's decision runs again; promoting the champion's own checkpoint changes nothing
    release = (project / "work/champion").resolve()
    (tmp_path / "t.jsonl").unlink()
    run("dvc", "repro")
    verbs = [json.loads(line)["verb"] for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert sorted(set(verbs)) == ["export", "gate", "promote", "report", "rescore-champion"], verbs
    decision = json.loads((project / "work/eval/decision.json").read_text())
    compared = [c for c in decision["reasons"] if c["check"] == "champion"]
    assert compared and all(c["interval"] == [0.0, 0.0] for c in compared)
    assert (project / "work/champion").resolve() == release
    # the third: the champion is unchanged, its scores are the same, nothing downstream runs
    (tmp_path / "t.jsonl").unlink()
    run("dvc", "repro")
    verbs = [json.loads(line)["verb"] for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert verbs == ["rescore-champion"], f"a third dvc repro with nothing changed ran {verbs}"
    # record the run, then an experiment from the README: `dvc exp show` lists it with its params and headline
    run("git", "add", "-A")
    run("git", "commit", "-qm", "the first run: dvc.lock and metrics/")
    (tmp_path / "t.jsonl").unlink()
    run("dvc", "exp", "run", "-S", "gate.confidence=0.9")
    verbs = [json.loads(line)["verb"] for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert verbs.count("evaluate") == 2 and "train" not in verbs  # only what the param reaches
    shown = run("dvc", "exp", "show", "--csv").stdout
    header, *rows = shown.splitlines()
    assert "gate.confidence" in header and "grounding.R1@0.5_low" in header and len(rows) >= 2
