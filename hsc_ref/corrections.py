"""Hessian corrections as spectral maps ``lam -> c(lam)`` on one shared eigenbasis.

A correction is a pure function from a :class:`~hsc_ref.spectral.Spectrum` to the corrected
eigenvalues, paired with the eigenvalues of the pseudo-inverse that its Newton-type step uses.

======================  ====================================  ==========================
name                    corrected eigenvalue ``c(lam)``       what it is
======================  ====================================  ==========================
``hsc``                 ``lam + lam^+``                       the article's ``H + pinv(H)``
``newton``              ``lam``                               pseudo-inverse Newton
``saddle_free``         ``|lam|``                             saddle-free Newton
``damped(mu)``          ``lam + mu``                          Levenberg-Marquardt
``clip(delta)``         ``sgn(lam) * max(|lam|, delta)``      eigenvalue modification
``fill(mu)``            ``lam + lam^+``; null space ``mu``    full-rank variant of ``hsc``
======================  ====================================  ==========================

``lam^+`` is ``1/lam`` above the spectrum's cutoff and 0 otherwise. ``"abs"`` is accepted as
an alias of ``"saddle_free"``. Corrected eigenvalues are judged against ``H``'s own cutoff
(``atol + rtol * max|lam|``), which an added ``mu`` or ``delta`` cannot move: ranks and the
pseudo-inverses of the steps do not depend on how large the added constant is. The literal
dense routes ``H + scipy.linalg.pinvh(H)`` and, for non-symmetric ``J``,
``J + scipy.linalg.pinv(J)`` are :func:`literal_hsc` and :func:`literal_hsc_nonsymmetric`.

Matrices and spectra of other libraries (PyTorch, JAX, CuPy, array-api-strict, ...) are
accepted everywhere here: the corrections are computed on NumPy copies and returned in the
caller's namespace, dtype and device (see :mod:`hsc_ref._backend`). A :class:`Correction`'s
maps always receive a NumPy spectrum when :func:`correct` or a step calls them.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import scipy.linalg

from hsc_ref import _backend, _validation
from hsc_ref._typing import Array, ArrayLike
from hsc_ref.spectral import (
    Inertia,
    ReciprocalOverflowError,
    Spectrum,
    decompose,
    default_rtol,
    inertia_of,
    pinv_values,
)

__all__ = [
    "Correction",
    "CorrectionResult",
    "CORRECTIONS",
    "hsc",
    "newton",
    "saddle_free",
    "damped",
    "clip",
    "fill",
    "get_correction",
    "correct",
    "SpectrumSummary",
    "summarize",
    "literal_hsc",
    "literal_hsc_nonsymmetric",
]


class Correction(NamedTuple):
    """A spectral correction: its name, its eigenvalue map and its step's inverse map.

    Attributes
    ----------
    name : str
        Registry name with parameters, e.g. ``"damped(mu=0.1)"``.
    values : callable
        ``Spectrum -> array``: eigenvalues of the corrected matrix.
    inverse_values : callable
        ``Spectrum -> array``: eigenvalues of the matrix that a Newton-type step applies to
        ``-lr * g`` (the pseudo-inverse of the corrected matrix).
    """

    name: str
    values: Callable[[Spectrum], Any]
    inverse_values: Callable[[Spectrum], Any]


_spectral_map = _backend.spectral_map
"""Make a built-in eigenvalue map take another library's spectrum too (via its NumPy twin)."""


def _pinv_of(values_fn: Callable[[Spectrum], Any]) -> Callable[[Spectrum], Any]:
    """Inverse map of the corrected eigenvalues under the spectrum's own cutoff."""

    @_spectral_map
    def inverse(spectrum: Spectrum) -> Array:
        return pinv_values(_finite_values(values_fn, spectrum), spectrum.cutoff)

    return inverse


def _finite_values(values_fn: Callable[[Spectrum], Any], spectrum: Spectrum) -> Array:
    """Corrected eigenvalues, refused if the added constant made one overflow."""
    with np.errstate(over="ignore"):
        values = values_fn(spectrum)
    if not _backend.all_finite(values):
        raise FloatingPointError(
            f"corrected eigenvalues overflow {values.dtype} (max|lam| = "
            f"{float(abs(spectrum.eigenvalues).max()):.3g}): the corrected matrix cannot be "
            f"represented; use a smaller constant"
        )
    return values


@_backend.in_callers_kind("lam")
def hsc_inverse_values(lam: ArrayLike) -> Array:
    """Return ``phi(lam) = lam / (1 + lam^2)``, the eigenvalues of ``pinv(H + pinv(H))``.

    Computed as ``1 / (lam + 1/lam)`` where ``|lam| > 1`` so that ``lam^2`` cannot overflow.
    ``phi`` is defined for every ``lam``, zero included, and ``|phi| <= 1/2``.

    Examples
    --------
    >>> import numpy as np
    >>> hsc_inverse_values(np.array([0.0, 1.0, -2.0, 1e300]))
    array([ 0.e+000,  5.e-001, -4.e-001,  1.e-300])
    """
    return _phi(_validation.as_real_array(lam, "lam"))  # integers: float64, not truncated phi


_SCALAR_PHI_MAX = 32
"""Up to this many float64 values, :func:`_phi` runs on Python floats (a quarter of the
array route's cost at ``n = 10``); IEEE arithmetic makes both routes bit-identical."""


def _phi(lam: np.ndarray) -> np.ndarray:
    """:func:`hsc_inverse_values` of a finite real NumPy array (the kernel, no checks).

    ``1 / (lam + 1/lam)`` where ``|lam| > 1`` and ``lam / (1 + lam^2)`` elsewhere: each branch
    sees only the inputs it is safe for, so neither overflows. Short float64 vectors take
    :func:`_phi_scalar`, the rest :func:`_phi_array`; the two are bit-identical.
    """
    if lam.dtype == np.float64 and lam.ndim == 1 and lam.size <= _SCALAR_PHI_MAX:
        return _phi_scalar(lam)
    return _phi_array(lam)


def _phi_scalar(lam: np.ndarray) -> np.ndarray:
    """:func:`_phi` on Python floats: IEEE double arithmetic, so the same bits as NumPy's."""
    values = [1.0 / (x + 1.0 / x) if abs(x) > 1 else x / (1.0 + x * x) for x in lam.tolist()]
    return np.array(values, dtype=np.float64)


def _phi_array(lam: np.ndarray) -> np.ndarray:
    """:func:`_phi` with NumPy's element-wise operations (any dtype, any length)."""
    big = np.abs(lam) > 1
    large = np.where(big, lam, 1.0)  # each branch sees only the inputs it is safe for
    small = np.where(big, 0.0, lam)
    phi = np.where(big, 1.0 / (large + 1.0 / large), small / (1.0 + small * small))
    return phi.astype(lam.dtype, copy=False)


@_spectral_map
def _hsc_values(spectrum: Spectrum) -> Array:
    return spectrum.eigenvalues + spectrum.pinv_eigenvalues()


@_spectral_map
def _hsc_phi(spectrum: Spectrum) -> Array:
    return _phi(spectrum.eigenvalues)  # a Spectrum's eigenvalues are checked finite and real


def hsc() -> Correction:
    """The HSC correction ``H + H^+`` (eigenvalues ``lam + lam^+``).

    Its step uses ``phi(lam) = lam / (1 + lam^2)`` for every eigenvalue, the exact-arithmetic
    eigenvalues of ``pinv(H + H^+)``: cutoff-free and 1-Lipschitz, so the step is continuous
    where the rank of ``H`` changes.

    Examples
    --------
    >>> import numpy as np
    >>> from hsc_ref.spectral import decompose
    >>> hsc().values(decompose(np.diag([2.0, 0.0, -0.5])))
    array([-2.5,  0. ,  2.5])
    """
    return Correction("hsc", _hsc_values, _hsc_phi)


@_spectral_map
def _newton_values(spectrum: Spectrum) -> Array:
    return spectrum.eigenvalues


@_spectral_map
def _newton_inverse(spectrum: Spectrum) -> Array:
    return spectrum.pinv_eigenvalues()


def newton() -> Correction:
    """No correction: the step is the pseudo-inverse Newton step ``-lr * H^+ g``.

    Examples
    --------
    >>> import numpy as np
    >>> from hsc_ref.spectral import decompose
    >>> s = decompose(np.diag([2.0, 0.0, -0.5]))   # ascending eigenvalues -0.5, 0, 2
    >>> newton().inverse_values(s)
    array([-2. ,  0. ,  0.5])
    """
    return Correction("newton", _newton_values, _newton_inverse)


@_spectral_map
def _abs_values(spectrum: Spectrum) -> Array:
    return np.abs(spectrum.eigenvalues)


def saddle_free() -> Correction:
    """Saddle-free Newton: eigenvalues ``|lam|`` (registered as ``"saddle_free"``, alias ``"abs"``).

    Examples
    --------
    >>> import numpy as np
    >>> from hsc_ref.spectral import decompose
    >>> s = decompose(np.diag([2.0, 0.0, -0.5]))   # ascending eigenvalues -0.5, 0, 2
    >>> saddle_free().values(s)
    array([0.5, 0. , 2. ])
    """
    return Correction("saddle_free", _abs_values, _pinv_of(_abs_values))


def damped(mu: float) -> Correction:
    """Levenberg-Marquardt damping: eigenvalues ``lam + mu`` with ``mu >= 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from hsc_ref.spectral import decompose
    >>> s = decompose(np.diag([2.0, 0.0, -0.5]))   # ascending eigenvalues -0.5, 0, 2
    >>> damped(1.0).values(s)
    array([0.5, 1. , 3. ])
    """
    mu = _validation.check_tolerance(mu, "mu")

    @_spectral_map
    def values(spectrum: Spectrum) -> Array:
        return spectrum.eigenvalues + mu

    return Correction(f"damped(mu={mu:g})", values, _pinv_of(values))


def _sign_zero_positive(spectrum: Spectrum) -> Array:
    """``sgn(lam)`` above the cutoff and ``+1`` at or below it."""
    return np.where(spectrum.eigenvalues < -spectrum.cutoff, -1.0, 1.0)


def clip(delta: float) -> Correction:
    """Eigenvalue modification: ``sgn(lam) * max(|lam|, delta)`` with ``delta > 0``.

    Eigenvalues at or below the cutoff count as positive (``sgn(0) = +1``), the convention of
    Nocedal & Wright's modified Newton methods, so the clipped matrix is nonsingular.

    Examples
    --------
    >>> import numpy as np
    >>> from hsc_ref.spectral import decompose
    >>> s = decompose(np.diag([2.0, 0.0, -0.5]))   # ascending eigenvalues -0.5, 0, 2
    >>> clip(1.0).values(s)
    array([-1.,  1.,  2.])
    """
    delta = _validation.check_positive(delta, "delta")

    @_spectral_map
    def values(spectrum: Spectrum) -> Array:
        magnitude = np.maximum(np.abs(spectrum.eigenvalues), delta)
        return (_sign_zero_positive(spectrum) * magnitude).astype(spectrum.dtype, copy=False)

    return Correction(f"clip(delta={delta:g})", values, _pinv_of(values))


def fill(mu: float) -> Correction:
    """``H + H^+`` with the null space (``|lam| <= cutoff``) set to ``mu > 0``: full rank.

    Examples
    --------
    >>> import numpy as np
    >>> from hsc_ref.spectral import decompose
    >>> s = decompose(np.diag([2.0, 0.0, -0.5]))   # ascending eigenvalues -0.5, 0, 2
    >>> fill(3.0).values(s)
    array([-2.5,  3. ,  2.5])
    """
    mu = _validation.check_positive(mu, "mu")

    @_spectral_map
    def values(spectrum: Spectrum) -> Array:
        return np.where(spectrum.kept, _hsc_values(spectrum), mu).astype(spectrum.dtype)

    return Correction(f"fill(mu={mu:g})", values, _pinv_of(values))


CORRECTIONS: dict[str, Callable[..., Correction]] = {
    "hsc": hsc,
    "newton": newton,
    "saddle_free": saddle_free,
    "damped": damped,
    "clip": clip,
    "fill": fill,
}
"""Registry of correction factories by name; parameters are passed as keywords."""

ALIASES = {"abs": "saddle_free"}
"""Other names :func:`get_correction` accepts: ``"abs"`` is saddle-free Newton's ``|lam|``."""


def _parameters() -> dict[str, tuple[str, ...]]:
    """Each registered correction's parameters, read from its factory's signature.

    A correction's parameters are declared once, as the keywords of its factory in
    :data:`CORRECTIONS`; the commands' options (``hsc-ref style --mu``, ``--param``) and the
    sweep specs' keys are built from this table, so a new correction needs no other edit.

    Examples
    --------
    >>> _parameters()["damped"], _parameters()["hsc"]
    (('mu',), ())
    """
    return {name: tuple(inspect.signature(f).parameters) for name, f in CORRECTIONS.items()}


def _parameter_takers() -> dict[str, tuple[str, ...]]:
    """Each parameter some correction takes, with the corrections that take it (sorted).

    Examples
    --------
    >>> _parameter_takers()
    {'delta': ('clip',), 'mu': ('damped', 'fill')}
    """
    takers: dict[str, list[str]] = {}
    for name, params in _parameters().items():
        for param in params:
            takers.setdefault(param, []).append(name)
    return {param: tuple(sorted(names)) for param, names in sorted(takers.items())}


def get_correction(method: str | Correction, **params: float) -> Correction:
    """Return a :class:`Correction` from a registry name (with parameters) or pass one through.

    Examples
    --------
    >>> get_correction("damped", mu=0.5).name
    'damped(mu=0.5)'
    """
    if isinstance(method, Correction):
        if params:
            raise TypeError(f"parameters {sorted(params)} given with a Correction object")
        return method
    method = ALIASES.get(method, method) if isinstance(method, str) else method
    if not isinstance(method, str) or method not in CORRECTIONS:
        raise ValueError(f"method must be one of {sorted(CORRECTIONS)}, got {method!r}")
    try:
        return CORRECTIONS[method](**params)
    except TypeError as exc:
        raise TypeError(f"bad parameters for correction {method!r}: {exc}") from exc


@dataclass(frozen=True, eq=False)
class CorrectionResult:
    """A corrected matrix with the diagnostics needed to interpret it.

    Arrays are of the input's library, dtype and device (see :func:`correct`).

    Attributes
    ----------
    method : str
        Name of the correction.
    matrix : array, shape (n, n)
        Corrected matrix ``Q diag(c(lam)) Q^T``.
    eigenvalues_before, eigenvalues_after : array, shape (n,)
        ``lam`` (ascending) and ``c(lam)`` in the same order (not re-sorted).
    rank_before, rank_after : int
        Numerical ranks under the cutoff policy applied to each set of eigenvalues.
    null_dim_before, null_dim_after : int
        ``n - rank``.
    inertia_before, inertia_after : Inertia
        Signs of the eigenvalues under each cutoff.
    atol, rtol, cutoff : float
        The policy and the cutoff on ``lam``; ``c(lam)`` is judged against the same cutoff.
    spectrum : Spectrum
        The decomposition everything was computed from.
    """

    method: str
    matrix: Array
    eigenvalues_before: Any
    eigenvalues_after: Array
    rank_before: int
    rank_after: int
    null_dim_before: int
    null_dim_after: int
    inertia_before: Inertia
    inertia_after: Inertia
    atol: float
    rtol: float
    cutoff: float
    spectrum: Spectrum

    def _to_kind(self, kind: Any) -> CorrectionResult:
        """This (NumPy) result with its arrays in another library's ``kind``."""
        spectrum = kind.wrap(self.spectrum)
        return dataclasses.replace(
            self,
            matrix=kind.wrap(self.matrix),
            eigenvalues_before=spectrum.eigenvalues,
            eigenvalues_after=kind.wrap(self.eigenvalues_after),
            spectrum=spectrum,
        )


@_backend.in_callers_kind("H")
def correct(
    H: ArrayLike,
    method: str | Correction = "hsc",
    *,
    atol: float = 0.0,
    rtol: float | None = None,
    policy: str = "scipy",
    symmetry_rtol: float | None = None,
    **params: float,
) -> CorrectionResult:
    """Apply a spectral correction to a symmetric matrix (or to a :class:`Spectrum`).

    Parameters
    ----------
    H : array_like, shape (n, n), or Spectrum
        Symmetric matrix, or a spectrum already computed by :func:`~hsc_ref.spectral.decompose`
        (then the tolerances are those it carries and must not be passed again). Another
        array-API library's matrix (PyTorch, JAX, CuPy, ...) or spectrum is corrected on a
        NumPy copy: the result's arrays come back in its namespace, dtype and device,
        bit-identical to those of the NumPy path.
    method : str or Correction, default "hsc"
        A registry name (see :data:`CORRECTIONS`) or a :class:`Correction`.
    atol, rtol, symmetry_rtol : float, optional
        Passed to :func:`~hsc_ref.spectral.decompose`.
    policy : {"scipy", "golden"}, default "scipy"
        Cutoff policy, passed to :func:`~hsc_ref.spectral.decompose`: ``"scipy"`` keeps
        ``|lam| > atol + rtol * max|lam|`` with ``rtol`` defaulting to ``n * eps``;
        ``"golden"`` is the golden files' ``atol = 0``, ``rtol = 100 * n * eps`` (then
        ``atol`` and ``rtol`` must not be passed): ``correct(H, policy="golden")`` gives the
        golden ``hc``, ``rank`` and (``.spectrum.pinv()``) ``pinv`` bit for bit.
    **params
        Parameters of the correction, e.g. ``mu=0.1`` for ``"damped"``.

    Returns
    -------
    CorrectionResult

    Notes
    -----
    For ``hsc``, ``H = Q diag(lam) Q^T`` gives ``Hc = Q diag(lam + lam^+) Q^T``: nonzero
    eigenvalues map to ``lam + 1/lam`` (sign kept, magnitude at least 2), eigenvalues at or
    below the cutoff stay ``lam``. ``Hc`` has the null space, rank and inertia of ``H``.

    Examples
    --------
    >>> import numpy as np
    >>> r = correct(np.diag([3.0, 0.0, -0.5]))
    >>> r.rank_before, r.rank_after, r.null_dim_after
    (2, 2, 1)
    >>> np.allclose(r.matrix, np.diag([3.0 + 1 / 3, 0.0, -2.5]))
    True
    >>> correct(np.diag([1.0, 1e-14]), policy="golden").rank_after   # 1e-14 <= 100 * 2 * eps
    1
    """
    spectrum = _as_spectrum(H, atol, rtol, symmetry_rtol, policy)
    correction = get_correction(method, **params)
    after = _finite_values(correction.values, spectrum)
    inertia_after = inertia_of(after, spectrum.cutoff)
    rank_after = inertia_after.positive + inertia_after.negative
    return CorrectionResult(
        method=correction.name,
        matrix=spectrum.dense(after),
        eigenvalues_before=spectrum.eigenvalues,
        eigenvalues_after=after,
        rank_before=spectrum.rank,
        rank_after=rank_after,
        null_dim_before=spectrum.null_dim,
        null_dim_after=spectrum.n - rank_after,
        inertia_before=spectrum.inertia,
        inertia_after=inertia_after,
        atol=spectrum.atol,
        rtol=spectrum.rtol,
        cutoff=spectrum.cutoff,
        spectrum=spectrum,
    )


@dataclass(frozen=True)
class SpectrumSummary:
    """What diagnostics record of one Hessian and its correction, without a dense matrix.

    Attributes
    ----------
    method : str
        The correction summarized (default ``"hsc"``: ``Hc = H + pinv(H)``).
    n, rank : int
        Order and numerical rank of ``H``.
    positive, negative, zero : int
        Inertia of ``H`` under its cutoff (``zero`` counts ``|lam| <= cutoff``).
    cutoff : float
        ``atol + rtol * max|lam|``.
    eig_min, eig_max, eig_abs_min : float
        Smallest, largest and smallest-magnitude eigenvalue of ``H``.
    pinv_abs_max : float
        Largest ``|lam^+|`` (``1 / min kept |lam|``; 0 when nothing is kept).
    rank_corrected, negative_corrected, zero_corrected : int
        Rank and inertia of the corrected matrix, read off the eigenvalue map.
    corrected_abs_min_kept : float
        Smallest ``|c(lam)|`` over the eigenvalues ``H`` keeps (NaN when none).
    """

    method: str
    n: int
    rank: int
    positive: int
    negative: int
    zero: int
    cutoff: float
    eig_min: float
    eig_max: float
    eig_abs_min: float
    pinv_abs_max: float
    rank_corrected: int
    negative_corrected: int
    zero_corrected: int
    corrected_abs_min_kept: float

    def as_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (plain ints, floats and the method name)."""
        return dataclasses.asdict(self)


SUMMARY_FIELDS = tuple(f.name for f in dataclasses.fields(SpectrumSummary) if f.name != "method")
"""Numeric fields of :class:`SpectrumSummary`, the per-step diagnostic columns of trainers."""


@_backend.in_callers_kind("spectrum")
def summarize(
    spectrum: Spectrum, method: str | Correction = "hsc", **params: float
) -> SpectrumSummary:
    """Summarize a spectrum and its correction from eigenvalues alone (no ``n^3`` product).

    The rank and inertia of the corrected matrix come from the eigenvalue map ``c(lam)``
    under ``H``'s own cutoff, so for ``"hsc"`` they equal those of ``H`` (a tested property).

    Examples
    --------
    >>> import numpy as np
    >>> from hsc_ref.spectral import decompose
    >>> s = summarize(decompose(np.diag([-1.0, 0.0, 2.0])))
    >>> s.eig_min, s.eig_max, s.eig_abs_min, s.pinv_abs_max
    (-1.0, 2.0, 0.0, 1.0)
    >>> s.rank, s.negative, s.zero, s.rank_corrected, s.negative_corrected
    (2, 1, 1, 2, 1)
    """
    if not isinstance(spectrum, Spectrum):
        raise TypeError(
            f"spectrum must be a Spectrum (from decompose), got {type(spectrum).__name__}"
        )
    correction = get_correction(method, **params)
    lam = spectrum.eigenvalues
    after = _summary_values(correction, spectrum, lam)
    kept = np.abs(lam) > spectrum.cutoff
    before, corrected = inertia_of(lam, spectrum.cutoff), inertia_of(after, spectrum.cutoff)
    return SpectrumSummary(
        method=correction.name,
        n=spectrum.n,
        rank=before.positive + before.negative,
        positive=before.positive,
        negative=before.negative,
        zero=before.zero,
        cutoff=float(spectrum.cutoff),
        eig_min=float(lam[0]),
        eig_max=float(lam[-1]),
        eig_abs_min=float(np.abs(lam).min()),
        pinv_abs_max=_reciprocal(float(np.abs(lam[kept]).min())) if kept.any() else 0.0,
        rank_corrected=corrected.positive + corrected.negative,
        negative_corrected=corrected.negative,
        zero_corrected=corrected.zero,
        corrected_abs_min_kept=float(np.abs(after[kept]).min()) if kept.any() else float("nan"),
    )


def _summary_values(correction: Correction, spectrum: Spectrum, lam: np.ndarray) -> np.ndarray:
    """Corrected eigenvalues for a summary.

    For ``hsc``, a kept eigenvalue whose reciprocal overflows (``|lam| < 1/finfo.max``, a
    Hessian that has all but vanished, under a cutoff with ``atol = 0``) maps to ``+-inf``
    here: ``Hc`` itself cannot be represented, but its rank and inertia, which the summary
    reports, are still those of ``lam + 1/lam``. Other corrections raise as in :func:`correct`.
    """
    try:
        return _finite_values(correction.values, spectrum)
    except ReciprocalOverflowError:
        if correction.name != "hsc":
            raise
    kept = np.abs(lam) > spectrum.cutoff
    with np.errstate(over="ignore", divide="ignore"):
        return lam + np.where(kept, 1.0 / np.where(kept, lam, 1.0), 0.0)


def _reciprocal(magnitude: float) -> float:
    """``1 / magnitude``, ``inf`` where it overflows (a summary field, not a matrix entry)."""
    with np.errstate(over="ignore"):
        return float(np.float64(1.0) / np.float64(magnitude))


def _as_spectrum(
    H: ArrayLike,
    atol: float,
    rtol: float | None,
    symmetry_rtol: float | None,
    policy: str = "scipy",
) -> Spectrum:
    """Pass a Spectrum through (refusing conflicting tolerances) or decompose ``H``."""
    if isinstance(H, Spectrum):
        given = atol != 0.0 or rtol is not None or symmetry_rtol is not None
        if given or policy != "scipy":
            raise ValueError(
                "tolerances and policy must not be passed with a Spectrum: it carries its own"
            )
        return H
    return decompose(H, atol=atol, rtol=rtol, policy=policy, symmetry_rtol=symmetry_rtol)


@_backend.in_callers_kind("H")
def literal_hsc(H: ArrayLike, *, atol: float = 0.0, rtol: float | None = None) -> Array:
    """The literal dense route ``H + scipy.linalg.pinvh(H, atol=atol, rtol=rtol)`` (SciPy).

    This is what a direct implementation of the article computes. Symmetry is checked as in
    :func:`~hsc_ref.spectral.decompose`; tolerances are always passed explicitly.

    Examples
    --------
    >>> import numpy as np
    >>> literal_hsc(np.diag([2.0, 0.0]))
    array([[2.5, 0. ],
           [0. , 0. ]])
    """
    H = _validation.as_square_matrix(H, "H")
    _validation.check_symmetric(H, float(np.sqrt(np.finfo(H.dtype).eps)), "H")
    atol = _validation.check_tolerance(atol, "atol")
    rtol = default_rtol(H.shape[0], H.dtype) if rtol is None else rtol
    rtol = _validation.check_tolerance(rtol, "rtol")
    return H + scipy.linalg.pinvh(H, atol=atol, rtol=rtol)


@_backend.in_callers_kind("J")
def literal_hsc_nonsymmetric(
    J: ArrayLike, *, atol: float = 0.0, rtol: float | None = None
) -> Array:
    """``J + scipy.linalg.pinv(J)`` for a square, possibly non-symmetric matrix (SciPy).

    Uses the SVD-based pseudo-inverse with SciPy's policy on singular values
    (``s > atol + rtol * s_max``; ``rtol`` defaults to ``n * eps``). There is no eigenvalue
    map here: the eigenvalues of ``J + J^+`` are not a function of those of ``J`` unless ``J``
    is normal.

    Examples
    --------
    >>> import numpy as np
    >>> J = np.array([[0.0, 1.0], [-1.0, 0.0]])   # a rotation: J^+ = J^T = -J
    >>> literal_hsc_nonsymmetric(J)
    array([[0., 0.],
           [0., 0.]])
    """
    J = _validation.as_square_matrix(J, "J")
    atol = _validation.check_tolerance(atol, "atol")
    rtol = default_rtol(J.shape[0], J.dtype) if rtol is None else rtol
    rtol = _validation.check_tolerance(rtol, "rtol")
    return J + scipy.linalg.pinv(J, atol=atol, rtol=rtol)
