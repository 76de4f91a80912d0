"""ActivityNet Captions: ``{video_id: {"duration", "timestamps": [[s, e], ...], "sentences": [...]}}``.

Every sentence is both a segment (dense captioning) and a grounding query (one window).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from momentor.data.formats.record import Query, Rejected, SourceVideo, read_json_files, split_from_name
from momentor.data.quarantine import BadInput


def read(path: Path, split: str | None) -> Iterator[SourceVideo | Rejected]:
    return read_json_files(path, split, "*.json", "ActivityNet Captions JSON", _videos)


def _videos(file: Path, videos: dict, split: str | None) -> Iterator[SourceVideo | Rejected]:
    for video_id, entry in videos.items():
        try:
            timestamps, sentences = entry["timestamps"], entry["sentences"]
            if len(timestamps) != len(sentences):
                raise ValueError(f"{len(timestamps)} timestamps but {len(sentences)} sentences")
            video = SourceVideo(
                video_id, split_from_name(file.stem, split, "val"), duration=float(entry["duration"]),
                origin=str(file),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as err:
            reason = BadInput(f"malformed entry: {err}", "fix the entry in the JSON")
            yield Rejected(video_id, str(file), reason)
            continue
        for k, (window, sentence) in enumerate(zip(timestamps, sentences)):
            video.segments.append((window, sentence))  # checked by ingest, one item at a time
            video.queries.append(Query(sentence, [window], query_id=f"{video_id}_q{k}"))
        yield video
