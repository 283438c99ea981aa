"""Functional MLPs: ``init(rng) -> params`` and ``apply(params, x)``, batch-polymorphic in params.

Parameters are ``[(W, b), ...]`` with ``W`` of shape ``(fan_in, fan_out)`` and
``y = x @ W + b`` (the flat layout of :mod:`hsc_ref.derivatives`). Every parameter array may
carry leading axes of parameter copies: with ``W`` of shape ``(k, fan_in, fan_out)`` and ``b``
of shape ``(k, fan_out)``, ``apply`` returns ``k`` outputs of shape ``(k, batch, out)``. That
is what the vectorized exact Hessian (``hessian(..., batched=True)``) relies on.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import autograd.numpy as anp
import numpy as np

from hsc_ref import _autograd_ops, _validation

__all__ = ["ACTIVATIONS", "Model", "mlp"]


def _leaky_relu(x: Any) -> Any:
    return anp.where(x > 0, x, 0.2 * x)


def _sigmoid(x: Any) -> Any:
    """``1 / (1 + exp(-x))`` as ``exp(-log(1 + exp(-x)))``: relative accuracy in both tails."""
    return anp.exp(-anp.logaddexp(0.0, -x))


ACTIVATIONS: dict[str, Callable[[Any], Any]] = {
    "tanh": _autograd_ops.tanh,  # anp.tanh with a cheaper second derivative
    "relu": lambda x: anp.maximum(x, 0.0),
    "leaky_relu": _leaky_relu,
    "sigmoid": _sigmoid,
    "identity": lambda x: x,
}
"""Activations by name; ``leaky_relu`` has slope 0.2, ``sigmoid`` is ``exp(-logaddexp(0, -x))``."""


class Model(NamedTuple):
    """A functional model: ``init(rng) -> params`` and ``apply(params, x) -> y``."""

    init: Callable[[np.random.Generator], list[tuple[np.ndarray, np.ndarray]]]
    apply: Callable[[Any, Any], Any]


def _activation(name: str) -> Callable[[Any], Any]:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


def mlp(
    sizes: Sequence[int], activation: str = "tanh", output_activation: str = "identity"
) -> Model:
    """A fully connected network with layer sizes ``sizes = (in, hidden..., out)``.

    ``init`` draws ``W`` from ``U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))``
    (Glorot) and sets ``b = 0``, float64, from the given ``numpy.random.Generator``.
    ``apply.activations`` names each layer's activation; the hand-derived exact Hessians of
    :mod:`hsc_ref.gan.game` read it (models without it get autograd's route).

    Examples
    --------
    >>> import numpy as np
    >>> model = mlp([2, 8, 1])
    >>> params = model.init(np.random.default_rng(0))
    >>> [W.shape for W, b in params]
    [(2, 8), (8, 1)]
    >>> model.apply(params, np.zeros((5, 2))).shape
    (5, 1)
    """
    if isinstance(sizes, (str, bytes)) or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in sizes
    ):
        raise TypeError(f"sizes must be a sequence of integers, got {sizes!r}")
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must list at least two positive layer widths, got {sizes}")
    hidden = _activation(activation)
    final = _activation(output_activation)

    def init(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        params = []
        for fan_in, fan_out in itertools.pairwise(sizes):
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            params.append((rng.uniform(-bound, bound, (fan_in, fan_out)), np.zeros(fan_out)))
        return params

    def apply(params: Any, x: Any) -> Any:
        if not hasattr(x, "shape"):
            x = _validation.as_real_array(x, "x")
        if x.shape[-1] != sizes[0]:
            raise ValueError(f"x must have last axis {sizes[0]}, got shape {x.shape}")
        h = x
        for i, (W, b) in enumerate(params):
            h = anp.matmul(h, W) + b[..., None, :]
            h = hidden(h) if i < len(params) - 1 else final(h)
        return h

    apply.activations = (activation,) * (len(sizes) - 2) + (output_activation,)
    return Model(init, apply)
