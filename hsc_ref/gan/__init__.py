"""Small MLP GANs: pinned data sets, losses, exact game matrices, mode metrics and trainers.

Modules: :mod:`~hsc_ref.gan.data` (the ring, grid and DiracGAN data),
:mod:`~hsc_ref.gan.game` (models, losses, per-player Hessians, the game Jacobian),
:mod:`~hsc_ref.gan.metrics` (modes captured, high-quality fraction, reverse KL),
:mod:`~hsc_ref.gan.methods` (the game-aware methods on the joint gradient field),
:mod:`~hsc_ref.gan.train` (one loop for every method) and :mod:`~hsc_ref.gan.cli`
(``hsc-ref gan``). The names users call are re-exported here.
"""

from __future__ import annotations

from hsc_ref.gan.data import DATASETS, Mixture, mixture, sample
from hsc_ref.gan.game import (
    Game,
    dirac_game,
    discriminator_loss,
    game_matrices,
    generator_loss,
    init_game,
    mlp_game,
    player_hessians,
    player_losses,
)
from hsc_ref.gan.metrics import ModeMetrics, mode_metrics
from hsc_ref.gan.train import METHODS, TrainConfig, TrainResult, make_rule, train

__all__ = [
    "Mixture",
    "DATASETS",
    "mixture",
    "sample",
    "discriminator_loss",
    "generator_loss",
    "Game",
    "mlp_game",
    "dirac_game",
    "init_game",
    "player_losses",
    "player_hessians",
    "game_matrices",
    "ModeMetrics",
    "mode_metrics",
    "METHODS",
    "TrainConfig",
    "TrainResult",
    "make_rule",
    "train",
]
