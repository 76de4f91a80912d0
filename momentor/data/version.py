"""The version of a raw data folder: a hash of every file's content, cheap to recompute on large data.

Every file's md5 is read once and kept in a *state cache* (an SQLite file, like DVC's state database)
keyed by the file's path, size, modification time and inode: a file whose stat is unchanged is not read
again, so versioning 7,000 hours of video costs one ``stat`` per file after the first pass. A file rewritten
in place changes its mtime and is read again. (Like DVC, a rewrite that keeps size, mtime and inode would
go unseen; ordinary writers cannot produce one.)

The version is sha256 over the sorted ``relative path, md5`` lines: new bytes, a renamed file or a new
empty file all change it. The listing itself (path -> md5) is what a run read; a pipeline keeps it with
the run, so the exact data stays reproducible without copying it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)

CHUNK = 1 << 20


class MissingData(FileNotFoundError):
    """The raw data folder does not exist."""


def _read_chunks(path: Path):
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            yield block


class StateCache:
    """md5 of files by (path, size, mtime_ns, inode), kept in an SQLite file shared by processes."""

    def __init__(self, path: str | Path | None):
        self.db = None
        if path is None:
            return
        path = Path(path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = self._open(path)
        except sqlite3.DatabaseError as err:
            log.warning("data state cache %s is unreadable (%s); starting a new one", path, err)
            path.unlink(missing_ok=True)
            self.db = self._open(path)

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, timeout=60)
        db.execute("CREATE TABLE IF NOT EXISTS md5 (path TEXT PRIMARY KEY, size INT, mtime_ns INT, inode INT, "
                   "md5 TEXT)")
        return db

    def md5(self, path: Path) -> str:
        """The md5 of ``path``, from the cache when its stat is unchanged."""
        stat = path.stat()
        key = str(path.resolve())
        if self.db is not None:
            row = self.db.execute("SELECT size, mtime_ns, inode, md5 FROM md5 WHERE path = ?", (key,)).fetchone()
            if row is not None and tuple(row[:3]) == (stat.st_size, stat.st_mtime_ns, stat.st_ino):
                return row[3]
        digest = hashlib.md5()
        for block in _read_chunks(path):
            digest.update(block)
        value = digest.hexdigest()
        if self.db is not None:
            with self.db:
                self.db.execute("INSERT OR REPLACE INTO md5 VALUES (?, ?, ?, ?, ?)",
                                (key, stat.st_size, stat.st_mtime_ns, stat.st_ino, value))
        return value

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


def data_files(raw: Path) -> list[Path]:
    """The files of a data folder, sorted; hidden files and folders (``.dvc``, ``.git``) are not data."""
    files = []
    for folder, dirs, names in os.walk(raw, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files += [Path(folder) / n for n in names if not n.startswith(".")]
    return sorted(files, key=lambda p: p.relative_to(raw).as_posix())


def folder_version(raw: str | Path, state_path: str | Path | None = None) -> dict:
    """``{version, source, files, bytes, raw, listing}`` of the folder ``raw`` (see the module docstring).

    Raises:
        MissingData: ``raw`` is not a folder.
    """
    raw = Path(raw)
    if not raw.is_dir():
        raise MissingData(
            f"raw data folder {raw} not found; run `momentor sample-data`, `dvc pull data.dvc`, or fix the path")
    state = StateCache(state_path)
    try:
        listing, total = {}, 0
        for path in data_files(raw):
            listing[path.relative_to(raw).as_posix()] = state.md5(path)
            total += path.stat().st_size
    finally:
        state.close()
    digest = hashlib.sha256("".join(f"{name}\0{md5}\n" for name, md5 in listing.items()).encode())
    return {"version": digest.hexdigest()[:32], "source": "content", "files": len(listing), "bytes": total,
            "raw": str(raw.resolve()), "listing": listing}


def write_listing(version: dict, path: str | Path) -> Path:
    """Write what a run read (version and path -> md5) as JSON at ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"version": version["version"], "raw": version["raw"],
                               "listing": version["listing"]}, indent=1) + "\n")
    os.replace(tmp, path)
    return path
