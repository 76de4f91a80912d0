"""QVHighlights jsonl: one query per line with its windows and 2 s clip saliency (moment_detr's release).

``{"qid", "query", "duration", "vid", "relevant_windows": [[s, e], ...], "relevant_clip_ids": [...],
"saliency_scores": [[a, b, c], ...]}``; the test split has no windows or scores (empty lists here).
``query_id`` is the ``qid``, the key that the evaluation matches predictions on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from momentor.data.formats.record import Query, Rejected, SourceVideo, locate, split_from_name
from momentor.data.quarantine import BadInput


def read(path: Path, split: str | None) -> Iterator[SourceVideo | Rejected]:
    for file in locate(path, "*.jsonl", "QVHighlights jsonl"):
        videos: dict[str, SourceVideo] = {}
        for lineno, line in enumerate(file.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                vid, duration = entry["vid"], float(entry["duration"])
                query = Query(
                    entry["query"],  # the text and each window are checked by ingest
                    list(entry.get("relevant_windows", [])),
                    query_id=str(entry["qid"]),
                    relevant_clip_ids=[int(c) for c in entry.get("relevant_clip_ids", [])],
                    saliency_scores=[[int(s) for s in row] for row in entry.get("saliency_scores", [])],
                )
            except json.JSONDecodeError as err:
                where = f"{file}: line {lineno} column {err.colno}"
                reason = BadInput(f"{where}: not valid JSON ({err.msg})", "fix the line")
                yield Rejected(f"{file.name}:{lineno}", str(file), reason)
                continue
            except (KeyError, TypeError, ValueError) as err:
                reason = BadInput(f"{file}: line {lineno} is not a QVHighlights query: {err!r}", "fix it")
                yield Rejected(f"{file.name}:{lineno}", str(file), reason)
                continue
            video = videos.get(vid)
            if video is None:
                video = videos[vid] = SourceVideo(
                    vid, split_from_name(file.stem, split, "val"), duration=duration, origin=str(file)
                )
            video.queries.append(query)
        yield from videos.values()
