import pytest

from momentor.infer.answers import answer_events, answer_windows, gesm_question, grounding_question
from momentor.model.generate import Answer


def test_grounding_asks_with_the_engines_localization_phrasing():
    turns = grounding_question("a red circle moves upward.")
    assert turns == [{"from": "human", "value": "<video>\nWhen does this happen: a red circle moves upward?"}]
    assert gesm_question()[0]["value"] == "<video>\nLocalize every event in the video and describe each one."


def test_windows_pair_consecutive_timestamps_with_exact_values():
    answer = Answer("From 3.2 s to 7.9 s, and again 9.0 s ~ 8.1 s.", [3.2134, 7.9, 9.0, 8.1])
    assert answer_windows(answer, duration=20.0) == [[3.2134, 7.9, 1.0], [8.1, 9.0, 0.5]]


def test_windows_are_clipped_and_a_lone_timestamp_is_an_empty_window():
    assert answer_windows(Answer("It starts at 12.0 s.", [12.0]), duration=10.0) == [[10.0, 10.0, 1.0]]
    assert answer_windows(Answer("Never.", []), duration=10.0) == []


def test_text_baseline_answers_are_read_from_the_text():
    # the text-timestamp baseline writes seconds as text: Answer.timestamps are parsed from it
    answer = Answer("From 1.5 s to 4.0 s.", [1.5, 4.0])
    assert answer_windows(answer, 10.0) == [[1.5, 4.0, 1.0]]
    # more numbers in the text than timestamps: the text's values are used
    assert answer_windows(Answer("From 2 s to 5.5 s.", [2.04]), 10.0) == [[2.0, 5.5, 1.0]]


def test_gesm_answers_become_timed_sentences():
    answer = Answer(
        "0.0 s ~ 4.5 s: a man opens a fridge. 4.5 s ~ 9.2 s: he drinks milk.", [0.0, 4.5, 4.5, 9.21]
    )
    assert answer_events(answer, duration=9.0) == [
        {"timestamp": [0.0, 4.5], "sentence": "a man opens a fridge."},
        {"timestamp": [4.5, 9.0], "sentence": "he drinks milk."},
    ]
    assert answer_events(Answer("0.0 s ~", [0.0]), 5.0) == []


@pytest.mark.parametrize("text", ["", "a dog runs."])
def test_no_timestamps_no_events(text):
    assert answer_events(Answer(text, []), 5.0) == []
