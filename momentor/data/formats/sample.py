"""The sample corpus (``annotations.json`` of ``momentor sample-data``; format in :mod:`momentor.data.sample_corpus`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from momentor.data.formats.record import Query, Rejected, SourceVideo, Track, read_json_files
from momentor.data.quarantine import BadInput


def read(path: Path, split: str | None) -> Iterator[SourceVideo | Rejected]:
    from momentor.data.sample_corpus import ANNOTATIONS

    return read_json_files(path, split, ANNOTATIONS, "sample corpus annotation", _videos)


def _videos(file: Path, annotation: dict, split: str | None) -> Iterator[SourceVideo | Rejected]:
    from momentor.data.sample_corpus import FORMAT

    if annotation.get("format") != FORMAT:
        raise ValueError(
            f"{file} is not a {FORMAT} annotation (format {annotation.get('format')!r}); rebuild it "
            f"with `momentor sample-data`"
        )
    for video in annotation["videos"]:
        try:
            inside(file.parent, video["file"])
            yield SourceVideo(
                video_id=video["video_id"],
                split=split or video["split"],
                duration=float(video["duration"]),
                fps=float(annotation["fps"]),
                path=str(file.parent / video["file"]),
                origin=str(file),
                segments=[((e["start"], e["end"]), e["caption"]) for e in video["events"]],
                queries=[Query(q["text"], [q["window"]], query_id=q["query_id"]) for q in video["queries"]],
                tracks=[
                    Track(t["label"], t["times"], t["boxes"], track_id=t["track_id"]) for t in video["tracks"]
                ],
            )
        except (KeyError, TypeError) as err:
            reason = BadInput(
                f"sample video record lacks {err}", "rebuild the corpus with `momentor sample-data`"
            )
            yield Rejected(str(video.get("video_id", "?")), str(file), reason)
        except BadInput as reason:
            yield Rejected(str(video.get("video_id", "?")), str(file), reason)


def inside(folder: Path, name) -> Path:
    """``folder / name``, refused unless it stays inside ``folder`` (an annotation's ``file`` field must not
    point ingest at files elsewhere on the machine, through ``..`` or an absolute path)."""
    folder = folder.resolve()
    target = (folder / str(name)).resolve()
    if not target.is_relative_to(folder):
        raise BadInput(f"video file {name!r} points outside the annotation's folder {folder}",
                       "keep the videos under the folder of annotations.json and name them relative to it")
    return target
