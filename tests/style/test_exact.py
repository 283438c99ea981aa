"""The hand-derived exact pixel Hessian of the style objective against autograd's Hessian.

Tolerance: both routes evaluate the same derivatives as sums in different orders, so they
differ by rounding of a few ``eps`` times the number of terms times the largest term; the
local and the low-rank Gram parts can be larger than ``max|H|`` where they cancel, so the
bound is relative to ``max|H|`` with room to spare: ``1e-13``, the issue's agreement
(measured on these draws: below ``2e-14``).
"""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hsc_ref.derivatives import value_grad_hessian
from hsc_ref.style import _exact
from hsc_ref.style.loss import CONVENTIONS, feature_extractor, transfer_objective

AGREEMENT = 1e-13


class Problem:
    """A drawn style objective and a point (an image in [0, 1])."""

    def __init__(self, size, channels, *, convention, weights, seed):
        rng = np.random.default_rng(seed)
        shape = (*size, 3)
        content, style = rng.uniform(size=shape), rng.uniform(size=shape)
        self.objective = transfer_objective(
            content,
            style,
            extractor=feature_extractor(channels, seed=seed % 1000),
            content_weight=weights[0],
            style_weight=weights[1],
            tv_weight=weights[2],
            convention=convention,
        )
        self.x = rng.uniform(size=self.objective.n)


@st.composite
def problems(draw):
    layers = draw(st.integers(1, 2))
    # sides divisible by 2^(layers - 1) (the exact route's rule), at least 2^layers
    side = st.integers(2, 4).map(lambda k: k * 2 ** (layers - 1)).filter(lambda s: s >= 2**layers)
    return Problem(
        (draw(side), draw(side)),
        tuple(draw(st.lists(st.integers(1, 4), min_size=layers, max_size=layers))),
        convention=draw(st.sampled_from(sorted(CONVENTIONS))),
        weights=draw(st.tuples(*[st.sampled_from([0.0, 0.5, 1.0, 1e3])] * 3)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def _relative_difference(a, reference):
    scale = np.abs(reference).max()
    diff = np.abs(a - reference).max()
    return diff / scale if scale > 0 else diff


@given(problems())
@example(Problem((8, 12), (3, 2, 2), convention="gatys", weights=(1.0, 1e5, 1.0), seed=0))
@example(Problem((4, 6), (2, 2), convention="keras_example", weights=(1.0, 1.0, 0.0), seed=1))
@example(Problem((5, 3), (2,), convention="pytorch_tutorial", weights=(0.5, 1e3, 1.0), seed=2))
def test_value_gradient_and_hessian_match_autograd(problem):
    exact = _exact.transfer_value_grad_hessian(problem.objective, problem.x)
    ref = value_grad_hessian(problem.objective, problem.x, batched=True)
    assert _relative_difference(exact.hessian, ref.hessian) <= AGREEMENT
    assert np.array_equal(exact.hessian, exact.hessian.T)
    assert _relative_difference(exact.grad, ref.grad) <= AGREEMENT
    assert exact.value == pytest.approx(ref.value, rel=1e-13, abs=1e-300)


@pytest.mark.parametrize(
    "mutant",
    [
        pytest.param(
            ("_gram_factor", lambda pix, JF, layer, n: np.zeros((n, 1))), id="no-gram-low-rank-term"
        ),
        pytest.param(
            ("_add_total_variation", lambda H, shape, weight: None), id="no-total-variation"
        ),
    ],
)
def test_the_agreement_check_catches_a_missing_term(monkeypatch, mutant):
    problem = Problem((6, 6), (3, 4), convention="gatys", weights=(1.0, 1e3, 1.0), seed=2)
    ref = value_grad_hessian(problem.objective, problem.x, batched=True)
    monkeypatch.setattr(_exact, *mutant)
    exact = _exact.transfer_value_grad_hessian(problem.objective, problem.x)
    assert _relative_difference(exact.hessian, ref.hessian) > 1e-3


def test_refuses_before_allocating_more_than_max_bytes():
    problem = Problem((4, 4), (2,), convention="gatys", weights=(1.0, 1.0, 1.0), seed=0)
    with pytest.raises(MemoryError, match="max_bytes"):
        _exact.transfer_value_grad_hessian(problem.objective, problem.x, max_bytes=1000)


@pytest.mark.parametrize(
    ("objective", "x", "error", "match"),
    [
        (lambda x: x, np.zeros(48), TypeError, "objective must be a TransferObjective"),
        (None, np.zeros(47), ValueError, r"x must be a finite vector of shape \(48,\)"),
        (None, np.full(48, np.nan), ValueError, "finite"),
    ],
)
def test_bad_input_is_named(objective, x, error, match):
    problem = Problem((4, 4), (2,), convention="gatys", weights=(1.0, 1.0, 1.0), seed=0)
    with pytest.raises(error, match=match):
        _exact.transfer_value_grad_hessian(objective or problem.objective, x)


@pytest.mark.parametrize(
    ("size", "channels"),
    [((5, 4), (2, 2)), ((4, 4), (2, 2))],  # sides not halved; a receptive field of 8 > 4
)
def test_auto_goes_to_autograd_where_the_exact_route_does_not_apply_or_pay(size, channels):
    problem = Problem(size, channels, convention="gatys", weights=(1.0, 1.0, 1.0), seed=0)
    auto = _exact.value_grad_hessian(problem.objective, problem.x)
    ref = value_grad_hessian(problem.objective, problem.x, batched=True)
    np.testing.assert_array_equal(auto.hessian, ref.hessian)


def test_auto_takes_the_exact_route_where_it_applies():
    problem = Problem((8, 8), (2, 2), convention="gatys", weights=(1.0, 1.0, 1.0), seed=0)
    auto = _exact.value_grad_hessian(problem.objective, problem.x)
    exact = _exact.transfer_value_grad_hessian(problem.objective, problem.x)
    np.testing.assert_array_equal(auto.hessian, exact.hessian)
    with pytest.raises(ValueError, match="route must be one of"):
        _exact.value_grad_hessian(problem.objective, problem.x, route="fast")


def test_sides_that_pooling_does_not_halve_are_refused_by_the_exact_route():
    problem = Problem((5, 4), (2, 2), convention="gatys", weights=(1.0, 1.0, 1.0), seed=0)
    assert not _exact.supports(problem.objective)
    with pytest.raises(ValueError, match=r"divisible by 2\^\(layers - 1\) = 2"):
        _exact.transfer_value_grad_hessian(problem.objective, problem.x)
