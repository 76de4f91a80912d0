"""Small writers of prediction and ground-truth files for the evaluation tests."""

from __future__ import annotations

import json
from pathlib import Path


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path
