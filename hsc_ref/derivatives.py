"""Exact derivatives with autograd over a documented flat parameter layout.

Flat layout (DESIGN section 5): a model's parameters are a list of layers ``[(W, b), ...]``
with ``W`` of shape ``(fan_in, fan_out)`` and ``y = x @ W + b``. The flat vector concatenates,
layer by layer, ``W.ravel()`` (C order) then ``b``. General nests of lists, tuples and dicts
(keys in sorted order) of arrays flatten the same way, depth first.

Hessians are symmetrized, ``(H + H^T) / 2``: reverse-over-reverse differentiation gives a
matrix symmetric only to rounding (about 1e-16 relative).
"""

from __future__ import annotations

import ctypes
import platform
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import autograd
import autograd.numpy as anp
import numpy as np

from hsc_ref import _autograd_ops, _backend, _validation

__all__ = [
    "flatten",
    "gradient",
    "hessian",
    "hessian_plain",
    "is_batch_polymorphic",
    "BATCHED_CHUNK_SIZE",
    "keep_freed_memory",
    "hvp",
    "value_grad_hessian",
    "ValueGradHessian",
    "layers_from_torch_linear",
    "layers_to_torch_linear",
]


def _leaves(tree: Any, path: str = "params") -> list[tuple[str, np.ndarray]]:
    """Depth-first list of ``(path, array)`` leaves of a nest of lists/tuples/dicts."""
    if isinstance(tree, dict):
        return [lf for key in sorted(tree) for lf in _leaves(tree[key], f"{path}[{key!r}]")]
    if isinstance(tree, (list, tuple)):
        return [lf for i, item in enumerate(tree) for lf in _leaves(item, f"{path}[{i}]")]
    array = _validation.as_real_array(tree, path)
    return [(path, array)]


def _rebuild(template: Any, pieces: list[Any]) -> Any:
    """Rebuild a nest shaped like ``template`` from pieces consumed in depth-first order."""
    if isinstance(template, dict):
        rebuilt = {key: _rebuild(template[key], pieces) for key in sorted(template)}
        return {key: rebuilt[key] for key in template}
    if isinstance(template, (list, tuple)):
        items = [_rebuild(item, pieces) for item in template]
        return tuple(items) if isinstance(template, tuple) else items
    return pieces.pop(0)


def flatten(params: Any) -> tuple[np.ndarray, Callable[[Any], Any]]:
    """Flatten a nest of arrays into one vector; return it and the inverse map.

    The inverse ``unflatten(flat)`` accepts a flat vector of shape ``(n,)`` or a stack of
    parameter copies of shape ``(*lead, n)``; each leaf then gets shape ``(*lead, *shape)``.
    It is autograd-traceable, so losses can be written on the flat vector.

    Parameters
    ----------
    params : nest of lists, tuples and dicts of real arrays
        E.g. ``[(W1, b1), (W2, b2)]``.

    Returns
    -------
    flat : ndarray, shape (n,)
        The leaves raveled in C order and concatenated depth first (dict keys sorted), in
        their common floating dtype.
    unflatten : callable
        Inverse map.

    Examples
    --------
    >>> import numpy as np
    >>> W, b = np.arange(6.0).reshape(2, 3), np.array([10.0, 11.0, 12.0])
    >>> flat, unflatten = flatten([(W, b)])
    >>> flat
    array([ 0.,  1.,  2.,  3.,  4.,  5., 10., 11., 12.])
    >>> unflatten(flat)[0][1]
    array([10., 11., 12.])
    >>> unflatten(np.stack([flat, 2 * flat]))[0][0].shape   # two parameter copies
    (2, 2, 3)
    """
    leaves = _leaves(params)
    if not leaves:
        raise ValueError(f"params must contain at least one array, got an empty nest {params!r}")
    shapes = [array.shape for _, array in leaves]
    sizes = [int(np.prod(shape, dtype=np.int64)) for shape in shapes]
    bounds = np.cumsum([0, *sizes])
    dtype = np.result_type(*[array.dtype for _, array in leaves])
    flat = np.concatenate([array.ravel().astype(dtype) for _, array in leaves])
    n = int(bounds[-1])

    def unflatten(vector: Any) -> Any:
        if not hasattr(vector, "shape"):  # lists; arrays and autograd boxes pass through
            vector = _validation.as_real_array(vector, "flat vector")
        if vector.shape[-1:] != (n,):
            raise ValueError(f"flat vector must have last axis of length {n}, got {vector.shape}")
        lead = vector.shape[:-1]
        pieces = [  # take_last: a slice whose derivative copies a block (no add.at scatter)
            anp.reshape(_autograd_ops.take_last(vector, int(start), int(stop)), lead + shape)
            for start, stop, shape in zip(bounds[:-1], bounds[1:], shapes, strict=True)
        ]
        return _rebuild(params, pieces)

    return flat, unflatten


def _point(x: Any) -> np.ndarray:
    return _validation.as_real_array(x, "x", ndim=1)


def gradient(fun: Callable[[Any], Any], x: Any) -> np.ndarray:
    """Exact gradient of a scalar function of a flat vector.

    Examples
    --------
    >>> import numpy as np
    >>> gradient(lambda x: (x ** 2).sum(), np.array([1.0, -2.0]))
    array([ 2., -4.])
    """
    return np.asarray(autograd.grad(fun)(_point(x)))


def hvp(fun: Callable[[Any], Any], x: Any, v: Any) -> np.ndarray:
    """Exact Hessian-vector product ``H(x) v`` by reverse-over-reverse differentiation.

    Examples
    --------
    >>> import numpy as np
    >>> hvp(lambda x: x[0] ** 2 * x[1], np.array([1.0, 3.0]), np.array([1.0, 0.0]))
    array([6., 2.])
    """
    x = _point(x)
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
    x = _point(x)
    n = x.shape[0]
    H = np.asarray(autograd.hessian(fun)(x))
    if H.size != n * n:  # a scalar (or size-1) output gives n * n entries
        raise ValueError(f"fun must return a scalar, got a Hessian of shape {H.shape}")
    H = H.reshape(n, n)
    return 0.5 * (H + H.T)


BATCHED_CHUNK_SIZE = 128
"""Default rows per pass of the batched Hessian route.

On the generator-loss benchmark (``docs/benchmarks.md``) 64 to 256 rows per pass were
within noise of each other at n = 249 to 3962 (smaller blocks pay more Python overhead,
larger ones fall out of cache), at about 1 MiB of working memory per row at n = 3962."""

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
        ``True``: the vectorized route, one reverse-over-reverse pass over ``k`` copies of
        ``x`` gives ``k`` Hessian rows at once. ``False``: :func:`hessian_plain`, one
        reverse pass per row. ``"auto"``: the batched route when ``fun`` is batch-polymorphic
        (see Notes), else the plain one.
    chunk_size : int, optional
        Rows per pass on the batched route (bounds its working memory to about
        ``chunk_size`` times the memory of one gradient evaluation); default
        :data:`BATCHED_CHUNK_SIZE`.
    max_bytes : int, optional
        Refuse (``MemoryError``, before allocating) when the dense result and the route's
        temporaries need more bytes than this; default the memory available now.
    workers : int, default 1
        Batched route only: threads that compute row blocks in parallel (NumPy releases the
        GIL in its array work, which dominates there). Blocks go to the threads in turn and
        each block is computed exactly as with ``workers=1``, so with the same
        ``chunk_size`` the result is bit-identical; the default ``chunk_size`` shrinks to give
        every thread a block. The first call with ``workers > 1`` gives autograd one trace
        counter per thread (its own is a process-wide global that concurrent traces corrupt);
        single-threaded behaviour is unchanged.

    Returns
    -------
    ndarray, shape (n, n)
        ``(H + H^T) / 2``.

    Raises
    ------
    MemoryError
        If ``8 n^2`` bytes times the route's dense copies (3 plain, 1 batched) exceed
        ``max_bytes`` (or the available memory).

    Notes
    -----
    ``"auto"`` evaluates ``fun`` on a stack of two different points and uses the batched
    route when that returns shape ``(2,)`` and matches the two separate evaluations to
    ``1e-10`` relative; any exception there selects the plain route. Both routes give the
    same matrix to rounding. The batched route computes the primal of every copy again (all
    copies are equal); on the benchmark of ``docs/benchmarks.md`` it is still several
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
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1
    ):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if not (isinstance(batched, bool) or (isinstance(batched, str) and batched == "auto")):
        raise ValueError(f"batched must be True, False or 'auto', got {batched!r}")
    x = _point(x)
    n = x.shape[0]
    if batched == "auto":
        batched = is_batch_polymorphic(fun, x)
    _backend.check_fits(
        _HESSIAN_COPIES[batched] * n * n * x.dtype.itemsize,
        f"a dense Hessian of n = {n}",
        max_bytes,
    )
    if not batched:
        return hessian_plain(fun, x)
    workers = _check_workers(workers)
    if chunk_size is None:  # default: BATCHED_CHUNK_SIZE, but at least one block per worker
        chunk_size = min(BATCHED_CHUNK_SIZE, -(-n // workers))
    blocks = [(start, min(start + chunk_size, n)) for start in range(0, n, chunk_size)]
    H = np.empty((n, n), dtype=x.dtype)
    _fill_rows_in_threads(fun, x, H, blocks, min(workers, len(blocks)))
    return _symmetrize_inplace(H)


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


def _fill_rows(fun: Callable[[Any], Any], x: np.ndarray, H: np.ndarray, blocks: list) -> None:
    """Write the Hessian rows of each ``(start, stop)`` block into ``H``."""
    for start, stop in blocks:
        H[start:stop] = _hessian_rows(fun, x, np.arange(start, stop))


def _fill_rows_in_threads(
    fun: Callable[[Any], Any], x: np.ndarray, H: np.ndarray, blocks: list, workers: int
) -> None:
    """:func:`_fill_rows` with the blocks dealt to ``workers`` threads in turn.

    The calling thread computes the first share itself: one thread fewer to start, and from
    the main thread it allocates from glibc's main heap, which keeps freed memory better than
    the arenas of new threads (fewer page faults). If a share raises, every thread is still
    waited for before the exception propagates.
    """
    if workers == 1:
        _fill_rows(fun, x, H, blocks)
        return
    _autograd_ops.thread_safe_tracing()
    shares = [blocks[w::workers] for w in range(workers)]
    with ThreadPoolExecutor(workers - 1, thread_name_prefix="hsc_ref-hessian") as pool:
        futures = [pool.submit(_fill_rows, fun, x, H, share) for share in shares[1:]]
        try:
            _fill_rows(fun, x, H, shares[0])
        finally:  # wait for every thread; re-raise the first exception, if any
            for future in futures:
                future.result()


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
    x = _point(x)
    shift = np.random.default_rng(0).uniform(0.5, 1.5, x.shape).astype(x.dtype)
    points = np.stack([x, x + 1e-3 * shift * (1.0 + np.abs(x))])
    try:
        stacked = np.asarray(fun(points), dtype=float)
        if stacked.shape != (2,):
            return False
        separate = np.array([float(np.asarray(fun(p)).reshape(())) for p in points])
    except Exception:  # any failure on a stack means "not polymorphic"
        return False
    scale = np.maximum(1.0, np.abs(separate))
    return bool(np.all(np.abs(stacked - separate) <= 1e-10 * scale))


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


def _hessian_rows(fun: Callable[[Any], Any], x: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Rows ``index`` of the Hessian from one pass over ``len(index)`` copies of ``x``."""
    k, n = index.shape[0], x.shape[0]
    copies = np.broadcast_to(x, (k, n)).copy()
    basis = np.zeros((k, n), dtype=x.dtype)
    basis[np.arange(k), index] = 1.0
    grad_of_copies = autograd.grad(lambda X: anp.sum(_values_of_copies(fun, X)))
    rows = autograd.grad(lambda X: anp.sum(grad_of_copies(X) * basis))(copies)
    return np.asarray(rows)


def _values_of_copies(fun: Callable[[Any], Any], X: Any) -> Any:
    """``fun(X)`` for a ``(k, n)`` stack, checked to hold one value per copy."""
    values = fun(X)
    if anp.shape(values) != (X.shape[0],):
        raise ValueError(
            f"fun must return one value per parameter copy on the batched route: shape "
            f"({X.shape[0]},) for input {X.shape}, got {anp.shape(values)}"
        )
    return values


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
    x = _point(x)
    value, grad = autograd.value_and_grad(fun)(x)
    return ValueGradHessian(float(value), np.asarray(grad), hessian(fun, x, batched=batched))


def _check_layer_pairs(layers: Sequence[Any], name: str) -> None:
    if not isinstance(layers, (list, tuple)) or not layers:
        raise TypeError(f"{name} must be a non-empty list of (weight, bias) pairs")
    for i, layer in enumerate(layers):
        if not isinstance(layer, (list, tuple)) or len(layer) != 2:
            raise TypeError(
                f"{name}[{i}] must be a (weight, bias) pair, got {type(layer).__name__}"
            )


def _checked_pair(
    weight: Any, bias: Any, i: int, names: tuple[str, str], bias_axis: int
) -> tuple[np.ndarray, np.ndarray]:
    """Validate one layer: a 2-D matrix and a 1-D bias of length ``weight.shape[bias_axis]``."""
    w = _validation.as_real_array(_to_numpy(weight), f"layers[{i}] {names[0]}", ndim=2)
    b = _validation.as_real_array(_to_numpy(bias), f"layers[{i}] {names[1]}", ndim=1)
    if b.shape[0] != w.shape[bias_axis]:
        raise ValueError(
            f"layers[{i}] {names[1]} must have length {names[0]}.shape[{bias_axis}] = "
            f"{w.shape[bias_axis]}, got {b.shape[0]}"
        )
    return w, b


def layers_from_torch_linear(
    layers: Sequence[tuple[Any, Any]],
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Convert ``nn.Linear`` pairs ``(weight (out, in), bias (out,))`` to ``[(W, b)]``.

    ``W = weight.T``. Accepts NumPy arrays or anything with ``.detach().cpu().numpy()``
    (PyTorch tensors).

    Examples
    --------
    >>> import numpy as np
    >>> weight = np.arange(6.0).reshape(3, 2)      # nn.Linear(2, 3).weight layout
    >>> [(W, b)] = layers_from_torch_linear([(weight, np.zeros(3))])
    >>> W.shape
    (2, 3)
    """
    _check_layer_pairs(layers, "layers")
    out = []
    for i, (weight, bias) in enumerate(layers):
        w, b = _checked_pair(weight, bias, i, ("weight", "bias"), bias_axis=0)
        out.append((np.ascontiguousarray(w.T), b.copy()))
    return out


def layers_to_torch_linear(
    layers: Sequence[tuple[Any, Any]],
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Inverse of :func:`layers_from_torch_linear`: ``[(W, b)] -> [(weight = W.T, bias)]``.

    Examples
    --------
    >>> import numpy as np
    >>> layers = [(np.ones((2, 3)), np.zeros(3))]
    >>> layers_to_torch_linear(layers)[0][0].shape
    (3, 2)
    """
    _check_layer_pairs(layers, "layers")
    out = []
    for i, (W, b) in enumerate(layers):
        w, bias = _checked_pair(W, b, i, ("W", "b"), bias_axis=1)
        out.append((np.ascontiguousarray(w.T), bias.copy()))
    return out


def _to_numpy(x: Any) -> Any:
    """PyTorch tensors to NumPy without importing torch; other input unchanged."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        return x.detach().cpu().numpy()
    return x
