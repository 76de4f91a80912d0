"""The pipeline's first step: where the run reads its raw data (in place) and the content version that keys
every cache. New bytes at the same path give a new version (the data steps recompute); the same bytes give
the same version (KFP's cache hits); the sample corpus is built only when asked, once."""

from __future__ import annotations

import hashlib
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


def test_the_component_outputs_the_version_that_keys_the_cache_and_keeps_the_listing(tmp_path, params):
    """The component function as a pod runs it: ``version`` is the input that enters every data-dependent
    task's cache key, so KFP recomputes on new bytes at the same path and hits on the same bytes."""
    from kfp import dsl

    from components.data_version.component import data_version

    drop = tmp_path / "workspace" / "data" / "drop"
    (drop / "sample").mkdir(parents=True)
    video = drop / "sample" / "v0.mp4"
    video.write_bytes(b"\x00" * 64)

    def run(name: str):
        listing = dsl.Artifact(uri=str(tmp_path / name))
        found = data_version.python_func(params=dsl.Artifact(uri=str(params)), raw_data_uri=str(drop),
                                         workspace=str(tmp_path / "workspace"), listing=listing)
        return found, listing

    (raw, first), listing = run("l1")
    assert raw == str(drop) and listing.metadata == {"version": first, "files": 1, "raw": str(drop)}
    assert json.loads((tmp_path / "l1").read_text())["listing"] == {"sample/v0.mp4": hashlib.md5(b"\x00" * 64)
                                                                    .hexdigest()}
    assert run("l2")[0].version == first  # the same bytes: every cached step hits
    stamp = video.stat().st_mtime_ns
    video.write_bytes(b"\x01" + b"\x00" * 63)  # re-encoded in place, same size
    os.utime(video, ns=(stamp + 10**9, stamp + 10**9))  # a later write: not within the clock tick of the first
    assert run("l3")[0].version != first  # new bytes at the same path: every data-dependent step recomputes
