"""autograd primitives whose derivatives stay cheap under reverse-over-reverse differentiation.

Exact Hessians differentiate the backward pass once more, so the *form* of each derivative
rule sets the cost of the second pass. Two of autograd's rules are costly there:

``anp.tanh``
    its rule ``g / cosh(x) ** 2`` differentiates into ``cosh``, ``sinh``, ``pow`` and a
    division over every activation. :func:`tanh` uses ``g * (1 - y^2)`` with ``y = tanh(x)``
    (the same number to rounding), whose derivative is two multiplications.
``vector[..., a:b]``
    a basic slice's rule allocates a zero array of the full shape and scatters with
    ``numpy.add.at``. :func:`take_last` has a sparse adjoint that adds its block in place
    into autograd's one accumulator, as ``untake`` does, without the scatter.

Both are exact: they change how a derivative is evaluated, not what it is.

:func:`thread_safe_tracing` makes autograd's trace counter per thread, so that several threads
can differentiate at once (the ``workers`` of :func:`hsc_ref.derivatives.hessian`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import autograd.tracer
import numpy as np
from autograd.extend import SparseObject, defjvp, defvjp, primitive, vspace

__all__: list[str] = []


@primitive
def tanh(x: Any) -> Any:
    """``numpy.tanh`` with the derivative rule ``1 - tanh(x)^2``."""
    return np.tanh(x)


defvjp(tanh, lambda ans, x: lambda g: g * (1.0 - ans * ans))
defjvp(tanh, lambda g, ans, x: g * (1.0 - ans * ans))


@primitive
def take_last(v: Any, start: int, stop: int) -> Any:
    """``v[..., start:stop]`` (a view)."""
    return v[..., start:stop]


@primitive
def _untake_last(g: Any, start: int, stop: int, vs: Any) -> SparseObject:
    """The adjoint of :func:`take_last` as a sparse cotangent: ``A[..., start:stop] += g``.

    autograd adds sparse cotangents into one dense accumulator in place, so the slices of a
    flat vector cost one block copy each instead of a full-size array per slice.
    """

    def mut_add(A: Any) -> Any:
        A[..., start:stop] += g
        return A

    return SparseObject(vs, mut_add)


defvjp(take_last, lambda ans, v, start, stop: lambda g: _untake_last(g, start, stop, vspace(v)))
defjvp(take_last, lambda g, ans, v, start, stop: take_last(g, start, stop))
defvjp(_untake_last, lambda ans, g, start, stop, vs: lambda gg: take_last(gg, start, stop))


class _PerThreadTraceStack(threading.local):
    """autograd's ``TraceStack`` with one counter per thread.

    autograd numbers nested traces with one process-wide counter (``trace_stack.top``), raised
    on entering a trace and lowered on leaving it. Two threads that trace at once interleave
    those updates, so an inner trace of one thread can get the number of an outer trace of
    the same thread, and its derivatives are then silently wrong. Boxes of different threads
    never meet in one operation, so a counter per thread keeps each thread's numbering
    exactly what it is single-threaded.
    """

    def __init__(self, top: int = -1) -> None:
        self.top = top

    @contextmanager
    def new_trace(self) -> Iterator[int]:
        self.top += 1
        try:
            yield self.top
        finally:
            self.top -= 1


_install_lock = threading.Lock()


def thread_safe_tracing() -> None:
    """Give autograd one trace counter per thread (idempotent; process-wide, permanent).

    Single-threaded behaviour is unchanged: a thread's traces are numbered as before (only
    their order matters to autograd). Every thread starts at the depth the calling thread had
    at installation, which keeps a trace that the calling thread is inside valid; a thread
    other than the caller that is inside a trace at that moment is not protected, so install
    it before other threads trace (``hessian(..., workers > 1)`` installs it on first use).

    Raises
    ------
    RuntimeError
        If ``autograd.tracer`` no longer has the ``trace_stack`` this replaces.
    """
    with _install_lock:
        current = getattr(autograd.tracer, "trace_stack", None)
        if isinstance(current, _PerThreadTraceStack):
            return
        if current is None or not isinstance(getattr(current, "top", None), int):
            raise RuntimeError(
                "autograd.tracer.trace_stack must be autograd's TraceStack (an int 'top' and "
                f"new_trace()); got {current!r}: this autograd version cannot trace in threads"
            )
        autograd.tracer.trace_stack = _PerThreadTraceStack(current.top)
