"""Properties of :mod:`hsc_ref.spectral`: the pseudo-inverse, the cutoff policy, Moore-Penrose.

Matrices are built from drawn spectra (``tests/strategies.py``). Notation in the tolerance
comments: ``L = ||H||_2 = max|lam|``, ``m`` = the smallest nonzero ``|lam|``, ``E`` = the rounding
perturbation of ``H`` plus the backward error of ``eigh``, ``||E|| <= c * n * eps * L``.
"""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import (
    EPS,
    SEPARATED_RTOL,
    exact_pinv_values,
    gradients,
    orders,
    random_orthogonal,
    rounding_tol,
    spectral_norm,
    symmetric_cases,
)

from hsc_ref.spectral import ReciprocalOverflowError, decompose, default_rtol, pinv_values


@given(symmetric_cases())
def test_eigenvalues_match_drawn_spectrum(case):
    s = decompose(case.H)
    # Weyl: each computed eigenvalue moves by at most ||E|| <= c n eps L.
    err = np.abs(s.eigenvalues - np.sort(case.lam)).max()
    assert err <= rounding_tol(case.n, case.norm)


@given(symmetric_cases())
def test_pinv_eigenvalues(case):
    """Fact 1: ``H^+ = Q diag(lam^+) Q^T``, ``lam^+ = 1/lam`` above the cutoff, else 0."""
    s = decompose(case.H, rtol=SEPARATED_RTOL)
    expected = case.dense(exact_pinv_values(case.lam))
    # pinv(H + E) - pinv(H) ~ -H^+ E H^+ + projector terms: norm <= 3 ||E|| / m^2 (same rank,
    # guaranteed by the separated cutoff); c absorbs the 3.
    assert spectral_norm(s.pinv() - expected) <= rounding_tol(
        case.n, case.norm / case.min_nonzero**2
    )
    kept = np.abs(s.eigenvalues) > s.cutoff
    assert np.array_equal(s.pinv_eigenvalues()[kept], 1.0 / s.eigenvalues[kept])
    assert np.all(s.pinv_eigenvalues()[~kept] == 0.0)


# Subnormal values are left out: with a zero cutoff 1/5e-324 overflows to inf (in SciPy too).
_normal_or_zero = st.floats(-1e3, 1e3).filter(lambda x: x == 0 or abs(x) > 1e-300)


@given(st.lists(_normal_or_zero, min_size=1, max_size=12), st.floats(0.0, 10.0))
@example([0.0, 1e-20, -3.0], 1e-15)
@example([2.0, -2.0], 2.0)  # |value| == cutoff counts as zero (strict inequality)
def test_pinv_values_inverts_exactly_the_entries_above_cutoff(values, cutoff):
    v = np.array(values)
    out = pinv_values(v, cutoff)
    kept = np.abs(v) > cutoff
    assert np.array_equal(out[kept], 1.0 / v[kept])  # one correctly rounded division
    assert np.all(out[~kept] == 0.0)


@given(symmetric_cases(), st.floats(0.0, 1e-3), st.sampled_from([None, 0.0, 1e-12, 1e-6]))
def test_cutoff_policy_is_pinvh_and_is_recorded(case, atol_rel, rtol):
    atol = atol_rel * case.norm
    s = decompose(case.H, atol=atol, rtol=rtol)
    expected_rtol = case.n * EPS if rtol is None else rtol
    assert s.atol == atol
    assert s.rtol == expected_rtol
    assert s.cutoff == atol + expected_rtol * float(np.abs(s.eigenvalues).max())
    assert s.rank == int((np.abs(s.eigenvalues) > s.cutoff).sum())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_default_rtol_is_n_times_eps_of_dtype(dtype):
    H = np.diag(np.arange(1.0, 6.0)).astype(dtype)
    s = decompose(H)
    assert s.rtol == default_rtol(5, dtype) == 5 * float(np.finfo(dtype).eps)
    assert s.eigenvalues.dtype == dtype


@pytest.mark.parametrize("name", ["atol", "rtol"])
def test_negative_tolerance_raises(name):
    with pytest.raises(ValueError, match=f"{name} must be"):
        decompose(np.eye(2), **{name: -1e-3})


def test_nonsymmetric_input_raises():
    with pytest.raises(ValueError, match="H must be symmetric"):
        decompose(np.array([[1.0, 2.0], [0.0, 1.0]]))


@given(symmetric_cases(zeros=False))
def test_spectrum_pinv_matches_scipy_pinvh_default_policy(case):
    # No zeros: every |lam| >= 1e-7 L is far above the default cutoff n eps L, so both routes
    # keep the same eigenvalues; each is within 3||E||/m^2 of the exact H^+.
    ours = decompose(case.H).pinv()
    theirs = scipy.linalg.pinvh(case.H)
    assert spectral_norm(ours - theirs) <= 2 * rounding_tol(case.n, case.norm / case.min_nonzero**2)


@given(symmetric_cases())
def test_spectrum_pinv_matches_scipy_pinvh_with_zeros(case):
    # Exact zeros come out as noise ~ eps L; the separated cutoff drops them in both routes.
    ours = decompose(case.H, rtol=SEPARATED_RTOL).pinv()
    theirs = scipy.linalg.pinvh(case.H, atol=0.0, rtol=SEPARATED_RTOL)
    assert spectral_norm(ours - theirs) <= 2 * rounding_tol(case.n, case.norm / case.min_nonzero**2)


@given(symmetric_cases())
def test_moore_penrose_conditions(case):
    """``A A+ A = A``, ``A+ A A+ = A+``, ``A A+`` and ``A+ A`` symmetric."""
    A = case.H
    P = decompose(A, rtol=SEPARATED_RTOL).pinv()
    n, L, m = case.n, case.norm, case.min_nonzero
    # P is the exact pseudo-inverse of A + E (E the eigh backward error, same rank), so each
    # residual is O(||E||) times norms of P, plus the rounding of the products themselves,
    # n eps ||A|| ||P|| ||A|| etc.:
    # A P A - A: E terms are O(||E||), the products' rounding is n eps L^2 / m
    assert spectral_norm(A @ P @ A - A) <= rounding_tol(n, L * L / m)
    # P A P - P = -P E P + rounding    -> ||E|| / m^2
    assert spectral_norm(P @ A @ P - P) <= rounding_tol(n, L / m**2)
    # A P - (A P)^T = P E - E P (sym. part cancels) -> 2 ||E|| / m
    assert spectral_norm(A @ P - (A @ P).T) <= rounding_tol(n, L / m)
    assert spectral_norm(P @ A - (P @ A).T) <= rounding_tol(n, L / m)


@given(symmetric_cases())
def test_rank_null_dim_and_inertia_match_drawn_spectrum(case):
    s = decompose(case.H, rtol=SEPARATED_RTOL)
    assert s.rank == int(case.nonzero.sum())
    assert s.null_dim == case.n - s.rank
    assert s.inertia.positive == int((case.lam > 0).sum())
    assert s.inertia.negative == int((case.lam < 0).sum())
    assert s.inertia.zero == int((case.lam == 0).sum())


@given(symmetric_cases())
def test_dense_reassembles_h(case):
    s = decompose(case.H)
    # Q diag(lam) Q^T of the computed factors reproduces H to its backward error.
    assert spectral_norm(s.dense() - case.H) <= rounding_tol(case.n, case.norm)
    assert np.array_equal(s.dense(), s.dense().T)


@given(orders().flatmap(lambda n: st.tuples(symmetric_cases(n), gradients(n))))
def test_solve_is_pinv_times_b(args):
    case, b = args
    s = decompose(case.H, rtol=SEPARATED_RTOL)
    # Both are H^+ b from the same factors, in a different order of operations.
    tol = rounding_tol(case.n, np.linalg.norm(b) / case.min_nonzero)
    assert np.linalg.norm(s.solve(b) - s.pinv() @ b) <= tol


@given(st.integers(0, 2**32 - 1), orders())
def test_random_orthogonal_is_orthogonal(seed, n):
    q = random_orthogonal(seed, n)
    # Householder QR gives orthogonality to a few ulps times n.
    assert spectral_norm(q.T @ q - np.eye(n)) <= rounding_tol(n, 1.0)


def test_pinv_of_a_kept_subnormal_eigenvalue_raises_instead_of_returning_inf():
    # With atol = rtol = 0 every nonzero eigenvalue is kept; 1/5e-324 overflows to inf.
    H = np.diag([1.0, 5e-324])
    spectrum = decompose(H, atol=0.0, rtol=0.0)
    with pytest.raises(ValueError, match="reciprocal overflows") as refused:
        spectrum.pinv()
    # also a FloatingPointError, which training loops read as divergence (test_loop.py)
    assert isinstance(refused.value, FloatingPointError)
    assert isinstance(refused.value, ReciprocalOverflowError)
    assert decompose(H, atol=1e-300).rank == 1  # a positive atol keeps the subnormal out
