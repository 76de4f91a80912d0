"""Conversations to token sequences: chat templates, the video slot and timestamp placeholders.

Conversation text carries two markers (the manifest's contract):
- ``<video>`` in the first human turn: replaced by ``<vid_start>``, M frame slots, ``<vid_end>``;
- ``<t=12.4>``, a timestamp in seconds: one temporal slot whose embedding the model fills with e(t)
  (``tokens`` mode), or the text "12.4 s" (``text`` mode, the text-timestamp baseline).

Placeholders are negative ids in ``input_ids`` (never real vocabulary ids) and are replaced by embeddings
inside the model; timestamps are kept, in text order, in a parallel ``times`` list. Labels supervise the
assistant turns only: a token id, ``TIME_LABEL`` for a timestamp target, ``IGNORE`` elsewhere.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

VID_START, VID_END, FRAME, TIME = -201, -202, -203, -204
TIME_LABEL = TIME
IGNORE = -100
VIDEO_TAG = "<video>"
TIME_PATTERN = re.compile(r"<t=(-?\d+(?:\.\d*)?)>")
_MARKERS = re.compile(r"(<video>|<t=-?\d+(?:\.\d*)?>)")


def format_seconds(t: float) -> str:
    """How a timestamp reads in text: one decimal and a unit ("12.4 s")."""
    return f"{t:.1f} s"


@dataclass(frozen=True)
class ChatTemplate:
    """A chat format: how turns are wrapped, and which text ends an answer."""

    name: str
    system: str
    user: str  # format string with {text}
    assistant_prefix: str
    assistant_suffix: str  # ends an answer; its first token stops generation

    def prompt_prefix(self) -> str:
        return self.system


TEMPLATES = {
    # Vicuna v1.1 (the paper's LLM): "{system} USER: {q} ASSISTANT: {a}</s>"
    "vicuna_v1": ChatTemplate(
        name="vicuna_v1",
        system=(
            "A chat between a curious user and an artificial intelligence assistant. "
            "The assistant gives helpful, detailed, and polite answers to the user's questions. "
        ),
        user="USER: {text} ",
        assistant_prefix="ASSISTANT:",
        assistant_suffix="</s>",
    ),
    # ChatML (SmolLM2-Instruct)
    "chatml": ChatTemplate(
        name="chatml",
        system="<|im_start|>system\nYou are a helpful assistant that watches videos.<|im_end|>\n",
        user="<|im_start|>user\n{text}<|im_end|>\n",
        assistant_prefix="<|im_start|>assistant\n",
        assistant_suffix="<|im_end|>",
    ),
    # ChatML without a system turn (the tiny preset: short sequences for fast tests)
    "chatml_short": ChatTemplate(
        name="chatml_short",
        system="",
        user="<|im_start|>user\n{text}<|im_end|>\n",
        assistant_prefix="<|im_start|>assistant\n",
        assistant_suffix="<|im_end|>",
    ),
}


@dataclass
class Encoded:
    """One tokenised conversation (lists of equal length)."""

    input_ids: list[int] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def extend(self, ids: list[int], supervised: bool, times: list[float] | None = None) -> None:
        self.input_ids += ids
        self.times += times if times is not None else [0.0] * len(ids)
        if supervised:
            self.labels += [TIME_LABEL if i == TIME else i for i in ids]
        else:
            self.labels += [IGNORE] * len(ids)


class PromptEncoder:
    """Tokenises conversations for one model: its tokenizer, template, M and timestamp mode."""

    def __init__(self, tokenizer, template: ChatTemplate, num_frames: int, timestamps: str = "tokens"):
        self.tokenizer, self.template, self.num_frames, self.timestamps = tokenizer, template, num_frames, timestamps

    def _tokens(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"] if text else []

    def _segment(self, out: Encoded, text: str, supervised: bool) -> None:
        """Text with markers -> ids; timestamps land in ``out.times`` in text order."""
        for piece in _MARKERS.split(text):
            if not piece:
                continue
            if piece == VIDEO_TAG:
                out.extend([VID_START] + [FRAME] * self.num_frames + [VID_END], supervised=False)
            elif (match := TIME_PATTERN.fullmatch(piece)) is not None:
                t = float(match.group(1))
                if self.timestamps == "tokens":
                    out.extend([TIME], supervised, [t])
                else:
                    out.extend(self._tokens(format_seconds(t)), supervised)
            else:
                out.extend(self._tokens(piece), supervised)

    def encode(self, turns: list[dict] | str, with_answer: bool = True) -> Encoded:
        """A conversation (``[{"from": "human"|"gpt", "value": str}, ...]`` or its JSON) -> Encoded.

        With ``with_answer=False`` the last gpt turn is dropped and the sequence ends with the assistant prefix,
        ready for generation.
        """
        if isinstance(turns, str):
            turns = json.loads(turns)
        if not with_answer and turns and turns[-1]["from"] == "gpt":
            turns = turns[:-1]
        if not any(VIDEO_TAG in t["value"] for t in turns if t["from"] == "human"):
            raise ValueError(f"conversation has no {VIDEO_TAG} marker in a human turn: {turns[:1]!r}")
        out = Encoded()
        self._segment(out, self.template.prompt_prefix(), supervised=False)
        for turn in turns:
            if turn["from"] == "human":
                self._segment(out, self.template.user.format(text=turn["value"]), supervised=False)
            elif turn["from"] == "gpt":
                self._segment(out, self.template.assistant_prefix, supervised=False)
                self._segment(out, turn["value"] + self.template.assistant_suffix, supervised=True)
                self._segment(out, "\n" if self.template.name.startswith("chatml") else "", supervised=False)
            else:
                raise ValueError(f"turn speaker {turn['from']!r} is neither 'human' nor 'gpt'")
        if not with_answer:
            self._segment(out, self.template.assistant_prefix, supervised=False)
        return out

    def stop_ids(self) -> set[int]:
        """Token ids that end an answer (first token of the template's suffix, and EOS)."""
        ids = set(self._tokens(self.template.assistant_suffix)[:1])
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids
