"""Momentor over any Hugging Face causal LM.

Inputs are built from three sources: text embeddings of the frozen LLM, projected frame features (plus their
temporal infusion) in the frame slots, and e(t) in the timestamp slots. The output head is extended from V
text classes to V + N: the last N are the temporal classes, scored by h · Ẽ_outᵀ. An answer timestamp is a
classification with a soft two-hot target; every other answer token is ordinary next-token cross-entropy.

Frame tokens are put at the scale of the LLM's word embeddings (``frame_norm``, :class:`FrameProjection`):
a plain Linear trained at the cpu preset's rate grew its outputs from norm ~5 to ~330 against word embeddings
and temporal infusion of norm ~3, so the frames no longer carried their time. ``frame_norm=False`` is the
paper's plain Linear (its 2e-5 rate keeps the scale).

Only the projection, the two temporal tables and the two boundary embeddings train; the LLM and the frame
encoder are frozen (``requires_grad=False``), and gradients flow through the LLM to its inputs. The option
``model.lora_rank`` adds trainable low-rank adapters to the LLM's layers (``momentor/model/lora.py``).

Legend: b batch, l sequence, m frames, f frame-feature width, n temporal tokens, d LLM width, s supervised
positions, V text vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from momentor.model.encoder import FrameEncoder
from momentor.model.lora import keep_adapters_fp32
from momentor.model.prompt import FRAME, IGNORE, TIME, TIME_LABEL, VID_END, VID_START, Encoded, PromptEncoder
from momentor.model.temporal_perception import TemporalPerception


@dataclass
class Batch:
    """A collated batch (right-padded)."""

    features: torch.Tensor  # (b, m, f) frame features
    input_ids: torch.Tensor  # (b, l) token ids and negative placeholders
    attention_mask: torch.Tensor  # (b, l) 1 = real token
    labels: torch.Tensor  # (b, l) token id | TIME_LABEL | IGNORE
    times: torch.Tensor  # (b, l) seconds at TIME slots, 0 elsewhere
    durations: torch.Tensor  # (b,) seconds

    def to(self, device) -> "Batch":
        return Batch(**{k: v.to(device) for k, v in self.__dict__.items()})


def collate(examples: list[Encoded], features: list[torch.Tensor], durations: list[float], pad_id: int) -> Batch:
    """Right-pad encoded conversations into a Batch."""
    width = max(len(e.input_ids) for e in examples)
    b = len(examples)
    input_ids = torch.full((b, width), pad_id, dtype=torch.long)
    labels = torch.full((b, width), IGNORE, dtype=torch.long)
    times = torch.zeros(b, width)
    mask = torch.zeros(b, width, dtype=torch.long)
    for i, e in enumerate(examples):
        n = len(e.input_ids)
        input_ids[i, :n] = torch.tensor(e.input_ids)
        labels[i, :n] = torch.tensor(e.labels)
        times[i, :n] = torch.tensor(e.times)
        mask[i, :n] = 1
    return Batch(torch.stack(features).float(), input_ids, mask, labels, times, torch.tensor(durations).float())


class FrameProjection(nn.Linear):
    """The projection of frame features: W·f + b, rescaled to norm ``target_norm`` per frame when one is set.

    The rescale has no parameters (the trainable tensors stay ``weight`` and ``bias``) and makes the output's
    scale independent of the weights', so the learning rate turns the frame tokens and never inflates them.
    """

    def __init__(self, in_features: int, out_features: int, target_norm: float | None = None):
        super().__init__(in_features, out_features)
        self.target_norm = target_norm

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        h = super().forward(features.to(self.weight.dtype))  # (..., d)
        if self.target_norm is None:
            return h
        h32 = h.float()  # the norm in fp32 whatever the weights' dtype
        return (h32 * (self.target_norm / h32.norm(dim=-1, keepdim=True).clamp_min(1e-6))).to(h.dtype)


class Momentor(nn.Module):
    """The Momentor model.

    Args:
        encoder: frozen frame encoder for raw video, or None (training reads cached features).
        llm: a Hugging Face causal LM (frozen).
        tokenizer: its tokenizer.
        prompts: the prompt encoder (template, M, timestamp mode).
        feature_dim: width f of the frame features.
        num_temporal_tokens: N.
        ntp, interpolation: the TPM switches.
        frame_norm: rescale projected frames to the mean norm of the LLM's word embeddings.
    """

    def __init__(
        self,
        encoder: FrameEncoder | None,
        llm: nn.Module,
        tokenizer,
        prompts: PromptEncoder,
        feature_dim: int,
        num_temporal_tokens: int,
        ntp: bool = True,
        interpolation: bool = True,
        frame_norm: bool = True,
    ):
        super().__init__()
        self.encoder, self.llm, self.tokenizer, self.prompts = encoder, llm, tokenizer, prompts
        if encoder is not None:
            encoder.requires_grad_(False)
        self.llm.requires_grad_(False)
        words = llm.get_input_embeddings().weight.detach().float()  # (V, d)
        d, std = words.shape[1], float(words.std())
        target = float(words.norm(dim=-1).mean()) if frame_norm else None
        self.projection = FrameProjection(feature_dim, d, target)
        self.temporal = TemporalPerception(num_temporal_tokens, d, ntp=ntp, interpolation=interpolation, init_std=std)
        self.boundary = nn.Parameter(torch.randn(2, d) * std)  # <vid_start>, <vid_end> (2, d)
        self.use_temporal_tokens = prompts.timestamps == "tokens"

    # ------------------------------------------------------------------------------------------------ parts
    @property
    def vocab_size(self) -> int:
        return self.llm.get_output_embeddings().weight.shape[0]

    @property
    def decoder(self) -> nn.Module:
        """The LLM without its head (hidden states out)."""
        return getattr(self.llm, self.llm.base_model_prefix)

    def trainable_parameters(self) -> dict[str, nn.Parameter]:
        return {k: p for k, p in self.named_parameters() if p.requires_grad}

    def train(self, mode: bool = True) -> "Momentor":
        super().train(mode)
        self.llm.eval()  # frozen parts never switch to training behaviour (dropout, batch-norm statistics)
        if self.encoder is not None:
            self.encoder.eval()
        return self

    def store_llm_in_bf16(self) -> None:
        """Keep the frozen LLM's weights in bf16 for bf16 autocast; LoRA adapters inside it stay fp32.

        Autocast casts weights that do not require grad again on every call (its cast cache keeps only
        trainable leaves), which would re-read the whole fp32 LLM each step; the adapters are master weights.
        """
        self.llm.to(torch.bfloat16)
        keep_adapters_fp32(self.llm)

    def tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.temporal.tables()

    def frame_embeddings(self, features: torch.Tensor, tables) -> torch.Tensor:
        """Frame features (b, m, f) -> LLM inputs (b, m, d): W·f + b (rescaled) + ½(Ẽ_in[m] + Ẽ_out[m])."""
        h = self.projection(features)  # (b, m, d)
        if self.use_temporal_tokens:
            h = h + self.temporal.frame_infusion(features.shape[1], tables).to(h.dtype)
        return h

    def time_embeddings(self, times: torch.Tensor, durations: torch.Tensor, tables) -> torch.Tensor:
        """Seconds (s,) in videos of durations (s,) -> e(t) (s, d) from Ẽ_in."""
        return self.temporal.embed(self.temporal.positions(times, durations), tables[0])

    def embed(self, batch: Batch, tables) -> torch.Tensor:
        """Input embeddings (b, l, d) with frames, boundaries and timestamps filled in."""
        ids = batch.input_ids
        emb = self.llm.get_input_embeddings()(ids.clamp(min=0))  # (b, l, d); placeholders read row 0, replaced below
        dtype = emb.dtype
        frames = ids == FRAME
        if frames.any():
            h = self.frame_embeddings(batch.features, tables)  # (b, m, d)
            counts = frames.sum(1)
            if not bool((counts == h.shape[1]).all()):
                raise ValueError(f"each sequence needs {h.shape[1]} frame slots, got {counts.tolist()}")
            emb = emb.index_put((frames,), h.reshape(-1, h.shape[-1]).to(dtype))  # row-major = text order
        for marker, row in ((VID_START, 0), (VID_END, 1)):
            where = ids == marker
            if where.any():
                emb = emb.index_put((where,), self.boundary[row].to(dtype).expand(int(where.sum()), -1))
        slots = ids == TIME
        if slots.any():
            durations = batch.durations[:, None].expand_as(batch.times)[slots]  # (s,)
            emb = emb.index_put((slots,), self.time_embeddings(batch.times[slots], durations, tables).to(dtype))
        return emb

    def head(self, hidden: torch.Tensor, tables) -> torch.Tensor:
        """Hidden states (..., d) -> logits over V + N classes (..., V + N)."""
        text = self.llm.get_output_embeddings()(hidden)  # (..., V)
        if not self.use_temporal_tokens:
            return text
        time = hidden @ tables[1].to(hidden.dtype).T  # (..., n)
        return torch.cat([text, time], dim=-1)

    # ------------------------------------------------------------------------------------------------ loss
    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Teacher-forced loss; returns ``loss`` and its parts (token and timestamp losses, counts)."""
        tables = self.tables()
        emb = self.embed(batch, tables)
        hidden = self.decoder(inputs_embeds=emb, attention_mask=batch.attention_mask).last_hidden_state  # (b, l, d)
        targets = batch.labels[:, 1:]  # position j predicts token j + 1
        chosen = targets != IGNORE  # (b, l-1)
        h = hidden[:, :-1][chosen]  # (s, d)
        target = targets[chosen]  # (s,)
        logp = F.log_softmax(self.head(h, tables).float(), dim=-1)  # (s, V + n)
        is_time = target == TIME_LABEL
        token_nll = -logp[~is_time].gather(-1, target[~is_time, None]).squeeze(-1)  # (s_text,)
        time_nll = logp.new_zeros(0)
        if is_time.any():
            t = batch.times[:, 1:][chosen][is_time]
            dur = batch.durations[:, None].expand_as(targets)[chosen][is_time]
            q = self.temporal.targets(self.temporal.positions(t, dur))  # (s_time, n)
            time_nll = -(q * logp[is_time, self.vocab_size :]).sum(-1)
        count = max(int(chosen.sum()), 1)
        return {
            "loss": (token_nll.sum() + time_nll.sum()) / count,
            "token_loss": token_nll.mean() if token_nll.numel() else logp.new_zeros(()),
            "time_loss": time_nll.mean() if time_nll.numel() else logp.new_zeros(()),
            "num_time_targets": torch.tensor(int(is_time.sum())),
        }
