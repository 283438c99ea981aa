"""Public reference helpers for tests, in the spirit of ``autograd.test_util``.

Central finite differences give an independent check of exact derivatives; their error is
``O(h^2)`` truncation plus ``O(eps / h)`` (gradient) or ``O(eps / h^2)`` (Hessian) rounding.

The comparisons take arrays of any library: PyTorch tensors (also on a GPU, also when they
require grad: they are detached), JAX, CuPy and other array-API arrays are compared on NumPy
copies of their values.

:func:`reference_outputs` gives, for any symmetric matrix of the user's, every output a golden
matrix case has, with the golden files' tolerance, its reason and whether it is comparable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from hsc_ref import _backend, _tolerances, _validation

__all__ = [
    "central_difference_gradient",
    "central_difference_hessian",
    "Comparison",
    "compare_arrays",
    "assert_close",
    "ReferenceOutput",
    "reference_outputs",
]


def _step(h: float) -> float:
    return _validation.check_positive(h, "h")


def central_difference_gradient(fun: Callable[[Any], Any], x: Any, h: float = 1e-5) -> np.ndarray:
    """Gradient by central differences, ``(f(x + h e_i) - f(x - h e_i)) / (2h)``.

    Examples
    --------
    >>> import numpy as np
    >>> g = central_difference_gradient(lambda x: (x ** 3).sum(), np.array([1.0, 2.0]))
    >>> np.allclose(g, [3.0, 12.0], rtol=1e-8)
    True
    """
    _validation.check_callable(fun, "fun")
    x = _validation.as_real_array(x, "x", ndim=1).astype(np.float64)
    h = _step(h)
    eye = np.eye(x.shape[0]) * h
    return np.array([(float(fun(x + e)) - float(fun(x - e))) / (2 * h) for e in eye])


def central_difference_hessian(fun: Callable[[Any], Any], x: Any, h: float = 1e-4) -> np.ndarray:
    """Symmetric Hessian by second-order central differences of function values.

    ``H_ij ~ (f(x+h_i+h_j) - f(x+h_i-h_j) - f(x-h_i+h_j) + f(x-h_i-h_j)) / (4 h^2)``.

    Examples
    --------
    >>> import numpy as np
    >>> H = central_difference_hessian(lambda x: x[0] ** 2 * x[1], np.array([1.0, 3.0]))
    >>> np.allclose(H, [[6.0, 2.0], [2.0, 0.0]], atol=1e-6)
    True
    """
    _validation.check_callable(fun, "fun")
    x = _validation.as_real_array(x, "x", ndim=1).astype(np.float64)
    h = _step(h)
    n = x.shape[0]
    eye = np.eye(n) * h
    H = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            ei, ej = eye[i], eye[j]
            value = (
                float(fun(x + ei + ej))
                - float(fun(x + ei - ej))
                - float(fun(x - ei + ej))
                + float(fun(x - ei - ej))
            ) / (4 * h * h)
            H[i, j] = H[j, i] = value
    return H


# --------------------------------------------------------------------------- comparisons


class Comparison(NamedTuple):
    """Result of :func:`compare_arrays`.

    ``ok`` is the verdict and ``message`` says why.
    ``max_abs_err = max|actual - desired|``; ``max_rel_err = max_abs_err / max|desired|``
    (normwise, so well defined where ``desired`` has exact zeros; ``inf`` when ``desired``
    is all zeros and ``actual`` is not); ``worst_excess`` is the largest
    ``|actual - desired| / (atol + rtol |desired|)`` (``<= 1`` passes); ``index`` is where.
    """

    ok: bool
    max_abs_err: float
    max_rel_err: float
    worst_excess: float
    index: tuple[int, ...]
    message: str


def compare_arrays(actual: Any, desired: Any, *, rtol: float, atol: float) -> Comparison:
    """Compare elementwise: ``|actual - desired| <= atol + rtol * |desired|`` everywhere.

    Shapes must agree exactly (no broadcasting); NaN or inf in ``actual`` fails. Integers
    are compared exactly, complex values with their imaginary parts (``|a - d|`` is the
    modulus); a complex ``actual`` fails where ``desired`` is real. ``actual`` and
    ``desired`` may be of any array library and device (a torch tensor that requires grad,
    a JAX or CuPy array, NumPy): their values are compared on the host.

    Examples
    --------
    >>> import numpy as np
    >>> c = compare_arrays(np.array([1.0, 2.0 + 1e-9]), np.array([1.0, 2.0]), rtol=0, atol=1e-8)
    >>> c.ok, c.max_abs_err < 1e-8
    (True, True)
    >>> compare_arrays(np.zeros(3), np.zeros(2), rtol=0, atol=1).message
    'shape (3,) differs from the expected (2,)'
    """
    rtol = _validation.check_tolerance(rtol, "rtol")
    atol = _validation.check_tolerance(atol, "atol")
    a, d = _backend.to_numpy(actual), _backend.to_numpy(desired)
    for what, arr in (("actual", a), ("desired", d)):
        if arr.dtype.hasobject or arr.dtype.kind not in _NUMERIC_KINDS:
            msg = f"{what} dtype {arr.dtype} is not real or complex"
            return Comparison(False, math.inf, math.inf, math.inf, (), msg)
    if a.dtype.kind == "c" and d.dtype.kind != "c":
        msg = f"dtype {a.dtype} is not real: the expected values are real ({d.dtype})"
        return Comparison(False, math.inf, math.inf, math.inf, (), msg)
    if a.shape != d.shape:
        msg = f"shape {a.shape} differs from the expected {d.shape}"
        return Comparison(False, math.inf, math.inf, math.inf, (), msg)
    if a.size == 0:
        return Comparison(True, 0.0, 0.0, 0.0, (), "empty")
    if not np.isfinite(a).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        return Comparison(False, math.inf, math.inf, math.inf, index, f"non-finite at {index}")
    err, magnitude = _errors(a, d)
    allowed = atol + rtol * magnitude
    with np.errstate(divide="ignore", invalid="ignore"):
        excess = np.where(err == 0, 0.0, err / allowed)
    flat = int(np.argmax(excess))
    index = tuple(int(i) for i in np.unravel_index(flat, a.shape))
    max_abs = float(err.max())
    scale = float(magnitude.max())
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else math.inf)
    worst = float(excess.ravel()[flat])
    ok = worst <= 1.0
    message = (
        "within tolerance"
        if ok
        else f"|actual - desired| = {float(err.ravel()[flat]):.3g} at {index} exceeds "
        f"atol + rtol*|desired| = {atol:.3g} + {rtol:.3g}*{float(magnitude.ravel()[flat]):.3g} "
        f"(actual {_exact(a.ravel()[flat])}, desired {_exact(d.ravel()[flat])})"
    )
    return Comparison(ok, max_abs, max_rel, worst, index, message)


_NUMERIC_KINDS = "biufc"


def _errors(a: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``|a - d|`` and ``|d|`` as float64, exact for integers and complete for complex values.

    Integers are subtracted as Python integers (``2**62`` and ``2**62 + 1`` differ by 1, which
    float64 would lose); complex values keep their imaginary parts (a game Jacobian's
    eigenvalues are complex).
    """
    if a.dtype.kind in "biu" and d.dtype.kind in "biu":
        diff = np.asarray(np.abs(a.astype(object) - d.astype(object)), dtype=object)
        magnitude = np.asarray(np.abs(d.astype(object)), dtype=object)
        return diff.astype(np.float64), magnitude.astype(np.float64)
    kind = np.complex128 if "c" in (a.dtype.kind, d.dtype.kind) else np.float64
    a, d = a.astype(kind), d.astype(kind)
    return np.abs(a - d), np.abs(d)


def _exact(value: Any) -> str:
    """A value with every digit: integers as they are, floats to 17 significant digits."""
    if isinstance(value, (np.integer, int, np.bool_)):
        return str(int(value))
    if isinstance(value, (complex, np.complexfloating)):
        return f"{complex(value):.17g}"
    return f"{float(value):.17g}"


def assert_close(
    actual: Any, desired: Any, *, rtol: float, atol: float, reason: str, name: str = "array"
) -> Comparison:
    """Raise ``AssertionError`` unless ``|actual - desired| <= atol + rtol |desired|`` everywhere.

    Parameters
    ----------
    actual, desired : array_like
        Same shape; ``desired`` is the reference. Of any array library and device (see
        :func:`compare_arrays`).
    rtol, atol : float
        Non-negative tolerances.
    reason : str
        Why these tolerances (how they were derived); repeated in the failure message.
    name : str
        What is compared, for the message.

    Returns
    -------
    Comparison
        The errors, when the assertion holds.

    Examples
    --------
    >>> import numpy as np
    >>> assert_close(np.ones(2), np.ones(2) + 1e-15, rtol=0, atol=4.4e-16 * 10,
    ...              reason="10 ulp of 1").ok
    True
    >>> assert_close(np.ones(2), 2 * np.ones(2), rtol=0, atol=1e-12, reason="exact",
    ...              name="x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    AssertionError: x: max abs err 1, max rel err 0.5; |actual - desired| = 1 at (0,) exceeds ...
    """
    result = compare_arrays(actual, desired, rtol=rtol, atol=atol)
    if not result.ok:
        raise AssertionError(
            f"{name}: max abs err {result.max_abs_err:.3g}, max rel err "
            f"{result.max_rel_err:.3g}; {result.message}; tolerance rtol={rtol:.3g}, "
            f"atol={atol:.3g} because: {reason}"
        )
    return result


# --------------------------------------------------------------------------- reference outputs


@dataclass(frozen=True, eq=False)
class ReferenceOutput:
    """One reference output of :func:`reference_outputs`, with its tolerance and why.

    ``|actual - value| <= atol + rtol * |value|`` elementwise must hold when ``comparable``
    is true; when it is false no agreement can be expected at ``precision`` (``reason``
    says why, e.g. an eigenvalue within rounding of the cutoff) and the output must be
    skipped, as the golden checker reports it "not comparable".

    Attributes
    ----------
    name : str
        The golden output name (``"eigenvalues"``, ``"pinv"``, ``"hc"``, ``"rank"``,
        ``"step"``, ``"step_cholesky"``, ``"step_literal"``).
    value : ndarray
        The reference value, float64 (``rank``: an int64 scalar).
    rtol, atol : float
        The tolerance at ``precision``.
    comparable : bool
        Whether agreement can be expected at ``precision`` at all.
    reason : str
        How the tolerance was derived (the formula with its numbers), or why not comparable.
    precision : str
        The implementation's precision these tolerances are for.
    """

    name: str
    value: np.ndarray
    rtol: float
    atol: float
    comparable: bool
    reason: str
    precision: str

    def compare(self, actual: Any) -> Comparison:
        """:func:`compare_arrays` of ``actual`` with :attr:`value` under this tolerance.

        Parameters
        ----------
        actual : array_like
            The implementation's output (NumPy, PyTorch, JAX or CuPy).

        Returns
        -------
        Comparison
            The verdict; it is meaningful only when :attr:`comparable` is true.
        """
        return compare_arrays(_as_numpy(actual), self.value, rtol=self.rtol, atol=self.atol)


def reference_outputs(
    H: Any, g: Any = None, lr: float = 1.0, dtype: Any = "float64"
) -> Mapping[str, ReferenceOutput]:
    """Every golden output for the user's own symmetric matrix, with tolerances and reasons.

    The outputs, reference values and tolerances of a golden matrix case
    (``docs/validating.md``, sections 2 and 4), derived by the same code that writes the
    golden files: eigenvalues, ``H^+``, ``Hc = H + H^+`` and the rank under the golden cutoff
    policy (``atol = 0``, ``rtol = 100 * n * eps(dtype)``, i.e.
    ``hsc_ref.correct(H, policy="golden")``), and, with ``g``, the HSC step by the spectral,
    Cholesky and literal routes.

    Parameters
    ----------
    H : array_like, shape (n, n)
        Real symmetric matrix: NumPy, or a PyTorch, JAX or CuPy array (copied to NumPy; a
        tensor that requires grad is detached). The reference computes in float64 from it.
    g : array_like, shape (n,), optional
        Gradient; without it the step outputs are left out.
    lr : float, default 1.0
        Positive step size of the steps.
    dtype : {"float64", "float32"} or dtype, default "float64"
        The precision the implementation computes in. The reference applies that
        precision's golden cutoff (what a correct implementation at ``dtype`` must give,
        computed in float64) and the tolerances are that precision's.

    Returns
    -------
    Mapping of str to ReferenceOutput
        Read-only, in the golden order: ``eigenvalues``, ``pinv``, ``hc``, ``rank``, then
        ``step``, ``step_cholesky``, ``step_literal`` when ``g`` is given.

    Raises
    ------
    TypeError, ValueError
        If ``H`` is not a finite real symmetric square matrix, ``g`` not a finite vector of
        length ``n``, ``lr`` not positive or ``dtype`` not float64 or float32.

    Examples
    --------
    >>> import numpy as np
    >>> H = np.diag([2.0, -1.0, 0.0])
    >>> ref = reference_outputs(H, g=np.ones(3), lr=0.5)
    >>> list(ref)
    ['eigenvalues', 'pinv', 'hc', 'rank', 'step', 'step_cholesky', 'step_literal']
    >>> ref["rank"].value, ref["pinv"].comparable
    (np.int64(2), True)
    >>> ref["step"].compare(-0.5 * np.array([0.4, -0.5, 0.0])).ok   # phi(2), phi(-1), phi(0)
    True
    >>> near = np.diag([1.0, 1.02 * 100 * 3 * np.finfo(float).eps, 0.0])  # at the cutoff
    >>> reference_outputs(near)["pinv"].comparable
    False
    """
    precision = _precision(dtype)
    h = _validation.as_square_matrix(_as_numpy(H, "H"), "H")
    symmetry_rtol = float(np.sqrt(np.finfo(h.dtype).eps))  # the input's, as in decompose
    h, _ = _validation.symmetric_matrix(h.astype(np.float64, copy=False), symmetry_rtol)
    lr = _validation.check_positive(lr, "lr")
    if g is not None:
        g = _validation.check_vector_for(_as_numpy(g, "g"), h.shape[0], np.float64)
        if g.ndim != 1:
            raise ValueError(f"g must have shape ({h.shape[0]},), got {g.shape}")
    outputs, tols = _tolerances.matrix_reference(h, g, lr, policy=precision)
    return MappingProxyType(
        {
            name: ReferenceOutput(
                name, value, tol.rtol, tol.atol, tol.comparable, tol.reason, precision
            )
            for name, value in outputs.items()
            for tol in (tols[name][precision],)
        }
    )


def _precision(dtype: Any) -> str:
    """The precision name of ``dtype`` (NumPy, JAX or PyTorch), which must be float64/float32."""
    try:
        name = np.dtype(dtype).name
    except TypeError:  # torch.float32 is no NumPy dtype; its name is its last part
        name = str(dtype).rsplit(".", 1)[-1]
    if name not in _tolerances.PRECISIONS:
        raise ValueError(f"dtype must be one of {_tolerances.PRECISIONS}, got {dtype!r}")
    return name


def _as_numpy(x: Any, name: str = "array") -> Any:
    """A NumPy view or copy of a NumPy, PyTorch, JAX, CuPy or array-API array (``None`` as is).

    The conversion is :func:`hsc_ref._backend.to_numpy`, the package's one place that knows
    other libraries' arrays (a tensor is detached and copied to the host); this only names
    the argument when the value is no array at all. Validation is the caller's.
    """
    if x is None:
        return x
    try:
        return _backend.to_numpy(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array, got {type(x).__name__}: {exc}") from exc
