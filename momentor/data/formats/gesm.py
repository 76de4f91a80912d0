"""The GESM (grounded event-sequence modeling) file of Moment-10M.

``{video: {"timestamps": [[s, e], ...], "captions": [...]}}``, seconds. Each event becomes a segment; the
``gesm`` instructions ("decode every event in order") are made from the segments by ``momentor engine``.
Durations come from the video files (``videos`` of the source), as the file states none.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from momentor.data.formats.record import Rejected, SourceVideo, read_json_files, split_from_name
from momentor.data.quarantine import BadInput


def read(path: Path, split: str | None) -> Iterator[SourceVideo | Rejected]:
    return read_json_files(path, split, "*.json", "GESM JSON", _videos)


def _videos(file: Path, videos: dict, split: str | None) -> Iterator[SourceVideo | Rejected]:
    for video_id, entry in videos.items():
        try:
            timestamps, captions = entry["timestamps"], entry["captions"]
            if len(timestamps) != len(captions):
                raise ValueError(f"{len(timestamps)} timestamps but {len(captions)} captions")
        except (KeyError, TypeError, ValueError) as err:
            yield Rejected(video_id, str(file), BadInput(f"malformed GESM entry: {err}", "fix the entry"))
            continue
        segments = list(zip(timestamps, captions))  # checked by ingest, one event at a time
        yield SourceVideo(
            video_id, split_from_name(file.stem, split, "train"), origin=str(file), segments=segments
        )
