"""Moment-10M instruction data as released: one JSON object per file part, keyed by video.

``{video: {"<type>_data": [{"id", "conversations", "variables": {"moment": [s, e] | [[s, e], ...], ...},
"clip_similarity" | "match_score": float}, ...]}}``. ``conversations`` is one turn dict or a list of them;
a turn is ``{"from": "human"|"gpt", "value": template}`` or a pair ``{"human": q, "gpt": a}``. Templates
refer to ``variables`` as ``{moment}``; they are filled in with ``<t=...>`` timestamps at ingest (the model
reads those as temporal tokens), after the past-end policy. The score is kept for score-based filtering.

The released data types map onto the paper's 8 task types (:data:`TYPE_TASKS`); the task names themselves
(with or without ``_data``) are accepted too. Videos are the YT-Temporal-1B ids; their durations come from
the video files (``videos`` of the source), as the release states none.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from momentor.data.formats.record import Instruction, Rejected, SourceVideo, read_json_files, split_from_name
from momentor.data.manifest import TASKS
from momentor.data.quarantine import BadInput

TYPE_TASKS = (
    {
        "segment_caption_data": "segment_captioning",
        "instance_segment_caption_data": "segment_captioning",  # a segment described through one instance
        "qa_data": "segment_qa",
        "instance_qa_data": "instance_qa",
        "appearance_data": "instance_qa",  # what an instance looks like
        "segment_locate_data": "direct_segment_localization",
        "hypo_scene_data": "inferential_segment_localization",
        "comp_ret_data": "composite_segment_retrieval",
        "instance_caption_data": "instance_activity_summarization",
        "cross_segment_qa_data": "cross_segment_qa",
    }
    | {f"{task}_data": task for task in TASKS if task != "gesm"}
    | {task: task for task in TASKS if task != "gesm"}
)
ROLES = {
    "human": "human",
    "user": "human",
    "question": "human",
    "gpt": "gpt",
    "assistant": "gpt",
    "answer": "gpt",
}


def parse_turns(conversations) -> list[tuple[str, str]]:
    """(role, template) pairs from any of the released conversation shapes."""
    items = [conversations] if isinstance(conversations, dict) else list(conversations)
    turns = []
    for item in items:
        pairs = [(item["from"], item["value"])] if "from" in item else list(item.items())
        for role, text in pairs:
            if role not in ROLES or not isinstance(text, str):
                raise ValueError(
                    f"turn role {role!r} is not one of {', '.join(ROLES)} (or its text is not a string)"
                )
            turns.append((ROLES[role], text))
    return turns


def _instruction(video: str, data_type: str, k: int, item: dict) -> Instruction:
    score = item.get("match_score", item.get("clip_similarity", 0.0))
    return Instruction(
        task=TYPE_TASKS[data_type],
        turns=parse_turns(item["conversations"]),
        variables=dict(item.get("variables", {})),
        score=float(score),
        source_id=str(item.get("id", f"{video}_{data_type}_{k}")),
    )


def read(path: Path, split: str | None) -> Iterator[SourceVideo | Rejected]:
    return read_json_files(path, split, "*.json", "Moment-10M JSON", _videos)


def _videos(file: Path, videos: dict, split: str | None) -> Iterator[SourceVideo | Rejected]:
    for video_id, by_type in videos.items():
        if not isinstance(by_type, dict):
            reason = BadInput(f"malformed video entry: {type(by_type).__name__}, not {{data type: [items]}}",
                              "fix the entry in the JSON")  # fmt: skip
            yield Rejected(video_id, str(file), reason)
            continue
        video = SourceVideo(video_id, split_from_name(file.stem, split, "train"), origin=str(file))
        for data_type, items in by_type.items():
            if data_type not in TYPE_TASKS:
                count = f"{len(items)} items" if isinstance(items, list) else type(items).__name__
                reason = BadInput(
                    f"unknown Moment-10M data type {data_type!r} ({count})",
                    f"map it to a task in momentor.data.formats.moment10m.TYPE_TASKS; known: {', '.join(TYPE_TASKS)}",
                )
                yield Rejected(f"{video_id}/{data_type}", str(file), reason)
                continue
            if not isinstance(items, list):
                reason = BadInput(f"{data_type} is a {type(items).__name__}, not a list", "fix the JSON")
                yield Rejected(f"{video_id}/{data_type}", str(file), reason)
                continue
            for k, item in enumerate(items):
                try:
                    video.instructions.append(_instruction(video_id, data_type, k, item))
                except (KeyError, TypeError, ValueError, AttributeError) as err:
                    reason = BadInput(f"malformed instruction: {err!r}", "fix the item in the JSON")
                    yield Rejected(f"{video_id}/{data_type}/{k}", str(file), reason)
        yield video
