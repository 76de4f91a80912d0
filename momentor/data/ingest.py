"""``momentor ingest``: read every configured source into the one canonical manifest.

For each video a reader yields, ingest finds its file (the path the source names, or
``<videos>/<video_id>.<ext>``), checks that it opens and decodes at both ends, hashes it, settles the
duration (the one the source states, else the file's), applies ``data.past_end_policy`` to every window
and writes the rows. A bad video (missing, empty, corrupt, truncated or undecodable file; zero or unknown
duration; a stated duration the file contradicts) and a bad annotation (an annotation file that is not
valid JSON, an unparsable line, a window that is not an ordered ``[start, end]`` pair, a caption or query
that is not text) go to ``quarantine.jsonl`` with the file, the item and a hint; the run goes on and the
summary counts them.

Past-end policy (``data.past_end_policy``; the evaluation clips predictions and ground truth to the video
by default, ``eval.clip_to_duration``):

- ``clip`` (default): a window that ends after the video ends at the video's end; one that starts at or
  after the end is dropped (counted under ``dropped_past_end``).
- ``drop``: such annotations are dropped (counted).
- ``keep``: they are kept as annotated (counted; validation then reports them).

The number of annotations that end after their video is in the summary either way (Charades-STA test:
562 of 3720 queries).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from momentor.config import Config, ConfigError, SourceConfig
from momentor.data.decode import probe_video
from momentor.hashing import file_sha256
from momentor.data.formats import read_source
from momentor.data.formats.record import Rejected, SourceVideo, check_text, check_window, fit_window
from momentor.data.manifest import QUARANTINE_FILE, SAFE_ID, SPLITS, ManifestWriter
from momentor.data.quarantine import BadInput, Quarantine

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".mpg", ".m4v")
SAFE_VIDEO_ID = re.compile(SAFE_ID)
#: How far a source's stated duration may be from its file's before the video is quarantined: container
#: durations and annotation tools round differently, and a re-encoded download can gain or lose a second or
#: two (and a few percent on long videos); a 16 s clip annotated as 3000 s is another video, and the engine
#: would decode it as a 3000 s one.
DURATION_TOLERANCE_S = 2.0
DURATION_TOLERANCE_FRACTION = 0.05
#: what the summary counts per source
STAT_KEYS = ("videos", "segments", "queries", "instructions", "tracks", "frame_labels", "quarantined",
             "past_end_segments", "past_end_queries", "past_end_instructions", "dropped_past_end")  # fmt: skip
_DURATION_HINTS = {
    "charades_sta": "put the Charades metadata CSV (Charades_v1_<split>.csv, column length) beside the annotation",
    "moment10m": "set the source's `videos` to the folder of the video files: the release states no durations",
    "gesm": "set the source's `videos` to the folder of the video files: the release states no durations",
}


def find_video(folder: Path, video_id: str) -> Path:
    for ext in VIDEO_EXTENSIONS:
        candidate = folder / f"{video_id}{ext}"
        if candidate.exists():
            return candidate
    raise BadInput(
        f"video file not found: no {video_id}.{{{','.join(e[1:] for e in VIDEO_EXTENSIONS)}}} in {folder}",
        "put the video there, or remove the source's `videos` to ingest the annotations only",
    )


def check_video_id(video_id) -> None:
    """Refuse an id that is not a safe file name: it names files under the work folder (e.g. features)."""
    if not isinstance(video_id, str) or not SAFE_VIDEO_ID.fullmatch(video_id):
        raise BadInput(
            f"video id {video_id!r} is not a safe file name (it would name files outside their folder)",
            "use ids of letters, digits, '.', '_' and '-' (at most 200, not starting with '.'); "
            "rename the video in the annotation file",
        )


def check_stated_duration(stated: float | None, real: float, path: Path) -> None:
    """Refuse a stated duration that the video file contradicts (see :data:`DURATION_TOLERANCE_S`)."""
    if stated is None:
        return
    tolerance = max(DURATION_TOLERANCE_S, DURATION_TOLERANCE_FRACTION * real)
    if not abs(stated - real) <= tolerance:  # `not <=`: a NaN stated duration is refused too
        raise BadInput(
            f"stated duration {stated:.2f} s but the video file {path} lasts {real:.2f} s "
            f"(more than {tolerance:.2f} s apart)",
            "fix the duration in the annotation, or check that the file is the annotated video",
        )


def resolve_video(video: SourceVideo, source: SourceConfig) -> dict:
    """The ``videos`` row of a reader's record: file found, decodable at both ends, hashed, duration settled."""
    check_video_id(video.video_id)
    path = (
        Path(video.path)
        if video.path
        else (find_video(Path(source.videos), video.video_id) if source.videos else None)
    )
    duration, fps, sha = video.duration, video.fps, ""
    if path is not None:
        info = probe_video(path)  # DecodeError (a BadInput) for missing, empty, corrupt, truncated files
        check_stated_duration(duration, info.duration, path)
        duration = duration if duration is not None else info.duration
        fps, sha = info.fps, file_sha256(path)
    if duration is None:
        hint = _DURATION_HINTS.get(
            source.format, "give the source's `videos` folder so the duration can be read"
        )
        raise BadInput("unknown duration: the source states none and there is no video file", hint)
    if not duration > 0:
        raise BadInput(
            f"zero duration ({duration})", "fix the duration in the source, or re-encode the video"
        )
    if video.split not in SPLITS:
        raise BadInput(f"split {video.split!r} is not one of {', '.join(SPLITS)}", "set the source's `split`")
    return {
        "video_id": video.video_id,
        "path": str(path) if path else "",
        "duration": float(duration),
        "fps": float(fps),
        "source": source.format,
        "split": video.split,
        "sha256": sha,
    }


class _Ingest:
    """One ingest run: the writer, the quarantine and the counters."""

    def __init__(self, cfg: Config, folder: Path):
        self.policy = cfg.data.past_end_policy
        self.writer = ManifestWriter(folder)
        self.quarantine = Quarantine(self.writer.partial / QUARANTINE_FILE, "ingest")
        self.videos: dict[str, dict] = {}  # video_id -> its row (a second source may add annotations to it)
        # numbered ids per video and kind across sources: a second source's segments of a video follow the
        # first's (vid_s3, vid_s4, ...) instead of repeating vid_s0
        self.numbered: dict[str, Counter] = {}

    def _first_number(self, vid: str, kind: str, count: int) -> int:
        """The number of the first of ``count`` new ``kind`` items of video ``vid``, reserving all of them."""
        counter = self.numbered.setdefault(vid, Counter())
        first = counter[kind]
        counter[kind] += count
        return first

    def reject(self, item: str, origin: str, err: BadInput, stats: Counter) -> None:
        """Quarantine one annotation item of the file ``origin`` (its reason starts with the file's name)."""
        self.quarantine.add(item, origin, f"{Path(origin).name}: {err.reason}", err.hint)
        stats["quarantined"] += 1

    def text(self, raw, what: str, origin: str, stats: Counter) -> str | None:
        """A caption or query text, or None (quarantined, counted)."""
        try:
            return check_text(raw, what)
        except BadInput as err:
            self.reject(what, origin, err, stats)
            return None

    def window(self, raw, what: str, origin: str, video: dict, stats: Counter, kind: str):
        """A checked window after the past-end policy, or None (quarantined or dropped; both counted)."""
        try:
            window = check_window(raw, what)
        except BadInput as err:
            self.reject(what, origin, err, stats)
            return None
        if window[1] > video["duration"]:
            stats[f"past_end_{kind}"] += 1
        fitted = fit_window(window, video["duration"], self.policy)
        if fitted is None:
            stats["dropped_past_end"] += 1
        return fitted

    def add_video(self, record: SourceVideo, source: SourceConfig, stats: Counter) -> None:
        vid = record.video_id
        try:
            row = resolve_video(record, source)
            known = self.videos.get(vid)
            if known is not None and abs(known["duration"] - row["duration"]) > 0.5:
                raise BadInput(
                    f"video id already ingested from {known['source']} with duration {known['duration']:.2f} s, "
                    f"here {row['duration']:.2f} s",
                    "two sources name different videos alike: ingest them into separate manifests",
                )
        except BadInput as err:
            self.quarantine.add_error(vid, record.path or source.videos or source.path, err)
            stats["quarantined"] += 1
            return
        if known is None:
            self.videos[vid] = row
            self.writer.add("videos", row)
            stats["videos"] += 1
        row = self.videos[vid]
        self._add_annotations(record, row, source, stats)

    def _add_annotations(self, record: SourceVideo, row: dict, source: SourceConfig, stats: Counter) -> None:
        vid, split = row["video_id"], row["split"]
        origin = record.origin or source.path  # the annotation file, named with every quarantined item
        first = {kind: self._first_number(vid, kind, len(items)) for kind, items in (
            ("s", record.segments), ("q", record.queries), ("i", record.instructions), ("t", record.tracks))}
        for k, (raw_window, raw_caption) in enumerate(record.segments, start=first["s"]):
            sid = f"{vid}_s{k}"
            caption = self.text(raw_caption, sid, origin, stats)
            window = None if caption is None else self.window(raw_window, sid, origin, row, stats, "segments")
            if window is not None:
                segment = {"segment_id": sid, "video_id": vid, "caption": caption, "origin": "gt"}
                self.writer.add("segments", {**segment, "start": window[0], "end": window[1]})
                stats["segments"] += 1
        for k, query in enumerate(record.queries, start=first["q"]):
            qid = query.query_id or f"{vid}_q{k}"
            text = self.text(query.text, qid, origin, stats)
            if text is None:
                continue
            windows = [self.window(w, qid, origin, row, stats, "queries") for w in query.windows]
            if query.windows and not any(w is not None for w in windows):
                continue
            self.writer.add("queries", {
                "query_id": qid, "video_id": vid, "text": text, "split": split, "source": source.format,
                "windows": [list(w) for w in windows if w is not None],
                "relevant_clip_ids": query.relevant_clip_ids, "saliency_scores": query.saliency_scores,
            })  # fmt: skip
            stats["queries"] += 1
        for k, instruction in enumerate(record.instructions, start=first["i"]):
            iid = instruction.source_id or f"{vid}_i{k}"
            try:
                self._fit_instruction(instruction, row, stats)
                conversations = json.dumps(instruction.render())
            except _Dropped:
                continue
            except BadInput as err:
                self.reject(iid, origin, err, stats)
                continue
            self.writer.add("instructions", {
                "instruction_id": iid, "video_id": vid, "task": instruction.task,
                "conversations": conversations, "score": instruction.score, "split": split,
            })  # fmt: skip
            stats["instructions"] += 1
        for k, track in enumerate(record.tracks, start=first["t"]):
            tid = track.track_id or f"{vid}_t{k}"
            self.writer.add("tracks", {"track_id": tid, "video_id": vid, "label": track.label,
                                       "times": track.times, "boxes": track.boxes})  # fmt: skip
            stats["tracks"] += 1
        if record.frame_labels is not None:
            self.writer.add(
                "frame_labels", {"video_id": vid, "labels": record.frame_labels, "fps": record.fps}
            )
            stats["frame_labels"] += 1

    def _fit_instruction(self, instruction, row: dict, stats: Counter) -> None:
        """Apply the past-end policy to the moments an instruction's variables hold (in place)."""
        windows = instruction.windows()  # BadInput for malformed moments
        if not any(end > row["duration"] for _, end in windows):
            return
        stats["past_end_instructions"] += 1
        if self.policy == "keep":
            return
        fitted = [fit_window(w, row["duration"], self.policy) for w in windows]
        if any(w is None for w in fitted):
            stats["dropped_past_end"] += 1
            raise _Dropped
        for key in ("moment", "SOURCE_CLIP"):
            value = instruction.variables.get(key)
            if value is None:
                continue
            nested = isinstance(value[0], (list, tuple))  # checked by windows(): a window or a list of them
            count = len(value) if nested else 1
            taken, fitted = fitted[:count], fitted[count:]
            instruction.variables[key] = [list(w) for w in taken] if nested else list(taken[0])


class _Dropped(Exception):
    """An instruction dropped by the past-end policy (counted, not quarantined)."""


def ingest(cfg: Config, folder: str | Path | None = None) -> dict:
    """Read ``cfg.data.sources`` into the manifest folder (default ``<paths.work>/manifest``); the summary."""
    folder = Path(folder) if folder is not None else Path(cfg.paths.work) / "manifest"
    for k, source in enumerate(cfg.data.sources):
        if source.split is not None and source.split not in SPLITS:
            raise ConfigError(
                f"data.sources[{k}].split: {source.split!r} is not allowed; use one of {SPLITS} or null"
            )
    run = _Ingest(cfg, folder)
    summary: dict = {"past_end_policy": run.policy, "sources": []}
    try:
        for source in cfg.data.sources:
            stats: Counter = Counter(dict.fromkeys(STAT_KEYS, 0))
            for record in read_source(source.format, source.path, source.split):
                if isinstance(record, Rejected):
                    run.quarantine.add_error(record.item, record.path, record.error)
                    stats["quarantined"] += 1
                else:
                    run.add_video(record, source, stats)
            summary["sources"].append({"format": source.format, "path": source.path, **stats})
    except BaseException:
        run.writer.abort()
        raise
    summary["tables"] = dict(run.writer.counts)
    summary["quarantined"] = len(run.quarantine)
    summary["manifest"] = str(folder)
    run.writer.commit(summary)
    return summary
