"""The data verbs end to end through the CLI: sample-data -> ingest -> features (tiny preset)."""

import json
from pathlib import Path

from momentor.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_sample_data_ingest_features(tmp_path, capsys):
    common = ["--params", str(ROOT / "params.yaml"), "-S", f"paths.raw={tmp_path / 'data'}",
              "-S", f"paths.work={tmp_path / 'work'}", "-S", "model.preset=tiny", "-S", "data.sample.size=64",
              "-S", f"data.sources=[{{format: sample, path: {tmp_path / 'data' / 'sample'}}}]"]  # fmt: skip
    assert main(["sample-data", *common, "--num-videos", "2"]) == 0
    assert "sample corpus: 2 videos" in capsys.readouterr().out
    assert main(["ingest", *common]) == 0
    out = capsys.readouterr().out
    assert "sample" in out and "videos 2" in out
    assert main(["features", *common, "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (
        summary["extracted"] == 2
        and summary["num_frames"] == 16
        and summary["encoder_id"] == "clip:tiny-random:32"
    )
    assert len(list((tmp_path / "work" / "features").glob("*/sample_00[01].safetensors"))) == 2


def test_missing_inputs_say_which_verb_to_run_first(tmp_path, capsys):
    common = ["--params", str(ROOT / "params.yaml"), "-S", f"paths.work={tmp_path / 'work'}",
              "-S", f"data.sources=[{{format: sample, path: {tmp_path / 'nothing'}}}]"]  # fmt: skip
    assert main(["ingest", *common]) == 1
    assert "momentor sample-data" in capsys.readouterr().err
    assert main(["features", *common, "-S", "model.preset=tiny"]) == 1
    assert "momentor ingest" in capsys.readouterr().err
