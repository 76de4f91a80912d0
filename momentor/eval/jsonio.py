"""Reading and writing the JSON and JSON Lines files of the evaluators, with errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class EvalInputError(ValueError):
    """Ground truth or predictions that cannot be scored; the message names the file or ids and the fix."""


def read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise EvalInputError(f"{path}: file not found; check the path")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise EvalInputError(f"{path}: not valid JSON ({err}); fix the file or regenerate it") from err


def read_jsonl(path: str | Path) -> list[dict]:
    """One JSON object per non-empty line."""
    path = Path(path)
    if not path.is_file():
        raise EvalInputError(f"{path}: file not found; check the path")
    records = []
    with path.open() as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise EvalInputError(
                    f"{path}:{number}: not valid JSON ({err}); each line must be one object"
                ) from err
            if not isinstance(record, dict):
                raise EvalInputError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
            records.append(record)
    return records


def read_records(path: str | Path) -> list[dict]:
    """JSON Lines, or one JSON array of objects (predictions written either way are accepted)."""
    path = Path(path)
    if path.is_file() and path.read_text().lstrip().startswith("["):
        records = read_json(path)
        if not all(isinstance(r, dict) for r in records):
            raise EvalInputError(f"{path}: a JSON array here must hold one object per query")
        return records
    return read_jsonl(path)


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON atomically (a reader never sees half a file)."""
    from momentor import atomic

    return atomic.write_json(path, data)


def describe_ids(ids, limit: int = 10) -> str:
    """A short listing of ids for an error message: the first ``limit`` in sorted order and a count."""
    ids = sorted(ids, key=str)
    shown = ", ".join(map(str, ids[:limit]))
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return f"{shown}{more}"


def check_same_ids(gt_ids, pred_ids, what: str, gt_path, pred_path) -> None:
    """Raise EvalInputError naming the ids present in one of the two sets only (never score the overlap)."""
    gt_ids, pred_ids = set(gt_ids), set(pred_ids)
    if gt_ids == pred_ids:
        return
    parts = []
    missing = gt_ids - pred_ids
    extra = pred_ids - gt_ids
    if missing:
        parts.append(
            f"{len(missing)} {what}(s) of the ground truth have no prediction: {describe_ids(missing)}"
        )
    if extra:
        parts.append(f"{len(extra)} predicted {what}(s) are not in the ground truth: {describe_ids(extra)}")
    raise EvalInputError(
        f"{pred_path} and {gt_path} cover different {what}s; "
        + "; ".join(parts)
        + f". Predict every {what} of the ground truth split (and only those), or pass the matching --gt file"
    )
