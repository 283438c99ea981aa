"""Properties of the HSC step and the Newton-type comparators (docs/design.md facts 5-6; numerics).

The step ``s = -lr * Q phi(Lam) Q^T g`` with ``phi(lam) = lam / (1 + lam^2)`` is well conditioned:
``H -> phi(H)`` is 1-Lipschitz, so a perturbation ``E`` of ``H`` (rounding of ``H`` plus the
backward error of ``eigh``, ``||E|| <= c n eps L`` with ``L = ||H||``) moves the step by at most
``lr ||g|| ||E||``; applying ``Q``, ``phi`` and ``Q^T`` adds ``c n eps lr ||g||``. Hence the
spectral route's tolerance ``c n eps (1 + L) lr ||g||``. The Cholesky route solves with
``I + H^2`` (condition number ``1 + L^2``), hence ``c n eps (1 + L)^2 lr ||g||``.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    EPS,
    SEPARATED_RTOL,
    from_spectrum,
    gradients,
    learning_rates,
    orders,
    orthogonal_matrices,
    rounding_tol,
    spectral_norm,
    symmetric_cases,
)

from hsc_ref.corrections import correct
from hsc_ref.rules import newton_type
from hsc_ref.spectral import decompose
from hsc_ref.steps import hsc_step, spectral_step

EPS32 = float(np.finfo(np.float32).eps)


def _phi(lam: np.ndarray) -> np.ndarray:
    return lam / (1.0 + lam**2)


def _case_and_gradient(**kwargs):
    return orders().flatmap(lambda n: st.tuples(symmetric_cases(n, **kwargs), gradients(n)))


def _exact_step(case, g, lr):
    return -lr * (case.Q @ (_phi(case.lam) * (case.Q.T @ g)))


@given(_case_and_gradient(), learning_rates)
def test_hsc_step_is_ridge_step(args, lr):
    """``s = -lr (I + H^2)^{-1} H g = -lr Q phi(Lam) Q^T g`` (spectral route)."""
    case, g = args
    got = hsc_step(case.H, g, lr=lr)
    tol = rounding_tol(case.n, 1 + case.norm) * lr * np.linalg.norm(g)
    assert np.linalg.norm(got - _exact_step(case, g, lr)) <= tol


@given(_case_and_gradient(), learning_rates)
def test_hsc_step_norm_at_most_half_lr_g(args, lr):
    case, g = args
    s = hsc_step(case.H, g, lr=lr)
    # |phi| <= 1/2 exactly; the computed Q is orthogonal to n eps.
    assert np.linalg.norm(s) <= 0.5 * lr * np.linalg.norm(g) * (1 + rounding_tol(case.n, 1.0))


@given(_case_and_gradient(), learning_rates)
def test_cholesky_route_matches_spectral_route(args, lr):
    case, g = args
    spectral = hsc_step(case.H, g, lr=lr)
    cholesky = hsc_step(case.H, g, lr=lr, route="cholesky")
    # Forming H^2 and the Cholesky backward error perturb I + H^2 by c n eps (1 + L^2); with
    # ||(I + H^2)^{-1}|| <= 1 and ||s|| <= lr ||g|| / 2 this moves s by that times lr ||g||,
    # and H g's rounding adds n eps L lr ||g||: together <= c n eps (1 + L)^2 lr ||g||.
    tol = 2 * rounding_tol(case.n, (1 + case.norm) ** 2) * lr * np.linalg.norm(g)
    assert np.linalg.norm(cholesky - spectral) <= tol


@given(_case_and_gradient(), learning_rates)
def test_literal_route_matches_spectral_route_away_from_cutoff(args, lr):
    case, g = args
    spectral = hsc_step(case.H, g, lr=lr)
    literal = hsc_step(case.H, g, lr=lr, route="literal", rtol=SEPARATED_RTOL)
    # The literal route rounds the dense sum H + H^+ at the scale of ||H^+|| = 1/m, an error
    # c n eps (L + 1/m) that pinv(Hc) (norm <= 1/2) passes on; the pinv's own first-order
    # error H^+ E H^+ is damped by phi/lam = 1/(1 + lam^2) <= 1. Null directions give phi(noise)
    # (spectral) vs 0 (literal): <= ||E||. The exact reference is within c n eps (1 + L).
    tol = 2 * rounding_tol(case.n, 1 + case.norm + 1 / case.min_nonzero) * lr * np.linalg.norm(g)
    assert np.linalg.norm(literal - spectral) <= tol


@given(_case_and_gradient(zeros=False), learning_rates)
def test_literal_route_default_policy_matches_without_zeros(args, lr):
    case, g = args
    # No zeros: every |lam| >= 1e-7 L is far above the first cutoff n eps L, and every |c| >= 2
    # is far above the second, n eps (L + 1/m) <= 3e-5; so the default policy is safe here.
    literal = hsc_step(case.H, g, lr=lr, route="literal")
    tol = 2 * rounding_tol(case.n, 1 + case.norm + 1 / case.min_nonzero) * lr * np.linalg.norm(g)
    assert np.linalg.norm(literal - _exact_step(case, g, lr)) <= tol


@st.composite
def _rank_change(draw):
    n = draw(st.integers(2, 12))
    case = draw(symmetric_cases(n))
    lam = case.lam.copy()
    k = int(np.argmin(np.abs(lam)))
    lam[k] = 0.0
    delta = draw(st.sampled_from([-1.0, 1.0])) * 10.0 ** draw(st.floats(-9.0, -3.0)) * case.norm
    bump = np.zeros(n)
    bump[k] = delta
    return lam, bump, case.Q, draw(gradients(n))


@given(_rank_change(), learning_rates)
def test_step_continuous_across_rank_change(args, lr):
    """Moving a zero eigenvalue to ``+-delta`` moves the step by ``<= lr ||g|| delta`` while Hc
    jumps by ``|delta + 1/delta|``, about ``1/delta``."""
    lam, bump, Q, g = args
    n, L, delta = lam.shape[0], float(np.abs(lam).max()), float(bump.sum())
    H0, H1 = from_spectrum(lam, Q), from_spectrum(lam + bump, Q)
    s0, s1 = hsc_step(H0, g, lr=lr), hsc_step(H1, g, lr=lr)
    # Lipschitz-1 of phi with ||H1 - H0|| = |delta|, plus each step's rounding (module doc).
    step_tol = 2 * rounding_tol(n, 1 + L) * lr * np.linalg.norm(g)
    assert np.linalg.norm(s1 - s0) <= abs(delta) * lr * np.linalg.norm(g) + step_tol
    r0, r1 = correct(H0, rtol=SEPARATED_RTOL), correct(H1, rtol=SEPARATED_RTOL)
    assert r1.rank_before == r0.rank_before + 1
    m = float(np.abs((lam + bump)[(lam + bump) != 0]).min())
    # Each Hc within c n eps (L + L/m^2) of Q diag(c) Q^T (tests/test_corrections.py).
    hc_tol = 2 * rounding_tol(n, L + L / m**2)
    assert abs(spectral_norm(r1.matrix - r0.matrix) - abs(delta + 1 / delta)) <= hc_tol


def test_hc_jumps_by_one_over_cutoff_where_step_does_not():
    cutoff = 2 * EPS  # default policy for n = 2, ||H|| = 1
    below, above = np.diag([1.0, 0.99 * cutoff]), np.diag([1.0, 1.01 * cutoff])
    jump = correct(above).matrix - correct(below).matrix
    assert jump[1, 1] == pytest.approx(1 / (1.01 * cutoff), rel=1e-12)  # ~ 2.2e15
    g = np.array([1.0, 1.0])
    change = hsc_step(above, g) - hsc_step(below, g)
    assert np.abs(change).max() <= 0.03 * cutoff  # phi(x) ~ x: the step moves by 0.02 cutoff


@pytest.mark.parametrize("route", ["spectral", "cholesky", "literal"])
def test_saddle_attraction_closed_form(route):
    """On ``x^2 - y^2`` from (1, 1) with lr = 1 each step multiplies both coordinates by
    ``1 - 2 phi(+-2) * (+-1) = 1/(1 + 2^2) = 1/5``: five steps reach ``5^-5 = 3.2e-4``."""
    H = np.diag([2.0, -2.0])
    x = np.array([1.0, 1.0])
    for _ in range(5):
        x = x + hsc_step(H, np.array([2 * x[0], -2 * x[1]]), route=route)
    # Each step is a few correctly rounded operations (<= 4 ulps); five steps: 20 ulps.
    np.testing.assert_allclose(x, [5.0**-5, 5.0**-5], rtol=20 * EPS, atol=0)


@given(_case_and_gradient(), learning_rates)
def test_step_contracts_offset_by_one_over_one_plus_lambda_squared(args, lr):
    """For ``f(x) = (x - x*)^T H (x - x*) / 2`` one step with lr = 1 maps the offset ``d`` to
    ``Q diag(1/(1 + lam^2)) Q^T d``: contraction in every eigendirection, saddles included."""
    case, d = args
    g = case.H @ d
    new_offset = d + hsc_step(case.H, g)
    expected = case.Q @ ((case.Q.T @ d) / (1.0 + case.lam**2))
    # The step's error is c n eps (1 + L) ||g|| with ||g|| <= L ||d||; g's own rounding,
    # n eps L ||d||, passes through phi (<= 1/2); the reference costs c n eps ||d||.
    tol = rounding_tol(case.n, (1 + case.norm) * (1 + case.norm)) * np.linalg.norm(d)
    assert np.linalg.norm(new_offset - expected) <= tol
    assert np.linalg.norm(new_offset) <= np.linalg.norm(d) * (1 + rounding_tol(case.n, 1.0)) + tol


@given(
    orders().flatmap(lambda n: st.tuples(symmetric_cases(n), gradients(n), orthogonal_matrices(n))),
    learning_rates,
)
def test_step_equivariant_under_orthogonal_similarity(args, lr):
    case, g, P = args
    lhs = hsc_step(from_spectrum(case.lam, P @ case.Q), P @ g, lr=lr)
    rhs = P @ hsc_step(case.H, g, lr=lr)
    # Both are within the spectral route's tolerance of P times the exact step.
    assert np.linalg.norm(lhs - rhs) <= 3 * rounding_tol(
        case.n, 1 + case.norm
    ) * lr * np.linalg.norm(g)


@given(_case_and_gradient(), learning_rates)
def test_newton_step_is_pinv_times_g(args, lr):
    case, g = args
    s = spectral_step(decompose(case.H, rtol=SEPARATED_RTOL), g, "newton", lr=lr)
    pinv = np.where(case.lam != 0, 1 / np.where(case.lam != 0, case.lam, 1), 0)
    expected = -lr * case.dense(pinv) @ g
    # Pseudo-inverse perturbation at fixed rank: 3 ||E|| / m^2 (tests/test_spectral.py).
    tol = rounding_tol(case.n, case.norm / case.min_nonzero**2) * lr * np.linalg.norm(g)
    assert np.linalg.norm(s - expected) <= tol


@given(
    _case_and_gradient(), learning_rates, st.sampled_from(["clip", "fill"]), st.floats(-3.0, 1.0)
)
def test_full_rank_comparator_steps_solve_with_corrected_matrix(args, lr, method, log_p):
    case, g = args
    spectrum = decompose(case.H, rtol=SEPARATED_RTOL)
    # The step applies pinv(C) under the spectrum's policy, so C is inverted in full only when
    # delta, mu > rtol * max|c|: draw them relative to max|c| (clip: max(L, delta); fill:
    # max|lam + lam^+|), at least 1e-3 of it, far above SEPARATED_RTOL.
    if method == "clip":
        kwargs = {"delta": 10.0**log_p * case.norm}
    else:
        scale = float(np.abs(correct(spectrum).eigenvalues_after).max())
        kwargs = {"mu": 10.0**log_p * scale}
    r = correct(spectrum, method, **kwargs)
    s = spectral_step(spectrum, g, method, lr=lr, **kwargs)
    c = np.abs(r.eigenvalues_after)
    assert r.rank_after == case.n
    # C is nonsingular; solve's backward error n eps ||C|| gives ||C^{-1}||^2 n eps ||C|| ||g||,
    # and the spectral route's c n eps / min|c| is smaller.
    tol = rounding_tol(case.n, c.max() / c.min() ** 2) * lr * np.linalg.norm(g)
    assert np.linalg.norm(s - (-lr * np.linalg.solve(r.matrix, g))) <= tol


@given(_case_and_gradient(), learning_rates)
def test_newton_type_rule_matches_hsc_step_and_records_spectrum(args, lr):
    case, g = args
    rule = newton_type("hsc", lr=lr)
    step, info = rule.update(g, rule.init(np.zeros(case.n)), hessian=case.H)
    assert np.array_equal(step, hsc_step(case.H, g, lr=lr))
    s = decompose(case.H)
    assert (info.steps, info.spectrum.rank, info.spectrum.cutoff) == (1, s.rank, s.cutoff)
    assert np.array_equal(info.spectrum.eigenvalues, s.eigenvalues)  # the step's own eigh


@given(_case_and_gradient(scale_exponents=(-1.0, 1.0)), learning_rates)
def test_float32_step_matches_float64_within_float32_rounding(args, lr):
    case, g = args
    s64 = hsc_step(case.H, g, lr=lr)
    H32, g32 = case.H.astype(np.float32), g.astype(np.float32)
    s32 = hsc_step(H32, g32, lr=lr)
    assert s32.dtype == np.float32
    # Casting to float32 and a float32 eigh perturb H by c n eps32 L; Lipschitz-1 as above.
    tol = rounding_tol(case.n, 1 + case.norm) * (EPS32 / EPS) * lr * np.linalg.norm(g)
    assert np.linalg.norm(s32.astype(np.float64) - s64) <= tol
    assert decompose(H32).rtol == case.n * EPS32


@given(_case_and_gradient(scale_exponents=(-1.0, 1.0)), learning_rates)
def test_float32_cholesky_step_matches_float64(args, lr):
    case, g = args
    s32 = hsc_step(case.H.astype(np.float32), g.astype(np.float32), lr=lr, route="cholesky")
    assert s32.dtype == np.float32
    tol = 2 * rounding_tol(case.n, (1 + case.norm) ** 2) * (EPS32 / EPS) * lr * np.linalg.norm(g)
    assert np.linalg.norm(s32.astype(np.float64) - hsc_step(case.H, g, lr=lr)) <= tol


def test_bad_route_and_lr_raise():
    with pytest.raises(ValueError, match="route must be one of"):
        hsc_step(np.eye(2), np.ones(2), route="qr")
    with pytest.raises(ValueError, match="lr must be positive"):
        hsc_step(np.eye(2), np.ones(2), lr=0.0)
