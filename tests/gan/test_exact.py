"""The hand-derived exact route of the GAN matrices against autograd's route and DiracGAN.

Tolerance as in tests/test_mlp_hessian.py: the routes differ by the rounding of the same sums
in another order, far below ``1e-13 * max|M|`` for these small games (measured: below 1e-15).
"""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hsc_ref.gan.data import mixture, sample
from hsc_ref.gan.game import (
    LOSSES,
    PLAYERS,
    Game,
    dirac_game,
    dirac_matrices,
    game_matrices,
    init_game,
    mlp_game,
    player_hessians,
    player_value_grad_hessian,
)
from hsc_ref.models import ACTIVATIONS, mlp

AGREEMENT = 1e-13


def _relative_difference(a, reference):
    scale = np.abs(reference).max()
    diff = np.abs(a - reference).max()
    return diff / scale if scale > 0 else diff


class Setup:
    """A drawn MLP game at a drawn point, with one batch of data and noise."""

    def __init__(self, hidden, activation, *, loss, data, batch, seed):
        rng = np.random.default_rng(seed)
        self.fg = init_game(mlp_game(data, hidden=hidden, activation=activation, loss=loss), rng)
        self.theta = self.fg.theta + rng.normal(0.0, 0.3, self.fg.theta.shape)  # biases != 0
        self.phi = self.fg.phi + rng.normal(0.0, 0.3, self.fg.phi.shape)
        self.x = sample(self.fg.game.data, batch, rng)
        self.z = rng.standard_normal((batch, self.fg.game.noise_dim))

    def args(self):
        return self.fg, self.theta, self.phi, self.x, self.z


@st.composite
def setups(draw):
    return Setup(
        tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=2))),
        draw(st.sampled_from(sorted(ACTIVATIONS))),
        loss=draw(st.sampled_from(LOSSES)),
        data=draw(st.sampled_from(["ring", "grid"])),
        batch=draw(st.integers(1, 8)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@given(setups())
@example(Setup((3,), "tanh", loss="minimax", data="ring", batch=4, seed=0))
def test_player_value_gradient_and_hessian_match_autograd(setup):
    for player in PLAYERS:
        exact = player_value_grad_hessian(*setup.args(), player=player, route="exact")
        ref = player_value_grad_hessian(*setup.args(), player=player, route="autograd")
        assert _relative_difference(exact.hessian, ref.hessian) <= AGREEMENT
        assert np.array_equal(exact.hessian, exact.hessian.T)
        np.testing.assert_allclose(exact.grad, ref.grad, rtol=1e-13, atol=1e-13)
        assert exact.value == pytest.approx(ref.value, rel=1e-13)


@given(setups())
@example(Setup((4, 2), "sigmoid", loss="bce", data="grid", batch=3, seed=1))
def test_game_matrices_match_autograd(setup):
    exact = game_matrices(*setup.args(), route="exact")
    ref = game_matrices(*setup.args(), route="autograd")
    for name in ref._fields:
        assert _relative_difference(getattr(exact, name), getattr(ref, name)) <= AGREEMENT, name


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize(("theta", "psi"), [(0.0, 0.0), (0.7, -1.3), (-2.0, 0.4)])
def test_dirac_closed_form_through_a_one_by_one_mlp_game(loss, theta, psi):
    # G(z) = z w + b and D(x) = x psi + c are MLPs; at z = 0, c = 0 and data 0 they are
    # DiracGAN's G = theta (= b) and D = psi x, so DiracGAN's closed forms are sub-blocks.
    linear = mlp([1, 1], "identity")
    game = Game(linear, linear, 1, mixture("dirac"), loss)
    fg = init_game(game, np.random.default_rng(0))
    point = (np.array([0.5, theta]), np.array([psi, 0.0]), np.zeros((4, 1)), np.zeros((4, 1)))
    m = game_matrices(fg, *point, route="exact")
    closed = dirac_matrices(theta, psi, loss)
    got = np.array([[m.hessian_g[1, 1], m.cross_g[1, 0]], [m.cross_d[0, 1], m.hessian_d[0, 0]]])
    # the closed forms are a few roundings of expit and products: 1e-15 absolute is ~5 eps
    np.testing.assert_allclose(got, closed.jacobian, rtol=1e-14, atol=1e-15)


def test_auto_takes_the_exact_route_for_mlp_players_and_autograd_otherwise(monkeypatch):
    from hsc_ref.gan import _exact

    setup = Setup((3,), "tanh", loss="bce", data="ring", batch=4, seed=0)
    auto = player_hessians(*setup.args())
    assert all(
        np.array_equal(a, e)
        for a, e in zip(auto, player_hessians(*setup.args(), route="exact"), strict=True)
    )
    fg = init_game(dirac_game(), np.random.default_rng(0))
    monkeypatch.setattr(_exact, "joint_hessians", None)  # would raise if called
    m = game_matrices(fg, np.zeros(1), np.zeros(1), np.zeros((4, 1)), np.zeros((4, 1)))
    np.testing.assert_array_equal(m.jacobian, [[0.0, -0.5], [0.5, 0.0]])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"route": "fast"}, "route must be one of"),
        ({"player": "critic"}, "player must be one of"),
    ],
)
def test_bad_route_or_player_is_named(kwargs, match):
    setup = Setup((3,), "tanh", loss="bce", data="ring", batch=4, seed=0)
    with pytest.raises(ValueError, match=match):
        player_value_grad_hessian(*setup.args(), **{"player": "generator", **kwargs})


def test_exact_route_refuses_models_that_are_not_mlps():
    fg = init_game(dirac_game(), np.random.default_rng(0))
    with pytest.raises(ValueError, match="route 'exact' needs both players"):
        player_hessians(
            fg, np.zeros(1), np.zeros(1), np.zeros((4, 1)), np.zeros((4, 1)), route="exact"
        )
