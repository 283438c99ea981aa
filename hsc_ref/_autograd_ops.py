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
"""

from __future__ import annotations

from typing import Any

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
