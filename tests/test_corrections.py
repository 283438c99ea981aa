"""Properties of :mod:`hsc_ref.corrections`: docs/design.md's facts 1-5 and 7, and comparators.

Notation in the tolerance comments: ``L = ||H||_2 = max|lam|``, ``m`` = the smallest nonzero
``|lam|``, ``E`` = rounding of ``H`` plus the backward error of ``eigh``, ``||E|| <= c n eps L``.
The dense ``H^+`` is then within ``3 ||E|| / m^2`` of the exact one (first-order perturbation
of the pseudo-inverse at fixed rank), so ``Hc = H + H^+`` is within ``c n eps (L + L / m^2)``.
Tests about rank, null space or inertia use the separated cutoff of ``tests/strategies.py``.
"""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import (
    EPS,
    SEPARATED_RTOL,
    SymmetricCase,
    exact_pinv_values,
    from_spectrum,
    orders,
    orthogonal_matrices,
    random_orthogonal,
    rounding_tol,
    spectra,
    spectral_norm,
    symmetric_cases,
)

from hsc_ref.corrections import (
    correct,
    get_correction,
    hsc_inverse_values,
    literal_hsc,
    literal_hsc_nonsymmetric,
    summarize,
)
from hsc_ref.spectral import decompose, inertia_of


def _hc_tol(case: SymmetricCase) -> float:
    """First-order error of a computed ``Hc`` (see the module docstring)."""
    return rounding_tol(case.n, case.norm + case.norm / case.min_nonzero**2)


# ----------------------------------------------------------------- fact 2: the eigenvalue map


@given(symmetric_cases())
def test_hc_is_q_diag_lam_plus_lam_pinv_qt(case):
    r = correct(case.H, rtol=SEPARATED_RTOL)
    expected = case.dense(case.lam + exact_pinv_values(case.lam))
    assert spectral_norm(r.matrix - expected) <= _hc_tol(case)


@given(symmetric_cases())
def test_hc_keeps_sign_and_magnitude_at_least_two(case):
    r = correct(case.H, rtol=SEPARATED_RTOL)
    kept = r.spectrum.kept
    lam, c = r.eigenvalues_before[kept], r.eigenvalues_after[kept]
    assert np.array_equal(np.sign(c), np.sign(lam))
    # |lam + 1/lam| >= 2 exactly; two roundings (1/lam, then the sum) lose at most 2 ulps.
    assert np.all(np.abs(c) >= 2.0 * (1.0 - 2 * EPS))


@given(symmetric_cases())
def test_hc_keeps_null_space(case):
    r = correct(case.H, rtol=SEPARATED_RTOL)
    null = case.Q[:, ~case.nonzero]
    # Hc q for an exact null vector q: the computed null space differs from the exact one by an
    # angle ||E|| / m, which Hc amplifies by ||Hc|| <= L + 1/m; plus Hc's own rounding.
    tol = rounding_tol(
        case.n, (case.norm + 1 / case.min_nonzero) * (1 + case.norm / case.min_nonzero)
    )
    if null.size:
        assert spectral_norm(r.matrix @ null) <= tol
    assert r.null_dim_after == r.null_dim_before == int((~case.nonzero).sum())


@given(symmetric_cases())
def test_hc_keeps_rank(case):
    r = correct(case.H, rtol=SEPARATED_RTOL)
    assert r.rank_after == r.rank_before == int(case.nonzero.sum())


@given(symmetric_cases())
def test_hc_keeps_inertia(case):
    r = correct(case.H, rtol=SEPARATED_RTOL)
    assert r.inertia_after == r.inertia_before
    assert r.inertia_after.positive == int((case.lam > 0).sum())
    assert r.inertia_after.negative == int((case.lam < 0).sum())


@given(
    symmetric_cases(tiny=True, min_ratio=1e-16),
    st.floats(0.0, 3.0),
    st.sampled_from([None, 0.0, 1e-12, 1e-6, 1e-3, 0.5]),
)
@example(
    SymmetricCase(
        np.diag([1.0, 2 * EPS * 1.0000001]), np.array([1.0, 2 * EPS * 1.0000001]), np.eye(2)
    ),
    0.0,
    None,
)
def test_hc_keeps_numerical_rank_and_inertia_under_any_policy(case, atol_rel, rtol):
    """The policy applied to ``c = lam + lam^+`` keeps exactly the eigenvalues it kept of ``lam``.

    Kept: ``|c| = |lam| + 1/|lam| > atol + rtol L + 1/|lam| >= atol + rtol max|c|`` because
    ``max|c| <= L + 1/cutoff`` and ``rtol / cutoff <= 1/L <= 1/|lam|``. Dropped: ``c = lam`` and
    ``|lam| <= atol + rtol L <= atol + rtol max|c|`` because ``max|c| >= L``.
    """
    r = correct(case.H, atol=atol_rel * case.norm, rtol=rtol)
    assert r.rank_after == r.rank_before
    assert r.inertia_after == r.inertia_before


@given(symmetric_cases(tiny=True))
def test_hc_eigenvalues_below_cutoff_stay_lambda(case):
    """Eigenvalues at or below the cutoff map to ``lam`` itself (tiny), neither 0 nor ``1/lam``."""
    r = correct(case.H)  # default policy: the tiny eigenvalues (<= 1e-18 L) are far below it
    small = ~r.spectrum.kept
    assert small.sum() >= int((np.abs(case.lam) < 1e-17 * case.norm).sum())
    assert np.array_equal(r.eigenvalues_after[small], r.eigenvalues_before[small])
    tiny_vectors = case.Q[:, np.abs(case.lam) < 1e-17 * case.norm]
    kept_min = float(np.abs(case.lam[np.abs(case.lam) >= 1e-17 * case.norm]).min())
    # ||Hc q|| for those directions is noise (not 1/lam >= 1e17 / L): as in the null-space test.
    tol = rounding_tol(case.n, (case.norm + 1 / kept_min) * (1 + case.norm / kept_min))
    assert spectral_norm(r.matrix @ tiny_vectors) <= tol
    assert spectral_norm(literal_hsc(case.H) @ tiny_vectors) <= 2 * tol


# ----------------------------------------------------------------- fact 3: conditioning


@given(symmetric_cases())
def test_hc_condition_number_not_larger_on_kept_spectrum(case):
    r = correct(case.H)
    kept = r.spectrum.kept
    lam, c = np.abs(r.eigenvalues_before[kept]), np.abs(r.eigenvalues_after[kept])
    # Exact inequality on the computed eigenvalues; 4 ulps for the two divisions.
    assert c.max() / c.min() <= (lam.max() / lam.min()) * (1 + 4 * EPS)


# ----------------------------------------------------------------- fact 4: scale


@given(
    symmetric_cases(),
    st.floats(0.3, 2.0).filter(lambda x: abs(np.log10(x)) >= 0.3),
    st.sampled_from([-1.0, 1.0]),
)
@example(SymmetricCase(np.diag([2.0, 0.0]), np.array([2.0, 0.0]), np.eye(2)), 10**0.3, 1.0)
def test_hc_not_scale_invariant(case, magnitude, sign):
    """``(aH) + (aH)^+ = aH + H^+/a``, which differs from ``a (H + H^+)`` by ``(1/a - a) H^+``."""
    a = sign * magnitude
    n, L, m = case.n, case.norm, case.min_nonzero
    hc_a = correct(a * case.H, rtol=SEPARATED_RTOL).matrix
    pinv = decompose(case.H, rtol=SEPARATED_RTOL).pinv()
    # Each side is within c n eps (|a| L + L / (|a| m^2)) of the exact value (a H's Hc bound).
    tol = 2 * rounding_tol(n, abs(a) * L + L / (abs(a) * m**2))
    assert spectral_norm(hc_a - (a * case.H + pinv / a)) <= tol
    # The difference from a * Hc is (1/a - a) H^+, of norm |1/a - a| / m: visible, not rounding.
    hc = correct(case.H, rtol=SEPARATED_RTOL).matrix
    gap = spectral_norm(hc_a - a * hc)
    assert abs(gap - abs(1 / a - a) / m) <= tol + abs(a) * _hc_tol(case)
    assert gap >= 0.5 * abs(1 / a - a) / m


# ----------------------------------------------------------------- fact 5: pinv(Hc) = phi(H)


@given(symmetric_cases())
def test_pinv_of_hc_is_q_phi_qt(case):
    hc = correct(case.H, rtol=SEPARATED_RTOL).matrix
    # Hc's kept eigenvalues satisfy |c| >= 2 > SEPARATED_RTOL * max|c| (max|c| <= L + 1/m
    # <= 1e10 for the drawn spectra), and its null eigenvalues are noise ~ n eps ||Hc||.
    got = scipy.linalg.pinvh(hc, atol=0.0, rtol=SEPARATED_RTOL)
    phi = case.lam / (1.0 + case.lam**2)
    # ||pinv(Hc + E_c) - pinv(Hc)|| <= 3 ||E_c|| ||Hc^+||^2 <= (3/4) ||E_c||, with ||E_c|| the
    # computed Hc's error (see _hc_tol) plus pinvh's own backward error n eps ||Hc||.
    tol = _hc_tol(case) + rounding_tol(case.n, 1 / case.min_nonzero)
    assert spectral_norm(got - case.dense(phi)) <= tol


@given(st.lists(st.floats(-1e300, 1e300), min_size=1, max_size=20))
@example([0.0, 1.0, -1.0, 1e-300, 1e300, -1e300, 5e-324, 1e154, 1e155])
def test_phi_closed_form_bounded_by_half_without_overflow(values):
    lam = np.array(values)
    phi = hsc_inverse_values(lam)
    assert np.all(np.isfinite(phi))
    assert np.all(np.abs(phi) <= 0.5)
    assert np.array_equal(np.sign(phi), np.sign(lam))
    # phi = lam / (1 + lam^2) = 1 / (lam + 1/lam): a few roundings either way (4 ulps), where
    # lam^2 does not overflow or underflow (|lam| in [1e-150, 1e150]).
    safe = (np.abs(lam) > 1e-150) & (np.abs(lam) < 1e150)
    direct = lam[safe] / (1.0 + lam[safe] ** 2)
    assert np.all(np.abs(phi[safe] - direct) <= 4 * EPS * np.abs(direct))
    big = np.abs(lam) >= 1e150
    assert np.all(np.abs(phi[big] - 1.0 / lam[big]) <= 2 * EPS * np.abs(1.0 / lam[big]))


@given(
    orders().flatmap(lambda n: st.tuples(symmetric_cases(n), symmetric_cases(n))),
    st.floats(-12.0, 0.0),
)
def test_phi_of_h_is_one_lipschitz(pair, log_t):
    """``||phi(A) - phi(B)|| <= ||A - B||`` (operator norm; phi(x) = Re 1/(x - i))."""
    a, c = pair
    A = a.H
    B = A + 10.0**log_t * (c.H / c.norm)  # perturbations from tiny to as large as ||A||
    phi_a = decompose(A).dense(hsc_inverse_values(decompose(A).eigenvalues))
    phi_b = decompose(B).dense(hsc_inverse_values(decompose(B).eigenvalues))
    # Each phi(.) is within ||E|| + n eps / 2 of its exact value (Lipschitz-1 once more).
    tol = 2 * rounding_tol(a.n, 1 + spectral_norm(A) + spectral_norm(B))
    assert spectral_norm(phi_a - phi_b) <= spectral_norm(A - B) + tol


# ----------------------------------------------------------------- dense routes, equivariance


@given(symmetric_cases())
def test_correct_matches_literal_dense_route(case):
    ours = correct(case.H, rtol=SEPARATED_RTOL).matrix
    literal = literal_hsc(case.H, rtol=SEPARATED_RTOL)
    assert spectral_norm(ours - literal) <= 2 * _hc_tol(case)


@given(orders().flatmap(lambda n: st.tuples(symmetric_cases(n), orthogonal_matrices(n))))
def test_correct_equivariant_under_orthogonal_similarity(args):
    case, P = args
    rotated = from_spectrum(case.lam, P @ case.Q)  # P H P^T built from its exact factors
    lhs = correct(rotated, rtol=SEPARATED_RTOL).matrix
    rhs = P @ correct(case.H, rtol=SEPARATED_RTOL).matrix @ P.T
    # Both within _hc_tol of (PQ) diag(c) (PQ)^T; the products P Hc P^T add n eps ||Hc||.
    assert spectral_norm(lhs - rhs) <= 3 * _hc_tol(case)


# ----------------------------------------------------------------- comparators


@given(symmetric_cases())
def test_newton_correction_is_h(case):
    r = correct(case.H, "newton")
    assert spectral_norm(r.matrix - case.H) <= rounding_tol(case.n, case.norm)


@given(symmetric_cases())
def test_abs_correction_is_matrix_absolute_value(case):
    r = correct(case.H, "abs")
    # |H| from the polar decomposition H = U P (P = (H^T H)^{1/2} = |H|), an SVD route.
    polar = scipy.linalg.polar(case.H)[1]
    # x -> |x| is Lipschitz-1 in Frobenius norm up to sqrt(2) (Araki-Yamagami), and
    # ||E||_F <= sqrt(n) ||E||_2.
    tol = np.sqrt(2 * case.n) * rounding_tol(case.n, case.norm)
    assert np.linalg.norm(r.matrix - case.dense(np.abs(case.lam))) <= tol
    assert np.linalg.norm(r.matrix - polar) <= 2 * tol
    assert np.all(r.eigenvalues_after >= 0)


@given(symmetric_cases(), st.floats(0.0, 10.0))
def test_damped_correction_is_h_plus_mu_identity(case, mu_rel):
    mu = mu_rel * case.norm
    r = correct(case.H, "damped", mu=mu)
    assert spectral_norm(r.matrix - (case.H + mu * np.eye(case.n))) <= rounding_tol(
        case.n, case.norm + mu
    )


@given(symmetric_cases(), st.floats(-3.0, 0.0))
def test_clip_magnitudes_at_least_delta_with_sign_kept(case, log_delta):
    delta = 10.0**log_delta * case.norm
    r = correct(case.H, "clip", delta=delta, rtol=SEPARATED_RTOL)
    lam, c, kept = r.eigenvalues_before, r.eigenvalues_after, r.spectrum.kept
    assert np.all(np.abs(c) >= delta)
    assert np.array_equal(np.sign(c[kept]), np.sign(lam[kept]))
    assert np.all(c[~kept] == delta)  # documented convention sgn(0) = +1: zero -> +delta
    expected = np.where(
        case.lam == 0, delta, np.sign(case.lam) * np.maximum(np.abs(case.lam), delta)
    )
    # The clip map is 1-Lipschitz away from 0 and jumps by 2 delta across the gap (noise, m)
    # between the null cluster and the smallest nonzero |lam|: divided differences are at most
    # 1 + 4 delta / m. Frobenius-norm Lipschitz bound, ||E||_F <= sqrt(n) ||E||.
    lip = 1 + 4 * delta / case.min_nonzero
    assert np.linalg.norm(r.matrix - case.dense(expected)) <= np.sqrt(case.n) * rounding_tol(
        case.n, case.norm * lip
    )


def test_clip_maps_zero_to_plus_delta():
    r = correct(np.zeros((2, 2)), "clip", delta=0.5)
    assert np.array_equal(r.matrix, 0.5 * np.eye(2))


@given(symmetric_cases(), st.floats(-6.0, 1.0))
def test_fill_is_full_rank_hsc_on_kept_mu_on_null(case, log_mu):
    hsc = correct(case.H, "hsc", rtol=SEPARATED_RTOL)
    # Full rank under the policy needs mu > rtol * max|c|: mu >= 1e-6 max|c| >> 1e-10 max|c|.
    mu = 10.0**log_mu * float(np.abs(hsc.eigenvalues_after).max())
    fill = correct(case.H, "fill", mu=mu, rtol=SEPARATED_RTOL)
    kept = fill.spectrum.kept
    assert fill.rank_after == case.n
    assert np.array_equal(fill.eigenvalues_after[kept], hsc.eigenvalues_after[kept])
    assert np.all(fill.eigenvalues_after[~kept] == mu)
    null = case.Q[:, ~case.nonzero]
    projector = null @ null.T
    # fill - hsc = (mu - noise) on the computed null space; that space is within an angle
    # ||E|| / m of the exact one; plus both matrices' rounding (n eps ||Hc||).
    tol = rounding_tol(
        case.n, case.norm + 1 / case.min_nonzero + mu * (1 + case.norm / case.min_nonzero)
    )
    assert spectral_norm(fill.matrix - hsc.matrix - mu * projector) <= tol


def test_unknown_correction_raises():
    with pytest.raises(ValueError, match="method must be one of"):
        get_correction("nope")
    with pytest.raises(ValueError, match="mu must be positive"):
        correct(np.eye(2), "fill", mu=0.0)


@given(symmetric_cases(), st.sampled_from([None, 1e-12]))
def test_correction_result_records_policy(case, rtol):
    r = correct(case.H, rtol=rtol)
    assert (r.atol, r.rtol, r.cutoff) == (r.spectrum.atol, r.spectrum.rtol, r.spectrum.cutoff)
    assert r.rtol == (case.n * EPS if rtol is None else rtol)
    after = inertia_of(r.eigenvalues_after, r.cutoff)  # c(lam) is judged by H's own cutoff
    assert r.inertia_after == after and r.rank_after == after.positive + after.negative


# ----------------------------------------------------------------- fact 7: non-symmetric J


@st.composite
def _svd_cases(draw):
    n = draw(orders())
    s = np.abs(draw(spectra(n, negative=False)))
    u = draw(orthogonal_matrices(n))
    v = draw(orthogonal_matrices(n))
    return (u * s) @ v.T, s, u, v


# thorough profile: two singular values 1e-13 apart; the error is 1.13x the tolerance that
# had dropped the factor 3 of the bound below
_CLUSTERED_SVD = (
    np.array(
        [
            [-0.01951593110554682, 0.09807715551086708],
            [-0.09807715551076893, -0.019515931105565855],
        ]
    ),
    np.array([0.1, 0.10000000000010001]),
    np.array(
        [[0.19264633241404083, -0.9812682561906395], [0.9812682561906395, 0.19264633241404108]]
    ),
    np.array(
        [
            [-0.9999967191131911, 0.0025615938112516436],
            [-0.0025615938112516436, -0.999996719113191],
        ]
    ),
)


@given(_svd_cases())
@example(_CLUSTERED_SVD)
def test_literal_nonsymmetric_matches_svd_reference(args):
    J, s, u, v = args
    n, L = J.shape[0], float(s.max())
    m = float(s[s > 0].min())
    got = literal_hsc_nonsymmetric(J, rtol=SEPARATED_RTOL)
    exact = J + (v * exact_pinv_values(s)) @ u.T
    uu, ss, vt = np.linalg.svd(J)
    keep = ss > SEPARATED_RTOL * ss.max()
    numpy_ref = J + (vt[keep].T / ss[keep]) @ uu[:, keep].T
    # SVD perturbation at fixed rank: ||pinv(J + E) - pinv(J)|| <= 3 ||E|| / m^2, with
    # ||E|| ~ n eps L from forming J (and u, v orthogonal only to rounding).
    tol = rounding_tol(n, L + 3 * L / m**2)
    assert spectral_norm(got - exact) <= tol
    assert spectral_norm(got - numpy_ref) <= 2 * tol


@given(st.floats(0.0, 2 * np.pi))
@example(np.pi / 2)
def test_literal_nonsymmetric_rotation_gives_two_cos_theta(theta):
    """A rotation ``R`` is orthogonal, ``R^+ = R^T``: ``R + R^+ = 2 cos(theta) I``.

    At ``theta = pi/2`` an invertible ``J`` gives ``J + J^+ = 0``: rank 2 becomes rank 0,
    unlike the symmetric case where Hc keeps the rank and ``|c| >= 2``.
    """
    c, s = np.cos(theta), np.sin(theta)
    J = np.array([[c, -s], [s, c]])
    got = literal_hsc_nonsymmetric(J)
    # pinv of an orthogonal matrix through the SVD: error a few eps.
    assert spectral_norm(got - 2 * c * np.eye(2)) <= rounding_tol(2, 1.0)


def test_literal_nonsymmetric_quarter_turn_is_zero():
    J = np.array([[0.0, 1.0], [-1.0, 0.0]])
    assert np.array_equal(literal_hsc_nonsymmetric(J), np.zeros((2, 2)))
    assert np.linalg.matrix_rank(J) == 2


@given(st.floats(1e-3, 1e3), st.sampled_from([-1.0, 1.0]))
def test_literal_nonsymmetric_has_no_eigenvalue_map(t, sign):
    """``N = [[0, t], [0, 0]]`` and ``0`` share the eigenvalues ``{0, 0}``, yet ``N + N^+`` has
    eigenvalues ``{-1, +1}`` and ``0 + 0^+ = 0``: no map ``lam -> c(lam)`` can give both."""
    t = sign * t
    N = np.array([[0.0, t], [0.0, 0.0]])
    got = literal_hsc_nonsymmetric(N)
    assert spectral_norm(got - np.array([[0.0, t], [1.0 / t, 0.0]])) <= rounding_tol(
        2, abs(t) + 1 / abs(t)
    )
    eig = np.sort(np.linalg.eigvals(got).real)
    # The eigenvalue condition number of this non-normal matrix is about (|t| + 1/|t|) / 2 and
    # the backward error of eigvals is n eps (|t| + 1/|t|).
    assert np.allclose(eig, [-1.0, 1.0], rtol=0, atol=rounding_tol(2, (abs(t) + 1 / abs(t)) ** 2))
    assert np.array_equal(literal_hsc_nonsymmetric(np.zeros((2, 2))), np.zeros((2, 2)))


def test_random_orthogonal_seeds_are_reproducible():
    assert np.array_equal(random_orthogonal(7, 5), random_orthogonal(7, 5))


def test_summary_of_a_vanished_hessian_reports_the_rank_of_hc_without_overflowing():
    """A GAN player's Hessian that has all but vanished (found by a grid sweep: max|lam| of
    order 1e-300, so the cutoff 82 eps max|lam| is subnormal and keeps eigenvalues whose
    reciprocals overflow). ``Hc`` cannot be represented; its rank and inertia, the summary's
    fields, can: those of ``lam + 1/lam``, that is of ``H`` (Fact 2)."""
    lam = np.array([-1e-300, 5e-311, 3e-300])
    spectrum = decompose(np.diag(lam))
    assert spectrum.cutoff < 5e-311 < 1 / np.finfo(np.float64).max  # kept, and 1/lam overflows
    with pytest.raises(FloatingPointError, match="reciprocal overflows"):
        spectrum.pinv()  # the matrix itself is refused, not returned with inf entries
    s = summarize(spectrum)
    assert (s.rank, s.positive, s.negative, s.zero) == (3, 2, 1, 0)
    assert (s.rank_corrected, s.negative_corrected, s.zero_corrected) == (3, 1, 0)
    assert s.pinv_abs_max == np.inf  # 1/5e-311, above the largest float
    assert s.corrected_abs_min_kept == pytest.approx(1 / 3e-300, rel=4 * EPS)  # |3e-300 + 1/3e-300|
    with pytest.raises(FloatingPointError):
        summarize(spectrum, "fill", mu=1.0)  # other corrections refuse, as correct() does
