"""Oracle features of the sample corpus: each frame marks what its event shows, in the real files' layout."""

import json

import numpy as np
import pytest
import torch

from momentor.data.features import _save_atomic, load_features
from momentor.data.oracle_features import main, write_oracle_features
from momentor.data.sample_corpus import ANNOTATIONS

VIDEO = {
    "video_id": "v0",
    "events": [
        {
            "kind": "rendered",
            "clip": None,
            "background": "navy",
            "instances": ["red circle", "green square"],
            "motions": ["upward", "upward"],
            "start": 0.0,
            "end": 2.0,
        },
        {
            "kind": "clip",
            "clip": "bikes.mp4",
            "background": None,
            "instances": [],
            "motions": [],
            "start": 2.0,
            "end": 3.0,
        },
        {
            "kind": "rendered",
            "clip": None,
            "background": "black",
            "instances": ["blue circle"],
            "motions": ["grow"],
            "start": 3.0,
            "end": 4.0,
        },
    ],
}


@pytest.fixture
def corpus(tmp_path):
    sample, feats = tmp_path / "sample", tmp_path / "features"
    sample.mkdir()
    feats.mkdir()
    (sample / ANNOTATIONS).write_text(json.dumps({"videos": [VIDEO, {**VIDEO, "video_id": "no_features"}]}))
    times = np.array([0.0, 1.0, 2.5, 3.5, 4.2], dtype=np.float32)  # 4.2: past the last event, nearest is kept
    _save_atomic(feats / "v0.safetensors", torch.randn(5, 64), times, {})
    (feats / "index.parquet").write_bytes(b"index")
    return sample, feats


def test_each_frame_marks_the_attributes_of_its_event(tmp_path, corpus, capsys):
    sample, feats = corpus
    main([str(sample), str(feats), str(tmp_path / "oracle")])
    assert "oracle features of 1 videos, 8 attributes" in capsys.readouterr().out
    summary = write_oracle_features(sample, feats, tmp_path / "oracle")
    names = summary["attributes"]
    assert names == [
        "colour:red",
        "shape:circle",
        "motion:upward",
        "colour:green",
        "shape:square",
        "clip:bikes.mp4",
        "colour:blue",
        "motion:grow",
    ]
    oracle, times = load_features(tmp_path / "oracle" / "v0.safetensors")
    assert oracle.shape == (5, 64) and times.tolist() == pytest.approx([0.0, 1.0, 2.5, 3.5, 4.2])
    present = [{names[i] for i in row.nonzero().flatten().tolist()} for row in oracle]
    first = {"colour:red", "shape:circle", "motion:upward", "colour:green", "shape:square"}
    assert present == [
        first,
        first,
        {"clip:bikes.mp4"},
        {"colour:blue", "shape:circle", "motion:grow"},
        {"colour:blue", "shape:circle", "motion:grow"},
    ]
    assert set(oracle.unique().tolist()) == {0.0, 3.0, 6.0}
    assert oracle[0, names.index("motion:upward")] == 6.0  # both shapes move upward
    assert (tmp_path / "oracle" / "index.parquet").read_bytes() == b"index"
    assert not (tmp_path / "oracle" / "no_features.safetensors").exists()


def test_oracle_features_never_overwrite_the_real_ones(corpus):
    sample, feats = corpus
    before = load_features(feats / "v0.safetensors")[0]
    with pytest.raises(ValueError, match="another folder"):
        write_oracle_features(sample, feats, feats)
    assert torch.equal(load_features(feats / "v0.safetensors")[0], before)
