"""Public reference helpers for tests, in the spirit of ``autograd.test_util``.

Central finite differences give an independent check of exact derivatives; their error is
``O(h^2)`` truncation plus ``O(eps / h)`` (gradient) or ``O(eps / h^2)`` (Hessian) rounding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from hsc_ref import _validation

__all__ = ["central_difference_gradient", "central_difference_hessian"]


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
