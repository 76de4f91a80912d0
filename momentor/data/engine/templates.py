"""Instruction templates: several phrasings per task type, filled from the video's structure.

Each template is a ``(question, answer)`` pair of format strings. Fields: ``{s}``/``{e}`` (timestamps of the
event, already written as ``<t=...>``), ``{caption}``, ``{label}`` (``{a_label}`` with its article),
``{activity}`` (a verb phrase, "moves upward"; ``{activity_base}`` its base form, "move upward"),
``{position}``, ``{count}``, ``{s2}``/``{e2}``/``{caption2}`` (a second event), ``{answer}`` (an answer built
by the generator,
e.g. a list of timed activities). The generator picks one phrasing per instruction with a seeded generator,
so the same seed gives the same instructions. The question gets ``<video>`` in front in the generator, not
here: the first human turn always carries it.
"""

from __future__ import annotations

TEMPLATES: dict[str, dict[str, list[tuple[str, str]]]] = {
    "gesm": {
        "all": [
            ("Localize every event in the video and describe each one.", "{answer}"),
            ("List the events of this video in order, each with its start and end time.", "{answer}"),
            ("Break the video into its events: when does each start and end, and what happens?", "{answer}"),
        ]
    },
    "segment_captioning": {
        "caption": [
            ("Describe what happens from {s} to {e}.", "{Caption}."),
            ("What is going on between {s} and {e}?", "{Caption}."),
            ("Write a caption for the segment {s} ~ {e}.", "{Caption}."),
            ("Summarize the part of the video from {s} to {e}.", "{Caption}."),
        ]
    },
    "segment_qa": {
        "count": [
            ("How many objects can be seen between {s} and {e}?", "{Count}."),
            ("Between {s} and {e}, how many distinct objects appear?", "{Count}."),
            ("Count the objects visible in the segment {s} ~ {e}.", "{Count} in total."),
        ],
        "present": [
            ("Is there {a_label} between {s} and {e}?", "Yes, {a_label} {activity} there."),
            ("Does {a_label} appear in the segment {s} ~ {e}?", "Yes: the {label} {activity}."),
            ("Can you see {a_label} from {s} to {e}?", "Yes, the {label} is {position} and {activity}."),
        ],
        "absent": [
            ("Is there {a_label} between {s} and {e}?", "No, there is no {label} in that part."),
            ("Does {a_label} appear in the segment {s} ~ {e}?", "No, the {label} does not appear there."),
            ("Can you see {a_label} from {s} to {e}?", "No, no {label} is visible then."),
        ],
    },
    "instance_qa": {
        "activity": [
            ("What does the {label} do between {s} and {e}?", "It {activity}."),
            ("Between {s} and {e}, how does the {label} move?", "The {label} {activity}."),
            ("Describe the motion of the {label} in the segment {s} ~ {e}.", "The {label} {activity}."),
        ],
        "position": [
            ("Where is the {label} between {s} and {e}?", "It is mostly {position}."),
            ("In which part of the frame is the {label} during {s} ~ {e}?", "The {label} is {position}."),
        ],
    },
    "direct_segment_localization": {
        "caption": [
            ("When does this happen: {caption}?", "From {s} to {e}."),
            ("Find the moment when {caption}.", "{s} ~ {e}."),
            ("At what time does the video show that {caption}?", "Between {s} and {e}."),
            ("Give the start and end time of the event: {caption}.", "It starts at {s} and ends at {e}."),
        ]
    },
    "inferential_segment_localization": {
        "activity": [
            ("When does the {label} {activity_base}?", "From {s} to {e}."),
            ("At what point in the video is the {label} seen as it {activity}?", "{s} ~ {e}."),
            ("Find the time when you would see the {label} that {activity}.", "Between {s} and {e}."),
        ],
        "first": [
            ("When does the {label} first appear?", "It first appears from {s} to {e}."),
            ("When is the {label} seen for the first time?", "{s} ~ {e}."),
        ],
    },
    "composite_segment_retrieval": {
        "span": [
            (
                "Find the part of the video that starts when {caption} and ends when {caption2}.",
                "{s} ~ {e2}.",
            ),
            ("Give the span from the moment {caption} to the moment {caption2}.", "From {s} to {e2}."),
        ],
        "both": [
            (
                "When do these two events happen: {caption}; and {caption2}?",
                "The first from {s} to {e}, the second from {s2} to {e2}.",
            ),
            ("Localize both: {caption}, and {caption2}.", "{s} ~ {e} and {s2} ~ {e2}."),
        ],
    },
    "instance_activity_summarization": {
        "summary": [
            ("Summarize what the {label} does throughout the video.", "{answer}"),
            ("Describe the activity of the {label} over the whole video, with times.", "{answer}"),
            ("Track the {label}: what does it do, and when?", "{answer}"),
        ]
    },
    "cross_segment_qa": {
        "after": [
            ("What happens right after {caption}?", "From {s2} to {e2}, {caption2}."),
            ("After the moment when {caption}, what comes next?", "Next, {caption2} ({s2} ~ {e2})."),
        ],
        "before": [
            ("What happens just before {caption2}?", "From {s} to {e}, {caption}."),
            ("Before the moment when {caption2}, what was happening?", "Before that, {caption} ({s} ~ {e})."),
        ],
        "shared": [
            (
                "Is the {label} seen during {s} ~ {e} also seen during {s2} ~ {e2}?",
                "Yes, it appears in both.",
            ),
            ("Does the {label} from {s} ~ {e} come back between {s2} and {e2}?", "Yes, it is there again."),
        ],
        "not_shared": [
            (
                "Is the {label} seen during {s} ~ {e} also seen during {s2} ~ {e2}?",
                "No, it is not there then.",
            ),
            (
                "Does the {label} from {s} ~ {e} come back between {s2} and {e2}?",
                "No, it does not come back then.",
            ),
        ],
    },
}

NUMBER_WORDS = ("no objects", "one object", "two objects", "three objects", "four objects", "five objects")


def count_words(count: int) -> str:
    return NUMBER_WORDS[count] if count < len(NUMBER_WORDS) else f"{count} objects"


def with_article(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def base_form(phrase: str) -> str:
    """ "moves upward" -> "move upward" (the activity verbs are regular third-person forms)."""
    verb, _, rest = phrase.partition(" ")
    verb = verb[:-1] if verb.endswith("s") and not verb.endswith("ss") else verb
    return f"{verb} {rest}".strip()


def fill(template: tuple[str, str], **fields: str) -> tuple[str, str]:
    """Fill a (question, answer) template; derived fields (``{Caption}``, ``{Count}``, ``{a_label}``,
    ``{activity_base}``) are added from the given ones."""
    extra = {
        key.capitalize(): fields[key][:1].upper() + fields[key][1:]
        for key in ("caption", "count")
        if key in fields
    }
    if "label" in fields:
        extra["a_label"] = with_article(fields["label"])
    if "activity" in fields:
        extra["activity_base"] = base_form(fields["activity"])
    question, answer = template
    return question.format(**fields, **extra), answer.format(**fields, **extra)
