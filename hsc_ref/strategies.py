"""Hypothesis strategies for the maths: symmetric matrices built from a drawn spectrum.

Every matrix is ``H = Q diag(lam) Q^T`` with a drawn spectrum ``lam`` and a random orthogonal
``Q``, so a test can compare what the code computes with the exact spectrum it was built from.
Spectra include exact zeros, negative and clustered (even repeated) eigenvalues, a range of
magnitudes and norms, and, on request, eigenvalues in the band around the golden cutoff
``100 * n * eps * ||H||`` (at 0.2 to 0.85 and 1.15 to 3 times it, outside the band where
rounding decides the kept set), where a cutoff off by a factor changes the kept set. A test that
depends on the default cutoff asks for spectra kept out of the band around it (see
:data:`SEPARATED_RTOL`). :func:`conformance_matrices` is the mix that
:func:`hsc_ref.conformance.check` draws from.

Needs Hypothesis, which the ``test`` extra installs (``pip install "hsc-ref[test]"``).

Examples
--------
>>> from hypothesis import given, settings
>>> @settings(max_examples=5, derandomize=True, database=None)
... @given(symmetric_cases(n=3))
... def test_eigenvalues(case):
...     err = np.abs(np.linalg.eigvalsh(case.H) - np.sort(case.lam)).max()
...     assert err <= rounding_tol(case.n, case.norm)
>>> test_eigenvalues()
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hsc_ref.spectral import golden_rtol

try:
    from hypothesis import strategies as st
except ImportError as exc:  # an optional extra: say which one
    raise ImportError(
        'hsc_ref.strategies needs Hypothesis, an optional extra: pip install "hsc-ref[test]"'
    ) from exc

__all__ = [
    "random_orthogonal",
    "matrix_with_spectrum",
    "spectra",
    "symmetric_cases",
    "conformance_matrices",
    "gradients",
]

EPS = float(np.finfo(np.float64).eps)
"""Unit roundoff of float64 (2.2e-16)."""

MAX_N = 12
"""Largest order drawn by default: small enough for the ci profile's time budget."""

SEPARATED_RTOL = 1e-10
"""A relative cutoff far from both sides of the band.

Forming ``H = Q diag(lam) Q^T`` in float64 and taking its ``eigh`` perturbs every eigenvalue by
at most about ``c * n * eps * ||H||`` (Weyl's inequality with the backward errors of the
products and of ``eigh``), i.e. below ``1e-13 * ||H||`` for ``n <= 12``. Exact zeros of ``lam``
therefore come out as noise of that size, which the *default* cutoff ``n * eps * ||H||`` may or
may not catch: the two are of the same order. Tests whose claim is about the rank, the null
space or the inertia pass ``rtol=SEPARATED_RTOL`` and draw nonzero eigenvalues with
``|lam| >= SEPARATED_MIN_RATIO * ||H||``, so that the cutoff lies three decades above the noise
and three decades below the smallest nonzero eigenvalue.
"""

SEPARATED_MIN_RATIO = 1e-7
"""Smallest ``|lam| / ||H||`` of a nonzero eigenvalue in a spectrum kept out of the band."""

CUTOFF_BAND_FACTORS = (0.5, 0.7, 0.85, 1.15, 1.4, 2.0)
"""Multiples of the golden cutoff that :func:`spectra` favours for its cutoff-band eigenvalues.

The band where rounding decides the kept set is the cutoff +- the eigenvalue tolerance
``10 n eps ||H||``, i.e. 0.9 to 1.1 times the golden cutoff ``100 n eps ||H||``; these factors
(and the ranges 0.2-0.85 and 1.15-3 drawn besides them) stay out of it by at least 0.05 x the
cutoff, five times the eigenvalue error ``n eps ||H||`` of a correct implementation, so the
kept set is unambiguous, and a cutoff off by a factor of 1.3 or more (x2, /2, scaled by
``||H||_F`` or the trace instead of ``max|lam|``) keeps a different set.
"""

ROUNDING_FACTOR = 10.0
"""The constant ``c`` of the rounding bounds ``c * n * eps * (...)`` used as tolerances.

Each bound is derived in the test that uses it (first-order perturbation theory with backward
errors ``<= c * n * eps * ||H||`` for the matrix products and ``eigh``); ``c`` collects the small
constants of those backward errors. Over 3000 random draws the measured worst ratio of error to
``n * eps * (...)`` was about 3 (``tests/test_mpmath_reference.py`` and ``docs/math.md`` record the
errors against an mpmath reference), so ``c = 10`` is tight enough to catch an error of a few
ulps times ``n`` and loose enough to be robust.
"""


def rounding_tol(n: int, magnitude: float) -> float:
    """``ROUNDING_FACTOR * n * eps * magnitude``: the tolerance for an ``n``-by-``n`` computation
    whose first-order rounding error is proportional to ``magnitude``.

    Examples
    --------
    >>> rounding_tol(10, 2.0) == 10 * 10 * EPS * 2.0
    True
    """
    return ROUNDING_FACTOR * n * EPS * magnitude


def random_orthogonal(seed: int, n: int) -> np.ndarray:
    """Haar-distributed orthogonal ``(n, n)`` matrix: QR of a Gaussian matrix with a sign fix.

    Multiplying each column of ``Q`` by the sign of the matching diagonal entry of ``R`` makes
    the factorization unique and the distribution Haar (Mezzadri 2007).

    Examples
    --------
    >>> q = random_orthogonal(0, 4)
    >>> bool(np.allclose(q.T @ q, np.eye(4)))
    True
    """
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    signs = np.where(np.diag(r) < 0, -1.0, 1.0)
    return q * signs


def from_spectrum(lam: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``Q diag(lam) Q^T`` formed in float64 and symmetrized to the last bit.

    Examples
    --------
    >>> h = from_spectrum(np.array([1.0, -2.0]), random_orthogonal(0, 2))
    >>> bool(np.array_equal(h, h.T)), bool(np.allclose(np.linalg.eigvalsh(h), [-2.0, 1.0]))
    (True, True)
    """
    m = (q * lam) @ q.T
    return 0.5 * (m + m.T)


def matrix_with_spectrum(lam: np.ndarray, seed: int) -> np.ndarray:
    """A symmetric matrix with the eigenvalues ``lam`` and a seeded Haar-random eigenbasis.

    ``Q diag(lam) Q^T`` with ``Q = random_orthogonal(seed, len(lam))``: the one way the tests
    build a fixed matrix with a chosen spectrum (hypothesis tests draw :func:`symmetric_cases`).

    Examples
    --------
    >>> H = matrix_with_spectrum(np.array([2.0, 0.0, -1.0]), seed=0)
    >>> err = np.abs(np.linalg.eigvalsh(H) - [-1.0, 0.0, 2.0]).max()
    >>> bool(np.array_equal(H, H.T)), bool(err <= rounding_tol(3, 2.0))
    (True, True)
    """
    lam = np.asarray(lam, dtype=np.float64)
    return from_spectrum(lam, random_orthogonal(seed, lam.shape[0]))


class SymmetricCase(NamedTuple):
    """A symmetric matrix with the exact spectrum and eigenvectors it was built from.

    Attributes
    ----------
    H : ndarray, shape (n, n)
        ``Q diag(lam) Q^T`` in float64, exactly symmetric.
    lam : ndarray, shape (n,)
        The drawn eigenvalues, in the order of the columns of ``Q`` (not sorted).
    Q : ndarray, shape (n, n)
        The drawn orthogonal matrix.
    """

    H: np.ndarray
    lam: np.ndarray
    Q: np.ndarray

    @property
    def n(self) -> int:
        """Order of ``H``."""
        return int(self.lam.shape[0])

    @property
    def norm(self) -> float:
        """``||H||_2 = max|lam|`` of the exact spectrum."""
        return float(np.abs(self.lam).max())

    @property
    def nonzero(self) -> np.ndarray:
        """Mask of the drawn eigenvalues that are not exactly zero."""
        return self.lam != 0

    @property
    def min_nonzero(self) -> float:
        """Smallest nonzero ``|lam|`` (``inf`` if the spectrum is all zeros)."""
        mags = np.abs(self.lam[self.nonzero])
        return float(mags.min()) if mags.size else float("inf")

    def dense(self, values: np.ndarray) -> np.ndarray:
        """``Q diag(values) Q^T`` with the exact eigenvectors (``values`` in ``lam``'s order)."""
        return from_spectrum(np.asarray(values, dtype=np.float64), self.Q)


def orders(max_n: int = MAX_N) -> st.SearchStrategy[int]:
    """Matrix orders ``1 .. max_n``.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=5, database=None, derandomize=True)
    ... @given(orders(4))
    ... def check(x):
    ...     assert 1 <= x <= 4
    >>> check()
    """
    return st.integers(min_value=1, max_value=max_n)


@st.composite
def orthogonal_matrices(draw: st.DrawFn, n: int) -> np.ndarray:
    """A random orthogonal ``(n, n)`` matrix from a drawn seed.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=5, database=None, derandomize=True)
    ... @given(orthogonal_matrices(3))
    ... def check(x):
    ...     assert np.allclose(x.T @ x, np.eye(3))
    >>> check()
    """
    return random_orthogonal(draw(st.integers(min_value=0, max_value=2**32 - 1)), n)


@st.composite
def spectra(
    draw: st.DrawFn,
    n: int,
    *,
    zeros: bool = True,
    negative: bool = True,
    min_ratio: float = SEPARATED_MIN_RATIO,
    scale_exponents: tuple[float, float] = (-3.0, 3.0),
    clusters: bool = True,
    tiny: bool = False,
    cutoff_band: str | None = None,
) -> np.ndarray:
    """Eigenvalues for an order-``n`` matrix.

    Parameters
    ----------
    n : int
        Number of eigenvalues.
    zeros : bool
        Allow exact zeros (at most ``n - 1``; at least one eigenvalue is nonzero).
    negative : bool
        Allow negative eigenvalues.
    min_ratio : float
        Nonzero eigenvalues have ``min_ratio <= |lam| / max|lam| <= 1``.
    scale_exponents : (float, float)
        ``max|lam| = 10**e`` with ``e`` drawn in this range.
    clusters : bool
        Allow clusters: eigenvalues repeated exactly or within a relative ``1e-12 .. 1e-6``.
    tiny : bool
        Add nonzero eigenvalues of size ``1e-22 .. 1e-18`` times ``max|lam|``: far *below*
        any cutoff, they test that such eigenvalues are not inverted.
    cutoff_band : {"float64", "float32"}, optional
        Put 1 to ``max(1, n // 2)`` eigenvalues (of either sign, after the first) at a
        multiple of that precision's golden cutoff ``100 n eps ||H||`` outside the band where
        rounding decides (:data:`CUTOFF_BAND_FACTORS`, or drawn in 0.2-0.85 and 1.15-3).

    Returns
    -------
    ndarray, shape (n,)
        The spectrum, in drawn (unsorted) order; its largest magnitude is exactly ``10**e``.
    """
    scale = 10.0 ** draw(st.floats(*scale_exponents, allow_nan=False, allow_infinity=False))
    log_lo = float(np.log10(min_ratio))
    exps = draw(st.lists(st.floats(log_lo, 0.0), min_size=n, max_size=n))
    lam = scale * 10.0 ** np.array(exps)
    lam[0] = scale  # the largest magnitude is pinned, so ||H|| is known exactly
    if negative:
        signs = draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=n, max_size=n))
        lam = lam * np.array(signs)
    if clusters and n > 1 and draw(st.booleans()):
        lam = _cluster(draw, lam)
    if zeros and n > 1:
        k = draw(st.integers(min_value=0, max_value=n - 1))
        lam[n - k :] = 0.0
    if tiny and n > 1:
        k = draw(st.integers(min_value=1, max_value=n - 1))
        tiny_exps = draw(st.lists(st.floats(-22.0, -18.0), min_size=k, max_size=k))
        lam[n - k :] = scale * 10.0 ** np.array(tiny_exps)
    if cutoff_band is not None and n > 1:
        lam = _in_cutoff_band(draw, lam, golden_rtol(n, cutoff_band))
    order = draw(st.permutations(range(n)))
    return lam[np.array(order)]


def _in_cutoff_band(draw: st.DrawFn, lam: np.ndarray, rtol: float) -> np.ndarray:
    """Replace ``k >= 1`` eigenvalues after the first by multiples of the cutoff ``rtol ||H||``.

    ``||H||`` is the largest magnitude among the eigenvalues left (a cluster may have moved
    it off the first one); the new ones lie far below it (``3 rtol <= 0.01``).
    """
    n = lam.shape[0]
    k = draw(st.integers(min_value=1, max_value=max(1, n // 2)))  # the bulk keeps half
    kept = np.abs(np.concatenate([lam[:1], lam[k + 1 :]]))
    cutoff = rtol * float(kept.max())
    factor = st.one_of(
        st.sampled_from(CUTOFF_BAND_FACTORS),
        st.floats(0.2, 0.85),
        st.floats(1.15, 3.0),
    )
    factors = draw(st.lists(factor, min_size=k, max_size=k))
    signs = draw(st.lists(st.sampled_from([1.0, -1.0]), min_size=k, max_size=k))
    out = lam.copy()
    out[1 : k + 1] = cutoff * np.array(factors) * np.array(signs)
    return out


def _cluster(draw: st.DrawFn, lam: np.ndarray) -> np.ndarray:
    """Copy one eigenvalue onto others, exactly or with tiny relative offsets."""
    n = lam.shape[0]
    src = draw(st.integers(min_value=0, max_value=n - 1))
    size = draw(st.integers(min_value=2, max_value=n))
    offset = draw(st.sampled_from([0.0, 1e-12, 1e-9, 1e-6]))
    out = lam.copy()
    for j, i in enumerate(range(size)):
        if i != src:
            out[i] = lam[src] * (1.0 + j * offset)
    return out


@st.composite
def symmetric_cases(draw: st.DrawFn, n: int | None = None, **spectrum_kwargs) -> SymmetricCase:
    """A :class:`SymmetricCase`: a drawn spectrum, a random orthogonal ``Q`` and their product.

    ``spectrum_kwargs`` are passed to :func:`spectra`; ``n`` is drawn from :func:`orders` when
    not given.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=5, database=None, derandomize=True)
    ... @given(symmetric_cases(n=3))
    ... def check(x):
    ...     assert np.array_equal(x.H, x.H.T) and x.n == 3
    >>> check()
    """
    n = draw(orders()) if n is None else n
    lam = draw(spectra(n, **spectrum_kwargs))
    q = draw(orthogonal_matrices(n))
    return SymmetricCase(from_spectrum(lam, q), lam, q)


@st.composite
def conformance_matrices(
    draw: st.DrawFn, precision: str = "float64", max_n: int = MAX_N
) -> SymmetricCase:
    """The mix of matrices that :func:`hsc_ref.conformance.check` drives a callable with.

    Orders ``1 .. max_n``; norms from ``1e-3 .. 1e6`` (a cluster may copy a smaller eigenvalue
    over the largest); clusters and negative eigenvalues; exact zeros in half the draws;
    nonzero eigenvalues down to ``0.5``, ``0.1``, ``1e-7`` or ``1e-12`` times ``||H||`` (the
    first two give an order-1 bulk, as in the golden cases, so that ``||H||_F`` and the trace
    norm exceed ``max|lam|`` by a margin); in half the draws, eigenvalues in the band around
    the golden cutoff of ``precision`` (see :func:`spectra`). Shrinks towards small orders,
    no band, no zeros and a bulk in ``[0.5, 1] ||H||``.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=5, database=None, derandomize=True)
    ... @given(conformance_matrices("float32", max_n=4))
    ... def check(x):
    ...     assert x.n <= 4 and np.array_equal(x.H, x.H.T)
    >>> check()
    """
    n = draw(orders(max_n))
    band = n > 1 and draw(st.booleans())
    zeros = draw(st.booleans())
    min_ratio = draw(st.sampled_from([0.5, 0.1, SEPARATED_MIN_RATIO, 1e-12]))
    lam = draw(
        spectra(
            n,
            zeros=zeros,
            min_ratio=min_ratio,
            scale_exponents=(-3.0, 6.0),
            cutoff_band=precision if band else None,
        )
    )
    q = draw(orthogonal_matrices(n))
    return SymmetricCase(from_spectrum(lam, q), lam, q)


@st.composite
def gradients(draw: st.DrawFn, n: int) -> np.ndarray:
    """A gradient vector of length ``n``: a Gaussian direction times a drawn magnitude.

    The magnitude is ``10**e`` with ``e`` in ``[-3, 3]``; the direction comes from a drawn seed,
    so every component is generic (no accidental orthogonality to an eigenvector).

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=5, database=None, derandomize=True)
    ... @given(gradients(5))
    ... def check(x):
    ...     assert x.shape == (5,) and np.isfinite(x).all()
    >>> check()
    """
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    scale = 10.0 ** draw(st.floats(-3.0, 3.0))
    return scale * np.random.default_rng(seed).standard_normal(n)


learning_rates = st.floats(min_value=1e-3, max_value=10.0)
"""Step sizes ``lr`` in ``[1e-3, 10]``."""


def exact_pinv_values(lam: np.ndarray) -> np.ndarray:
    """Reference pseudo-inverse eigenvalues with no cutoff: ``1/lam`` where ``lam != 0``.

    Examples
    --------
    >>> exact_pinv_values(np.array([2.0, 0.0, -4.0]))
    array([ 0.5 ,  0.  , -0.25])
    """
    return np.where(lam != 0, 1.0 / np.where(lam != 0, lam, 1.0), 0.0)


def spectral_norm(a: np.ndarray) -> float:
    """``||a||_2``, the norm every derived tolerance in these tests is stated in.

    Examples
    --------
    >>> spectral_norm(np.diag([3.0, -5.0]))
    5.0
    >>> spectral_norm(np.zeros((0, 0)))  # empty: 0 by definition (some NumPy versions raise)
    0.0
    """
    return float(np.linalg.norm(a, 2)) if a.size else 0.0
