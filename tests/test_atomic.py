"""Atomic, durable writes: the target is the old file or the new one, never a half; nothing is left beside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from momentor import atomic


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = atomic.write_json(tmp_path / "out" / "m.json", {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic.writing(target) as tmp:
            tmp.write_text('{"a": 2, "half')
            raise RuntimeError("killed mid-write")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in target.parent.iterdir()] == ["m.json"]
    atomic.write_text(target, "new\n")
    assert target.read_text() == "new\n" and oct(target.stat().st_mode)[-3:] == "644"


def test_a_folder_is_committed_whole(tmp_path):
    staging = tmp_path / "ckpt.staging"
    (staging / "sub").mkdir(parents=True)
    (staging / "sub" / "w.bin").write_bytes(b"x" * 10)
    target = atomic.commit_folder(staging, tmp_path / "ckpt")
    assert not staging.exists() and (target / "sub" / "w.bin").read_bytes() == b"x" * 10


def test_a_folder_is_replaced_with_no_moment_in_which_it_is_missing(tmp_path, monkeypatch):
    target, staging = tmp_path / "manifest", tmp_path / "manifest.partial"
    target.mkdir()
    (target / "videos.parquet").write_text("old")
    staging.mkdir()
    (staging / "videos.parquet").write_text("new")
    seen = []
    real_rename = Path.rename
    monkeypatch.setattr(Path, "rename", lambda self, to: seen.append(target.exists()) or real_rename(self, to))
    atomic.replace_folder(staging, target)
    assert (target / "videos.parquet").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest"]  # the old content is gone
    assert seen == []  # exchanged in one step: no rename left the folder missing (Linux renameat2)
