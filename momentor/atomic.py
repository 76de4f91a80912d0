"""Atomic, durable writes: a reader sees the old file or the new one, never half of one, even after a crash.

Every file is written beside its target (same folder, so the rename stays on one file system), flushed and
fsynced, renamed over the target with ``os.replace``, then the folder is fsynced so the rename itself
survives a power loss. :func:`commit_folder` does the same for a folder built in a staging path, :func:`replace_folder` swaps one in
over an existing folder with no moment in which the folder is missing.
:func:`writing` is the context manager the others use, for writers that need a file path (Parquet,
safetensors).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any


def fsync_folder(folder: str | Path) -> None:
    """Make the folder's entries (a rename into it) durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def writing(path: str | Path, mode: int = 0o644):
    """Yield a temporary path beside ``path``; when the block ends without an error, it becomes ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:6]}.tmp")
    try:
        yield tmp
        os.chmod(tmp, mode)
        _fsync_file(tmp)
        os.replace(tmp, path)
        fsync_folder(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> Path:
    with writing(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    return write_bytes(path, text.encode())


def write_json(path: str | Path, data: Any, indent: int = 4) -> Path:
    return write_text(path, json.dumps(data, indent=indent) + "\n")


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where the system cannot."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "renameat2"):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return libc.renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def replace_folder(staging: str | Path, target: str | Path) -> Path:
    """Put the finished ``staging`` folder at ``target``, replacing what is there, with no moment in which
    ``target`` is missing: the two are exchanged in one step (where the file system can; otherwise the old
    folder is renamed aside first, a window of one rename), then the old content is removed."""
    staging, target = Path(staging), Path(target)
    if not target.exists():
        return commit_folder(staging, target)
    for path in staging.rglob("*"):
        if path.is_file() and not path.is_symlink():
            _fsync_file(path)
    if not _exchange(staging, target):
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:6]}")
        target.rename(old)
        staging.rename(target)
        staging = old
    fsync_folder(target.parent)
    shutil.rmtree(staging, ignore_errors=True)  # now the old content
    return target


def commit_folder(staging: str | Path, target: str | Path) -> Path:
    """Rename a finished ``staging`` folder to ``target`` (which must not exist), durably: its files and the
    rename are fsynced."""
    staging, target = Path(staging), Path(target)
    for path in staging.rglob("*"):
        if path.is_file() and not path.is_symlink():
            _fsync_file(path)
    fsync_folder(staging)
    staging.rename(target)
    fsync_folder(target.parent)
    return target
