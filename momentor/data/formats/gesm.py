"""The GESM (grounded event-sequence modeling) file of Moment-10M.

``{video: {"timestamps": [[s, e], ...], "captions": [...]}}``, seconds. Each event becomes a segment; the
``gesm`` instructions ("decode every event in order") are made from the segments by ``momentor engine``.
Durations come from the video files (``videos`` of the source), as the file states none.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from momentor.data.formats.record import Rejected, SourceVideo, locate, split_from_name
from momentor.data.quarantine import BadInput


def read(path: Path, split: str | None) -> Iterator[SourceVideo | Rejected]:
    for file in locate(path, "*.json", "GESM JSON"):
        for video_id, entry in json.loads(file.read_text()).items():
            try:
                timestamps, captions = entry["timestamps"], entry["captions"]
                if len(timestamps) != len(captions):
                    raise ValueError(f"{len(timestamps)} timestamps but {len(captions)} captions")
                segments = [(w[0], w[1], str(c).strip()) for w, c in zip(timestamps, captions)]
            except (KeyError, TypeError, ValueError, IndexError) as err:
                yield Rejected(video_id, str(file), BadInput(f"malformed GESM entry: {err}", "fix the entry"))
                continue
            yield SourceVideo(video_id, split_from_name(file.stem, split, "train"), segments=segments)
