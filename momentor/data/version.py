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
    """md5 of files by (path, size, mtime_ns, inode), kept in an SQLite file shared by processes.

    New md5s are written in batches of ``BATCH`` (one transaction each): a commit per file made the first pass
    over 10,000 small files 16 times slower than reading them. A state file that is not a database, or is
    damaged, is rebuilt with a warning; one that cannot be used (locked for a minute, read-only, disk full)
    is left alone and the files are read, with a warning. Either way the version is the same, only slower.
    """

    BATCH = 1000

    def __init__(self, path: str | Path | None):
        self.db, self.path, self.pending = None, None if path is None else Path(path).expanduser(), []
        if self.path is not None:
            self._guard(self._open)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=60)
        self.db.execute("CREATE TABLE IF NOT EXISTS md5 (path TEXT PRIMARY KEY, size INT, mtime_ns INT, inode INT, "
                        "md5 TEXT)")

    def _guard(self, action, *args):
        """Run a database ``action``; on failure rebuild a damaged file or give up the cache, and warn."""
        try:
            return action(*args)
        except (sqlite3.OperationalError, OSError) as err:  # locked, read-only, full: keep the file
            log.warning("data state cache %s cannot be used (%s); reading every file", self.path, err)
        except sqlite3.DatabaseError as err:  # not a database, or damaged
            log.warning("data state cache %s is unreadable (%s); starting a new one", self.path, err)
            self.close()
            self.path.unlink(missing_ok=True)
            try:
                self._open()
                return None
            except sqlite3.Error as again:
                log.warning("data state cache %s cannot be rebuilt (%s); reading every file", self.path, again)
        self.close()
        return None

    def _lookup(self, key: str):
        return self.db.execute("SELECT size, mtime_ns, inode, md5 FROM md5 WHERE path = ?", (key,)).fetchone()

    def _flush(self) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO md5 VALUES (?, ?, ?, ?, ?)", self.pending)

    def md5(self, path: Path) -> str:
        """The md5 of ``path``, from the cache when its stat is unchanged."""
        stat = path.stat()
        key = str(path.resolve())
        row = self._guard(self._lookup, key) if self.db is not None else None
        if row is not None and tuple(row[:3]) == (stat.st_size, stat.st_mtime_ns, stat.st_ino):
            return row[3]
        digest = hashlib.md5()
        for block in _read_chunks(path):
            digest.update(block)
        value = digest.hexdigest()
        if self.db is not None:
            self.pending.append((key, stat.st_size, stat.st_mtime_ns, stat.st_ino, value))
            if len(self.pending) >= self.BATCH:
                self.flush()
        return value

    def flush(self) -> None:
        """Write the md5s computed since the last flush."""
        if self.db is not None and self.pending:
            self._guard(self._flush)
        self.pending = []

    def close(self) -> None:
        if self.db is not None:
            db, self.db = self.db, None
            db.close()


def data_files(raw: Path) -> list[Path]:
    """The files of a data folder, sorted by relative path.

    Hidden files and folders (``.dvc``, ``.git``) are not data. Symlinked folders are followed (a drop may
    link videos kept elsewhere), except one that leads back into a folder on its own path: a link cycle.
    """
    files, chains = [], {str(raw): {os.path.realpath(raw)}}
    for folder, dirs, names in os.walk(raw, followlinks=True):
        chain = chains.pop(folder)
        kept = []
        for d in sorted(d for d in dirs if not d.startswith(".")):
            real = os.path.realpath(os.path.join(folder, d))
            if real in chain:
                log.warning("raw data: %s links back to %s; not followed", os.path.join(folder, d), real)
                continue
            kept.append(d)
            chains[os.path.join(folder, d)] = chain | {real}
        dirs[:] = kept
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
    listing, total = {}, 0
    try:
        for path in data_files(raw):
            listing[path.relative_to(raw).as_posix()] = state.md5(path)
            total += path.stat().st_size
    except FileNotFoundError as err:
        raise MissingData(f"raw data file {err.filename} (in {raw}) vanished while it was being versioned, or is "
                          "a broken link; wait for the copy to finish or remove the link, then run again") from err
    finally:
        state.flush()
        state.close()
    digest = hashlib.sha256("".join(f"{name}\0{md5}\n" for name, md5 in listing.items()).encode())
    return {"version": digest.hexdigest()[:32], "source": "content", "files": len(listing), "bytes": total,
            "raw": str(raw.resolve()), "listing": listing}


def write_listing(version: dict, path: str | Path) -> Path:
    """Write what a run read (version and path -> md5) as JSON at ``path``."""
    from momentor import atomic

    return atomic.write_json(path, {"version": version["version"], "raw": version["raw"],
                                    "listing": version["listing"]}, indent=1)


def dvc_md5(dvc_file: str | Path) -> str | None:
    """The md5 a ``.dvc`` file records for its (first) output (None: it records none)."""
    import yaml

    outs = (yaml.safe_load(Path(dvc_file).read_text()) or {}).get("outs") or [{}]
    return outs[0].get("md5") if isinstance(outs[0], dict) else None
