"""Shared test problems: seeded losses of small networks with flat parameters, in one table.

As in curvlinops' ``test/cases.py``, each row of :data:`PROBLEMS` names a problem and its
settings and :func:`make_problem` builds it, so that a test asks for a problem by name instead
of building its own copy. Every loss is batch-polymorphic, as the batched Hessian route needs:
``loss(theta)`` is a scalar for ``theta`` of shape ``(n,)`` and a ``(k,)`` vector for a stack
``(k, n)`` of parameter copies.

Import from a test module with ``from problems import ...`` (pytest puts ``tests/`` on
``sys.path``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import autograd.numpy as anp
import numpy as np

from hsc_ref.layout import flatten
from hsc_ref.models import mlp

DEAD_BIAS = -100.0
"""Bias of the dead hidden unit: ``|x W| <= 8`` on the data, so the unit never fires."""

PROBLEMS: dict[str, dict[str, Any]] = {
    "mlp_tanh": {"kind": "regression", "sizes": (3, 4, 2), "activation": "tanh", "batch": 16},
    "mlp_relu_dead_unit": {
        "kind": "regression",
        "sizes": (2, 5, 1),
        "activation": "relu",
        "batch": 16,
        "dead_unit": True,
    },
    "generator_h2": {"kind": "generator", "width": 2, "batch": 16},  # n = 18
    "generator_h3": {"kind": "generator", "width": 3, "batch": 16},  # n = 29
}
"""Problem name -> settings. ``regression``: mean squared error of an MLP with layer sizes
``sizes`` on Gaussian data; with ``dead_unit``, hidden unit 0 has bias :data:`DEAD_BIAS`, so
its incoming weights, bias and outgoing weights are exact zeros of the gradient and of the
Hessian's rows and columns (an exact null space). ``generator``: the benchmark's generator loss
``mean softplus(-D(G(z)))`` with ``2-width-width-2`` and ``2-width-width-1`` tanh MLPs, the
discriminator fixed (``n = width^2 + 6 width + 2``)."""


class Problem(NamedTuple):
    """A seeded loss and the parameters to differentiate it at.

    Attributes
    ----------
    name : str
        The row of :data:`PROBLEMS`.
    loss : callable
        Batch-polymorphic loss of the flat parameters.
    theta : ndarray, shape (n,)
        The parameters, flat (layer by layer: ``W.ravel()`` in C order, then ``b``).
    batch : int
        Number of data points the loss averages over.
    null_coordinates : tuple of int
        Coordinates of ``theta`` whose gradient entries and Hessian rows are exactly zero
        (the dead unit's parameters); empty without a dead unit.
    """

    name: str
    loss: Callable[[Any], Any]
    theta: np.ndarray
    batch: int
    null_coordinates: tuple[int, ...]


def make_problem(name: str, seed: int = 0) -> Problem:
    """Build the problem ``name`` of :data:`PROBLEMS` from ``numpy.random.default_rng(seed)``."""
    settings = dict(PROBLEMS[name])
    build = {"regression": _regression, "generator": _generator}[settings.pop("kind")]
    return build(name, np.random.default_rng(seed), **settings)


def _regression(
    name: str,
    rng: np.random.Generator,
    *,
    sizes: tuple[int, ...],
    activation: str,
    batch: int,
    dead_unit: bool = False,
) -> Problem:
    model = mlp(list(sizes), activation=activation)
    params = [(W, 0.1 * rng.standard_normal(b.shape)) for W, b in model.init(rng)]
    x = rng.standard_normal((batch, sizes[0]))
    y = rng.standard_normal((batch, sizes[-1]))
    null: tuple[int, ...] = ()
    if dead_unit:
        params[0][1][0] = DEAD_BIAS
        null = _unit_coordinates(sizes, unit=0)
    theta, unflatten = flatten(params)

    def loss(flat: Any) -> Any:
        return anp.mean((model.apply(unflatten(flat), x) - y) ** 2, axis=(-2, -1))

    return Problem(name, loss, theta, batch, null)


def _unit_coordinates(sizes: tuple[int, ...], unit: int) -> tuple[int, ...]:
    """Flat coordinates of first-hidden-layer ``unit``: its column of ``W1``, its bias, its
    row of ``W2``."""
    n_in, hidden, n_out = sizes[0], sizes[1], sizes[2]
    w1, b1, w2 = 0, n_in * hidden, n_in * hidden + hidden  # where each array starts
    incoming = [w1 + i * hidden + unit for i in range(n_in)]
    outgoing = [w2 + unit * n_out + j for j in range(n_out)]
    return (*incoming, b1 + unit, *outgoing)


def _generator(name: str, rng: np.random.Generator, *, width: int, batch: int) -> Problem:
    generator, discriminator = mlp([2, width, width, 2]), mlp([2, width, width, 1])
    g_params = [(W, rng.normal(0, 0.1, b.shape)) for W, b in generator.init(rng)]
    d_params = [(W, rng.normal(0, 0.1, b.shape)) for W, b in discriminator.init(rng)]
    z = rng.standard_normal((batch, 2))
    theta, unflatten = flatten(g_params)

    def loss(flat: Any) -> Any:
        logits = discriminator.apply(d_params, generator.apply(unflatten(flat), z))[..., 0]
        return anp.mean(anp.logaddexp(0.0, -logits), axis=-1)

    return Problem(name, loss, theta, batch, ())
