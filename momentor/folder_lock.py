"""One writer per output folder: a verb that writes a work folder holds an exclusive lock on it while it runs.

The lock is ``flock`` on ``<parent>/.<name>.lock`` (beside the folder, so that a folder committed by a rename
keeps its lock), which records who holds it. The kernel frees it when the holder exits, however it exits: a
killed run leaves no stale lock. A second run on the same folder fails at once with :class:`Busy`, naming
the holder, as ``dvc repro`` does for its own lock. (On network file systems flock is only as good as the
server's support; a ReadWriteMany volume without it falls back to no locking, which ``flock`` reports as
success.)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import sys
from pathlib import Path


class Busy(RuntimeError):
    """Another run holds the folder's lock."""


@contextlib.contextmanager
def hold(folder: str | Path, verb: str):
    """Hold ``folder``'s lock for the ``with`` block; :class:`Busy` when another run holds it."""
    folder = Path(folder).absolute()
    lock = folder.parent / f".{folder.name}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another run"
        os.close(fd)
        raise Busy(f"{folder} is busy: held by {holder}; wait for that run to finish (the lock frees itself when "
                   "it ends), or write to another folder") from None
    try:
        os.ftruncate(fd, 0)
        since = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        os.pwrite(fd, f"PID {os.getpid()} (momentor {verb}, since {since}, {' '.join(sys.argv[:3])})".encode(), 0)
        yield folder
    finally:
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
