"""One eigendecomposition of a symmetric matrix, reused for every correction and step.

:func:`decompose` is the single place where symmetric matrices are validated. It returns an
immutable :class:`Spectrum` that carries the tolerance policy it was built with, so every
result derived from it can say which ``atol``, ``rtol`` and cutoff it used.

Cutoff policy (the one of :func:`scipy.linalg.pinvh`): an eigenvalue is *kept* when
``|lambda| > cutoff`` with ``cutoff = atol + rtol * max|lambda|``. Two named policies
(:data:`CUTOFF_POLICIES`, the ``policy`` argument of :func:`decompose`,
:func:`~hsc_ref.corrections.correct` and :func:`~hsc_ref.steps.hsc_step`):

``"scipy"`` (the default)
    ``atol = 0`` and ``rtol = n * eps(dtype)`` unless given: SciPy's default.
``"golden"``
    ``atol = 0`` and ``rtol = 100 * n * eps(dtype)`` (:func:`golden_rtol`), the policy of the
    golden files (``docs/validating.md``); ``atol`` and ``rtol`` must not be passed with it.

Arrays of other libraries (PyTorch, JAX, CuPy, array-api-strict, ...) are accepted by every
function and method here and computed on NumPy copies of them: results come back in the
caller's namespace, dtype and device, bit-identical to those of the same values as NumPy
arrays (see :mod:`hsc_ref._backend`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.sparse.linalg import LinearOperator

from hsc_ref import _backend, _validation
from hsc_ref._typing import Array, ArrayLike

__all__ = [
    "Inertia",
    "Spectrum",
    "decompose",
    "default_rtol",
    "CUTOFF_POLICIES",
    "golden_rtol",
    "pinv_values",
    "ReciprocalOverflowError",
]


class ReciprocalOverflowError(ValueError, FloatingPointError):
    """A kept eigenvalue is so small that its reciprocal overflows the dtype.

    Raised by :func:`pinv_values` (hence by every pseudo-inverse of a :class:`Spectrum`)
    instead of returning an infinite pseudo-inverse. It is a ``ValueError`` (the cutoff lets
    such a value through; a positive ``atol`` excludes it) and a ``FloatingPointError`` (the
    result is not representable), so a training loop that treats an overflowing step as
    divergence (:func:`hsc_ref.loop.rule_step`) does so for it too.
    """


def default_rtol(n: int, dtype: Any) -> float:
    """Default relative tolerance ``n * eps(dtype)`` (SciPy's ``pinvh`` policy).

    ``dtype`` may be spelled by another library (``torch.float32``, a :class:`Spectrum`'s
    ``dtype``).

    Examples
    --------
    >>> import numpy as np
    >>> bool(default_rtol(10, np.float64) == 10 * np.finfo(np.float64).eps)
    True
    """
    try:
        eps = np.finfo(dtype).eps
    except (TypeError, ValueError):  # not a NumPy dtype: torch.float32 and the like
        eps = np.finfo(_backend.numpy_dtype(dtype)).eps
    return n * float(eps)


CUTOFF_POLICIES = ("scipy", "golden")
"""Named cutoff policies: ``"scipy"`` (``rtol = n * eps`` unless given) and ``"golden"``."""

GOLDEN_RTOL_FACTOR = 100.0
"""The golden cutoff is ``rtol = GOLDEN_RTOL_FACTOR * n * eps(dtype)``, 100 x SciPy's default.

SciPy's ``n * eps * ||H||`` sits at the rounding noise of the zero eigenvalues of a singular
matrix (LAPACK's ``evr`` with eigenvectors put an exact zero of an order-7 matrix at
``-8.3 eps ||H||``, beyond its ``7 eps ||H||``), so kept sets under the default are not
reproducible across implementations; 100 x puts the cutoff a decade above the eigenvalue
tolerance ``10 * n * eps * ||H||`` of the golden files.
"""


def golden_rtol(n: int, dtype: Any) -> float:
    """The golden files' relative cutoff ``100 * n * eps(dtype)`` (with ``atol = 0``).

    Examples
    --------
    >>> golden_rtol(10, "float32")
    0.00011920928955078125
    """
    return GOLDEN_RTOL_FACTOR * n * float(np.finfo(dtype).eps)


def resolve_rtol(
    policy: str, *, atol: float, rtol: float | None, n: int, dtype: Any
) -> float | None:
    """The ``rtol`` a cutoff policy gives an order-``n`` matrix of ``dtype``.

    The one place where :data:`CUTOFF_POLICIES` are resolved. ``"scipy"`` returns ``rtol``
    as given (``None``: the default ``n * eps(dtype)``, applied by
    :func:`decompose_symmetric`); ``"golden"`` returns :func:`golden_rtol` and refuses an
    explicit ``rtol`` or a nonzero ``atol``, which would contradict it.

    Raises
    ------
    ValueError
        For an unknown policy, or tolerances that contradict ``"golden"``.

    Examples
    --------
    >>> resolve_rtol("golden", atol=0.0, rtol=None, n=10, dtype="float64")
    2.220446049250313e-13
    >>> resolve_rtol("scipy", atol=0.0, rtol=None, n=10, dtype="float64") is None
    True
    """
    if policy not in CUTOFF_POLICIES:
        raise ValueError(f"policy must be one of {CUTOFF_POLICIES}, got {policy!r}")
    if policy == "scipy":
        return rtol
    if rtol is not None or atol != 0.0:
        raise ValueError(
            f"policy='golden' fixes atol = 0 and rtol = 100 * n * eps; do not pass them "
            f"(got atol={atol!r}, rtol={rtol!r})"
        )
    return golden_rtol(n, dtype)


@_backend.in_callers_kind("values")
def cutoff_for(values: ArrayLike, atol: float, rtol: float) -> float:
    """Return ``atol + rtol * max|values|``, the threshold below which a value counts as zero.

    Examples
    --------
    >>> import numpy as np
    >>> cutoff_for(np.array([-4.0, 1.0]), atol=0.5, rtol=0.25)
    1.5
    """
    atol = _validation.check_tolerance(atol, "atol")
    rtol = _validation.check_tolerance(rtol, "rtol")
    return _cutoff(values, atol, rtol)


def _cutoff(values: np.ndarray, atol: float, rtol: float) -> float:
    """:func:`cutoff_for` of checked tolerances (the kernel, no checks)."""
    return float(atol + rtol * float(np.abs(values).max()))


@_backend.in_callers_kind("values")
def pinv_values(values: ArrayLike, cutoff: float) -> Array:
    """Invert the entries with ``|value| > cutoff`` and set the others to zero.

    Raises
    ------
    ReciprocalOverflowError
        If a kept entry is so small that its reciprocal overflows (possible only with a
        cutoff below ``1 / finfo.max``: ``atol = 0`` and entries of order ``1e-300``, as in
        a Hessian that has all but vanished): an infinite pseudo-inverse would be a silently
        wrong number. A ``ValueError`` and a ``FloatingPointError``.

    Examples
    --------
    >>> import numpy as np
    >>> pinv_values(np.array([-2.0, 0.0, 1e-20, 4.0]), 1e-15)
    array([-0.5 ,  0.  ,  0.  ,  0.25])
    """
    values = _validation.as_real_array(values, "values", ndim=1)
    cutoff = _validation.check_tolerance(cutoff, "cutoff")
    magnitude = np.abs(values)
    kept = magnitude > cutoff
    overflowing = kept & (magnitude < 1.0 / float(np.finfo(values.dtype).max))
    if bool(overflowing.any()):
        smallest = float(magnitude[overflowing].min())
        raise ReciprocalOverflowError(
            f"cutoff must exclude values whose reciprocal overflows: |value| = {smallest:.3g} "
            f"is kept by cutoff {cutoff:.3g}; pass a positive atol"
        )
    safe = np.where(kept, values, 1.0)
    return np.where(kept, 1.0 / safe, 0.0).astype(values.dtype, copy=False)


@dataclass(frozen=True)
class Inertia:
    """Counts of positive, negative and (numerically) zero eigenvalues."""

    positive: int
    negative: int
    zero: int


@dataclass(frozen=True, eq=False)
class Spectrum:
    """Eigendecomposition ``H = Q diag(lam) Q^T`` of a symmetric matrix, with its cutoff policy.

    Build it with :func:`decompose`; do not call the constructor on unvalidated data. NumPy
    arrays are read-only, so a spectrum can be shared by a step rule, diagnostics and a
    report without copies.

    A spectrum of another library's matrix holds its arrays in that library's kind and
    computes every method on its NumPy twin (the decomposition :func:`decompose` took),
    returning arrays of the caller's kind; :attr:`dtype` is then that library's dtype.

    Attributes
    ----------
    eigenvalues : array, shape (n,)
        Ascending eigenvalues ``lam``.
    eigenvectors : array, shape (n, n)
        Orthonormal eigenvectors ``Q`` (columns).
    atol, rtol : float
        Tolerances of the cutoff policy.
    cutoff : float
        ``atol + rtol * max|lam|``; eigenvalues with ``|lam| <= cutoff`` count as zero.
    """

    eigenvalues: Array
    eigenvectors: Any
    atol: float
    rtol: float
    cutoff: float
    _array_kind: Any = field(default=None, repr=False)
    _host_twin: Spectrum | None = field(default=None, repr=False)

    def _to_kind(self, kind: Any) -> Spectrum:
        """This (NumPy) spectrum with its arrays in ``kind``, keeping itself as the twin."""
        if self._host_twin is not None:  # already another library's
            return self
        return replace(
            self,
            eigenvalues=kind.wrap(self.eigenvalues),
            eigenvectors=kind.wrap(self.eigenvectors),
            _array_kind=kind,
            _host_twin=self,
        )

    @property
    def n(self) -> int:
        """Order of the matrix."""
        return int(self.eigenvalues.shape[0])

    @property
    def dtype(self) -> np.dtype:
        """Floating dtype of the decomposition."""
        return self.eigenvalues.dtype

    @property
    @_backend.in_callers_kind("self")
    def kept(self) -> Array:
        """Boolean mask of the eigenvalues above the cutoff."""
        return np.abs(self.eigenvalues) > self.cutoff

    @property
    @_backend.in_callers_kind("self")
    def rank(self) -> int:
        """Number of eigenvalues above the cutoff."""
        return int(self.kept.sum())

    @property
    def null_dim(self) -> int:
        """Dimension of the numerical null space, ``n - rank``."""
        return self.n - self.rank

    @property
    @_backend.in_callers_kind("self")
    def inertia(self) -> Inertia:
        """Counts of eigenvalues above ``cutoff``, below ``-cutoff``, and in between."""
        return inertia_of(self.eigenvalues, self.cutoff)

    @_backend.in_callers_kind("self")
    def pinv_eigenvalues(self) -> Array:
        """Eigenvalues of the pseudo-inverse: ``1/lam`` where kept, else 0."""
        return pinv_values(self.eigenvalues, self.cutoff)

    @_backend.in_callers_kind("self", "values")
    def dense(self, values: ArrayLike = None) -> Array:
        """Return ``Q diag(values) Q^T`` (``values`` defaults to the eigenvalues).

        The result is symmetric to the last bit: it is formed as ``(Q D) Q^T`` and then
        symmetrized, so callers can feed it to ``eigh`` again.
        """
        values = self.eigenvalues if values is None else self._check_values(values)
        q = self.eigenvectors
        with np.errstate(over="ignore"):  # checked below
            m = (q * values) @ q.T
        m = _backend.mean_of(m, m.T)  # symmetric to the last bit, without overflow
        if not _backend.all_finite(m):
            raise FloatingPointError(
                f"Q diag(values) Q^T overflows {m.dtype}: the largest |value| is "
                f"{float(np.abs(values).max()):.3g}; the matrix cannot be represented"
            )
        return m

    @_backend.in_callers_kind("self")
    def pinv(self) -> Array:
        """Dense Moore-Penrose pseudo-inverse under this spectrum's cutoff."""
        return self.dense(self.pinv_eigenvalues())

    @_backend.in_callers_kind("self", "values", "v")
    def apply(self, values: ArrayLike, v: ArrayLike) -> Array:
        """Return ``Q diag(values) Q^T v`` for a vector or an ``(n, k)`` block ``v``."""
        values = self._check_values(values)
        v = _validation.check_vector_for(v, self.n, self.dtype, "v")
        return self._apply(values, v)

    def _apply(self, values: np.ndarray, v: np.ndarray) -> np.ndarray:
        """:meth:`apply` of checked NumPy ``values`` and ``v`` (the kernel, no checks)."""
        q = self.eigenvectors
        coeffs = q.T @ v
        scaled = coeffs * (values if v.ndim == 1 else values[:, None])
        return q @ scaled

    @_backend.in_callers_kind("self", "b")
    def solve(self, b: ArrayLike) -> Array:
        """Least-norm least-squares solution ``H^+ b`` under this spectrum's cutoff."""
        b = _validation.check_vector_for(b, self.n, self.dtype, "b")
        return self.apply(self.pinv_eigenvalues(), b)

    @_backend.in_callers_kind("self", "values")
    def as_linear_operator(self, values: ArrayLike = None) -> LinearOperator:
        """A :class:`scipy.sparse.linalg.LinearOperator` for ``Q diag(values) Q^T``.

        It applies NumPy arrays (SciPy's operators are NumPy only), whatever the spectrum's
        library.
        """
        vals = self.eigenvalues if values is None else self._check_values(values)
        q = self.eigenvectors

        def matvec(v: np.ndarray) -> np.ndarray:
            return q @ (vals * (q.T @ v.ravel()))

        def matmat(v: np.ndarray) -> np.ndarray:
            return q @ (vals[:, None] * (q.T @ v))

        return LinearOperator(
            (self.n, self.n), matvec=matvec, rmatvec=matvec, matmat=matmat, dtype=q.dtype
        )

    def _check_values(self, values: ArrayLike) -> Array:
        if getattr(values, "shape", None) != (self.n,):
            raise ValueError(
                f"values must have shape ({self.n},), got {getattr(values, 'shape', type(values))}"
            )
        return _validation.as_real_array(values, "values")  # finite, real


def inertia_of(values: ArrayLike, cutoff: float) -> Inertia:
    """Counts of ``values > cutoff``, ``values < -cutoff`` and the rest."""
    positive = int((values > cutoff).sum())
    negative = int((values < -cutoff).sum())
    return Inertia(positive, negative, int(values.shape[0]) - positive - negative)


@_backend.in_callers_kind("H")
def decompose(
    H: ArrayLike,
    *,
    atol: float = 0.0,
    rtol: float | None = None,
    policy: str = "scipy",
    symmetry_rtol: float | None = None,
) -> Spectrum:
    """Validate a symmetric matrix, symmetrize it and take one ``eigh``.

    Parameters
    ----------
    H : array_like, shape (n, n)
        Real symmetric matrix, float64 or float32 (integers are converted to float64): a
        NumPy array, or another array-API library's (PyTorch, JAX, CuPy, ...), decomposed
        on a NumPy copy.
    atol, rtol : float, optional
        Cutoff policy of :func:`scipy.linalg.pinvh`: eigenvalues with
        ``|lam| <= atol + rtol * max|lam|`` count as zero. ``rtol`` defaults to
        ``n * eps(H.dtype)``.
    policy : {"scipy", "golden"}, default "scipy"
        Named cutoff policy (:data:`CUTOFF_POLICIES`): ``"golden"`` is the golden files'
        ``atol = 0``, ``rtol = 100 * n * eps(H.dtype)`` (:func:`golden_rtol`), and then
        ``atol`` and ``rtol`` must not be passed.
    symmetry_rtol : float, optional
        ``H`` is rejected unless ``max|H - H^T| <= symmetry_rtol * max|H|``. Defaults to
        ``sqrt(eps(H.dtype))``: far above the rounding asymmetry of an exact Hessian
        (about ``1e-16`` relative in float64) and far below that of a genuinely
        non-symmetric matrix such as a game Jacobian.

    Returns
    -------
    Spectrum
        Eigendecomposition of ``(H + H^T) / 2`` with the cutoff policy; its arrays are of
        ``H``'s library, dtype and device.

    Raises
    ------
    TypeError
        If ``H`` is not a real floating (or integer) array.
    ValueError
        If ``H`` is not 2-D and square, is empty, holds NaN or inf, is not symmetric, or a
        tolerance is negative or not finite.

    Notes
    -----
    The eigensolver is ``numpy.linalg.eigh`` (LAPACK ``syevd``, divide and conquer), the
    fastest full-spectrum driver measured (``benchmarks/results/full-3.md``: SciPy's default
    ``syevr``, used by ``pinvh``, took 9x as long at n = 500 and 1.13x at n = 4000). ``eigh``
    reads one triangle only, so a non-symmetric input would silently give the spectrum of a
    different matrix; that is why symmetry is checked before symmetrizing. Another library's
    ``H`` is decomposed by the same ``numpy.linalg.eigh`` on a host copy, never by that
    library's own solver: the reference stays independent of the code it checks, and the
    spectrum is bit-identical to that of ``numpy.asarray(H)``.
    The ``eigh`` needs about ``4 n^2`` words (the symmetrized copy, the eigenvectors and the
    divide-and-conquer workspace of ``syevd``, ``2 n^2`` words): the places that read sizes from
    users (``hsc-ref correct``'s file reader, the GAN and style option checks) check them
    against the available memory before allocating; ``H`` itself is already in memory here.

    Examples
    --------
    >>> import numpy as np
    >>> s = decompose(np.diag([2.0, 0.0, -1.0]))
    >>> s.eigenvalues
    array([-1.,  0.,  2.])
    >>> s.rank, s.null_dim, s.inertia
    (2, 1, Inertia(positive=1, negative=1, zero=1))
    >>> decompose(np.diag([1.0, 0.0]), policy="golden").rtol   # 100 * 2 * eps
    4.440892098500626e-14
    """
    atol, rtol_given = _validation.check_tolerance(atol, "atol"), rtol
    if rtol_given is not None:
        _validation.check_tolerance(rtol_given, "rtol")
    H = _validation.as_square_matrix(H, "H", finite=False)  # finite: from max|H|, below
    n = H.shape[0]
    rtol = resolve_rtol(policy, atol=atol, rtol=rtol, n=n, dtype=H.dtype)
    sym, _ = _validation.symmetric_square(H, symmetry_rtol)  # H is checked square above
    return _decompose_symmetric(sym, atol, rtol)


@_backend.in_callers_kind("sym")
def decompose_symmetric(sym: ArrayLike, *, atol: float, rtol: float | None) -> Spectrum:
    """One ``eigh`` of a matrix already validated and exactly symmetric (no checks repeated).

    For callers that validated ``H`` at their own boundary with the same rules as
    :func:`decompose` (``hsc_step`` does, to read ``H`` once): ``sym`` must be the exactly
    symmetric matrix that check returned, and ``atol``/``rtol`` checked tolerances.

    Examples
    --------
    >>> import numpy as np
    >>> decompose_symmetric(np.diag([1.0, 0.0]), atol=0.0, rtol=None).rank
    1
    """
    return _decompose_symmetric(sym, atol, rtol)


def _decompose_symmetric(sym: np.ndarray, atol: float, rtol: float | None) -> Spectrum:
    """:func:`decompose_symmetric` of a NumPy matrix (the kernel, no checks)."""
    rtol = default_rtol(sym.shape[0], sym.dtype) if rtol is None else float(rtol)
    lam, q = _eigh(sym)
    return Spectrum(_read_only(lam), _read_only(q), atol, rtol, _cutoff(lam, atol, float(rtol)))


def _eigh(sym: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``numpy.linalg.eigh`` of a validated, exactly symmetric matrix, refused if not finite."""
    with np.errstate(over="ignore", invalid="ignore"):
        lam, q = np.linalg.eigh(sym)
    if not (_backend.all_finite(lam) and _backend.all_finite(q)):
        raise FloatingPointError(
            f"eigh returned non-finite values: an eigenvalue of H exceeds the largest "
            f"{sym.dtype} (max|H| = {float(np.abs(sym).max()):.3g}), or the solver failed"
        )
    return lam, q


def _read_only(a: np.ndarray) -> np.ndarray:
    """Mark a NumPy array read-only: a Spectrum is immutable."""
    a.flags.writeable = False
    return a
