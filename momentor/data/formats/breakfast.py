"""Breakfast action segmentation: ``groundTruth/<video>.txt`` holds one action label per frame.

Labels are at 15 frames/s (the rate of the released I3D features), so a video lasts len(labels)/15 s.
``mapping.txt`` lists ``<id> <label>``; this copy numbers from 1, MS-TCN's from 0: :func:`read_mapping`
returns the labels in id order whatever the first id is, and every frame label must be one of them.
``*.bundle`` files list the videos of a split (``test.split1.bundle`` -> ``test``); videos in no bundle
are ``train``. Runs of equal labels also become segments (the label, underscores as spaces, as caption).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby
from pathlib import Path

from momentor.data.formats.record import Rejected, SourceVideo, split_from_name
from momentor.data.quarantine import BadInput

LABEL_FPS = 15.0


def read_mapping(path: Path) -> list[str]:
    """Action labels in id order (index 0 = the smallest id), for a mapping numbered from 0 or from 1."""
    pairs = []
    for line in path.read_text().splitlines():
        if line.strip():
            number, label = line.split(maxsplit=1)
            pairs.append((int(number), label.strip()))
    pairs.sort()
    ids = [number for number, _ in pairs]
    if ids != list(range(ids[0], ids[0] + len(ids))) or ids[0] not in (0, 1):
        raise ValueError(f"{path}: ids must run 0..n-1 or 1..n without gaps, got {ids[:5]}...")
    return [label for _, label in pairs]


def _bundle_splits(folder: Path, split: str | None) -> dict[str, str]:
    splits = {}
    for bundle in sorted(folder.glob("*.bundle")):
        for line in bundle.read_text().split():
            splits[Path(line).stem] = split_from_name(bundle.name, split, "train")
    return splits


def label_runs(labels: list[str], fps: float) -> list[tuple[float, float, str]]:
    """Consecutive equal labels as (start s, end s, label)."""
    runs, frame = [], 0
    for label, group in groupby(labels):
        count = len(list(group))
        runs.append((frame / fps, (frame + count) / fps, label))
        frame += count
    return runs


def read(path: Path, split: str | None) -> Iterator[SourceVideo | Rejected]:
    folder = path if path.is_dir() else path.parent
    truth = folder / "groundTruth"
    if not truth.is_dir():
        raise FileNotFoundError(
            f"no groundTruth/ folder in {folder}; point the breakfast source at the dataset folder"
        )
    known = set(read_mapping(folder / "mapping.txt"))
    splits = _bundle_splits(folder, split)
    for file in sorted(truth.glob("*.txt")):
        labels = [line.strip() for line in file.read_text().splitlines() if line.strip()]
        unknown = sorted(set(labels) - known)
        if not labels or unknown:
            reason = f"unknown action labels {unknown[:5]}" if unknown else "no frame labels"
            yield Rejected(
                file.stem, str(file), BadInput(reason, "labels must be the names listed in mapping.txt")
            )
            continue
        yield SourceVideo(
            file.stem,
            split or splits.get(file.stem, "train"),
            duration=len(labels) / LABEL_FPS,
            fps=LABEL_FPS,
            origin=str(file),
            frame_labels=labels,
            segments=[((s, e), label.replace("_", " ")) for s, e, label in label_runs(labels, LABEL_FPS)],
        )
