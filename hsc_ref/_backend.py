"""Array-namespace dispatch: the only module that imports CuPy, and only lazily.

Models, losses and Hessians are NumPy on the CPU (autograd cannot trace CuPy arrays).
The linear algebra (``decompose``, corrections, steps, Gram matrices) accepts NumPy or
CuPy arrays and returns the caller's kind; it asks this module which namespace to use.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

__all__: list[str] = []


def is_cupy_array(x: Any) -> bool:
    """True when ``x`` is a CuPy array, decided without importing CuPy."""
    return type(x).__module__.split(".")[0] == "cupy"


def namespace(x: Any) -> ModuleType:
    """Return ``cupy`` for CuPy arrays and ``numpy`` for everything else."""
    if is_cupy_array(x):
        import cupy  # noqa: PLC0415  (lazy: CuPy is an optional extra)

        return cupy
    return np


def to_numpy(x: Any) -> np.ndarray:
    """Copy a CuPy array to the host; return NumPy input unchanged."""
    if is_cupy_array(x):
        return x.get()
    return np.asarray(x)


def all_finite(xp: ModuleType, x: Any) -> bool:
    """True when every entry of ``x`` is finite (a host bool, for either namespace)."""
    return bool(xp.isfinite(x).all())
