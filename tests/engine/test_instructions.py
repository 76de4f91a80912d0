"""Instruction generation for all 8 task types and GESM, scores, filtering and the rewriter guard."""

import json
import re

import numpy as np
import pytest

from momentor.data.engine.filtering import FilterReport, conversation, instruction_rows, rewrite_is_faithful
from momentor.data.engine.instance_event import build_matrix
from momentor.data.engine.instructions import TASK_TYPES, VideoStructure, generate_instructions, timestamp
from momentor.data.engine.tracks import Track

TIME = re.compile(r"<t=([0-9.]+)>")


def _structure(event_scores=(1.0, 0.9, 0.4)) -> VideoStructure:
    """Three events: a red circle moves right in event 0 and left in event 1; a blue square sits in 2."""
    times = np.arange(0.0, 12.01, 0.5)
    segments = [(0.0, 4.0), (4.0, 8.0), (8.0, 12.0)]
    red_t = [t for t in times if t < 8.0]
    red_boxes = [
        (0.1 + 0.08 * t, 0.4, 0.3 + 0.08 * t, 0.6)
        if t < 4
        else (0.7 - 0.08 * (t - 4), 0.4, 0.9 - 0.08 * (t - 4), 0.6)
        for t in red_t
    ]
    red = Track("v/instance0", "red circle", red_t, red_boxes, [1.0] * len(red_t))
    blue_t = [t for t in times if t >= 8.0]
    blue = Track(
        "v/instance1", "blue square", blue_t, [(0.45, 0.45, 0.55, 0.55)] * len(blue_t), [0.8] * len(blue_t)
    )
    matrix = build_matrix([red, blue], segments, times)
    captions = ["a red circle moves right", "a red circle moves left", "a blue square sits still"]
    return VideoStructure("v", 12.345, "train", segments, captions, list(event_scores), matrix, 0.3)


def test_every_task_type_and_gesm_is_generated_with_valid_timestamps():
    video = _structure()
    instructions = generate_instructions(video, ["gesm", *TASK_TYPES], seed=0)
    assert {i.task for i in instructions} == {"gesm", *TASK_TYPES}
    for instruction in instructions:
        assert 0.0 <= instruction.score <= 1.0
        for text in (instruction.question, instruction.answer):
            assert all(0.0 <= float(t) <= video.duration for t in TIME.findall(text))
        assert "{" not in instruction.question + instruction.answer  # every field was filled


def test_gesm_answer_lists_every_event_in_order():
    (gesm,) = generate_instructions(_structure(), ["gesm"], seed=0)
    assert gesm.answer == (
        "<t=0> ~ <t=4>: a red circle moves right. <t=4> ~ <t=8>: a red circle moves left. "
        "<t=8> ~ <t=12>: a blue square sits still."
    )
    assert gesm.score == pytest.approx((1.0 + 0.9 + 0.4) / 3)


def test_answers_come_from_the_structure():
    instructions = generate_instructions(_structure(), list(TASK_TYPES), seed=0)
    by_task = {}
    for i in instructions:
        by_task.setdefault(i.task, []).append(i)
    summary = {i.question: i.answer for i in by_task["instance_activity_summarization"]}
    red = next(a for q, a in summary.items() if "red circle" in q)
    assert red == (
        "<t=0> ~ <t=4>: the red circle moves from left to right. "
        "<t=4> ~ <t=8>: the red circle moves from right to left."
    )
    inferential = [i for i in by_task["inferential_segment_localization"] if "right to left" in i.question]
    assert len(inferential) == 1 and "<t=4>" in inferential[0].answer and "<t=8>" in inferential[0].answer
    asks_return = [
        i for i in by_task["cross_segment_qa"] if "the red circle" in i.question
    ]  # from ... see again
    assert [i.answer.split(",")[0] for i in asks_return] == ["Yes", "No"]  # in events 0 and 1, not in 2
    # the blue square's support is presence 1 x detection score 0.8
    blue = [i for i in by_task["instance_qa"] if "blue square" in i.question]
    assert blue[0].score == pytest.approx(0.8)


def test_phrasing_is_deterministic_per_seed():
    video = _structure()
    first = generate_instructions(video, list(TASK_TYPES), seed=0)
    assert first == generate_instructions(video, list(TASK_TYPES), seed=0)
    assert [i.question for i in first] != [
        i.question for i in generate_instructions(video, list(TASK_TYPES), seed=1)
    ]


def test_timestamps_never_print_past_the_end():
    assert timestamp(12.3456, 12.345) == "<t=12.34>"
    assert timestamp(4.0, 10.0) == "<t=4>" and timestamp(-0.001, 10.0) == "<t=0>"


def test_rows_keep_high_scores_and_carry_video_token_first():
    video = _structure(event_scores=(1.0, 0.9, 0.4))
    instructions = generate_instructions(video, ["gesm", *TASK_TYPES], seed=0)
    report = FilterReport()
    rows = instruction_rows("v", "train", instructions, 0.5, report)
    assert len(rows) == sum(report.kept.values()) and len(rows) + sum(report.dropped.values()) == len(
        instructions
    )
    assert (
        all(r["score"] >= 0.5 for r in rows) and report.dropped["segment_captioning"] == 1
    )  # event 2 scores 0.4
    assert len({r["instruction_id"] for r in rows}) == len(rows)
    for row in rows:
        turns = json.loads(row["conversations"])
        assert [t["from"] for t in turns] == ["human", "gpt"] and turns[0]["value"].startswith("<video>\n")


def test_rewrites_that_move_a_timestamp_are_rejected():
    (instruction,) = generate_instructions(_structure(), ["gesm"], seed=0)
    turns = conversation(instruction)
    polite = [dict(turns[0], value=turns[0]["value"] + " Please."), turns[1]]
    moved = [turns[0], dict(turns[1], value=turns[1]["value"].replace("<t=4>", "<t=5>"))]
    assert rewrite_is_faithful(turns, polite)
    assert not rewrite_is_faithful(turns, moved)
    assert not rewrite_is_faithful(
        turns, [dict(turns[0], value=turns[0]["value"].replace("<video>", "")), turns[1]]
    )
    assert not rewrite_is_faithful(turns, turns[:1])

    def rewriter(task, conv):
        return polite if task == "gesm" else moved

    report = FilterReport()
    rows = instruction_rows("v", "train", [instruction, instruction], 0.0, report, rewriter)
    assert json.loads(rows[0]["conversations"])[0]["value"].endswith("Please.")
    assert (report.rewritten, report.rewrites_rejected) == (2, 0)
    gesm_only = FilterReport()
    instruction_rows("v", "train", [instruction], 0.0, gesm_only, lambda task, conv: moved)
    assert (gesm_only.rewritten, gesm_only.rewrites_rejected) == (0, 1)


def test_annotated_queries_become_localization_instructions():
    import pandas as pd

    from momentor.data.engine.instructions import grounding_queries, query_localization

    queries = pd.DataFrame(
        {
            "video_id": ["v", "v", "v", "w"],
            "text": ["the red circle slides right.", "a highlight", "  ", "the blue square"],
            "windows": [[[0.0, 4.0]], [[1.0, 2.0], [5.0, 6.0]], [[1.0, 2.0]], [[8.0, 8.0]]],
        }
    )
    # one window each; several windows (no one answer), an empty text or a zero-length window are left out
    asked = grounding_queries(queries)
    assert asked == {"v": [("the red circle slides right.", (0.0, 4.0))]}
    video = _structure()
    (instruction,) = query_localization(video, asked["v"] + [], seed=0)
    assert instruction.task == "direct_segment_localization" and instruction.score == 1.0
    assert "the red circle slides right?" in instruction.question or "the red circle slides right." in (
        instruction.question
    )
    assert [float(t) for t in TIME.findall(instruction.answer)] == [0.0, 4.0]
    # past the end: rounded down onto the video, as every engine timestamp
    (late,) = query_localization(video, [("the end", (10.0, 20.0))], seed=0)
    assert [float(t) for t in TIME.findall(late.answer)] == [10.0, 12.34]


def test_braces_in_captions_labels_and_queries_are_text_not_lookups():
    """The engine's templates are its own; what it fills in (annotated captions, instance labels, queries)
    goes in as values, so `{x.__class__}` or `{x[0]}` in the data comes out as written (issue #27)."""
    video = _structure()
    hostile = ["{x.__class__}", "{caption[0]} {s.__init__.__globals__}", "{{label}} {:>99}"]
    video.captions = hostile
    video.matrix.instances[0].label = "{label.__class__}"
    video.queries = [("{e!r} where {caption}", (1.0, 2.0))]
    instructions = generate_instructions(video, ["gesm", *TASK_TYPES], seed=0)
    text = " ".join(i.question + " " + i.answer for i in instructions)
    for written in [*hostile, "{label.__class__}", "{e!r} where {caption}"]:
        assert written in text
    assert "<class" not in text and "function" not in text
