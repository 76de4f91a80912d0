"""Charades-STA: ``charades_sta_<split>.txt`` lines ``VIDEO start end##sentence`` (seconds).

The durations come from the Charades metadata CSV beside it (``Charades_v1_<split>.csv``, column
``length``). 562 of the 3720 test lines end after the video; ``data.past_end_policy`` decides what happens
to them (see :func:`momentor.data.formats.record.fit_window`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from momentor.data.formats.record import Query, Rejected, SourceVideo, locate, split_from_name
from momentor.data.quarantine import BadInput


def read_durations(folder: Path) -> dict[str, float]:
    """Video id -> duration (s) from every ``Charades_v1_*.csv`` in ``folder``."""
    durations: dict[str, float] = {}
    for file in sorted(folder.glob("Charades_v1_*.csv")):
        with file.open(newline="") as f:
            for row in csv.DictReader(f):
                try:
                    durations[row["id"]] = float(row["length"])
                except (KeyError, TypeError, ValueError):
                    continue  # a video without a length is reported when an annotation refers to it
    return durations


def read(path: Path, split: str | None) -> Iterator[SourceVideo | Rejected]:
    for file in locate(path, "charades_sta_*.txt", "Charades-STA annotation"):
        durations = read_durations(file.parent)
        videos: dict[str, SourceVideo] = {}
        for lineno, line in enumerate(file.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                head, sentence = line.split("##", 1)
                video_id, start, end = head.split()
                window = (float(start), float(end))
            except ValueError:
                reason = BadInput(
                    f"line {lineno} is not 'VIDEO start end##sentence': {line[:80]!r}", "fix the line"
                )
                yield Rejected(f"{file.name}:{lineno}", str(file), reason)
                continue
            video = videos.get(video_id)
            if video is None:
                video = videos[video_id] = SourceVideo(
                    video_id, split_from_name(file.name, split, "test"), duration=durations.get(video_id),
                    origin=str(file),
                )  # fmt: skip
            number = len(video.queries)
            video.queries.append(Query(sentence.strip(), [window], query_id=f"{video_id}_q{number}"))
        yield from videos.values()
