"""The GAN losses on the hand-derived exact route of :mod:`hsc_ref._mlp_hessian`.

Private; :func:`~hsc_ref.gan.game.player_value_grad_hessian`,
:func:`~hsc_ref.gan.game.player_hessians` and :func:`~hsc_ref.gan.game.game_matrices` call it
for MLP players (``route="exact"``, the default where it applies). Both players are chains of
dense layers, so every loss is a chain with a loss given per output logit:

* ``L_G`` is the chain ``G`` then ``D`` on the noise ``z``, with ``l(f) = softplus(-f) / N``
  (``"bce"``) or ``-softplus(f) / N`` (``"minimax"``), ``N`` the number of logits; its
  Hessian over ``theta`` is the block of ``G``'s layers (``D``'s layers fixed);
* ``L_D`` is ``D`` on the real batch with ``softplus(-r) / N`` stacked with ``D`` on the
  generated batch ``G(z)`` with ``softplus(f) / N``, one chain on ``2 batch`` rows;
* the joint Hessians over ``(theta, phi)`` that :func:`~hsc_ref.gan.game.game_matrices` reads
  its blocks from are those of the chain ``G`` then ``D`` over every layer (plus, for
  ``L_D``, the real batch's Hessian in the ``phi`` block).

The derivatives of the losses in the logits are closed forms with ``s = sigmoid(t)``:
``softplus(t)' = s``, ``softplus(t)'' = s (1 - s)``, evaluated with ``expit`` in both tails.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import scipy.special

from hsc_ref import _mlp_hessian
from hsc_ref.derivatives import ValueGradHessian

__all__: list[str] = []

Layers = Sequence[tuple[np.ndarray, np.ndarray]]


def supports(*activations: Sequence[str] | None) -> bool:
    """Whether every player is an MLP whose activations the exact route knows."""
    return all(_mlp_hessian.supports(a) for a in activations)


def _softplus_loss(sign: float, scale: float):
    """``l(t) = scale * softplus(sign * t) / N`` with its first two derivatives in ``t``."""

    def loss(t: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        count = t.size
        s, s_neg = scipy.special.expit(sign * t), scipy.special.expit(-sign * t)
        value = scale * float(np.sum(np.logaddexp(0.0, sign * t))) / count
        return value, (scale * sign / count) * s, (scale / count) * s * s_neg

    return loss


GENERATOR_LOSSES = {"bce": _softplus_loss(-1.0, 1.0), "minimax": _softplus_loss(1.0, -1.0)}
"""``l(f)`` of the generator losses: ``softplus(-f)`` and ``-softplus(f)``, means over logits."""

_REAL = _softplus_loss(-1.0, 1.0)  # discriminator on data: softplus(-r)
_FAKE = _softplus_loss(1.0, 1.0)  # discriminator on samples: softplus(f)


def _stacked(rows_real: int):
    """``L_D``'s loss on ``[r; f]``: the real rows' mean plus the generated rows' mean."""

    def loss(out: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        real, fake = _REAL(out[:rows_real]), _FAKE(out[rows_real:])
        return (
            real[0] + fake[0],
            np.concatenate([real[1], fake[1]]),
            np.concatenate([real[2], fake[2]]),
        )

    return loss


class Players(NamedTuple):
    """Both players as chains: layers ``[(W, b), ...]`` and activation names."""

    g_layers: Layers
    g_acts: Sequence[str]
    d_layers: Layers
    d_acts: Sequence[str]

    def chain(self) -> tuple[list, list]:
        """The generator then the discriminator, as one chain."""
        return [*self.g_layers, *self.d_layers], [*self.g_acts, *self.d_acts]


def generator_value_grad_hessian(players: Players, z: Any, loss: str) -> ValueGradHessian:
    """``L_G``, its gradient and Hessian over ``theta`` (the generator's flat parameters)."""
    layers, acts = players.chain()
    return _mlp_hessian.value_grad_hessian(
        layers, acts, z, GENERATOR_LOSSES[loss], stop=len(players.g_layers)
    )


def discriminator_value_grad_hessian(players: Players, x_real: Any, z: Any) -> ValueGradHessian:
    """``L_D``, its gradient and Hessian over ``phi`` (the discriminator's flat parameters)."""
    fake = _mlp_hessian.forward(players.g_layers, players.g_acts, z).output
    x = np.concatenate([np.asarray(x_real, dtype=np.float64), fake])
    return _mlp_hessian.value_grad_hessian(
        players.d_layers, players.d_acts, x, _stacked(len(x_real))
    )


def joint_hessians(
    players: Players, x_real: Any, z: Any, loss: str
) -> tuple[np.ndarray, np.ndarray]:
    """Hessians of ``L_G`` and of ``L_D`` over the joint vector ``(theta, phi)``."""
    layers, acts = players.chain()
    joint_g = _mlp_hessian.value_grad_hessian(layers, acts, z, GENERATOR_LOSSES[loss]).hessian
    joint_d = _mlp_hessian.value_grad_hessian(layers, acts, z, _FAKE).hessian
    real = _mlp_hessian.value_grad_hessian(players.d_layers, players.d_acts, x_real, _REAL)
    n_d = real.hessian.shape[0]
    joint_d[-n_d:, -n_d:] += real.hessian
    return joint_g, joint_d
