"""From generated instructions to manifest rows: conversations, the optional LLM rewriter, score filtering.

The paper has an LLM write the instructions from the video's structure; here templates write them and a
**rewriter** may rephrase them: any callable ``rewriter(task, conversation) -> conversation`` (e.g. a local
LLM). A rewrite is accepted only if it keeps the turns (same roles, same order), keeps every ``<t=...>``
timestamp of every turn in order (a rewriter must not invent or move times), keeps ``<video>`` in the first
human turn and leaves no turn empty; otherwise the template's wording is kept and the rejection counted.

Filtering keeps instructions whose score is at least ``engine.min_instruction_score`` and counts the rest
per task, so the report says what was dropped.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from momentor.data.engine.instructions import Instruction

TIMESTAMP = re.compile(r"<t=([-+]?\d+(?:\.\d+)?)>")
VIDEO_TOKEN = "<video>"

Conversation = list[dict[str, str]]
Rewriter = Callable[[str, Conversation], Conversation]


def conversation(instruction: Instruction) -> Conversation:
    """The two-turn conversation of an instruction; the first human turn carries ``<video>``."""
    return [
        {"from": "human", "value": f"{VIDEO_TOKEN}\n{instruction.question}"},
        {"from": "gpt", "value": instruction.answer},
    ]


def rewrite_is_faithful(original: Conversation, rewritten: object) -> bool:
    """Whether a rewrite keeps the roles, every timestamp of every turn, ``<video>`` first, no empty turn."""
    if not isinstance(rewritten, list) or len(rewritten) != len(original):
        return False
    for before, after in zip(original, rewritten):
        if not isinstance(after, dict) or after.get("from") != before["from"]:
            return False
        value = after.get("value")
        if not isinstance(value, str) or not value.strip():
            return False
        if TIMESTAMP.findall(value) != TIMESTAMP.findall(before["value"]):
            return False
    return VIDEO_TOKEN in rewritten[0]["value"]


@dataclass
class FilterReport:
    """What filtering and rewriting did, per task."""

    kept: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    rewritten: int = 0
    rewrites_rejected: int = 0

    def as_dict(self) -> dict:
        return {
            "kept": dict(sorted(self.kept.items())),
            "dropped_low_score": dict(sorted(self.dropped.items())),
            "rewritten": self.rewritten,
            "rewrites_rejected": self.rewrites_rejected,
        }


def instruction_rows(
    video_id: str,
    split: str,
    instructions: Sequence[Instruction],
    min_score: float,
    report: FilterReport,
    rewriter: Rewriter | None = None,
) -> list[dict]:
    """Manifest rows (``instructions.parquet`` schema) of the instructions that pass the score filter."""
    rows = []
    counters: Counter = Counter()
    for instruction in instructions:
        task = instruction.task
        if instruction.score < min_score:
            report.dropped[task] += 1
            continue
        turns = conversation(instruction)
        if rewriter is not None:
            candidate = rewriter(task, [dict(turn) for turn in turns])
            if rewrite_is_faithful(turns, candidate):
                turns = [{"from": t["from"], "value": t["value"]} for t in candidate]
                report.rewritten += 1
            else:
                report.rewrites_rejected += 1
        report.kept[task] += 1
        rows.append(
            {
                "instruction_id": f"engine/{video_id}/{task}/{counters[task]}",
                "video_id": video_id,
                "task": task,
                "conversations": json.dumps(turns, ensure_ascii=False),
                "score": round(float(instruction.score), 6),
                "split": split,
            }
        )
        counters[task] += 1
    return rows
