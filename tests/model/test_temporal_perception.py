import math

import pytest
import torch

from momentor.model.temporal_perception import (
    TemporalPerception,
    decode_positions,
    frame_interpolation,
    grid_positions,
    neighbor_propagate,
    propagation_matrix,
    two_hot,
)


def test_propagation_matrix_values():
    r = propagation_matrix(4)
    assert r[0].tolist() == [1.0, 0.5, 0.25, 0.125]
    assert torch.equal(r, r.T)


def test_ntp_forward_value_is_exactly_the_table():
    torch.manual_seed(0)
    table = torch.randn(7, 5, requires_grad=True)
    out = neighbor_propagate(table, propagation_matrix(7))
    assert torch.equal(out, table)


def test_ntp_gradient_is_identity_plus_r_transpose_times_g():
    torch.manual_seed(0)
    n, d = 9, 6
    table = torch.randn(n, d, dtype=torch.float64, requires_grad=True)
    r = propagation_matrix(n).double()
    g = torch.randn(n, d, dtype=torch.float64)
    (neighbor_propagate(table, r) * g).sum().backward()
    expected = (torch.eye(n, dtype=torch.float64) + r.T) @ g
    torch.testing.assert_close(table.grad, expected, rtol=0, atol=1e-12)
    # a one-token update spreads by 1/2, 1/4 ... to the neighbours (plus itself twice)
    table.grad = None
    one = torch.zeros(n, d, dtype=torch.float64)
    one[4, 0] = 1.0
    (neighbor_propagate(table, r) * one).sum().backward()
    assert table.grad[:, 0].tolist() == [1 / 16, 1 / 8, 1 / 4, 1 / 2, 2.0, 1 / 2, 1 / 4, 1 / 8, 1 / 16]


def test_module_tables_without_ntp_have_plain_gradient():
    tpm = TemporalPerception(5, 3, ntp=False)
    e_in, _ = tpm.tables()
    e_in.sum().backward()
    assert torch.equal(tpm.input_table.grad, torch.ones(5, 3))


def test_grid_positions_use_n_minus_one_and_clip():
    t = torch.tensor([-1.0, 0.0, 3.0, 8.0, 9.0])
    p = grid_positions(t, torch.tensor(8.0), 5)
    assert p.tolist() == [0.0, 0.0, 1.5, 4.0, 4.0]


def test_interpolated_embedding_by_hand():
    tpm = TemporalPerception(5, 3)
    table = torch.arange(15.0).view(5, 3)
    e = tpm.embed(torch.tensor([1.5, 0.0, 4.0, 2.25]), table)
    assert e[0].tolist() == (0.5 * table[1] + 0.5 * table[2]).tolist()
    assert e[1].tolist() == table[0].tolist()
    assert e[2].tolist() == table[4].tolist()
    assert torch.allclose(e[3], 0.75 * table[2] + 0.25 * table[3])


def test_nearest_token_ablation_rounds():
    tpm = TemporalPerception(5, 3, interpolation=False)
    table = torch.arange(15.0).view(5, 3)
    assert tpm.embed(torch.tensor([1.4, 1.6]), table).tolist() == [table[1].tolist(), table[2].tolist()]
    assert two_hot(torch.tensor([1.6]), 5, interpolation=False)[0].tolist() == [0, 0, 1, 0, 0]


@pytest.mark.parametrize(
    "t, expected",
    [
        (3.0, [0, 0.5, 0.5, 0, 0]),  # between grid points
        (2.0, [0, 1, 0, 0, 0]),  # on the grid: the guard keeps the 1
        (0.0, [1, 0, 0, 0, 0]),  # t = 0
        (8.0, [0, 0, 0, 0, 1]),  # t = T
        (-2.0, [1, 0, 0, 0, 0]),  # t < 0
        (11.0, [0, 0, 0, 0, 1]),  # t > T
        (1.0, [0.5, 0.5, 0, 0, 0]),
    ],
)
def test_two_hot_targets(t, expected):
    q = two_hot(grid_positions(torch.tensor([t]), torch.tensor(8.0), 5), 5)[0]
    torch.testing.assert_close(q, torch.tensor(expected, dtype=q.dtype))


def test_continuous_decoding_inverts_two_hot_exactly():
    p = torch.tensor([0.0, 0.3, 1.5, 2.9, 7.0, 6.99])
    torch.testing.assert_close(decode_positions(two_hot(p, 8)), p, atol=1e-6, rtol=0)


def _peaked(p: float, n: int, width: float = 0.35) -> torch.Tensor:
    """A peaked, asymmetric-tailed distribution around p: two-hot mass plus a small spread and noise."""
    grid = torch.arange(n, dtype=torch.float64)
    bump = torch.exp(-((grid - p) ** 2) / (2 * width**2))
    probs = 0.9 * two_hot(torch.tensor([p], dtype=torch.float64), n)[0] + 0.1 * bump / bump.sum()
    return probs / probs.sum()


def test_continuous_decoding_error_is_small_and_does_not_grow_with_duration():
    n = 32
    positions = [3.2, 10.5, 17.75, 25.9, 29.45]
    worst_steps = {}
    for duration in (10.0, 100.0, 1000.0, 10000.0):
        tpm = TemporalPerception(n, 2)
        errors = []
        for p in positions:
            truth = p * duration / (n - 1)
            decoded = float(tpm.seconds(decode_positions(_peaked(p, n)), torch.tensor(duration, dtype=torch.float64)))
            errors.append(abs(decoded - truth) / (duration / (n - 1)))  # in grid steps
        worst_steps[duration] = max(errors)
    # within a small fraction of one grid step at every duration, and no larger for long videos
    assert max(worst_steps.values()) < 0.05
    assert worst_steps[10000.0] <= worst_steps[10.0] + 1e-9


def test_frame_interpolation_is_identity_when_m_equals_n_and_rows_sum_to_one():
    assert torch.equal(frame_interpolation(6, 6), torch.eye(6))
    a = frame_interpolation(7, 4)  # frame m at p = m (n-1)/(m-1) = m / 2
    torch.testing.assert_close(a.sum(1), torch.ones(7))
    assert a[1].tolist() == [0.5, 0.5, 0, 0]
    assert a[6].tolist() == [0, 0, 0, 1]


def test_frame_infusion_is_half_sum_of_tables():
    tpm = TemporalPerception(4, 2)
    tables = (torch.ones(4, 2), torch.arange(8.0).view(4, 2))
    torch.testing.assert_close(tpm.frame_infusion(4, tables), 0.5 * (tables[0] + tables[1]))
    assert tpm.frame_infusion(7, tables).shape == (7, 2)
    assert math.isclose(float(tpm.seconds(torch.tensor(3.0), torch.tensor(6.0))), 6.0)
