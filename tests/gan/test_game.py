"""GAN losses and exact game matrices against direct formulas, finite differences and DiracGAN."""

import autograd
import mpmath
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import EPS

from hsc_ref.gan.data import sample
from hsc_ref.gan.game import (
    dirac_game,
    dirac_matrices,
    discriminator_loss,
    game_matrices,
    generator_loss,
    init_game,
    mlp_game,
    player_hessians,
    player_losses,
    softplus,
)
from hsc_ref.testing import central_difference_hessian


def _mp_softplus(t: float) -> float:
    return float(mpmath.log1p(mpmath.exp(mpmath.mpf(t))))


@given(st.floats(-700.0, 700.0))
def test_softplus_matches_mpmath_to_a_few_ulps(t):
    # logaddexp is accurate to a few ulps of its result (plus eps*|t| absolute where the
    # rounding of t itself dominates); 4 eps relative + 1e-300 covers both
    assert softplus(t) == pytest.approx(_mp_softplus(t), rel=4 * EPS, abs=1e-300)


def test_losses_match_the_bce_formulas_written_with_sigmoid():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(7, 1)), rng.normal(size=(7, 1))
    sig = 1 / (1 + np.exp(-np.vstack([real, fake])))
    d_direct = -np.mean(np.log(sig[:7])) - np.mean(np.log(1 - sig[7:]))
    g_direct = -np.mean(np.log(sig[7:]))
    minimax_direct = np.mean(np.log(1 - sig[7:]))
    # moderate logits: the direct formulas lose at most a few ulps, 1e-14 relative is ~50 eps
    assert discriminator_loss(real, fake) == pytest.approx(d_direct, rel=1e-14)
    assert generator_loss(fake) == pytest.approx(g_direct, rel=1e-14)
    assert generator_loss(fake, "minimax") == pytest.approx(minimax_direct, rel=1e-14)


def test_losses_stay_finite_with_finite_gradients_at_saturated_logits():
    big = np.array([[-800.0], [800.0]])
    assert np.isfinite(discriminator_loss(big, big))
    assert generator_loss(big) == pytest.approx(400.0, rel=1e-15)  # (800 + 0) / 2
    grad = autograd.grad(generator_loss)(big)
    np.testing.assert_allclose(grad, [[-0.5], [0.0]], atol=1e-300)


def test_loss_means_over_the_batch_and_keeps_leading_copy_axes():
    fake = np.arange(6.0).reshape(2, 3, 1) / 3
    values = generator_loss(fake)
    assert values.shape == (2,)
    assert values[1] == pytest.approx(generator_loss(fake[1]), rel=0)


def test_unknown_loss_name_is_rejected():
    with pytest.raises(ValueError, match="loss must be one of"):
        generator_loss(np.zeros((2, 1)), "wasserstein")
    with pytest.raises(ValueError, match="loss must be one of"):
        mlp_game(loss="hinge")


def _tiny(loss="bce", seed=0):
    game = mlp_game("ring", hidden=(3,), loss=loss)
    fg = init_game(game, np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    x, z = sample(game.data, 5, rng), rng.standard_normal((5, 2))
    return fg, x, z


@pytest.mark.parametrize("loss", ["bce", "minimax"])
def test_joint_hessians_match_central_differences(loss):
    fg, x, z = _tiny(loss)
    m = game_matrices(fg, fg.theta, fg.phi, x, z)
    losses = player_losses(fg, x, z)
    n_g = fg.theta.size
    w = np.concatenate([fg.theta, fg.phi])
    fd_g = central_difference_hessian(lambda v: losses.generator(v[:n_g], v[n_g:]), w, h=1e-4)
    fd_d = central_difference_hessian(lambda v: losses.discriminator(v[:n_g], v[n_g:]), w, h=1e-4)
    # FD error: truncation h^2 * f'''' / 12 ~ 1e-9 and rounding eps * |f| / h^2 ~ 2e-8 for
    # losses of order 1: 2e-7 leaves a factor 10
    assert np.abs(m.hessian_g - fd_g[:n_g, :n_g]).max() < 2e-7
    assert np.abs(m.cross_g - fd_g[:n_g, n_g:]).max() < 2e-7
    assert np.abs(m.hessian_d - fd_d[n_g:, n_g:]).max() < 2e-7
    assert np.abs(m.cross_d - fd_d[n_g:, :n_g]).max() < 2e-7


def test_game_jacobian_is_the_jacobian_of_the_simultaneous_gradient_field():
    fg, x, z = _tiny()
    losses = player_losses(fg, x, z)
    n_g = fg.theta.size

    def field(w):
        t, p = w[:n_g], w[n_g:]
        return np.concatenate(
            [
                autograd.grad(lambda a: losses.generator(a, p))(t),
                autograd.grad(lambda b: losses.discriminator(t, b))(p),
            ]
        )

    w = np.concatenate([fg.theta, fg.phi])
    h = 1e-6
    fd = np.stack([(field(w + h * e) - field(w - h * e)) / (2 * h) for e in np.eye(w.size)], axis=1)
    J = game_matrices(fg, fg.theta, fg.phi, x, z).jacobian
    # central difference of exact gradients: h^2 |v'''| / 6 ~ 1e-12 plus eps |v| / h ~ 2e-10
    assert np.abs(J - fd).max() < 2e-9
    assert np.abs(J - J.T).max() > 1e-3  # a game Jacobian is not symmetric


def test_player_hessians_equal_the_diagonal_blocks_of_the_game_matrices():
    fg, x, z = _tiny()
    h_g, h_d = player_hessians(fg, fg.theta, fg.phi, x, z)
    m = game_matrices(fg, fg.theta, fg.phi, x, z)
    # same reverse-over-reverse passes over different copy counts: rounding only
    np.testing.assert_allclose(h_g, m.hessian_g, rtol=0, atol=64 * EPS * np.abs(h_g).max())
    np.testing.assert_allclose(h_d, m.hessian_d, rtol=0, atol=64 * EPS * np.abs(h_d).max())
    np.testing.assert_array_equal(h_g, h_g.T)


@given(
    st.sampled_from(["bce", "minimax"]),
    st.floats(-3.0, 3.0, allow_subnormal=False),
    st.floats(-3.0, 3.0, allow_subnormal=False),
)
@example("bce", 0.0, 0.0)
@example("minimax", 0.0, 0.0)
@example("bce", 2.0, -3.0)
def test_dirac_matrices_match_the_closed_forms(loss, theta, psi):
    fg = init_game(dirac_game(loss), np.random.default_rng(0))
    m = game_matrices(fg, np.array([theta]), np.array([psi]), np.zeros((4, 1)), np.zeros((4, 1)))
    closed = dirac_matrices(theta, psi, loss)
    # entries are products of a few sigmoids with |theta|, |psi| <= 3: each is at most
    # 9 * 1/4 + 1 in size and rounds to a few ulps, so 16 eps * 4 absolute covers them
    np.testing.assert_allclose(m.jacobian, closed.jacobian, rtol=0, atol=64 * EPS)
    np.testing.assert_allclose(m.hessian_g, closed.hessian_g, rtol=0, atol=64 * EPS)
    np.testing.assert_allclose(m.hessian_d, closed.hessian_d, rtol=0, atol=64 * EPS)


def test_dirac_equilibrium_has_zero_player_hessians_and_imaginary_jacobian_eigenvalues():
    m = dirac_matrices(0.0, 0.0)
    assert m.hessian_g[0, 0] == 0.0 and m.hessian_d[0, 0] == 0.0  # so Hc = H + H^+ = 0
    np.testing.assert_allclose(np.linalg.eigvals(m.jacobian), [0.5j, -0.5j], atol=1e-16)


def test_batched_losses_equal_per_copy_losses():
    fg, x, z = _tiny()
    losses = player_losses(fg, x, z)
    thetas = fg.theta + 0.1 * np.random.default_rng(5).standard_normal((3, fg.theta.size))
    batched = losses.generator(thetas, fg.phi)
    single = [losses.generator(t, fg.phi) for t in thetas]
    np.testing.assert_allclose(batched, single, rtol=4 * EPS)


def test_bad_batches_and_parameters_are_rejected():
    fg, x, z = _tiny()
    with pytest.raises(ValueError, match=r"z must have shape \(batch, 2\)"):
        player_losses(fg, x, z[:, :1])
    with pytest.raises(ValueError, match="same batch size"):
        player_losses(fg, x, z[:3])
    with pytest.raises(ValueError, match="x_real must be 2-D"):
        player_losses(fg, x[:, 0], z)
    with pytest.raises(ValueError, match="theta and phi must have shapes"):
        game_matrices(fg, fg.theta[:-1], fg.phi, x, z)
    with pytest.raises(ValueError, match="data must be 'ring' or 'grid'"):
        mlp_game("dirac")
    with pytest.raises(ValueError, match="noise_dim must be a positive integer"):
        mlp_game(noise_dim=0)
    with pytest.raises(TypeError, match="game must be a Game"):
        init_game("ring", np.random.default_rng(0))
