"""Greedy generation that emits temporal tokens and decodes continuous timestamps.

Each step scores V + N classes. A temporal class is decoded to a continuous grid position from the
probabilities around the argmax (``decode_positions``), turned into seconds, and fed back as e(t̂) from Ẽ_in,
exactly as a teacher-forced timestamp is. The answer reads timestamps as seconds ("12.4 s").

Legend: b batch, l sequence, d width, n temporal tokens, V text vocabulary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch

from momentor.model.momentor import Batch, Momentor
from momentor.model.prompt import IGNORE, Encoded, format_seconds
from momentor.model.temporal_perception import decode_positions

_TEXT_SECONDS = re.compile(r"(\d+(?:\.\d+)?)\s*s\b")


@dataclass
class Answer:
    """A generated answer: its text and the timestamps in it, in order (seconds)."""

    text: str
    timestamps: list[float] = field(default_factory=list)


def _left_pad(prompts: list[Encoded], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(p.input_ids) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    times = torch.zeros(len(prompts), width)
    mask = torch.zeros(len(prompts), width, dtype=torch.long)
    for i, p in enumerate(prompts):
        n = len(p.input_ids)
        ids[i, width - n :] = torch.tensor(p.input_ids)
        times[i, width - n :] = torch.tensor(p.times)
        mask[i, width - n :] = 1
    return ids, times, mask


@torch.no_grad()
def generate(
    model: Momentor,
    features: torch.Tensor,
    prompts: list[Encoded],
    durations: list[float],
    max_new_tokens: int = 48,
) -> list[Answer]:
    """Answer a batch of prompts (encoded with ``with_answer=False``) about videos with ``features`` (b, m, f)."""
    from transformers import DynamicCache

    model.eval()
    device = model.projection.weight.device
    tokenizer = model.tokenizer
    ids, times, mask = _left_pad(prompts, tokenizer.pad_token_id)
    dur = torch.tensor(durations, dtype=torch.float32)
    batch = Batch(features.float(), ids, mask, torch.full_like(ids, IGNORE), times, dur).to(device)
    tables = model.tables()
    emb = model.embed(batch, tables)  # (b, l, d)
    b = emb.shape[0]
    cache = DynamicCache()
    attention = batch.attention_mask
    positions = (attention.cumsum(-1) - 1).clamp(min=0)  # (b, l): left padding must not shift positions
    stop = model.prompts.stop_ids()
    vocab = model.vocab_size
    pieces: list[list] = [[] for _ in range(b)]  # token ids and ("time", seconds) items
    done = torch.zeros(b, dtype=torch.bool, device=device)
    embed_tokens = model.llm.get_input_embeddings()
    for _ in range(max_new_tokens):
        out = model.decoder(
            inputs_embeds=emb, attention_mask=attention, position_ids=positions, past_key_values=cache, use_cache=True
        )
        cache = out.past_key_values
        logits = model.head(out.last_hidden_state[:, -1].float(), tuple(t.float() for t in tables))  # (b, V + n)
        choice = logits.argmax(-1)  # (b,)
        is_time = choice >= vocab
        seconds = torch.zeros(b, device=device)
        next_emb = embed_tokens(choice.clamp(max=vocab - 1))  # (b, d)
        if is_time.any():
            probs = logits[:, vocab:].softmax(-1)  # (b, n)
            p = decode_positions(probs)  # (b,) continuous grid positions
            seconds = model.temporal.seconds(p, batch.durations)
            time_emb = model.temporal.embed(p, tables[0]).to(next_emb.dtype)  # (b, d)
            next_emb = torch.where(is_time[:, None], time_emb, next_emb)
        for i in range(b):
            if done[i]:
                continue
            token = int(choice[i])
            if not is_time[i] and token in stop:
                done[i] = True
            else:
                pieces[i].append(("time", float(seconds[i])) if is_time[i] else token)
        if bool(done.all()):
            break
        emb = next_emb[:, None, :]  # (b, 1, d)
        attention = torch.cat([attention, (~done).long()[:, None]], dim=1)
        positions = positions[:, -1:] + 1
    return [_render(tokenizer, p, model.use_temporal_tokens) for p in pieces]


def _render(tokenizer, pieces: list, temporal_tokens: bool) -> Answer:
    """Token ids and timestamps -> text with timestamps as seconds."""
    text, stamps, run = "", [], []
    for piece in pieces + [None]:
        if isinstance(piece, int):
            run.append(piece)
            continue
        text += tokenizer.decode(run, skip_special_tokens=True)
        run = []
        if piece is not None:
            text += format_seconds(piece[1])
            stamps.append(piece[1])
    if not temporal_tokens:  # the text baseline writes seconds as text: read them back
        stamps = [float(x) for x in _TEXT_SECONDS.findall(text)]
    return Answer(text=text.strip(), timestamps=stamps)
