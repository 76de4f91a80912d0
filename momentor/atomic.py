"""Atomic, durable writes: a reader sees the old file or the new one, never half of one, even after a crash.

Every file is written beside its target (same folder, so the rename stays on one file system), flushed and
fsynced, renamed over the target with ``os.replace``, then the folder is fsynced so the rename itself
survives a power loss. :func:`commit_folder` does the same for a folder built in a staging path.
:func:`writing` is the context manager the others use, for writers that need a file path (Parquet,
safetensors).
"""

from __future__ import annotations

import contextlib
import json
import os
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
