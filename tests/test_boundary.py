"""Inputs that used to give silent wrong numbers in the core: each now gives the right number
or a clear error (overflow-safe symmetrization, cutoffs independent of an added constant,
immutable spectra, plain arrays only, results that cannot be represented)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hsc_ref.corrections import correct, hsc_inverse_values
from hsc_ref.spectral import cutoff_for, decompose, pinv_values
from hsc_ref.steps import hsc_step, spectral_step
from hsc_ref.testing import assert_close, compare_arrays


def test_correcting_a_huge_diagonal_is_finite_and_exact():
    # was [[inf, 0], [0, 2]]: 0.5 * (m + m.T) overflowed. The eigenvalue 1 lies below the
    # cutoff 2 eps 9e307, so it is not inverted and stays 1; 9e307 + 1/9e307 rounds to 9e307.
    r = correct(np.diag([9e307, 1.0]))
    np.testing.assert_array_equal(r.matrix, np.diag([9e307, 1.0]))
    r = correct(np.diag([9e307, 1.0]), rtol=0.0)  # with nothing dropped, 1 maps to 1 + 1/1
    np.testing.assert_array_equal(r.matrix, np.diag([9e307, 2.0]))


def test_symmetrizing_near_the_largest_float_does_not_overflow():
    b = 1.5e308  # b + b overflows, but the eigenvalues are +-b
    H = np.array([[0.0, b], [b * (1 + 2e-16), 0.0]])  # asymmetric by rounding only
    np.testing.assert_allclose(decompose(H).eigenvalues, [-b, b], rtol=4e-16)


def test_a_spectrum_beyond_the_largest_float_is_refused_with_the_reason():
    b = 1.5e308  # the eigenvalues of [[b, b], [b, 0]] are b (1 +- sqrt 5) / 2: 2.4e308
    with pytest.raises(FloatingPointError, match="an eigenvalue of H exceeds the largest"):
        decompose(np.array([[b, b], [b, 0.0]]))


def test_a_corrected_matrix_that_overflows_raises():
    with pytest.raises(FloatingPointError, match="corrected eigenvalues overflow"):
        correct(np.diag([1.7e308, 1.0]), "damped", mu=1e308)


@given(st.floats(1e-6, 1e300))
@example(1e20)  # the reported case: fill(mu=1e20) returned [-1e-20, -0] and rank 1
@example(1e7)
def test_fill_keeps_the_kept_eigenvalues_whatever_mu(mu):
    s = decompose(np.diag([0.0, 1.0]))
    step = spectral_step(s, np.array([1.0, 1.0]), "fill", mu=mu)
    np.testing.assert_allclose(step, [-1.0 / mu, -0.5], rtol=1e-15)  # 1 / (1 + 1/1) = 1/2
    assert correct(s, "fill", mu=mu).rank_after == 2  # fill is full rank by construction


def test_damped_cutoff_does_not_move_with_mu():
    s = decompose(np.diag([0.0, 1.0]), rtol=1e-6)
    step = spectral_step(s, np.array([1.0, 1.0]), "damped", mu=1e7)
    np.testing.assert_allclose(step, [-1e-7, -1.0 / (1.0 + 1e7)], rtol=1e-15)


def test_a_spectrum_is_immutable_and_shared_without_copies():
    s = decompose(np.diag([2.0, 0.0]))
    with pytest.raises(ValueError, match="read-only"):
        s.eigenvalues[0] = 5.0
    with pytest.raises(ValueError, match="read-only"):
        s.eigenvectors[0, 0] = 5.0
    r = correct(s)
    assert r.eigenvalues_before is s.eigenvalues  # shared, and safe because read-only


@pytest.mark.parametrize(
    "bad",
    [np.matrix(np.eye(3)), np.ma.masked_array(np.eye(3), mask=np.eye(3, dtype=bool))],
    ids=["matrix", "masked"],
)
def test_matrix_subclasses_are_refused_by_name(bad):
    with pytest.raises(TypeError, match="H must be a plain ndarray"):
        hsc_step(bad, np.ones(3))
    with pytest.raises(TypeError, match="H must be a plain ndarray"):
        decompose(bad)


def test_hsc_inverse_values_of_integers_is_not_truncated():
    np.testing.assert_array_equal(hsc_inverse_values(np.array([0, 1, 2])), [0.0, 0.5, 0.4])


def test_bad_cutoffs_and_tolerances_are_refused():
    with pytest.raises(ValueError, match="cutoff must be a finite non-negative number"):
        pinv_values(np.ones(2), float("nan"))
    with pytest.raises(ValueError, match="atol must be a finite non-negative number"):
        cutoff_for(np.ones(2), atol=-5.0, rtol=0.0)
    with pytest.raises(ValueError, match="cholesky_rtol must be a finite"):
        hsc_step(np.eye(2), np.ones(2), route="auto", cholesky_rtol=-1.0)


def test_a_step_that_overflows_raises_and_names_lr():
    with pytest.raises(FloatingPointError, match="lr = 1e\\+308"):
        spectral_step(decompose(np.diag([1.0])), np.array([1e300]), "newton", lr=1e308)


def test_compare_arrays_keeps_imaginary_parts_and_exact_integers():
    # a game Jacobian's eigenvalues are complex: the imaginary part must count
    with pytest.raises(AssertionError, match="1e\\+06"):
        assert_close([1.0], [1 + 1e6j], rtol=0, atol=1e-12, reason="exact")
    assert assert_close([1 + 1e-13j], [1 + 0j], rtol=0, atol=1e-12, reason="1e-12").ok
    # 2**62 and 2**62 + 1 are equal in float64 but not as integers
    c = compare_arrays(np.array([2**62]), np.array([2**62 + 1]), rtol=0, atol=0)
    assert not c.ok and c.max_abs_err == 1.0 and "4611686018427387905" in c.message
    # a complex result where a real one is expected is a bug of its own
    c = compare_arrays(np.array([1.0 + 0j]), np.array([1.0]), rtol=0, atol=1)
    assert not c.ok and "complex128 is not real" in c.message


def test_the_cholesky_route_names_lr_g_and_h_when_its_right_hand_side_overflows():
    H, g = 1e200 * np.eye(2), np.array([1e200, 1.0])  # H g overflows, the step g / H does not
    with pytest.raises(np.linalg.LinAlgError, match=r"lr \* H g overflows.*max\|g\| = 1e\+200"):
        hsc_step(H, g, route="cholesky")
    np.testing.assert_allclose(hsc_step(H, g, route="auto"), [-1.0, -1e-200], rtol=1e-15)
