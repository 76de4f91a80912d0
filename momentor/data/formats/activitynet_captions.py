"""ActivityNet Captions: ``{video_id: {"duration", "timestamps": [[s, e], ...], "sentences": [...]}}``.

Every sentence is both a segment (dense captioning) and a grounding query (one window).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from momentor.data.formats.record import Query, Rejected, SourceVideo, locate, split_from_name
from momentor.data.quarantine import BadInput


def read(path: Path, split: str | None) -> Iterator[SourceVideo | Rejected]:
    for file in locate(path, "*.json", "ActivityNet Captions JSON"):
        for video_id, entry in json.loads(file.read_text()).items():
            try:
                timestamps, sentences = entry["timestamps"], entry["sentences"]
                if len(timestamps) != len(sentences):
                    raise ValueError(f"{len(timestamps)} timestamps but {len(sentences)} sentences")
                video = SourceVideo(
                    video_id, split_from_name(file.stem, split, "val"), duration=float(entry["duration"])
                )
            except (KeyError, TypeError, ValueError) as err:
                yield Rejected(
                    video_id, str(file), BadInput(f"malformed entry: {err}", "fix the entry in the JSON")
                )
                continue
            for k, (window, sentence) in enumerate(zip(timestamps, sentences)):
                text = sentence.strip()
                video.segments.append((window[0], window[1], text))
                video.queries.append(Query(text, [tuple(window)], query_id=f"{video_id}_q{k}"))
            yield video
