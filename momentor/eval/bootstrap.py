"""Paired bootstrap over evaluation items (queries, videos): how sure a difference of two models is.

Two models scored on the *same* items give per-item values ``candidate[i]`` and ``reference[i]`` whose
means are the headline metrics (R1@0.5 is the mean of per-query 0/100 hits). Resampling the items with
replacement, ``resamples`` times, and taking the mean difference of each resample gives the bootstrap
distribution of the difference; its ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` percentiles
(numpy's linear interpolation) are the interval. Pairing matters: both models are resampled on the same
items, so the queries that are hard for both cancel out, and the interval is much narrower than two
separate intervals would suggest.

The draws are ``numpy.random.default_rng(seed).integers(0, n, size=(resamples, n))``: the same seed and
number of items give the same resamples for every pair of models compared in one gate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap percentile interval (same unit as the values: points)."""

    value: float
    low: float
    high: float
    confidence: float

    def as_dict(self) -> dict:
        return {k: round(v, 4) for k, v in asdict(self).items()}


def resample_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    """(r, n) item indices of each resample, drawn with replacement."""
    if n < 1:
        raise ValueError("the bootstrap needs at least one item; evaluate a non-empty split")
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def percentile_interval(estimate: float, samples: np.ndarray, confidence: float) -> Interval:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence {confidence} must be strictly between 0 and 1, e.g. 0.95")
    low, high = np.quantile(samples, [(1 - confidence) / 2, (1 + confidence) / 2])
    return Interval(float(estimate), float(low), float(high), confidence)


def mean_interval(values, resamples: int = 2000, seed: int = 0, confidence: float = 0.95) -> Interval:
    """The mean of ``values`` (n,) and its bootstrap percentile interval."""
    values = np.asarray(values, dtype=np.float64)  # (n,)
    idx = resample_indices(len(values), resamples, seed)  # (r, n)
    return percentile_interval(float(values.mean()), values[idx].mean(1), confidence)


def paired_difference(
    candidate, reference, resamples: int = 2000, seed: int = 0, confidence: float = 0.95
) -> Interval:
    """mean(candidate - reference) over the same items, with its paired bootstrap interval."""
    candidate = np.asarray(candidate, dtype=np.float64)  # (n,)
    reference = np.asarray(reference, dtype=np.float64)  # (n,)
    if candidate.shape != reference.shape:
        raise ValueError(
            f"paired values differ in length ({len(candidate)} vs {len(reference)}); score both models on "
            "the same items"
        )
    diff = candidate - reference  # (n,)
    idx = resample_indices(len(diff), resamples, seed)  # (r, n)
    return percentile_interval(float(diff.mean()), diff[idx].mean(1), confidence)
