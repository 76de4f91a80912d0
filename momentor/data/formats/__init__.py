"""Readers of benchmark annotation formats; each turns its files into :class:`~.record.SourceVideo` records.

| format | files | lands in |
|---|---|---|
| ``sample`` | ``annotations.json`` of ``momentor sample-data`` + its mp4 files | videos, segments, queries, tracks |
| ``charades_sta`` | ``charades_sta_<split>.txt`` (``VIDEO start end##sentence``) + ``Charades_v1_<split>.csv`` (``length``) | videos, queries |
| ``activitynet_captions`` | ``{id: {duration, timestamps, sentences}}`` JSON | videos, segments, queries |
| ``qvhighlights`` | jsonl of ``{qid, query, duration, vid, relevant_windows, relevant_clip_ids, saliency_scores}`` | videos, queries |
| ``youcook2`` | TimeChat-style COCO JSON ``{"annotations": [{image_id, duration, segments, caption, ...}]}`` | videos, segments, queries |
| ``breakfast`` | ``groundTruth/*.txt`` (a label per frame, 15 fps), ``mapping.txt``, ``*.bundle`` split lists | videos, frame_labels, segments |
| ``moment10m`` | Moment-10M JSON ``{video: {"<type>_data": [{conversations, variables, clip_similarity|match_score}]}}`` | videos, instructions |
| ``gesm`` | GESM JSON ``{video: {"timestamps": [[s, e], ...], "captions": [...]}}`` | videos, segments |

Each reader is ``read(path: Path, split: str | None) -> Iterator[SourceVideo | Rejected]``; ``path`` is the
annotation file or the folder that holds the source's files.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

from momentor.data.formats.record import Rejected, SourceVideo

FORMATS = (
    "sample",
    "charades_sta",
    "activitynet_captions",
    "qvhighlights",
    "youcook2",
    "breakfast",
    "moment10m",
    "gesm",
)


def read_source(fmt: str, path: str | Path, split: str | None = None) -> Iterator[SourceVideo | Rejected]:
    """Records of one source; FileNotFoundError when its files are not there."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown annotation format {fmt!r}; use one of {', '.join(FORMATS)}")
    path = Path(path)
    if not path.exists():
        how = "build it with `momentor sample-data`, or " if fmt == "sample" else ""
        raise FileNotFoundError(
            f"{fmt} annotations not found at {path}; {how}set data.sources[].path to the file or folder"
        )
    module = importlib.import_module(f"momentor.data.formats.{fmt}")
    return module.read(path, split)
