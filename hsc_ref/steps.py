"""Newton-type steps with spectral corrections: the HSC step by four routes, and matrix-free.

The HSC step is ``s = -lr * pinv(H + pinv(H)) g``. In exact arithmetic it equals
``-lr * Q diag(phi(lam)) Q^T g`` with ``phi(lam) = lam / (1 + lam^2)``, i.e.
``-lr * (I + H^2)^{-1} H g``: a ridge step with damping fixed at 1. Three routes compute it:

``"spectral"`` (the reference)
    one ``eigh`` of the symmetrized ``H``, then ``phi`` on the eigenvalues.
``"cholesky"`` (fast, no eigendecomposition)
    a Cholesky solve of ``(I + H^2) s = -lr * H g``. Relative error about
    ``n * eps * (1 + ||H||^2)`` with respect to ``lr * ||g||``: accurate while ``||H||`` is
    moderate, not for huge ``||H||``. One BLAS (SciPy's): ``syrk`` forms ``H^2`` (half the
    flops of a product), ``potrf`` factors, ``potrs`` solves: about ``(4/3) n^3`` flops.
``"auto"`` (the fast route with a documented fallback)
    ``"cholesky"`` unless its error bound ``n * eps * (1 + ||H||_inf^2)`` (``||H||_inf``, the
    largest absolute row sum, bounds ``||H||_2`` from above) exceeds ``cholesky_rtol``
    (default ``sqrt(eps)``: at least half the digits), or ``potrf`` reports that rounding
    made ``I + H^2`` indefinite; then ``"spectral"``. See :func:`auto_route`.
``"literal"`` (what naive code computes)
    ``pinvh(H + pinvh(H)) @ g`` with two cutoffs. Kept to reproduce such code; it fails when
    a tiny eigenvalue survives the first cutoff or a dropped one survives the second
    (see ``docs/math.md``).

Without a Hessian at all, :func:`matrix_free_hsc_step` solves ``(I + H^2) s = -lr H g`` by
conjugate gradients on exact Hessian-vector products, for problems too large for a dense
``H``. Optimizers built on these steps are in :mod:`hsc_ref.rules`.

The steps that take ``H`` (or a spectrum) and ``g`` accept the arrays of other array-API
libraries (PyTorch, JAX, CuPy, array-api-strict, ...): every route runs on NumPy copies, with
SciPy's BLAS and LAPACK, and the step comes back in the caller's namespace, dtype and device,
bit-identical to the step of the same values as NumPy arrays (see :mod:`hsc_ref._backend`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import scipy.linalg
import scipy.linalg.blas
import scipy.linalg.lapack
import scipy.sparse.linalg
from autograd.differential_operators import make_hvp
from scipy.sparse.linalg import LinearOperator

from hsc_ref import _backend, _validation
from hsc_ref._typing import Array, ArrayLike
from hsc_ref.corrections import Correction, _phi, get_correction
from hsc_ref.spectral import Spectrum, _eigh, default_rtol, resolve_rtol

__all__ = [
    "HSC_ROUTES",
    "spectral_step",
    "hsc_step",
    "cholesky_error_bound",
    "MatrixFreeStep",
    "matrix_free_hsc_step",
]

HSC_ROUTES = ("spectral", "cholesky", "auto", "literal")
"""Routes by which :func:`hsc_step` can compute the HSC step."""


def _check_lr(lr: float) -> float:
    return _validation.check_positive(lr, "lr")


@_backend.in_callers_kind("spectrum", "g")
def spectral_step(
    spectrum: Spectrum,
    g: ArrayLike,
    method: str | Correction = "hsc",
    *,
    lr: float = 1.0,
    **params: float,
) -> Array:
    """Newton-type step ``-lr * Q diag(c^+) Q^T g`` for a spectral correction ``c``.

    Parameters
    ----------
    spectrum : Spectrum
        Decomposition of ``H`` (reuse one for several methods).
    g : array, shape (n,) or (n, k)
        Gradient (or a block of gradients).
    method : str or Correction, default "hsc"
        Correction whose inverse map the step applies; for ``"hsc"`` that map is
        ``phi(lam) = lam / (1 + lam^2)`` on every eigenvalue.
    lr : float, default 1.0
        Positive step size.
    **params
        Parameters of the correction.

    Returns
    -------
    array
        The step, same shape as ``g``.

    Examples
    --------
    >>> import numpy as np
    >>> from hsc_ref.spectral import decompose
    >>> spectral_step(decompose(np.diag([1.0, 0.0])), np.array([1.0, 1.0]))
    array([-0.5, -0. ])
    """
    if not isinstance(spectrum, Spectrum):
        raise TypeError(
            f"spectrum must be a Spectrum (from decompose), got {type(spectrum).__name__}"
        )
    g = _validation.check_vector_for(g, spectrum.n, spectrum.dtype, "g")
    correction = get_correction(method, **params)
    lr = _check_lr(lr)
    return _spectral_step(spectrum, g, correction, lr)


def _spectral_step(spectrum: Spectrum, g: np.ndarray, correction: Correction, lr: float):
    """:func:`spectral_step` of a NumPy spectrum, a checked ``g`` and ``lr`` (no checks repeated).

    The correction's inverse values are still checked: a user's correction may return any
    array.
    """
    values = spectrum._check_values(correction.inverse_values(spectrum))
    with np.errstate(over="ignore"):  # checked below, with a message that names the cause
        step = -lr * spectrum._apply(values, g)
    return _finite(step, correction.name, lr)


def _finite(step: np.ndarray, name: str, lr: float) -> np.ndarray:
    """Refuse a step that overflowed, naming the correction and ``lr``."""
    if not _backend.all_finite(step):
        raise FloatingPointError(
            f"the {name} step is not finite (overflow): lr = {lr:.3g} times the "
            f"inverse-corrected gradient exceeds the largest {step.dtype} number"
        )
    return step


def _hsc_spectral_step(sym: np.ndarray, g: np.ndarray, lr: float) -> np.ndarray:
    """The spectral route of a validated, exactly symmetric ``sym`` and a checked ``g``.

    The same operations, in the same order, as ``spectral_step(decompose(sym), g)``
    (bit-identical), without building a :class:`Spectrum` or checking again: ``phi`` needs
    no cutoff. ``g`` may hold NaN or infinities, and ``eigh``'s output is not checked
    either: the step checks both. A non-finite entry of ``g`` or ``q``, or a NaN in ``lam``,
    makes a coefficient ``q^T g`` non-finite and with it an entry of the step (``inf * 0`` is
    NaN, never 0); an infinite eigenvalue, which ``phi`` would map to 0, is one of the sorted
    ends and checked there. Only a non-finite step is traced to its cause.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # checked below, naming the cause
        lam, q = np.linalg.eigh(sym)
        if not (math.isfinite(lam[0]) and math.isfinite(lam[-1])):
            _eigh(sym)  # raises, naming the cause
        phi = _phi(lam)
        coeffs = q.T @ g
        step = -lr * (q @ (coeffs * (phi if g.ndim == 1 else phi[:, None])))
    if not _backend.all_finite(step):
        _validation.as_real_array(g, "g")  # a non-finite g: raises, naming g
        _eigh(sym)  # a NaN from eigh: raises with its own message
        return _finite(step, "hsc", lr)  # else lr times the step overflowed: raises
    return step


@_backend.in_callers_kind("H", "g")
def hsc_step(
    H: ArrayLike,
    g: ArrayLike,
    *,
    lr: float = 1.0,
    route: str = "spectral",
    atol: float = 0.0,
    rtol: float | None = None,
    policy: str = "scipy",
    symmetry_rtol: float | None = None,
    cholesky_rtol: float | None = None,
) -> Array:
    """The HSC step ``-lr * pinv(H + pinv(H)) g`` by one of four routes.

    Parameters
    ----------
    H : array_like, shape (n, n)
        Symmetric matrix (checked, then symmetrized). Another array-API library's matrix
        (PyTorch, JAX, CuPy, ...) is read on a NumPy copy, by the same route.
    g : array_like, shape (n,) or (n, k)
        Gradient, of ``H``'s library (or NumPy).
    lr : float, default 1.0
        Positive step size.
    route : {"spectral", "cholesky", "auto", "literal"}
        See the module docstring; ``"spectral"`` is the reference, ``"auto"`` the fast
        route with its fallback rule (:func:`auto_route`).
    atol, rtol : float, optional
        Cutoff policy (SciPy ``pinvh``). The spectral and Cholesky routes do not depend on
        it (``phi`` is cutoff-free); the literal route applies it in both pseudo-inverses.
    policy : {"scipy", "golden"}, default "scipy"
        Named cutoff policy (:func:`hsc_ref.spectral.resolve_rtol`): ``"scipy"`` uses
        ``rtol`` (default ``n * eps``); ``"golden"`` the golden files' ``atol = 0``,
        ``rtol = 100 * n * eps`` (then ``atol`` and ``rtol`` must not be passed).
    symmetry_rtol : float, optional
        Relative symmetry tolerance, as in :func:`~hsc_ref.spectral.decompose`.
    cholesky_rtol : float, optional
        Route ``"auto"`` only: the largest :func:`cholesky_error_bound` for which it takes
        the Cholesky route; default ``sqrt(eps(H.dtype))``.

    Returns
    -------
    array
        The step, same shape as ``g``, of the inputs' library and device.
        ``||step|| <= lr * ||g|| / 2`` for the spectral route.

    Raises
    ------
    numpy.linalg.LinAlgError
        Route ``"cholesky"`` only, when rounding made ``I + H^2`` numerically indefinite
        (huge ``||H||``); ``"auto"`` falls back to ``"spectral"`` instead.

    Examples
    --------
    >>> import numpy as np
    >>> H = np.array([[2.0, 0.0], [0.0, 0.0]])
    >>> g = np.array([1.0, 1.0])
    >>> hsc_step(H, g)                    # phi(2) = 2/5, phi(0) = 0
    array([-0.4, -0. ])
    >>> np.allclose(hsc_step(H, g, route="cholesky"), hsc_step(H, g))
    True
    """
    lr = _check_lr(lr)
    if route not in HSC_ROUTES:
        raise ValueError(f"route must be one of {HSC_ROUTES}, got {route!r}")
    atol = _validation.check_tolerance(atol, "atol")
    rtol = None if rtol is None else _validation.check_tolerance(rtol, "rtol")
    H, _ = _validation.symmetric_matrix(H, symmetry_rtol)  # the one validating pass over H
    rtol = resolve_rtol(policy, atol=atol, rtol=rtol, n=H.shape[0], dtype=H.dtype)
    if route == "auto":  # check now: a bad value must not depend on which route runs
        cholesky_rtol = _cholesky_rtol(cholesky_rtol, H.dtype)
    spectral = route == "spectral"  # its step shows a non-finite g: checked there, at no cost
    g = _validation.as_real_array(g, "g", finite=not spectral)
    g = _validation.vector_shape_for(g, H.shape[0], H.dtype)
    if route == "literal":
        return _literal_step(H, g, lr, atol, rtol)
    if route == "cholesky" or (route == "auto" and _bound(H) <= cholesky_rtol):
        try:
            return _cholesky_step(H, g, lr)
        except np.linalg.LinAlgError:
            if route == "cholesky":
                raise
            # documented fallback of "auto": rounding made I + H^2 indefinite
    return _hsc_spectral_step(H, g, lr)  # phi is cutoff-free: atol and rtol do not enter


@_backend.in_callers_kind("H")
def cholesky_error_bound(H: ArrayLike) -> float:
    """Relative error bound ``n * eps * (1 + ||H||_inf^2)`` of the Cholesky route.

    ``||H||_inf`` is the largest absolute row sum, an upper bound of ``||H||_2`` that costs
    one pass over ``H``. The bound is relative to ``lr * ||g||``.

    Parameters
    ----------
    H : array_like, shape (n, n)
        Square matrix (NumPy, or another array-API library's).

    Returns
    -------
    float

    Notes
    -----
    The route forms ``A = I + H^2`` (entrywise error about ``n * eps * ||H||^2``) and solves
    with a backward-stable Cholesky factorization; ``A``'s eigenvalues are at least 1, so
    ``||A^{-1}|| <= 1`` and the error in ``s`` is about ``n * eps * (1 + ||H||^2)`` times
    ``||s|| <= lr * ||g|| / 2``, plus ``n * eps * ||H|| * lr * ||g||`` from ``H g``.

    Examples
    --------
    >>> import numpy as np
    >>> bound = cholesky_error_bound(np.diag([3.0, -1.0]))
    >>> bool(bound == 2 * np.finfo(float).eps * (1 + 3.0 ** 2))
    True
    """
    return _bound(_validation.as_square_matrix(H, "H"))


def _bound(H: ArrayLike) -> float:
    """:func:`cholesky_error_bound` of a validated matrix."""
    row_sum = float(np.abs(H).sum(axis=1).max())
    return H.shape[0] * float(np.finfo(H.dtype).eps) * (1.0 + row_sum * row_sum)


def _cholesky_rtol(cholesky_rtol: float | None, dtype: Any) -> float:
    if cholesky_rtol is None:
        return float(np.sqrt(np.finfo(dtype).eps))
    return _validation.check_tolerance(cholesky_rtol, "cholesky_rtol")


@_backend.in_callers_kind("H")
def auto_route(H: ArrayLike, *, cholesky_rtol: float | None = None) -> str:
    """The route ``hsc_step(route="auto")`` takes before trying: ``"cholesky"`` or ``"spectral"``.

    ``"cholesky"`` when :func:`cholesky_error_bound` is at most ``cholesky_rtol`` (default
    ``sqrt(eps(H.dtype))``, i.e. at least half the digits kept), else ``"spectral"``. A
    Cholesky factorization that fails at run time also falls back to ``"spectral"``.

    Examples
    --------
    >>> import numpy as np
    >>> auto_route(np.diag([3.0, -1.0])), auto_route(np.diag([1e8, 0.0]))
    ('cholesky', 'spectral')
    """
    H = _validation.as_square_matrix(H, "H")
    return "cholesky" if _bound(H) <= _cholesky_rtol(cholesky_rtol, H.dtype) else "spectral"


def _cholesky_step(H: ArrayLike, g: ArrayLike, lr: float) -> Array:
    """Solve ``(I + H^2) s = -lr H g`` by Cholesky (``I + H^2`` is SPD, eigenvalues >= 1).

    One BLAS/LAPACK (SciPy's) from ``syrk`` to ``potrs``, so that no call crosses to NumPy's
    own OpenBLAS and wakes its thread pool. ``H`` must be exactly symmetric (``syrk`` forms
    ``H H^T``). Raises ``LinAlgError`` when ``potrf`` fails.
    """
    syrk, symm = scipy.linalg.blas.get_blas_funcs(("syrk", "symm"), (H,))
    potrf, potrs = scipy.linalg.lapack.get_lapack_funcs(("potrf", "potrs"), (H,))
    H = H.T if H.flags.c_contiguous else H  # Fortran order for BLAS, no copy (H = H^T)
    a = syrk(1.0, H, lower=1)  # lower triangle of H H^T = H^2
    a[np.diag_indices_from(a)] += 1.0
    factor, info = potrf(a, lower=1, overwrite_a=1, clean=0)
    if info != 0:
        raise np.linalg.LinAlgError(
            f"Cholesky factorization of I + H^2 failed (potrf info = {info}): ||H|| is too "
            f"large for the Cholesky route; use route='spectral' or 'auto'"
        )
    block = g if g.ndim == 2 else g[:, None]
    rhs = symm(-lr, H, np.asfortranarray(block, dtype=H.dtype), lower=1)
    if not np.isfinite(rhs).all():  # the route's right-hand side overflowed, not the step
        raise np.linalg.LinAlgError(
            f"the Cholesky route's lr * H g overflows {H.dtype} (lr = {lr:.3g}, max|g| = "
            f"{float(np.abs(g).max()):.3g}, max|H| = {float(np.abs(H).max()):.3g}); use "
            f"route='spectral' or 'auto', which do not form it"
        )
    step, info = potrs(factor, rhs, lower=1, overwrite_b=1)
    if info != 0 or not np.isfinite(step).all():  # the factor of I + H^2 overflowed
        raise np.linalg.LinAlgError(
            f"Cholesky route gave non-finite values (potrs info = {info}): ||H|| is too large "
            f"for the Cholesky route; use route='spectral' or 'auto'"
        )
    return step if g.ndim == 2 else step[:, 0]


def _literal_step(
    H: ArrayLike, g: ArrayLike, lr: float, atol: float, rtol: float | None
) -> np.ndarray:
    """``-lr * pinvh(H + pinvh(H)) @ g`` with the same explicit tolerances in both."""
    rtol = default_rtol(H.shape[0], H.dtype) if rtol is None else rtol
    hc = H + scipy.linalg.pinvh(H, atol=atol, rtol=rtol)
    return -lr * (scipy.linalg.pinvh(hc, atol=atol, rtol=rtol) @ g)


# --------------------------------------------------------------------------- matrix-free


class MatrixFreeStep(NamedTuple):
    """A matrix-free HSC step with CG's convergence facts.

    Attributes
    ----------
    step : ndarray, shape (n,)
        The step (0 on coordinates that are not free).
    free : int
        Number of free coordinates.
    iterations : int
        CG iterations.
    relative_residual : float
        ``||(I + H^2) s + lr H g|| / ||lr H g||`` on the free coordinates.
    """

    step: np.ndarray
    free: int
    iterations: int
    relative_residual: float


def matrix_free_hsc_step(
    fun: Callable[[Any], Any],
    x: ArrayLike,
    *,
    lr: float = 1.0,
    free: Any = None,
    rtol: float = 1e-6,
    maxiter: int = 500,
) -> MatrixFreeStep:
    """The HSC step ``-lr (I + H^2)^{-1} H g`` by conjugate gradients on exact HVPs.

    No Hessian is formed: ``I + H^2`` (symmetric positive definite, eigenvalues ``>= 1``) is
    applied as ``v + H (H v)`` with two Hessian-vector products from
    :func:`autograd.differential_operators.make_hvp` (one forward trace per point). With
    ``free`` given, ``H`` and ``g`` are restricted to those coordinates (the other entries of
    the step are 0).

    Parameters
    ----------
    fun : callable
        Scalar function of a flat vector (autograd-traceable).
    x : array, shape (n,)
        Point.
    lr : float, default 1.0
        Step size.
    free : bool array, shape (n,), optional
        Coordinates to move (default all).
    rtol : float, default 1e-6
        CG stops when ``||r|| <= rtol ||b||``, ``b = -lr H g``. Because ``I + H^2 >= I``, the
        step's error is then at most ``rtol lr ||H g||`` in norm.
    maxiter : int, default 500
        CG iteration limit (CG needs about ``sqrt(1 + max lam^2)`` iterations per digit).

    Returns
    -------
    MatrixFreeStep

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda x: x[0] ** 2 - 3.0 * x[1] ** 2 + x[0] * x[1]
    >>> x = np.array([0.3, -0.2])
    >>> H = np.array([[2.0, 1.0], [1.0, -6.0]])
    >>> mf = matrix_free_hsc_step(f, x, rtol=1e-12)
    >>> bool(np.allclose(mf.step, hsc_step(H, H @ x), atol=1e-12))
    True
    """
    x = _validation.as_real_array(x, "x", ndim=1)
    lr = _validation.check_positive(lr, "lr")
    free = np.ones(x.shape[0], dtype=bool) if free is None else np.asarray(free, dtype=bool)
    if free.shape != x.shape:
        raise ValueError(f"free must have shape {x.shape}, got {free.shape}")
    hvp_full, grad = make_hvp(fun)(x)
    grad = np.asarray(grad)

    def hvp_free(v: np.ndarray) -> np.ndarray:
        full = np.zeros_like(x)
        full[free] = v.ravel()
        return np.asarray(hvp_full(full))[free]

    m = int(free.sum())
    step = np.zeros_like(x)
    if m == 0:
        return MatrixFreeStep(step, 0, 0, 0.0)
    b = -lr * hvp_free(grad[free])
    op = LinearOperator((m, m), matvec=lambda v: v.ravel() + hvp_free(hvp_free(v)), dtype=x.dtype)
    iterations = [0]

    def count(_: np.ndarray) -> None:
        iterations[0] += 1

    solution, _ = scipy.sparse.linalg.cg(
        op, b, rtol=rtol, atol=0.0, maxiter=maxiter, callback=count
    )
    b_norm = float(np.linalg.norm(b))
    residual = float(np.linalg.norm(op.matvec(solution) - b)) / b_norm if b_norm else 0.0
    step[free] = solution
    return MatrixFreeStep(step, m, iterations[0], residual)
