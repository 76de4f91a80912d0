"""YouCook2 in TimeChat's dense-captioning JSON (COCO style).

``{"annotations": [{"image_id": "<youtube id>.mp4", "duration": s, "segments": [[s, e], ...] (seconds),
"caption": "<time_token_a> <time_token_b> sentence <time_token_c> ...", "pure_cap", ...}]}``.
The windows are ``segments`` (seconds); the sentences are the caption's text between time-token pairs
(the tokens themselves are TimeChat's relative positions and are not used).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from momentor.data.formats.record import Query, Rejected, SourceVideo, read_json_files, split_from_name
from momentor.data.quarantine import BadInput

_TOKEN_PAIR = re.compile(r"(?:<time_token_\d+>\s*){2}")


def caption_sentences(caption: str) -> list[str]:
    """The sentences of a TimeChat caption, in order (the text after each pair of time tokens)."""
    return [part.strip() for part in _TOKEN_PAIR.split(caption) if part.strip()]


def read(path: Path, split: str | None) -> Iterator[SourceVideo | Rejected]:
    return read_json_files(path, split, "*.json", "YouCook2 TimeChat JSON", _videos)


def _videos(file: Path, data: dict, split: str | None) -> Iterator[SourceVideo | Rejected]:
    entries = data.get("annotations")
    if not isinstance(entries, list):
        reason = BadInput(f"{file}: no 'annotations' list at the top level", "use a TimeChat-style file")
        yield Rejected(file.name, str(file), reason)
        return
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict):
            reason = BadInput(f"annotations[{number}] is not an object", "fix the entry")
            yield Rejected(f"annotations[{number}]", str(file), reason)
            continue
        video_id = Path(str(entry.get("image_id", "?"))).stem
        try:
            windows = entry["segments"]
            sentences = caption_sentences(entry["caption"])
            if len(sentences) != len(windows):
                raise ValueError(f"{len(windows)} segments but {len(sentences)} sentences in the caption")
            video = SourceVideo(
                video_id, split_from_name(file.stem, split, "val"), duration=float(entry["duration"]),
                origin=str(file),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as err:
            yield Rejected(video_id, str(file), BadInput(f"malformed annotation: {err}", "fix the entry"))
            continue
        for k, (window, sentence) in enumerate(zip(windows, sentences)):
            video.segments.append((window, sentence))  # the window is checked by ingest
            video.queries.append(Query(sentence, [window], query_id=f"{video_id}_q{k}"))
        yield video
