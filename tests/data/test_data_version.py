"""The raw data's version follows every byte, and the state cache keeps it cheap: unchanged files are not
read again."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from momentor import cli
from momentor.data import version


def _folder(root):
    (root / "videos").mkdir(parents=True)
    (root / "videos" / "a.mp4").write_bytes(b"a" * 1000)
    (root / "annotations.json").write_text('{"videos": [{"id": "a", "caption": "a dog runs"}]}')
    (root / ".dvc").mkdir()
    (root / ".dvc" / "tmp").write_text("not data")
    return root


def _version(root, state) -> str:
    return version.folder_version(root, state)["version"]


def test_the_version_follows_every_byte_and_name(tmp_path):
    raw, state = _folder(tmp_path / "data"), tmp_path / "state.sqlite"
    first = version.folder_version(raw, state)
    assert first["files"] == 2 and first["bytes"] == 1000 + len((raw / "annotations.json").read_bytes())
    assert set(first["listing"]) == {"annotations.json", "videos/a.mp4"}  # hidden folders are not data
    assert _version(raw, state) == first["version"]

    # re-annotated with the same size: the listing of names and sizes used to keep its version
    annotation = raw / "annotations.json"
    text = annotation.read_text()
    annotation.write_text(text.replace("a dog runs", "a cat runs"))
    assert len(annotation.read_text()) == len(text)
    stat = annotation.stat()
    os.utime(annotation, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    changed = _version(raw, state)
    assert changed != first["version"]

    (raw / "videos" / "a.mp4").rename(raw / "videos" / "b.mp4")
    renamed = _version(raw, state)
    assert renamed != changed
    (raw / "videos" / "empty.mp4").write_bytes(b"")
    assert _version(raw, state) != renamed
    (raw / "videos" / "empty.mp4").unlink()
    assert _version(raw, state) == renamed  # same bytes, same names: same version


def test_unchanged_files_are_not_read_again(tmp_path, monkeypatch):
    raw, state = tmp_path / "data", tmp_path / "state.sqlite"
    raw.mkdir()
    (raw / "big.mp4").write_bytes(os.urandom(5 << 20))
    reads = []
    real = version._read_chunks
    monkeypatch.setattr(version, "_read_chunks", lambda path: reads.append(path.name) or real(path))
    first = _version(raw, state)
    assert reads == ["big.mp4"]
    assert _version(raw, state) == first and reads == ["big.mp4"]  # second pass: one stat, no read
    assert _version(raw, None) == first and reads == ["big.mp4", "big.mp4"]  # no cache: read again


def test_a_corrupt_state_cache_is_rebuilt(tmp_path, caplog):
    raw, state = _folder(tmp_path / "data"), tmp_path / "state.sqlite"
    expected = _version(raw, state)
    state.write_bytes(b"this is not an sqlite database" * 100)
    assert _version(raw, state) == expected
    assert "unreadable" in caplog.text


def test_data_version_verb_writes_the_summary_and_the_listing(tmp_path):
    raw = _folder(tmp_path / "data")
    out, listing = tmp_path / "version.json", tmp_path / "listing.json"
    argv = ["pipeline", "data-version", "--params", os.devnull, "--raw", str(raw), "--out", str(out),
            "--listing", str(listing), "-S", f"paths.cache={tmp_path / 'cache'}"]
    assert cli.main(argv) == 0
    summary, read = json.loads(out.read_text()), json.loads(listing.read_text())
    assert summary["source"] == "content" and "listing" not in summary
    assert read["version"] == summary["version"] and set(read["listing"]) == {"annotations.json", "videos/a.mp4"}
    assert (tmp_path / "cache" / "data-state.sqlite").is_file()
    assert cli.main([*argv[:4], "--raw", str(tmp_path / "nowhere"), *argv[6:]]) == 2


def test_a_damaged_state_cache_is_rebuilt_midway(tmp_path, caplog):
    raw, state = tmp_path / "data", tmp_path / "state.sqlite"
    raw.mkdir()
    for i in range(3000):
        (raw / f"f{i}.json").write_text(str(i) * 50)
    expected = _version(raw, state)
    data = state.read_bytes()  # a valid header and garbage pages: the failure shows only on the first query
    state.write_bytes(data[:4096] + b"\xff" * (len(data) - 4096))
    assert _version(raw, state) == expected
    assert "unreadable" in caplog.text
    assert _version(raw, state) == expected  # the rebuilt cache works


def test_md5s_are_written_in_batches_and_the_rest_at_the_end(tmp_path, monkeypatch):
    raw, state = tmp_path / "data", tmp_path / "state.sqlite"
    raw.mkdir()
    for i in range(5):
        (raw / f"f{i}").write_text(str(i))
    monkeypatch.setattr(version.StateCache, "BATCH", 2)
    _version(raw, state)
    with sqlite3.connect(state) as db:
        assert db.execute("SELECT count(*) FROM md5").fetchone() == (5,)


def test_link_cycles_are_not_followed_and_broken_links_are_named(tmp_path, caplog):
    raw = _folder(tmp_path / "data")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "c.mp4").write_bytes(b"c")
    (raw / "videos" / "linked").symlink_to(outside)  # a folder linked in is data
    (outside / "back").symlink_to(raw / "videos")  # ... but a link back into the walked path is a cycle
    found = version.folder_version(raw, None)
    assert set(found["listing"]) == {"annotations.json", "videos/a.mp4", "videos/linked/c.mp4"}
    assert "links back" in caplog.text
    (raw / "videos" / "gone.mp4").symlink_to(tmp_path / "missing.mp4")
    with pytest.raises(version.MissingData, match="gone.mp4"):
        version.folder_version(raw, None)
