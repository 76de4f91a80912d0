"""The gate's paired bootstrap, pinned on a case small enough to work out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from momentor import config
from momentor.eval.bootstrap import mean_interval, paired_difference, resample_indices


def test_paired_difference_by_hand():
    # differences per item: candidate - reference = [30, 0, -10]; their mean is 20/3
    candidate, reference = [30.0, 0.0, 0.0], [0.0, 0.0, 10.0]
    # numpy.random.default_rng(0).integers(0, 3, size=(5, 3)) draws these items:
    assert resample_indices(3, 5, seed=0).tolist() == [[2, 1, 1], [0, 0, 0], [0, 0, 0], [2, 1, 2], [1, 1, 2]]
    # so the resampled mean differences are -10/3, 30, 30, -20/3, -10/3; sorted: -20/3, -10/3, -10/3, 30, 30.
    # 90%: the 5th and 95th percentiles, linear interpolation at positions 0.2 and 3.8 of the sorted list:
    # -20/3 + 0.2 * (10/3) = -6.0 and 30 + 0.8 * 0 = 30
    interval = paired_difference(candidate, reference, resamples=5, seed=0, confidence=0.9)
    assert interval.value == pytest.approx(20 / 3)
    assert (interval.low, interval.high) == (pytest.approx(-6.0), pytest.approx(30.0))
    # 50%: positions 1 and 3
    half = paired_difference(candidate, reference, resamples=5, seed=0, confidence=0.5)
    assert (half.low, half.high) == (pytest.approx(-10 / 3), pytest.approx(30.0))


def test_identical_models_differ_by_exactly_nothing():
    hits = np.array([100.0, 0.0, 100.0, 0.0, 0.0])
    interval = paired_difference(hits, hits.copy())
    assert (interval.value, interval.low, interval.high) == (0.0, 0.0, 0.0)


def test_pairing_is_narrower_than_two_separate_intervals():
    rng = np.random.default_rng(1)
    hard = rng.uniform(0, 100, 200)  # per-item difficulty shared by both models
    a, b = hard + 5, hard
    paired = paired_difference(a, b)
    separate = mean_interval(a).low - mean_interval(b).high
    assert paired.low == pytest.approx(5.0) and separate < 0  # unpaired, the 5 points would look like noise


def test_the_resamples_seed_and_confidence_come_from_params():
    gate = config.load(None, []).gate
    assert (gate.resamples, gate.seed, gate.confidence) == (2000, 0, 0.95)
    with pytest.raises(ValueError, match="same items"):
        paired_difference([1.0, 2.0], [1.0])
    with pytest.raises(config.ConfigError, match="gate.confidence"):
        config.load(None, ["gate.confidence=1.5"])
