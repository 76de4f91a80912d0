"""Which part of the manifest a shard of a step processes, and where shards leave their parts.

A video belongs to shard ``sha256(video_id) mod N`` (the first 8 bytes of the digest, big-endian). A stable
hash rather than a slice of the sorted ids, because a video's shard then depends on nothing but its own id
and N: a manifest that grows by new videos leaves every old video in its shard, so each shard's
persistent cache (``work/shards/features/K-of-N``) stays valid and a re-run extracts only the new videos.
(Python's ``hash()`` is salted per process, so it cannot serve.) The price is balance: shard sizes are
binomial, within a few percent of N-th of the corpus for thousands of videos, uneven for a handful.

Shards are numbered from 0: ``--shard K/N`` with ``0 <= K < N``. Shard ``K`` of step ``STEP`` writes its
part to ``<paths.work>/shards/STEP/K-of-N``; the step's merge (``--merge N``) reads the N parts and writes
exactly what the one-process run writes. A merge refuses to run while a part is missing. One shard
(``0/1``, then ``--merge 1``) is a valid plan: the orchestrators always fan out, whatever the count.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from momentor import atomic
from momentor.data.manifest import QUARANTINE_FILE
from momentor.data.quarantine import Quarantine, read_quarantine

if TYPE_CHECKING:
    import pandas as pd

class ShardError(ValueError):
    """A malformed ``--shard`` or a missing part."""


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> ``(K, N)`` with ``0 <= K < N``."""
    k, sep, n = str(text).partition("/")
    try:
        k_int, n_int = int(k), int(n)
    except ValueError:
        k_int = n_int = -1
    if not sep or n_int < 1 or not 0 <= k_int < n_int:
        raise ShardError(f"--shard {text!r} is not K/N with 0 <= K < N (e.g. 0/4 ... 3/4: shards count from 0)")
    return k_int, n_int


def shard_of(video_id: str, shards: int) -> int:
    """The shard (0 .. shards-1) that processes ``video_id``."""
    digest = hashlib.sha256(str(video_id).encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards


def select(videos: pd.DataFrame, shard: int, shards: int) -> pd.DataFrame:
    """The rows of the manifest's videos table that shard ``shard`` of ``shards`` processes, in manifest order."""
    return videos[[shard_of(v, shards) == shard for v in videos["video_id"]]]


def part_dir(work: str | Path, step: str, shard: int | str, shards: int) -> Path:
    """Where shard ``shard`` of ``shards`` of ``step`` writes its part."""
    return Path(work) / "shards" / step / f"{shard}-of-{shards}"


def part_dirs(work: str | Path, step: str, shards: int) -> list[Path]:
    """The parts a merge of ``shards`` reads; every one must exist (its shard finished)."""
    parts = [part_dir(work, step, k, shards) for k in range(shards)]
    missing = [str(p) for p in parts if not (p / "done").is_file() or part_name(p) != p.name]
    if missing:
        raise ShardError(f"cannot merge {step}: no finished part at {', '.join(missing)}; run "
                         f"`momentor {step} --shard K/{shards}` for each missing K first")
    return parts


def start_part(part: Path) -> Path:
    """Open a shard's part for writing: its mark goes first, so a re-run killed halfway is not merged as the
    finished run it replaces."""
    part.mkdir(parents=True, exist_ok=True)
    (part / "done").unlink(missing_ok=True)
    return part


def mark_done(part: Path) -> None:
    """Mark a shard's part finished (written last: a killed shard leaves no mark, and the merge waits). The
    mark holds the part's name (``K-of-N``): a part handed over without its folder (an artifact) says which
    shard it is."""
    atomic.write_text(part / "done", part.name)


def part_name(part: str | Path) -> str:
    """``K-of-N`` of a finished part, from its mark."""
    done = Path(part) / "done"
    return done.read_text().strip() if done.is_file() else ""


def merge_quarantine(manifest_dir: Path, stage: str, parts: list[Path], videos: pd.DataFrame) -> int:
    """The parts' quarantine entries into the manifest's ``quarantine.jsonl`` in manifest order (the order
    the one-process run appends them in); the count."""
    order = {v: i for i, v in enumerate(videos["video_id"])}
    entries = [e for part in parts for e in read_quarantine(part / QUARANTINE_FILE)]
    quarantine = Quarantine(manifest_dir / QUARANTINE_FILE, stage)  # drops the stage's earlier entries
    for entry in sorted(entries, key=lambda e: order.get(e["item"], len(order))):
        quarantine.add(entry["item"], entry["path"], entry["reason"], entry["hint"])
    return len(entries)
