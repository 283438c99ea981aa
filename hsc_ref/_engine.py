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
import functools
import platform
import types
from collections.abc import Callable
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


def first_trace(
    fun: Callable[[Any], Any], x: np.ndarray, copies: int
) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """The calling thread's trace over ``copies`` copies of ``x`` (:func:`_row_pass`) and the
    bytes of the arrays it holds (:func:`held_bytes`, not counting ``fun``'s own or ``x``):
    what each further thread's trace will need, known before the result is allocated."""
    rows_of = _row_pass(fun, x, copies)
    return rows_of, held_bytes(rows_of, exclude=(fun, x))


def _fill_rows(
    fun: Callable[[Any], Any],
    x: np.ndarray,
    H: np.ndarray,
    blocks: list,
    copies: int,
    *,
    rows_of: Callable[[np.ndarray], np.ndarray] | None = None,
) -> None:
    """Write the Hessian rows of each ``(start, stop)`` block (at most ``copies`` rows) into
    ``H``, all from one trace over ``copies`` copies of ``x``."""
    rows_of = _row_pass(fun, x, copies) if rows_of is None else rows_of
    for start, stop in blocks:
        H[start:stop] = rows_of(np.arange(start, stop))


def _fill_rows_in_threads(
    fun: Callable[[Any], Any],
    x: np.ndarray,
    H: np.ndarray,
    blocks: list,
    workers: int,
    *,
    first: Callable[[np.ndarray], np.ndarray] | None = None,
) -> None:
    """:func:`_fill_rows` with the blocks dealt to ``workers`` threads in turn.

    Every thread traces the same number of copies (the largest block), so a block's rows are the
    same arithmetic whichever thread computes it: the result does not depend on ``workers``. The
    calling thread computes the first share itself: one thread fewer to start, and from the main
    thread it allocates from glibc's main heap, which keeps freed memory better than the arenas of
    new threads (fewer page faults), with ``first``, its trace, when one is given. If a share
    raises, every thread is still waited for before the exception propagates.
    """
    copies = max(stop - start for start, stop in blocks)
    if workers == 1:
        _fill_rows(fun, x, H, blocks, copies, rows_of=first)
        return
    _autograd_ops.thread_safe_tracing()
    shares = [blocks[w::workers] for w in range(workers)]
    with ThreadPoolExecutor(workers - 1, thread_name_prefix="hsc_ref-hessian") as pool:
        futures = [pool.submit(_fill_rows, fun, x, H, share, copies) for share in shares[1:]]
        try:
            _fill_rows(fun, x, H, shares[0], copies, rows_of=first)
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


def held_bytes(root: Any, exclude: Any = None) -> int:
    """Bytes of the NumPy arrays reachable from ``root`` and not from ``exclude``.

    Walks what a trace keeps alive: functions' closures and defaults (never their globals),
    containers, and the slots and attributes of other objects (autograd's nodes and boxes),
    counting each array's memory once (a view counts its base). Arrays reachable from
    ``exclude`` (the user's function: its data and parameters exist before the trace) are not
    counted. Each of the two walks visits at most :data:`_WALK_LIMIT` objects, so a function
    that closes over a large object graph costs a bounded walk: past the limit the count is
    a lower bound, and more of ``exclude``'s arrays may be counted (an overestimate).
    """
    seen: set[int] = set()
    if exclude is not None:
        _walk(exclude, seen)
    return _walk(root, seen)


_WALK_LIMIT = 100_000
"""The most objects one walk of :func:`held_bytes` visits (a trace of a loss holds a few
thousand)."""


def _walk(root: Any, seen: set[int]) -> int:
    total, stack, visited = 0, [root], 0
    while stack and visited < _WALK_LIMIT:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _OPAQUE):
            continue
        seen.add(id(obj))
        visited += 1
        if isinstance(obj, np.ndarray):
            if obj.base is None:
                total += obj.nbytes
            else:
                stack.append(obj.base)
        elif isinstance(obj, types.FunctionType):
            stack += [c.cell_contents for c in obj.__closure__ or () if _filled(c)]
            stack += list(obj.__defaults__ or ())
        elif isinstance(obj, (tuple, list, set, frozenset)):
            stack += list(obj)
        elif isinstance(obj, dict):
            stack += list(obj.values())
        elif isinstance(obj, functools.partial):
            stack += [obj.func, *obj.args, *obj.keywords.values()]
        else:
            stack += [getattr(obj, s) for s in _slots(type(obj)) if hasattr(obj, s)]
            stack += list(getattr(obj, "__dict__", {}).values())
    return total


_OPAQUE = (type, types.ModuleType, types.BuiltinFunctionType, np.ufunc, str, bytes, int, float)
"""Objects the walk does not enter: they hold no trace arrays (and types lead everywhere)."""


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018  (an empty cell raises)
    except ValueError:
        return False
    return True


def _slots(cls: type) -> list[str]:
    return [s for klass in cls.__mro__ for s in getattr(klass, "__slots__", ())]


def _values_of_copies(fun: Callable[[Any], Any], X: Any) -> Any:
    """``fun(X)`` for a ``(k, n)`` stack, checked to hold one value per copy."""
    values = fun(X)
    if anp.shape(values) != (X.shape[0],):
        raise ValueError(
            f"fun must return one value per parameter copy on the batched route: shape "
            f"({X.shape[0]},) for input {X.shape}, got {anp.shape(values)}"
        )
    return values
