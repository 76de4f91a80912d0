"""``momentor step`` runs a sharded step as the orchestrators do (Airflow's mapped tasks call exactly this): the
plan from the config's ``pipeline.shards``, each shard into its part, the merge into the step's output."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from momentor import cli
from momentor.config import SampleCorpusConfig
from momentor.data.sample_corpus import build_sample_corpus

ROOT = Path(__file__).resolve().parents[1]


def test_plan_shards_and_merge_in_a_run_folder(tmp_path, capsys):
    raw = tmp_path / "data"
    build_sample_corpus(SampleCorpusConfig(seed=3, num_videos=4, size=48, fps=4, min_events=2, max_events=2),
                        raw / "sample")
    run = tmp_path / "run"
    common = ["--run-dir", str(run), "--raw", str(raw), "--params", str(ROOT / "params.yaml"),
              "-S", "model.preset=tiny", "-S", "pipeline.shards=2"]
    assert cli.main(["step", "ingest", *common]) == 0
    assert cli.main(["step", "features", *common, "--plan", "--out", str(tmp_path / "plan.json")]) == 0
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan == {"step": "features", "shards": ["0/2", "1/2"]}
    # the merge waits for every part
    assert cli.main(["step", "features", *common, "--merge"]) == 1
    assert "run `momentor features --shard K/2`" in capsys.readouterr().err
    for shard in plan["shards"]:
        assert cli.main(["step", "features", *common, "--shard", shard]) == 0
    assert cli.main(["step", "features", *common, "--merge"]) == 0
    (index,) = (run / "work" / "features").glob("*/index.parquet")
    assert pd.read_parquet(index)["video_id"].tolist() == [f"sample_{i:03d}" for i in range(4)]
    assert sorted(p.name for p in (run / "work" / "shards" / "features").iterdir() if p.is_dir()) == [
        "0-of-2", "1-of-2"]
    # only the table's sharded steps run in shards, and a shard must say which of how many
    assert cli.main(["step", "validate", *common, "--shard", "0/2"]) == 2
    assert "does not run in shards" in capsys.readouterr().err
    assert cli.main(["step", "features", *common, "--shard", "2/2"]) == 2
    assert "is not K/N" in capsys.readouterr().err
