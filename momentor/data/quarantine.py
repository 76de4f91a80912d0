"""The quarantine report: bad items are kept aside with a reason and a hint, and the run goes on.

``quarantine.jsonl`` sits beside the manifest tables, one JSON object per bad item::

    {"item": "sample_007", "path": "data/sample/sample_007.mp4", "stage": "ingest",
     "reason": "no video frames could be decoded (...)", "hint": "re-encode the file ..."}

``stage`` is the step that found it (``ingest`` for missing/corrupt files and bad annotations,
``features`` for videos that fail to decode during feature extraction). A step that runs again replaces its
own earlier entries and keeps those of the other steps, so the file always says what is wrong now. Entries
are appended and flushed one by one: a killed run keeps what it found so far.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

from momentor import atomic

log = logging.getLogger(__name__)


class BadInput(Exception):
    """An input item that cannot be used; carries the reason and what to do about it."""

    def __init__(self, reason: str, hint: str):
        super().__init__(f"{reason} ({hint})")
        self.reason = reason
        self.hint = hint


def read_quarantine(path: str | Path) -> list[dict]:
    """The entries of a quarantine file. A torn last line (a run killed while appending it) is skipped
    with a warning; a bad line before the last one is an error naming the file and line."""
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    entries = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError as err:
            if number == len(lines):
                log.warning("%s:%d: skipped a torn last line (a run was killed while writing it)", path, number)
                continue
            raise BadInput(f"{path}:{number}: not a JSON line ({err.msg})",
                           "delete the line or the file; the next run of its step writes it again") from err
    return entries


class Quarantine:
    """The quarantine report of one step (``stage``) in the file ``path``."""

    def __init__(self, path: str | Path, stage: str):
        self.path = Path(path)
        self.stage = stage
        self.path.parent.mkdir(parents=True, exist_ok=True)
        others = [entry for entry in read_quarantine(self.path) if entry.get("stage") != stage]
        atomic.write_text(self.path, "".join(json.dumps(entry) + "\n" for entry in others))
        self.entries: list[dict] = []

    def add(self, item: str, path: str | Path, reason: str, hint: str) -> dict:
        entry = {"item": str(item), "path": str(path), "stage": self.stage, "reason": reason, "hint": hint}
        with self.path.open("a") as f:
            f.write(json.dumps(entry) + "\n")
        self.entries.append(entry)
        return entry

    def add_error(self, item: str, path: str | Path, error: BadInput) -> dict:
        return self.add(item, path, error.reason, error.hint)

    def __len__(self) -> int:
        return len(self.entries)

    def reasons(self) -> Counter:
        """How many items were quarantined for each kind of reason (the text before the first colon)."""
        return Counter(entry["reason"].split(":")[0] for entry in self.entries)
