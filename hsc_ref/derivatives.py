"""Exact derivatives with autograd over a documented flat parameter layout.

Flat layout (``docs/design.md``, "The flat parameter layout"; :mod:`hsc_ref.layout`): a
model's parameters are a list of layers ``[(W, b), ...]`` with ``W`` of shape
``(fan_in, fan_out)`` and ``y = x @ W + b``. The flat vector concatenates, layer by layer,
``W.ravel()`` (C order) then ``b``. General nests of lists, tuples and dicts
(keys in sorted order) of arrays flatten the same way, depth first.

Hessians are symmetrized, ``(H + H^T) / 2``: reverse-over-reverse differentiation gives a
matrix symmetric only to rounding (about 1e-16 relative).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import autograd
import autograd.numpy as anp
import numpy as np

from hsc_ref import _backend, _validation
from hsc_ref._engine import (
    _check_workers,
    _fill_rows_in_threads,
    _symmetrize_inplace,
    first_trace,
    keep_freed_memory,
)

__all__ = [
    "gradient",
    "hessian",
    "hvp",
    "value_grad_hessian",
    "ValueGradHessian",
    "keep_freed_memory",
]


def _numpy_only(x: Any, name: str, who: str) -> None:
    """Refuse another library's array: autograd cannot trace it (say how to pass NumPy)."""
    if not isinstance(x, np.ndarray) and _backend.is_foreign(x):
        raise TypeError(_backend.numpy_only(x, name, who, "autograd traces NumPy only"))


def _point(x: Any, who: str, fun: Any) -> np.ndarray:
    """The point ``x`` of ``who``: a finite real NumPy vector (and ``fun`` a callable)."""
    _validation.check_callable(fun, "fun")
    _numpy_only(x, "x", who)
    return _validation.as_real_array(x, "x", ndim=1)


def gradient(fun: Callable[[Any], Any], x: Any) -> np.ndarray:
    """Exact gradient of a scalar function of a flat vector.

    Examples
    --------
    >>> import numpy as np
    >>> gradient(lambda x: (x ** 2).sum(), np.array([1.0, -2.0]))
    array([ 2., -4.])
    """
    x = _point(x, "gradient", fun)
    return np.asarray(autograd.grad(fun)(x))


def hvp(fun: Callable[[Any], Any], x: Any, v: Any) -> np.ndarray:
    """Exact Hessian-vector product ``H(x) v`` by reverse-over-reverse differentiation.

    Examples
    --------
    >>> import numpy as np
    >>> hvp(lambda x: x[0] ** 2 * x[1], np.array([1.0, 3.0]), np.array([1.0, 0.0]))
    array([6., 2.])
    """
    x = _point(x, "hvp", fun)
    _numpy_only(v, "v", "hvp")
    v = _validation.check_vector_for(v, x.shape[0], x.dtype, "v")
    if v.ndim != 1:
        raise ValueError(f"v must be 1-D, got shape {v.shape}")
    grad = autograd.grad(fun)
    return np.asarray(autograd.grad(lambda y: anp.dot(grad(y), v))(x))


def hessian_plain(fun: Callable[[Any], Any], x: Any) -> np.ndarray:
    """``autograd.hessian`` (one reverse pass per column), symmetrized; the reference route.

    Examples
    --------
    >>> import numpy as np
    >>> hessian_plain(lambda x: x[0] * x[1] ** 2, np.array([1.0, 2.0]))
    array([[0., 4.],
           [4., 2.]])
    """
    x = _point(x, "hessian_plain", fun)
    n = x.shape[0]
    H = np.asarray(autograd.hessian(fun)(x))
    if H.size != n * n:  # a scalar (or size-1) output gives n * n entries
        raise ValueError(f"fun must return a scalar, got a Hessian of shape {H.shape}")
    H = H.reshape(n, n)
    _refuse_non_finite(fun, x, H)
    return 0.5 * (H + H.T)


def _refuse_non_finite(fun: Callable[[Any], Any], x: np.ndarray, H: np.ndarray) -> None:
    """Name where a non-finite Hessian comes from (``fun``'s value, or overflow), not return it."""
    if np.all(np.isfinite(H)):
        return
    value = np.asarray(fun(x), dtype=float).reshape(-1)[:1]
    if value.size and not np.isfinite(value[0]):
        raise FloatingPointError(f"fun returned {value[0]} at x: its Hessian is not finite")
    raise FloatingPointError(
        f"the Hessian of fun at x has {int(np.sum(~np.isfinite(H)))} non-finite entries "
        f"though fun(x) = {value[0] if value.size else '?'} is finite (overflow)"
    )


BATCHED_CHUNK_SIZE = 32
"""Default rows per pass of the batched Hessian route.

The gradient over this many copies of ``x`` is traced once per thread and every block of
rows is one reverse pass over that trace: smaller blocks pay one more pass's Python overhead
each, larger ones a larger trace. In the generator-loss benchmark record
(``benchmarks/results/targets-3`` and ``-4``, rows ``chunk_size=128`` beside the default),
against 128 rows per pass, 32 took 0.75x and 1.04x the median time at n = 249, 0.97x and
0.96x at n = 1017 and 1.12x and 1.08x at n = 3962, and a third to a seventh of the peak
memory at n = 249 and 1017 (the same at n = 3962, where the dense result dominates)."""

_HESSIAN_COPIES = {False: 3, True: 1}
"""Dense ``n x n`` float arrays alive at the peak of each route: autograd's stacked rows, the
transposed copy and the symmetrized result (plain); the result, filled in place (batched)."""


def hessian(
    fun: Callable[[Any], Any],
    x: Any,
    *,
    batched: bool | str = "auto",
    chunk_size: int | None = None,
    max_bytes: int | None = None,
    workers: int = 1,
) -> np.ndarray:
    """Exact, symmetrized Hessian of a scalar function of a flat vector.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> scalar`` written with ``autograd.numpy``. For the batched route it must
        also accept a stack of points ``X`` of shape ``(k, n)`` and return the ``k`` values
        (e.g. a model loss whose parameters carry a leading axis of copies).
    x : array_like, shape (n,)
        Point.
    batched : {"auto", True, False}, default "auto"
        ``True``: the vectorized route: the gradient over ``k`` copies of ``x`` is traced
        once, and each reverse pass over that trace gives ``k`` Hessian rows; ``fun`` is
        checked first with :func:`is_batch_polymorphic` (three evaluations), since a
        function that mixes the copies would give a wrong matrix of the right shape.
        ``False``: :func:`hessian_plain`, one reverse pass per row. ``"auto"``: the
        batched route when ``fun`` is batch-polymorphic (see Notes), else the plain one.
    chunk_size : int, optional
        Rows per pass on the batched route, and the copies of ``x`` its trace holds: its
        working memory, on top of the result, is ``workers * chunk_size`` times the memory
        one traced copy holds (one trace per thread, kept for the whole call). The first
        thread's trace is built before the result: the arrays it holds are counted (those of
        ``fun``'s own data excluded), and the result and the other threads' traces are checked
        against ``max_bytes`` (or the memory then available) before they are allocated;
        default :data:`BATCHED_CHUNK_SIZE`.
    max_bytes : int, optional
        Refuse (``MemoryError``, before allocating) when the dense result and the route's
        temporaries (on the batched route, its traces too) need more bytes than this;
        default the memory available now.
    workers : int, default 1
        Batched route only: threads that compute row blocks in parallel (NumPy releases the
        GIL in its array work, which dominates there). Blocks go to the threads in turn, each thread
        traces as many copies as the largest block, and each block is computed exactly as with
        ``workers=1``, so with the same ``chunk_size`` the result is bit-identical; the default
        ``chunk_size`` shrinks to give every thread a block. The first call with ``workers > 1``
        gives autograd one trace counter per thread (its own is a process-wide global that
        concurrent traces corrupt); single-threaded behaviour is unchanged.

    Returns
    -------
    ndarray, shape (n, n)
        ``(H + H^T) / 2``.

    Raises
    ------
    MemoryError
        If ``8 n^2`` bytes times the route's dense copies (3 plain, 1 batched), plus on the
        batched route its traces, exceed ``max_bytes`` (or the available memory).
    FloatingPointError
        If the Hessian is not finite: ``fun returned nan at x`` when ``fun``'s value is not
        finite, else the count of overflowed entries (both routes).

    Notes
    -----
    ``"auto"`` evaluates ``fun`` on a stack of two different points and uses the batched
    route when that returns shape ``(2,)`` and matches the two separate evaluations to
    ``1e-10`` relative; any exception there selects the plain route. Both routes give the
    same matrix to rounding. On the batched route the copies are equal, so their primal and
    first reverse pass are computed once per thread, not once per block. A short last block
    is seeded with zero rows past its end; where ``fun`` treats each copy alone (stacked
    ``matmul``, element-wise operations, sums over the other axes) that is bit-identical to a
    trace over the block's own copies. On the benchmark of ``docs/benchmarks.md`` it is several
    times faster than the plain route, whose Python loop runs once per row.

    Examples
    --------
    >>> import autograd.numpy as anp
    >>> import numpy as np
    >>> f = lambda x: anp.sum(x[..., :1] ** 2 * x[..., 1:], axis=-1)  # on (n,) and (k, n)
    >>> hessian(f, np.array([1.0, 2.0, 3.0]))
    array([[10.,  2.,  2.],
           [ 2.,  0.,  0.],
           [ 2.,  0.,  0.]])
    >>> np.array_equal(hessian(f, np.array([1.0, 2.0, 3.0]), batched=True),
    ...                hessian(f, np.array([1.0, 2.0, 3.0]), batched=False))
    True
    """
    if chunk_size is not None:
        _validation.check_count(chunk_size, "chunk_size", minimum=1)
    if not (isinstance(batched, bool) or (isinstance(batched, str) and batched == "auto")):
        raise ValueError(f"batched must be True, False or 'auto', got {batched!r}")
    x = _point(x, "hessian", fun)
    n = x.shape[0]
    if batched == "auto":
        batched = is_batch_polymorphic(fun, x)
    _backend.check_fits(
        _HESSIAN_COPIES[batched] * n * n * x.dtype.itemsize,
        f"a dense Hessian of n = {n}",
        max_bytes,
    )
    if batched and (problem := _polymorphism_problem(fun, x)) is not None:
        raise ValueError(
            f"fun must return one value per parameter copy on the batched route: on a (2, "
            f"{n}) stack of two points it {problem} instead of their 2 values as two "
            f"separate calls give them (a sum over all axes mixes the copies); pass "
            f"batched='auto' or False for a function of one point"
        )
    if not batched:
        return hessian_plain(fun, x)
    workers = _check_workers(workers)
    if chunk_size is None:  # default: BATCHED_CHUNK_SIZE, but at least one block per worker
        chunk_size = min(BATCHED_CHUNK_SIZE, -(-n // workers))
    blocks = [(start, min(start + chunk_size, n)) for start in range(0, n, chunk_size)]
    threads, copies = min(workers, len(blocks)), max(stop - start for start, stop in blocks)
    rows_of, trace = first_trace(fun, x, copies)  # the one trace in memory so far
    still_to_allocate = threads - 1 if max_bytes is None else threads  # the first is counted
    _backend.check_fits(
        n * n * x.dtype.itemsize + still_to_allocate * trace,
        f"a dense Hessian of n = {n} and {threads} trace(s) of {copies} copies of fun "
        f"({trace / 2**20:.3g} MiB each, measured on the first)",
        max_bytes,
    )
    H = np.empty((n, n), dtype=x.dtype)
    _fill_rows_in_threads(fun, x, H, blocks, threads, first=rows_of)
    _refuse_non_finite(fun, x, H)
    return _symmetrize_inplace(H)


def is_batch_polymorphic(fun: Callable[[Any], Any], x: Any) -> bool:
    """Whether ``fun`` maps a ``(k, n)`` stack of points to its ``k`` values.

    Probes two different points (``x`` and a fixed perturbation of it): the stacked call must
    return shape ``(2,)`` equal to the separate calls to ``1e-10`` relative (rounding of
    batched kernels is far below, a wrong reduction axis far above). Any exception in the
    stacked call means no.

    Examples
    --------
    >>> import autograd.numpy as anp
    >>> import numpy as np
    >>> is_batch_polymorphic(lambda x: anp.sum(x ** 2, axis=-1), np.ones(3))
    True
    >>> is_batch_polymorphic(lambda x: anp.sum(x ** 2), np.ones(3))   # sums over copies
    False
    """
    _numpy_only(x, "x", "is_batch_polymorphic")  # a torch tensor is a caller's error, not a no
    _validation.check_callable(fun, "fun")  # so is a fun that cannot be called
    try:
        return _polymorphism_problem(fun, _point(x, "is_batch_polymorphic", fun)) is None
    except Exception:  # any failure on a stack means "not polymorphic"
        return False


def _polymorphism_problem(fun: Callable[[Any], Any], x: np.ndarray) -> str | None:
    """What keeps ``fun`` from being batch-polymorphic at ``x``, or None (fun's errors raise)."""
    shift = np.random.default_rng(0).uniform(0.5, 1.5, x.shape).astype(x.dtype)
    points = np.stack([x, x + 1e-3 * shift * (1.0 + np.abs(x))])
    stacked = np.asarray(fun(points), dtype=float)
    if stacked.shape != (2,):
        return f"returned shape {stacked.shape}"
    separate = np.array([float(np.asarray(fun(p)).reshape(())) for p in points])
    if not np.isfinite(separate[0]):  # the user's loss, not its batching, is the problem
        raise FloatingPointError(f"fun returned {separate[0]} at x: its Hessian is not finite")
    if not np.all(np.isfinite(stacked)) and np.array_equal(stacked, separate, equal_nan=True):
        return None  # non-finite at the probe point only, exactly as the separate calls
    gap = np.abs(stacked - separate) / np.maximum(1.0, np.abs(separate))
    return None if np.all(gap <= 1e-10) else f"returned values {gap.max():.2g} (relative) off"


class ValueGradHessian(NamedTuple):
    """Value, gradient and symmetrized Hessian at one point.

    Attributes
    ----------
    value : float
        ``fun(x)``.
    grad : ndarray, shape (n,)
        Exact gradient.
    hessian : ndarray, shape (n, n)
        Exact Hessian, symmetrized.
    """

    value: float
    grad: np.ndarray
    hessian: np.ndarray


def value_grad_hessian(
    fun: Callable[[Any], Any], x: Any, *, batched: bool | str = "auto"
) -> ValueGradHessian:
    """Value, exact gradient and exact symmetrized Hessian in one call.

    Examples
    --------
    >>> import numpy as np
    >>> r = value_grad_hessian(lambda x: (x ** 3).sum(), np.array([1.0, 2.0]))
    >>> r.value, r.grad, r.hessian
    (9.0, array([ 3., 12.]), array([[ 6.,  0.],
           [ 0., 12.]]))
    """
    x = _point(x, "value_grad_hessian", fun)
    value, grad = autograd.value_and_grad(fun)(x)
    return ValueGradHessian(float(value), np.asarray(grad), hessian(fun, x, batched=batched))
