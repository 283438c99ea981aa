"""Argument checks shared by the public functions: each raises a message naming the rule."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from hsc_ref import _backend

__all__: list[str] = []

_FLOAT_KINDS = "f"
_ACCEPTED_INT_KINDS = "iu"


def as_real_array(x: Any, name: str, *, ndim: int | None = None, finite: bool = True) -> Any:
    """Return ``x`` as a finite, non-empty, real floating NumPy array.

    Integer arrays are converted to float64; float32 and float64 are kept; bool, complex,
    object, string, float16 and longdouble inputs raise ``TypeError``; NaN, inf and empty
    arrays raise ``ValueError``. Another library's array raises ``TypeError`` saying how to
    pass it as NumPy: the functions that accept such arrays convert them before this check
    (see :mod:`hsc_ref._backend`). ``finite=False`` leaves the finiteness check to a caller
    that reads every entry anyway (:func:`symmetric_matrix` checks ``max|H|``).
    """
    if type(x) is np.ndarray:  # the common case: neither a subclass nor another library's
        pass
    elif isinstance(x, (np.matrix, np.ma.MaskedArray)):
        raise TypeError(
            f"{name} must be a plain ndarray, got {type(x).__name__} (np.matrix changes the "
            f"meaning of * and of shapes, a mask would be ignored): pass np.asarray(...) of "
            f"the values you mean"
        )
    elif not isinstance(x, np.ndarray) and _backend.is_foreign(x):
        raise TypeError(_backend.numpy_only(x, name))
    if not hasattr(x, "dtype"):
        if isinstance(x, (str, bytes)) or x is None:
            raise TypeError(f"{name} must be a real floating-point array, got {type(x).__name__}")
        try:
            x = np.asarray(x)
        except (ValueError, TypeError) as exc:  # ragged nested lists
            raise TypeError(f"{name} must be a real floating-point array, got {exc}") from exc
    kind = x.dtype.kind
    if kind in _ACCEPTED_INT_KINDS:
        x = x.astype(np.float64)
    elif kind != _FLOAT_KINDS or x.dtype.itemsize not in (4, 8):
        raise TypeError(
            f"{name} must be a real floating-point array (float32 or float64), got dtype {x.dtype}"
        )
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got {x.ndim}-D array of shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {x.shape}")
    if finite and not _backend.all_finite(x):
        raise _not_finite(name)
    return x


def _not_finite(name: str) -> ValueError:
    return ValueError(f"{name} must be finite, got NaN or inf entries")


def as_square_matrix(x: Any, name: str = "H", *, finite: bool = True) -> Any:
    """Validate a finite, real, non-empty square 2-D array (``finite=False``: not finite)."""
    x = as_real_array(x, name, ndim=2, finite=finite)
    if x.shape[0] != x.shape[1]:
        raise ValueError(f"{name} must be square, got shape {x.shape}")
    return x


def check_symmetric(x: Any, rtol: float, name: str = "H") -> None:
    """Raise unless ``max|x - x.T| <= rtol * max|x|`` (a relative symmetry test)."""
    with np.errstate(over="ignore"):  # x - x.T may overflow: inf is then the right verdict
        asym = float(np.abs(x - x.T).max())
    scale = float(np.abs(x).max())
    if asym > rtol * scale:
        raise ValueError(
            f"{name} must be symmetric: max|{name} - {name}.T| = {asym:.3g} exceeds "
            f"symmetry_rtol * max|{name}| = {rtol:.3g} * {scale:.3g}; pass a symmetric matrix, "
            f"symmetrize it yourself, or raise symmetry_rtol if the asymmetry is rounding"
        )


def check_tolerance(value: Any, name: str) -> float:
    """Return ``value`` as a float after checking it is a finite, non-negative real number."""
    if type(value) is float and 0.0 <= value < math.inf:  # the common case, at no cost
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite non-negative number, got {value}")
    return value


def check_count(value: Any, name: str, *, minimum: int = 0) -> int:
    """Return ``value`` as an int after checking it is an integer ``>= minimum`` (not a bool).

    The one integer check of the package: counts, sizes, steps and seeds.
    """
    rule = {0: "a non-negative integer", 1: "a positive integer"}.get(
        minimum, f"an integer >= {minimum}"
    )
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return int(value)


def check_callable(value: Any, name: str, *, optional: bool = False) -> Any:
    """Return ``value`` after checking it is callable (or None, when ``optional``).

    Examples
    --------
    >>> check_callable(len, "fun") is len
    True
    >>> check_callable("f", "callback", optional=True)
    Traceback (most recent call last):
    ...
    TypeError: callback must be callable or None, got str
    """
    if value is None and optional:
        return None
    if not callable(value):
        rule = "callable or None" if optional else "callable"
        raise TypeError(f"{name} must be {rule}, got {type(value).__name__}")
    return value


def check_positive(value: Any, name: str) -> float:
    """Return ``value`` as a float after checking it is a finite, positive real number."""
    value = check_tolerance(value, name)
    if value == 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


def symmetric_matrix(H: Any, symmetry_rtol: float | None, name: str = "H") -> tuple[Any, float]:
    """Validate a symmetric matrix once and return ``((H + H^T) / 2, max|H|)``.

    The boundary check of every function that takes a symmetric matrix: finite, real, square,
    and ``max|H - H^T| <= symmetry_rtol * max|H|`` (default ``sqrt(eps(H.dtype))``). An exactly
    symmetric ``H`` is returned itself, not copied; the symmetrization cannot overflow.
    """
    return symmetric_square(as_square_matrix(H, name, finite=False), symmetry_rtol, name)


_DEFAULT_SYMMETRY_RTOL = {np.dtype(t): float(np.sqrt(np.finfo(t).eps)) for t in ("f4", "f8")}
"""``sqrt(eps)`` of each accepted dtype, the default ``symmetry_rtol``."""


def symmetric_square(H: Any, symmetry_rtol: float | None, name: str = "H") -> tuple[Any, float]:
    """:func:`symmetric_matrix` of a matrix :func:`as_square_matrix` returned (finite or not:
    ``max|H|``, read here, is finite exactly when every entry is)."""
    if symmetry_rtol is None:
        symmetry_rtol = _DEFAULT_SYMMETRY_RTOL[H.dtype]
    symmetry_rtol = check_tolerance(symmetry_rtol, "symmetry_rtol")
    sym, asym, scale = _backend.symmetric_part(H)  # tiled: check, then symmetrize if needed
    if not math.isfinite(scale):  # a NaN or an infinity anywhere makes max|H| one
        raise _not_finite(name)
    if asym > symmetry_rtol * scale:
        check_symmetric(H, symmetry_rtol, name)  # raises, with the rule in the message
    return sym, scale


def check_vector_for(g: Any, n: int, dtype: Any, name: str = "g") -> Any:
    """Validate a gradient-like vector of length ``n`` (or an ``(n, k)`` block) for a matrix."""
    return vector_shape_for(as_real_array(g, name), n, dtype, name)


def vector_shape_for(g: Any, n: int, dtype: Any, name: str = "g") -> Any:
    """:func:`check_vector_for` of an array :func:`as_real_array` already returned."""
    if g.ndim not in (1, 2) or g.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) or ({n}, k) to match H, got {g.shape}")
    if g.dtype == dtype:
        return g
    return g.astype(np.result_type(g.dtype, dtype), copy=False)
