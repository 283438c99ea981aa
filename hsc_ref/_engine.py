"""The batched exact-Hessian engine: row blocks from reverse passes over one shared trace.

Private; :func:`hsc_ref.derivatives.hessian` is the public entry point. The gradient of the
user's function over ``k`` copies of ``x`` is traced once (primal and first reverse pass);
each reverse pass over that trace then gives ``k`` Hessian rows. Blocks can be dealt to
threads (NumPy releases the GIL in its array work), each with its own trace, with autograd's
trace counter made per-thread first. Also the opt-in glibc allocator setting
:func:`keep_freed_memory` (re-exported by ``hsc_ref.derivatives``).
"""

from __future__ import annotations

import ctypes
import platform
import threading
import tracemalloc
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np

from hsc_ref import _autograd_ops

__all__ = ["keep_freed_memory"]


_MALLOPT = {"trim_threshold": -1, "mmap_threshold": -3, "arenas": -8}  # glibc's numbers


def keep_freed_memory(
    trim_threshold: int = 2**30, mmap_threshold: int = 2**30, arenas: int | None = 1
) -> None:
    """Make glibc's ``malloc`` keep freed memory for reuse (process-wide, opt-in, permanent).

    The batched Hessian route allocates and frees hundreds of MiB of temporaries per block
    of rows. glibc's default thresholds return much of that to the operating system, and the
    next block takes it back one page fault at a time (up to half the time, see
    ``docs/benchmarks.md``). This calls ``mallopt`` so that allocations below
    ``mmap_threshold`` bytes come from the heap, up to ``trim_threshold`` free bytes stay
    with the process, and all threads share ``arenas`` heaps (a worker thread's own arena
    is otherwise mapped and unmapped in pieces). It speeds up every library in the process
    that allocates large arrays (PyTorch too), at the cost of resident memory that is not
    returned. One arena also serializes the allocations of threads that allocate at once: in
    ``docs/benchmarks.md`` JAX's median got slower with it (``arenas=None`` leaves glibc's
    arenas alone). It cannot be undone (glibc then stops adapting its thresholds); the
    variables ``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_ARENA_MAX``
    set the same at start-up.

    Parameters
    ----------
    trim_threshold : int, default 1 GiB
        Free bytes at the top of the heap kept before ``malloc`` gives memory back.
    mmap_threshold : int, default 1 GiB
        Allocations of at least this many bytes get their own mapping (returned on free).
    arenas : int or None, default 1
        Most heaps (arenas) that threads allocate from; ``None`` keeps glibc's default
        (8 per core).

    Raises
    ------
    ValueError
        If a value is not a positive integer below 2**31.
    OSError
        If the C library is not glibc, or ``mallopt`` refuses a value.

    Examples
    --------
    >>> import platform
    >>> if platform.libc_ver()[0] == "glibc":
    ...     keep_freed_memory()
    """
    settings = {"trim_threshold": trim_threshold, "mmap_threshold": mmap_threshold}
    if arenas is not None:
        settings["arenas"] = arenas
    for name, value in settings.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
            raise ValueError(f"{name} must be a positive integer below 2**31, got {value!r}")
    if platform.libc_ver()[0] != "glibc":
        raise OSError(f"keep_freed_memory needs glibc, got C library {platform.libc_ver()!r}")
    libc = ctypes.CDLL(None)
    for name, value in settings.items():
        if libc.mallopt(ctypes.c_int(_MALLOPT[name]), ctypes.c_int(value)) != 1:
            raise OSError(f"glibc mallopt refused {name} = {value}")


def _check_workers(workers: Any) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    return workers


def _fill_rows(
    fun: Callable[[Any], Any], x: np.ndarray, H: np.ndarray, blocks: list, copies: int
) -> None:
    """Write the Hessian rows of each ``(start, stop)`` block (at most ``copies`` rows) into
    ``H``, all from one trace over ``copies`` copies of ``x``."""
    rows_of = _row_pass(fun, x, copies)
    for start, stop in blocks:
        H[start:stop] = rows_of(np.arange(start, stop))


def _fill_rows_in_threads(
    fun: Callable[[Any], Any], x: np.ndarray, H: np.ndarray, blocks: list, workers: int
) -> None:
    """:func:`_fill_rows` with the blocks dealt to ``workers`` threads in turn.

    Every thread traces the same number of copies (the largest block), so a block's rows are the
    same arithmetic whichever thread computes it: the result does not depend on ``workers``. The
    calling thread computes the first share itself: one thread fewer to start, and from the main
    thread it allocates from glibc's main heap, which keeps freed memory better than the arenas of
    new threads (fewer page faults). If a share raises, every thread is still waited for
    before the exception propagates.
    """
    copies = max(stop - start for start, stop in blocks)
    if workers == 1:
        _fill_rows(fun, x, H, blocks, copies)
        return
    _autograd_ops.thread_safe_tracing()
    shares = [blocks[w::workers] for w in range(workers)]
    with ThreadPoolExecutor(workers - 1, thread_name_prefix="hsc_ref-hessian") as pool:
        futures = [pool.submit(_fill_rows, fun, x, H, share, copies) for share in shares[1:]]
        try:
            _fill_rows(fun, x, H, shares[0], copies)
        finally:  # wait for every thread; re-raise the first exception, if any
            for future in futures:
                future.result()


def _symmetrize_inplace(H: np.ndarray, tile: int = 256) -> np.ndarray:
    """``H <- (H + H^T) / 2`` tile by tile (bit-identical, no second n x n temporary)."""
    n = H.shape[0]
    for i in range(0, n, tile):
        for j in range(i, n, tile):
            upper = H[i : i + tile, j : j + tile]
            lower = H[j : j + tile, i : i + tile]
            mean = 0.5 * (upper + lower.T)
            upper[...] = mean
            lower[...] = mean.T
    return H


def _row_pass(
    fun: Callable[[Any], Any], x: np.ndarray, k: int
) -> Callable[[np.ndarray], np.ndarray]:
    """``rows_of(index)``: Hessian rows ``index`` (at most ``k``), each call one reverse pass.

    The gradient of ``fun`` over ``k`` equal copies of ``x`` is traced once (its primal and
    first reverse pass, the same for every copy); each call of ``rows_of`` runs the reverse
    pass of that trace seeded with unit rows (the rows ``index`` of the identity, zero rows
    after them), so the trace is shared by every block instead of rebuilt for each.
    """
    n = x.shape[0]
    copies = np.broadcast_to(x, (k, n)).copy()
    grad_of_copies = autograd.grad(lambda X: anp.sum(_values_of_copies(fun, X)))
    reverse_pass, _ = autograd.make_vjp(grad_of_copies)(copies)

    def rows_of(index: np.ndarray) -> np.ndarray:
        seeds = np.zeros((k, n), dtype=x.dtype)
        seeds[np.arange(index.shape[0]), index] = 1.0
        return np.asarray(reverse_pass(seeds))[: index.shape[0]]

    return rows_of


_TRACE_BYTES: OrderedDict[Hashable, int] = OrderedDict()
"""Measured bytes per traced copy, by :func:`_trace_key`, the most recent last."""

_TRACE_BYTES_KEPT = 256
"""How many measurements :data:`_TRACE_BYTES` keeps."""

_TRACE_BYTES_LOCK = threading.Lock()
"""Held while :data:`_TRACE_BYTES` is read or written (not while a trace is measured)."""


def trace_bytes_per_copy(fun: Callable[[Any], Any], x: np.ndarray) -> int:
    """Bytes the route's trace keeps per copy of ``x``, measured once per kind of function.

    The trace over one copy is built and one reverse pass run under ``tracemalloc`` (which
    counts NumPy's arrays); the memory still held while the trace is alive is the cost of one
    copy, its small fixed part included (an upper bound: the trace grows linearly with its
    copies). The figure is kept per function code, the shapes and dtypes of the arrays its
    closure and defaults hold, the order and the dtype of ``x`` (:func:`_trace_key`), so a
    training loop pays it once even when it builds a new ``lambda t: loss(t, batch)`` for
    every batch of one size. A ``tracemalloc`` session the caller started is read, not
    stopped or reset.
    """
    key = _trace_key(fun, x)
    with _TRACE_BYTES_LOCK:
        if key in _TRACE_BYTES:
            _TRACE_BYTES.move_to_end(key)
            return _TRACE_BYTES[key]
    measured = _measure_trace(fun, x)
    with _TRACE_BYTES_LOCK:
        _TRACE_BYTES[key] = measured
        while len(_TRACE_BYTES) > _TRACE_BYTES_KEPT:
            _TRACE_BYTES.popitem(last=False)
    return measured


def _trace_key(fun: Callable[[Any], Any], x: np.ndarray) -> Hashable:
    """What a trace's size depends on: the code, its captured arrays' shapes, ``x``'s kind.

    A plain function is known by its code and by what its closure cells and defaults hold:
    an array by its shape and dtype (the data of one batch size), an int, a float or a bool by
    its type, anything else (a model, another function) by its identity. Any other callable
    is known by its identity.
    """
    code = getattr(fun, "__code__", None)
    if code is None:
        return ("callable", id(fun), x.shape[0], x.dtype.str)
    captured = [cell.cell_contents for cell in fun.__closure__ or ()]
    captured += list(getattr(fun, "__defaults__", None) or ())
    return ("function", code, tuple(map(_captured_key, captured)), x.shape[0], x.dtype.str)


def _captured_key(value: Any) -> Hashable:
    if isinstance(value, np.ndarray):
        return ("array", value.shape, value.dtype.str)
    if isinstance(value, (bool, int, float)):
        return type(value).__name__
    return ("object", id(value))


def _measure_trace(fun: Callable[[Any], Any], x: np.ndarray) -> int:
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        rows_of = _row_pass(fun, x, 1)
        rows_of(np.arange(1))
        held = tracemalloc.get_traced_memory()[0] - before
        del rows_of
        return max(0, held)
    finally:
        if not tracing:
            tracemalloc.stop()


def _values_of_copies(fun: Callable[[Any], Any], X: Any) -> Any:
    """``fun(X)`` for a ``(k, n)`` stack, checked to hold one value per copy."""
    values = fun(X)
    if anp.shape(values) != (X.shape[0],):
        raise ValueError(
            f"fun must return one value per parameter copy on the batched route: shape "
            f"({X.shape[0]},) for input {X.shape}, got {anp.shape(values)}"
        )
    return values
