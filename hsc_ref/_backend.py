"""Array-namespace dispatch: the only module that imports CuPy, and only lazily.

Models, losses and Hessians are NumPy on the CPU (autograd cannot trace CuPy arrays).
The linear algebra (``decompose``, corrections, steps, Gram matrices) accepts NumPy or
CuPy arrays and returns the caller's kind; it asks this module which namespace to use.
"""

from __future__ import annotations

import numbers
import os
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


def like(x: Any, reference: Any) -> Any:
    """``x`` as an array of the same kind (NumPy or CuPy) as ``reference``."""
    if is_cupy_array(reference):
        return namespace(reference).asarray(x)
    return to_numpy(x)


def all_finite(xp: ModuleType, x: Any) -> bool:
    """True when every entry of ``x`` is finite (a host bool, for either namespace)."""
    return bool(xp.isfinite(x).all())


# --------------------------------------------------------------------------- memory


def available_memory(xp: ModuleType = np) -> int | None:
    """Bytes of memory available to new allocations, or ``None`` when unknown.

    NumPy: ``MemAvailable`` from ``/proc/meminfo`` (Linux: free memory plus reclaimable
    caches), else ``os.sysconf`` free pages. CuPy: the current device's free memory plus
    what CuPy's memory pool holds unused.
    """
    if xp is not np:
        free, _total = xp.cuda.Device().mem_info
        return int(free) + int(xp.get_default_memory_pool().free_bytes())
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def check_fits(nbytes: int, what: str, max_bytes: int | None, xp: ModuleType = np) -> None:
    """Raise ``MemoryError`` before allocating when ``nbytes`` cannot fit.

    ``max_bytes=None`` compares with :func:`available_memory` of namespace ``xp`` (no check
    where that is unknown); an explicit ``max_bytes`` must be a positive integer.
    """
    if max_bytes is None:
        limit = available_memory(xp)
        source = "the available memory"
    else:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, numbers.Integral):
            raise TypeError(f"max_bytes must be an integer, got {type(max_bytes).__name__}")
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        limit, source = int(max_bytes), "max_bytes"
    if limit is not None and nbytes > limit:
        raise MemoryError(
            f"{what} needs about {nbytes / 2**30:.3g} GiB, more than {source} "
            f"({limit / 2**30:.3g} GiB); reduce n, or pass a larger max_bytes if you know "
            f"the memory is there"
        )


# --------------------------------------------------------------------------- symmetric part


def symmetric_part(H: Any, tile: int = 256) -> tuple[Any, float, float]:
    """Return ``(H + H^T) / 2``, ``max|H - H^T|`` and ``max|H|``.

    NumPy input is read tile by tile (``tile x tile`` blocks and their mirrors, in cache,
    instead of the strided transposes of the direct formula). An exactly symmetric ``H`` (the
    usual case: :func:`hsc_ref.derivatives.hessian` symmetrizes) is returned itself, not
    copied: callers must not modify the result. Otherwise a second tiled pass writes the
    symmetrized copy, bit-identical to ``0.5 * (H + H.T)``. CuPy input uses the formulas.
    """
    xp = namespace(H)
    if xp is not np:
        with np.errstate(over="ignore"):
            asym = float(xp.abs(H - H.T).max())
        return mean_of(H, H.T, xp), asym, float(xp.abs(H).max())
    n = H.shape[0]
    asym = scale = 0.0
    with np.errstate(over="ignore"):  # an overflowing difference is an infinite asymmetry
        for i in range(0, n, tile):
            for j in range(i, n, tile):
                upper = H[i : i + tile, j : j + tile]
                lower_t = H[j : j + tile, i : i + tile].T
                asym = max(asym, float(np.abs(upper - lower_t).max()))
                scale = max(scale, float(np.abs(upper).max()), float(np.abs(lower_t).max()))
    if asym == 0.0:
        return H, asym, scale
    out = np.empty_like(H)
    for i in range(0, n, tile):
        for j in range(i, n, tile):
            mean = mean_of(H[i : i + tile, j : j + tile], H[j : j + tile, i : i + tile].T, np)
            out[i : i + tile, j : j + tile] = mean
            out[j : j + tile, i : i + tile] = mean.T
    return out, asym, scale


def mean_of(a: Any, b: Any, xp: ModuleType) -> Any:
    """``(a + b) / 2`` without overflow: ``a / 2 + b / 2`` where the sum would overflow.

    Where ``a + b`` is finite, ``0.5 * (a + b)`` is the exactly rounded mean; halving first is
    exact too except for subnormal halves, so the fallback is used only where it is needed.
    """
    with np.errstate(over="ignore"):
        mean = 0.5 * (a + b)
    if not all_finite(xp, mean):
        mean = xp.where(xp.isfinite(mean), mean, 0.5 * a + 0.5 * b)
    return mean
