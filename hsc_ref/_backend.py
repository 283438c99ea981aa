"""Other libraries' arrays: the only module that knows about array namespaces.

The reference computes on the host, with NumPy and SciPy, whoever calls it. The linear algebra
(:func:`~hsc_ref.spectral.decompose` and the :class:`~hsc_ref.spectral.Spectrum` methods, the
corrections, the steps) also accepts the arrays of any library that implements the array API
standard, through ``array-api-compat``: PyTorch, JAX, CuPy, array-api-strict, ... Such an array is
copied to a NumPy array at the public function's boundary (after its dtype is checked in its own
namespace), the NumPy path runs unchanged, and every array result is copied back into the
caller's namespace and onto the caller's device, with the dtype the NumPy path gives (float32
stays float32). Results are therefore bit-identical to those of the same values passed as NumPy
arrays, on any device: a GPU array costs two host transfers of ``n^2`` numbers, small beside
the ``O(n^3)`` ``eigh`` that runs on the CPU. A torch tensor that requires grad is detached: the
results carry no autograd history.

Models, losses and Hessians are NumPy only (autograd traces NumPy), so every other public
function refuses another library's array with a ``TypeError`` that says what to pass.
``array_api_compat`` itself is imported only when a non-NumPy array arrives; CuPy, PyTorch and
JAX are never imported here (their arrays are recognized by their types).
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import os
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

__all__: list[str] = []

F = TypeVar("F", bound=Callable[..., Any])

_HOST_TYPES = (np.ndarray, np.generic, list, tuple, numbers.Number, str, bytes, type(None))
"""Values that are never another library's array (checked first: the NumPy path's cost)."""


def _compat() -> ModuleType:
    import array_api_compat  # noqa: PLC0415  (lazy: only other libraries' arrays need it)

    return array_api_compat


def is_foreign(x: Any) -> bool:
    """True when ``x`` is an array-API array of a library other than NumPy."""
    if isinstance(x, _HOST_TYPES):
        return False
    compat = _compat()
    return bool(compat.is_array_api_obj(x)) and not compat.is_numpy_array(x)


def type_name(x: Any) -> str:
    """The public name of ``x``'s type: ``torch.Tensor``, ``jax.Array``, ``cupy.ndarray``..."""
    if not isinstance(x, _HOST_TYPES) and _compat().is_jax_array(x):
        return "jax.Array"
    return f"{type(x).__module__.split('.')[0]}.{type(x).__name__}"


def numpy_advice(x: Any, name: str) -> str:
    """The expression that turns ``x`` (called ``name``) into a NumPy array on the host."""
    compat = _compat()
    if compat.is_torch_array(x):
        return f"{name}.detach().cpu().numpy()"
    if compat.is_cupy_array(x):
        return f"cupy.asnumpy({name})"
    return f"numpy.asarray({name})"


def numpy_only(x: Any, name: str, who: str | None = None, why: str | None = None) -> str:
    """The message refusing another library's array ``x`` where only NumPy is accepted."""
    because = f" ({why})" if why else ""
    if who is None:
        return (
            f"{name} must be a NumPy array here{because}, got {type_name(x)}: pass "
            f"{numpy_advice(x, name)}"
        )
    return f"{who} needs NumPy arrays{because}; got {type_name(x)}: pass {numpy_advice(x, name)}"


def to_numpy(x: Any) -> np.ndarray:
    """``x`` as a NumPy array on the host, whatever its library, device or autograd state.

    NumPy input is returned as ``np.asarray`` returns it. A torch tensor is detached and
    copied to the CPU (``bfloat16``, which NumPy lacks, becomes float32: exact); CuPy arrays
    are copied from the GPU; other array-API arrays go through DLPack (no copy on the CPU),
    else ``np.asarray``. CPU results may share memory with ``x``: do not write to them.
    """
    if isinstance(x, _HOST_TYPES) or not is_foreign(x):
        return np.asarray(x)
    compat = _compat()
    if compat.is_torch_array(x):
        t = x.detach().cpu().resolve_conj().resolve_neg()
        if str(t.dtype) == "torch.bfloat16":
            t = t.float()
        return t.numpy()
    if compat.is_cupy_array(x):
        return x.get()
    if compat.is_jax_array(x):
        return np.asarray(x)
    try:
        return np.from_dlpack(x)
    except (TypeError, ValueError, BufferError, RuntimeError, AttributeError):
        return np.asarray(x)


@dataclass(frozen=True)
class Kind:
    """The namespace and device of a caller's non-NumPy arrays: what results are returned as."""

    namespace: ModuleType
    device: Any
    name: str

    def to_host(self, x: Any, name: str) -> Any:
        """A NumPy copy (or CPU view) of the argument ``x``, after checking its dtype here.

        Accepted dtypes are those of the NumPy path: float32, float64 and integers (which
        become float64); the refusal names the dtype as the caller's library spells it.
        """
        if not is_foreign(x):
            return x
        xp, dtype = self.namespace, x.dtype
        if not (dtype in (xp.float32, xp.float64) or xp.isdtype(dtype, "integral")):
            raise TypeError(
                f"{name} must be a real floating-point array (float32 or float64), got dtype "
                f"{dtype}"
            )
        return to_numpy(x)

    def wrap(self, value: Any) -> Any:
        """``value`` in the caller's kind: arrays copied over, Spectrum-like objects converted.

        Objects with a ``_to_kind(kind)`` method convert themselves; anything else (floats,
        ints, strings, SciPy operators) is returned as it is.
        """
        if isinstance(value, np.ndarray):
            out = self.namespace.asarray(value, device=self.device, copy=True)
            expected = getattr(self.namespace, value.dtype.name)
            if out.dtype != expected:  # JAX without 64-bit mode turns float64 into float32
                enable = (
                    'call jax.config.update("jax_enable_x64", True)'
                    if self.name == "jax"
                    else f"enable 64-bit arrays in {self.name}"
                )
                raise TypeError(
                    f"{self.name} cannot hold the {value.dtype} result (it gave {out.dtype}; "
                    f"integer input gives float64): pass float32 arrays, or {enable}"
                )
            return out
        to_kind = getattr(value, "_to_kind", None)
        return value if to_kind is None else to_kind(self)


_NOT_CARRIED = object()


def kind_of(x: Any) -> Kind | None:
    """The :class:`Kind` of another library's array (or of a Spectrum of one), else None."""
    if isinstance(x, _HOST_TYPES):
        return None
    carried = getattr(x, "_array_kind", _NOT_CARRIED)  # a Spectrum: its arrays' kind or None
    if carried is not _NOT_CARRIED:
        return carried
    if not is_foreign(x):
        return None
    compat = _compat()
    xp = compat.array_namespace(x)
    return Kind(xp, compat.device(x), type_name(x).split(".")[0])


def common_kind(named: dict[str, Any]) -> Kind | None:
    """The one :class:`Kind` of the non-NumPy arguments (None when all are NumPy).

    NumPy arrays, lists and scalars mix with any kind; arrays of two libraries or two devices
    do not (``TypeError`` naming both).
    """
    found: tuple[str, Kind] | None = None
    for name, value in named.items():
        kind = kind_of(value)
        if kind is None:
            continue
        if found is None:
            found = (name, kind)
        elif (kind.namespace, kind.device) != (found[1].namespace, found[1].device):
            raise TypeError(
                f"{found[0]} and {name} must be arrays of one library on one device, got "
                f"{found[1].name} on {found[1].device} and {kind.name} on {kind.device}"
            )
    return None if found is None else found[1]


def host_value(kind: Kind, x: Any, name: str) -> Any:
    """The host counterpart of an argument: a Spectrum's NumPy twin, or a NumPy array."""
    twin = getattr(x, "_host_twin", None)
    if twin is not None:
        return twin
    return kind.to_host(x, name)


def _on_host(value: Any) -> bool:
    """True when ``value`` needs no conversion: NumPy, a list, a scalar, a NumPy Spectrum."""
    carried = getattr(value, "_array_kind", _NOT_CARRIED)
    if carried is not _NOT_CARRIED:
        return carried is None
    return isinstance(value, _HOST_TYPES) or not is_foreign(value)


def in_callers_kind(*names: str) -> Callable[[F], F]:
    """Decorate a NumPy function so that it takes other libraries' arrays as ``names``.

    When every named argument is NumPy (or a list, a scalar, a NumPy Spectrum) the function
    is called as it is, after one type check per name. Otherwise the named arguments are
    replaced by their host counterparts (:func:`host_value`), the function runs on them, and
    its result is returned in the arguments' common :class:`Kind` (:meth:`Kind.wrap`).
    """

    def decorate(fn: F) -> F:
        code = fn.__code__  # cheaper than inspect.signature, for maps made at run time
        if code.co_flags & inspect.CO_VARARGS:
            raise TypeError(f"{fn.__qualname__} takes *args: positions are ambiguous")
        parameters = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        spec = tuple((parameters.index(name), name) for name in names)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for position, name in spec:
                value = args[position] if position < len(args) else kwargs.get(name)
                if type(value) is np.ndarray or getattr(value, "_array_kind", 0) is None:
                    continue  # the NumPy path's whole cost: a NumPy array, a NumPy Spectrum
                if not _on_host(value):
                    return _call_on_host(fn, spec, args, kwargs)
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def spectral_map(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """:func:`in_callers_kind` for a function of one spectrum, cheap enough to make per call.

    The correction factories (``damped(mu)``, ``clip(delta)``...) build their eigenvalue maps
    each time they are called; this wrapper costs a few attribute writes to make and one
    attribute read to call with a NumPy spectrum.
    """

    def mapped(spectrum: Any) -> Any:
        kind = getattr(spectrum, "_array_kind", None)
        if kind is None:
            return fn(spectrum)
        return kind.wrap(fn(spectrum._host_twin))

    mapped.__name__, mapped.__qualname__ = fn.__name__, fn.__qualname__
    mapped.__doc__, mapped.__wrapped__ = fn.__doc__, fn  # type: ignore[attr-defined]
    return mapped


def _call_on_host(fn: Callable[..., Any], spec: tuple, args: tuple, kwargs: dict) -> Any:
    """Call ``fn`` on the host counterparts of its named arguments; wrap its result."""
    args, kwargs = list(args), dict(kwargs)
    named = {
        name: args[position] if position < len(args) else kwargs.get(name)
        for position, name in spec
    }
    kind = common_kind(named)
    for position, name in spec:
        host = host_value(kind, named[name], name)
        if position < len(args):
            args[position] = host
        elif name in kwargs:
            kwargs[name] = host
    return kind.wrap(fn(*args, **kwargs))


def numpy_dtype(dtype: Any) -> np.dtype:
    """A NumPy dtype for ``dtype``, also when another library spells it (``torch.float32``)."""
    try:
        return np.dtype(dtype)
    except TypeError:
        return np.dtype(str(dtype).rsplit(".", 1)[-1])


def all_finite(x: Any) -> bool:
    """True when every entry of the NumPy array ``x`` is finite."""
    return bool(np.isfinite(x).all())


# --------------------------------------------------------------------------- memory


def available_memory() -> int | None:
    """Bytes of host memory available to new allocations, or ``None`` when unknown.

    ``MemAvailable`` from ``/proc/meminfo`` (Linux: free memory plus reclaimable caches), else
    ``os.sysconf`` free pages. The linear algebra runs on the host for every caller, so this is
    the memory that counts for another library's GPU arrays too.
    """
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


def check_fits(nbytes: int, what: str, max_bytes: int | None) -> None:
    """Raise ``MemoryError`` before allocating when ``nbytes`` cannot fit.

    ``max_bytes=None`` compares with :func:`available_memory` (no check where that is
    unknown); an explicit ``max_bytes`` must be a positive integer.
    """
    if max_bytes is None:
        limit = available_memory()
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


def symmetric_part(H: np.ndarray, tile: int = 256) -> tuple[np.ndarray, float, float]:
    """Return ``(H + H^T) / 2``, ``max|H - H^T|`` and ``max|H|`` of a NumPy matrix.

    ``H`` is read tile by tile (``tile x tile`` blocks and their mirrors, in cache, instead of
    the strided transposes of the direct formula). An exactly symmetric ``H`` (the usual case:
    :func:`hsc_ref.derivatives.hessian` symmetrizes) is returned itself, not copied: callers
    must not modify the result. Otherwise a second tiled pass writes the symmetrized copy,
    bit-identical to ``0.5 * (H + H.T)``. A NaN or an infinity in ``H`` makes ``max|H|``
    non-finite (NaN from the tiled pass): the caller refuses it, so ``H`` needs no separate
    finiteness pass.
    """
    n = H.shape[0]
    if n <= tile:  # one tile: its mirror is H itself, so max|H| is read once
        scale = float(np.abs(H).max())
        if (H == H.T).all():  # exactly symmetric (the usual case): no difference to form
            return H, 0.0, scale
        with np.errstate(over="ignore", invalid="ignore"):  # inf - inf: NaN, refused later
            asym = float(np.abs(H - H.T).max())
        return mean_of(H, H.T), asym, scale
    asym = scale = 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # overflow: an infinite asymmetry
        for i in range(0, n, tile):
            for j in range(i, n, tile):
                upper = H[i : i + tile, j : j + tile]
                lower_t = H[j : j + tile, i : i + tile].T
                scales = float(np.abs(upper).max()), float(np.abs(lower_t).max())
                if not (math.isfinite(scales[0]) and math.isfinite(scales[1])):
                    return H, math.nan, math.nan  # checked here: Python's max skips a NaN
                asym = max(asym, float(np.abs(upper - lower_t).max()))
                scale = max(scale, *scales)
    if asym == 0.0:
        return H, asym, scale
    out = np.empty_like(H)
    for i in range(0, n, tile):
        for j in range(i, n, tile):
            mean = mean_of(H[i : i + tile, j : j + tile], H[j : j + tile, i : i + tile].T)
            out[i : i + tile, j : j + tile] = mean
            out[j : j + tile, i : i + tile] = mean.T
    return out, asym, scale


def mean_of(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a + b) / 2`` without overflow: ``a / 2 + b / 2`` where the sum would overflow.

    Where ``a + b`` is finite, ``0.5 * (a + b)`` is the exactly rounded mean; halving first is
    exact too except for subnormal halves, so the fallback is used only where it is needed.
    """
    with np.errstate(over="ignore"):
        mean = 0.5 * (a + b)
    if not all_finite(mean):
        mean = np.where(np.isfinite(mean), mean, 0.5 * a + 0.5 * b)
    return mean
