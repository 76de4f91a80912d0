"""The Temporal Perception Module (TPM): N temporal tokens on a continuous time axis.

A timestamp t in a video of duration T sits at the real grid position p = clip(t/T, 0, 1)·(N−1): the grid of
the N tokens is the grid of the frames (N−1 intervals, both ends included). Its input embedding is the linear
interpolation of the two neighbouring rows of the input table; as an answer target it is a soft two-hot vector
over the two neighbouring temporal classes. Neighboring Token Propagation (NTP) re-parameterises both tables so
that the forward value is unchanged and the gradient of token k also reaches its neighbours (by 1/2, 1/4, ...).

Legend: b batch, l sequence, m frames, n temporal tokens, d width.
"""

from __future__ import annotations

import torch
from torch import nn


def propagation_matrix(n: int) -> torch.Tensor:
    """R with R_ij = 2^(−|i−j|), (n, n)."""
    idx = torch.arange(n, dtype=torch.float64)
    return torch.pow(2.0, -(idx[:, None] - idx[None, :]).abs()).float()


def neighbor_propagate(table: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Ẽ = E + R·E − stopgrad(R·E): value E exactly, gradient (I + Rᵀ)·g."""
    spread = r @ table  # (n, d)
    return table + (spread - spread.detach())


def grid_positions(times: torch.Tensor, durations: torch.Tensor, n: int) -> torch.Tensor:
    """Real grid positions p = clip(t/T, 0, 1)·(n−1), same shape as ``times`` (durations broadcast)."""
    return (times / durations).clamp(0.0, 1.0) * (n - 1)


def neighbours(p: torch.Tensor, interpolation: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Lower index k, upper index k' and weight r of k' for grid positions ``p``.

    With interpolation k = floor(p), k' = ceil(p), r = p − k; on the grid k = k' and r = 0. Without it the
    nearest token takes all the weight (the ablation of the paper).
    """
    if not interpolation:
        k = p.round().long()
        return k, k, torch.zeros_like(p)
    k = p.floor().long()
    k_up = p.ceil().long()
    return k, k_up, p - k.to(p.dtype)


def two_hot(p: torch.Tensor, n: int, interpolation: bool = True) -> torch.Tensor:
    """Soft targets over n temporal classes for grid positions p (s,) -> (s, n).

    q[k] = 1 − r and q[k'] = r, summed, so that on-grid positions (k = k') get q[k] = 1. The released code
    assigns instead of summing and so trains those tokens towards 0; scatter-add is the guard.
    """
    k, k_up, r = neighbours(p, interpolation)
    q = torch.zeros(*p.shape, n, dtype=p.dtype, device=p.device)
    q.scatter_add_(-1, k.unsqueeze(-1), (1 - r).unsqueeze(-1))
    q.scatter_add_(-1, k_up.unsqueeze(-1), r.unsqueeze(-1))
    return q


def decode_positions(probs: torch.Tensor) -> torch.Tensor:
    """Continuous grid positions from temporal-class probabilities (..., n) -> (...).

    Takes the argmax k and the larger of its two neighbours j, and returns k + (j − k)·p_j / (p_k + p_j):
    the inverse of the two-hot target, so a model that learned q decodes p exactly and the error does not grow
    with video length (the released code decodes only whole tokens).
    """
    n = probs.shape[-1]
    k = probs.argmax(-1)  # (...)
    left = probs.gather(-1, (k - 1).clamp(min=0).unsqueeze(-1)).squeeze(-1)
    right = probs.gather(-1, (k + 1).clamp(max=n - 1).unsqueeze(-1)).squeeze(-1)
    left = torch.where(k > 0, left, torch.zeros_like(left))
    right = torch.where(k < n - 1, right, torch.zeros_like(right))
    centre = probs.gather(-1, k.unsqueeze(-1)).squeeze(-1)
    go_right = right >= left
    other = torch.where(go_right, right, left)
    step = torch.where(go_right, 1.0, -1.0).to(probs.dtype)
    frac = other / (centre + other).clamp_min(1e-12)
    return k.to(probs.dtype) + step * frac


def frame_interpolation(m: int, n: int) -> torch.Tensor:
    """Weights A (m, n) that put frame m at its grid position: A @ table = e(t_m) for t_m = m·T/(M−1)."""
    p = torch.linspace(0, n - 1, m, dtype=torch.float64)
    k, k_up, r = neighbours(p)
    a = torch.zeros(m, n, dtype=torch.float64)
    a.scatter_add_(1, k[:, None], (1 - r)[:, None])
    a.scatter_add_(1, k_up[:, None], r[:, None])
    return a.float()


class TemporalPerception(nn.Module):
    """Input and output tables of N temporal tokens, NTP, interpolation and frame infusion.

    Args:
        n: number of temporal tokens N.
        d: width of the LLM.
        ntp: neighboring token propagation on both tables.
        interpolation: continuous timestamps by interpolation (False: nearest token).
        init_std: standard deviation of the table initialisation (match the LLM's embeddings).
    """

    def __init__(self, n: int, d: int, ntp: bool = True, interpolation: bool = True, init_std: float = 0.02):
        super().__init__()
        self.n, self.ntp, self.interpolation = n, ntp, interpolation
        self.input_table = nn.Parameter(torch.randn(n, d) * init_std)  # E_in (n, d)
        self.output_table = nn.Parameter(torch.randn(n, d) * init_std)  # E_out (n, d)
        # R is constant: built once here, never per step; not saved in checkpoints
        self.register_buffer("propagation", propagation_matrix(n), persistent=False)

    def tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(Ẽ_in, Ẽ_out), each (n, d): the tables as the model uses them."""
        if not self.ntp:
            return self.input_table, self.output_table
        r = self.propagation.to(self.input_table.dtype)
        return neighbor_propagate(self.input_table, r), neighbor_propagate(self.output_table, r)

    def positions(self, times: torch.Tensor, durations: torch.Tensor) -> torch.Tensor:
        return grid_positions(times, durations, self.n)

    def embed(self, p: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """Input embeddings e(p) = (1 − r)·Ẽ[k] + r·Ẽ[k'] for grid positions p (s,) -> (s, d)."""
        k, k_up, r = neighbours(p, self.interpolation)
        r = r.to(table.dtype).unsqueeze(-1)
        return (1 - r) * table[k] + r * table[k_up]

    def targets(self, p: torch.Tensor) -> torch.Tensor:
        """Two-hot targets (s, n) for answer grid positions p (s,)."""
        return two_hot(p, self.n, self.interpolation)

    def frame_infusion(self, m: int, tables: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """½(Ẽ_in[m] + Ẽ_out[m]) for each of m frames (m, d); interpolated on the grid when m ≠ n."""
        mean = 0.5 * (tables[0] + tables[1])  # (n, d)
        if m == self.n:
            return mean
        weights = frame_interpolation(m, self.n).to(mean)  # (m, n)
        return weights @ mean  # (m, d)

    def seconds(self, p: torch.Tensor, durations: torch.Tensor) -> torch.Tensor:
        """Grid positions back to seconds: t = p·T/(N−1)."""
        return p * durations / (self.n - 1)
