"""The pipeline's first step: where the run reads its raw data (in place) and the content version that keys
every cache. New bytes at the same path give a new version (the data steps recompute); the same bytes give
the same version (KFP's cache hits); the sample corpus is built only when asked, once."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from momentor import config, pipeline_runs


@pytest.fixture
def params(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"data": {"sample": {"num_videos": 2, "size": 48, "fps": 4, "min_events": 2,
                                                        "max_events": 2}}}))
    return path


def test_new_bytes_at_the_same_path_change_the_version_and_the_same_bytes_keep_it(tmp_path, params):
    drop = tmp_path / "workspace" / "data" / "drop"
    (drop / "sample").mkdir(parents=True)
    (drop / "sample" / "annotations.json").write_text('{"videos": []}')
    first = pipeline_runs.resolve_raw_data(str(drop), params, tmp_path / "workspace", tmp_path / "l1.json")
    again = pipeline_runs.resolve_raw_data(str(drop), params, tmp_path / "workspace", tmp_path / "l2.json")
    assert again == first and first["raw"] == str(drop)  # read in place, not copied
    (drop / "sample" / "annotations.json").write_text('{"videos": [1]}')
    changed = pipeline_runs.resolve_raw_data(str(drop), params, tmp_path / "workspace", tmp_path / "l3.json")
    assert changed["version"] != first["version"] and changed["raw"] == first["raw"]
    listing = json.loads((tmp_path / "l3.json").read_text())
    assert listing["version"] == changed["version"] and list(listing["listing"]) == ["sample/annotations.json"]
    assert (tmp_path / "workspace" / ".cache" / "data-state.sqlite").is_file()  # on the volume, shared by runs


def test_the_sample_corpus_only_when_asked_and_built_once(tmp_path, params):
    workspace = tmp_path / "workspace"
    with pytest.raises(config.ConfigError, match="raw_data_uri is empty"):
        pipeline_runs.resolve_raw_data("", params, workspace, tmp_path / "l.json")
    built = pipeline_runs.resolve_raw_data("sample", params, workspace, tmp_path / "l.json")
    raw = built["raw"]
    assert raw.startswith(str(workspace / "data" / "sample-")) and built["files"] == 3  # 2 videos + annotations
    stamp = os.stat(os.path.join(raw, "sample", "annotations.json")).st_mtime_ns
    assert pipeline_runs.resolve_raw_data("sample", params, workspace, tmp_path / "l.json") == built
    assert os.stat(os.path.join(raw, "sample", "annotations.json")).st_mtime_ns == stamp  # not rebuilt
