"""Atomic, durable writes: the target is the old file or the new one, never a half; nothing is left beside it."""

from __future__ import annotations

import json

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
