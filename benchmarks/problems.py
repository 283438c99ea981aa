"""The benchmark problem, written once per framework on the same numbers.

Generator loss ``L_G = mean softplus(-D(G(z)))`` with tanh MLPs ``G: z(2) -> h -> h -> 2``
and a fixed discriminator ``D: 2 -> h -> h -> 1`` of the same width, batch 64. The Hessian is
taken with respect to the generator's flat parameters (layout of :mod:`hsc_ref.derivatives`),
``n = h^2 + 6h + 2``: h = 13, 29, 60 give n = 249, 1017, 3962.

The loss is written three ways for hsc_ref: with the package's model code (``Problem.loss``,
``hsc_ref.models.mlp``, whose tanh has a cheap second-derivative rule), as a user would write
it with ``autograd.numpy.tanh`` (:func:`user_loss`, batch-polymorphic), and as the generator's
loss of an MLP game (:func:`flat_game`) for the hand-derived exact route.

Every framework sees the same float64 parameters, noise and discriminator, so their Hessians
must agree to rounding (each benchmark records the largest difference next to each time).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import autograd.numpy as anp
import numpy as np

from hsc_ref.layout import flatten
from hsc_ref.models import mlp

BATCH = 64
LATENT = 2


def n_params(h: int) -> int:
    """Generator parameter count ``h^2 + 6h + 2``."""
    return h * h + 6 * h + 2


class Problem(NamedTuple):
    """One generator-loss Hessian problem: the point, the data and the autograd loss."""

    h: int
    theta: np.ndarray  # flat generator parameters, shape (n,)
    z: np.ndarray  # noise, shape (BATCH, LATENT)
    d_params: list[tuple[np.ndarray, np.ndarray]]  # fixed discriminator
    loss: Callable[[Any], Any]  # autograd loss of theta, (n,) -> () and (k, n) -> (k,)

    @property
    def n(self) -> int:
        return int(self.theta.shape[0])


def make_problem(h: int, seed: int = 0) -> Problem:
    """Build the problem of width ``h`` from one seed (bit-identical for equal seeds)."""
    rng = np.random.default_rng(seed)
    generator = mlp([LATENT, h, h, 2], "tanh")
    discriminator = mlp([2, h, h, 1], "tanh")
    g_params = generator.init(rng)
    # Non-zero biases so that every parameter has curvature (Glorot init leaves b = 0).
    g_params = [(W, rng.normal(0.0, 0.1, b.shape)) for W, b in g_params]
    d_params = [(W, rng.normal(0.0, 0.1, b.shape)) for W, b in discriminator.init(rng)]
    z = rng.standard_normal((BATCH, LATENT))
    theta, unflatten = flatten(g_params)

    def loss(flat: Any) -> Any:
        fake = generator.apply(unflatten(flat), z)  # (..., BATCH, 2)
        logits = discriminator.apply(d_params, fake)[..., 0]  # (..., BATCH)
        return anp.mean(anp.logaddexp(0.0, -logits), axis=-1)

    return Problem(h, theta, z, d_params, loss)


def _slices(h: int) -> list[tuple[int, int, tuple[int, ...]]]:
    shapes = [(LATENT, h), (h,), (h, h), (h,), (h, 2), (2,)]
    out, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        out.append((start, start + size, shape))
        start += size
    return out


def user_loss(problem: Problem) -> Callable[[Any], Any]:
    """The same loss written with ``autograd.numpy.tanh``, ``(n,) -> ()`` and ``(k, n) -> (k,)``."""
    z = problem.z
    d = problem.d_params
    slices = _slices(problem.h)

    def loss(flat: Any) -> Any:
        lead = flat.shape[:-1]
        p = [anp.reshape(flat[..., a:b], (*lead, *shape)) for a, b, shape in slices]
        x = anp.tanh(anp.matmul(z, p[0]) + p[1][..., None, :])
        x = anp.tanh(anp.matmul(x, p[2]) + p[3][..., None, :])
        x = anp.matmul(x, p[4]) + p[5][..., None, :]
        x = anp.tanh(x @ d[0][0] + d[0][1])
        x = anp.tanh(x @ d[1][0] + d[1][1])
        logits = (x @ d[2][0] + d[2][1])[..., 0]
        return anp.mean(anp.logaddexp(0.0, -logits), axis=-1)

    return loss


def flat_game(problem: Problem) -> Any:
    """The problem as the generator's loss of an MLP game: ``(FlatGame, phi, x_real)``.

    ``L_G(theta)`` of :func:`hsc_ref.gan.game.player_losses` with the BCE loss is the problem's
    loss (``x_real`` enters only ``L_D``; a zero batch of the right shape is passed).
    """
    from hsc_ref.gan.data import mixture
    from hsc_ref.gan.game import FlatGame, Game

    h = problem.h
    game = Game(
        mlp([LATENT, h, h, 2], "tanh"), mlp([2, h, h, 1], "tanh"), LATENT, mixture("ring"), "bce"
    )
    _, unflatten_g = flatten(game.generator.init(np.random.default_rng(0)))
    phi, unflatten_d = flatten(problem.d_params)
    fg = FlatGame(game, problem.theta, phi, unflatten_g, unflatten_d)
    return fg, phi, np.zeros((BATCH, 2))


def torch_loss(problem: Problem) -> Callable[[Any], Any]:
    """The same loss as a function of a flat ``torch.float64`` tensor."""
    import torch

    z = torch.from_numpy(problem.z)
    d = [(torch.from_numpy(W), torch.from_numpy(b)) for W, b in problem.d_params]
    slices = _slices(problem.h)

    def loss(flat: Any) -> Any:
        p = [flat[a:b].reshape(shape) for a, b, shape in slices]
        x = torch.tanh(z @ p[0] + p[1])
        x = torch.tanh(x @ p[2] + p[3])
        x = x @ p[4] + p[5]
        x = torch.tanh(x @ d[0][0] + d[0][1])
        x = torch.tanh(x @ d[1][0] + d[1][1])
        logits = (x @ d[2][0] + d[2][1])[:, 0]
        return torch.nn.functional.softplus(-logits).mean()

    return loss


def jax_loss(problem: Problem) -> Callable[[Any], Any]:
    """The same loss as a function of a flat ``jax`` float64 array (x64 must be enabled)."""
    import jax.numpy as jnp

    z = jnp.asarray(problem.z)
    d = [(jnp.asarray(W), jnp.asarray(b)) for W, b in problem.d_params]
    slices = _slices(problem.h)

    def loss(flat: Any) -> Any:
        p = [flat[a:b].reshape(shape) for a, b, shape in slices]
        x = jnp.tanh(z @ p[0] + p[1])
        x = jnp.tanh(x @ p[2] + p[3])
        x = x @ p[4] + p[5]
        x = jnp.tanh(x @ d[0][0] + d[0][1])
        x = jnp.tanh(x @ d[1][0] + d[1][1])
        logits = (x @ d[2][0] + d[2][1])[:, 0]
        return jnp.mean(jnp.logaddexp(0.0, -logits))

    return loss
