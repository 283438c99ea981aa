"""The game-aware methods against the papers' closed forms on DiracGAN, against central
differences on an MLP game, and against the papers' own statements (SGA's sign rule, CGD's
Nash step and its zero-sum form).

DiracGAN's linearization, derived for the package's losses. With ``t = psi theta`` and
``s = sigmoid(t)`` the field is ``v = (-psi (1 - s), theta s)`` (``"bce"``) or
``(-psi s, theta s)`` (``"minimax"``); at the equilibrium ``(0, 0)``, ``s = 1/2`` and
``J = [[0, -a], [a, 0]]`` with ``a = 1/2`` for both losses (Mescheder, Geiger and Nowozin 2018,
section 2, with ``f'(0) = 1/2`` in their sign convention). So ``J^T = -J``, ``J^T J = a^2 I``,
``J^2 = -a^2 I``, ``A = (J - J^T)/2 = J`` and the eigenvalues of ``J`` are ``+-ia``. Every
correction term of the methods is a product of a derivative of ``J`` or ``v`` with ``v``,
which vanishes at the equilibrium, so the one-step map ``w -> w + step(w)`` has the Jacobian
``M`` below (step size ``eta``):

* simultaneous gradient descent: ``M = I - eta J``, eigenvalues ``1 -+ i eta a``, modulus
  ``sqrt(1 + eta^2 a^2) > 1``: it spirals out;
* ``conopt``: ``M = I - eta (J + gamma J^T J)``, eigenvalues ``1 - eta gamma a^2 -+ i eta a``;
* ``sga``: near the equilibrium the alignment ``<v, grad H><A^T v, grad H>/d`` is
  ``O(|w|^4)``, far below ``eps = 1/10``, so ``lambda > 0`` and
  ``M = I - eta (J + lambda A^T J)``, eigenvalues ``1 - eta lambda a^2 -+ i eta a``;
* ``cgd``: ``D_xy f = -a``, ``D_yx g = a``, so both systems read ``(1 + eta^2 a^2) d = ...`` and
  ``M = I - eta (eta a^2 I + J) / (1 + eta^2 a^2)``, eigenvalues ``1 / (1 +- i eta a)``, modulus
  ``1 / sqrt(1 + eta^2 a^2) < 1`` at every step size (the CGD paper's bilinear analysis);
* ``extragradient``: ``M = I - eta J (I - eta J)``, eigenvalues ``1 - eta^2 a^2 -+ i eta a``;
* ``optimistic``: on the state ``(w_t, v_{t-1})``,
  ``M = [[I - 2 eta J, eta I], [J, 0]]``; its eigenvalues solve
  ``mu^2 - (1 - 2 eta j) mu - eta j = 0`` for each eigenvalue ``j = +-ia`` of ``J`` (the
  companion map of ``w_{t+1} = w_t - 2 eta J w_t + eta J w_{t-1}``).
"""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from autograd.differential_operators import make_jvp_reversemode
from strategies import EPS

from hsc_ref.gan.data import sample
from hsc_ref.gan.game import GameMatrices, dirac_game, init_game, mlp_game, player_losses
from hsc_ref.gan.methods import (
    GAME_METHODS,
    SGA_EPS,
    GameField,
    competitive,
    dirac_field,
    game_field,
    game_rule,
    symplectic,
)
from hsc_ref.gan.train import DEFAULT_LR, DEFAULT_OPTIONS, METHOD_OPTIONS
from hsc_ref.rules import sgd
from hsc_ref.testing import central_difference_gradient

A = 0.5
J_STAR = A * np.array([[0.0, -1.0], [1.0, 0.0]])
I2 = np.eye(2)


def _options(method: str, value: float) -> dict[str, float]:
    """The method's own options, each set to ``value``."""
    return dict.fromkeys(METHOD_OPTIONS.get(method, ()), value)


def _defaults(method: str) -> dict[str, float]:
    """The method's own options at their defaults, given explicitly."""
    return {name: DEFAULT_OPTIONS[name] for name in METHOD_OPTIONS.get(method, ())}


def _closed_map(method: str, lr: float, gamma: float = 1.0, lam: float = 1.0) -> np.ndarray:
    """The Jacobian ``M`` of the one-step map at DiracGAN's equilibrium (module docstring)."""
    J = J_STAR
    if method == "simultaneous":
        return I2 - lr * J
    if method == "conopt":
        return I2 - lr * (J + gamma * J.T @ J)
    if method == "sga":
        return I2 - lr * (J + lam * ((J - J.T) / 2).T @ J)
    if method == "cgd":
        return I2 - lr * (lr * A**2 * I2 + J) / (1 + lr**2 * A**2)
    if method == "extragradient":
        return I2 - lr * J @ (I2 - lr * J)
    assert method == "optimistic"
    return np.block([[I2 - 2 * lr * J, lr * I2], [J, np.zeros((2, 2))]])


def _closed_eigenvalues(method: str, lr: float, gamma: float = 1.0, lam: float = 1.0):
    """The eigenvalues of ``M`` in closed form (module docstring)."""
    rot = 1j * lr * A
    if method == "simultaneous":
        return [1 - rot, 1 + rot]
    if method in ("conopt", "sga"):
        weight = gamma if method == "conopt" else lam
        return [1 - lr * weight * A**2 - rot, 1 - lr * weight * A**2 + rot]
    if method == "cgd":
        return [1 / (1 + rot), 1 / (1 - rot)]
    if method == "extragradient":
        return [1 - (lr * A) ** 2 - rot, 1 - (lr * A) ** 2 + rot]
    roots = []
    for j in (1j * A, -1j * A):  # mu^2 - (1 - 2 lr j) mu - lr j = 0
        b, c = -(1 - 2 * lr * j), -lr * j
        disc = np.sqrt(b * b - 4 * c + 0j)
        roots += [(-b + disc) / 2, (-b - disc) / 2]
    return roots


def _dirac_update_map(method: str, lr: float, loss: str, **options):
    """The trainer's one-step map on DiracGAN: ``game_field`` (autograd) and the rule."""
    fg = init_game(dirac_game(loss), np.random.default_rng(0))
    x = z = np.zeros((2, 1))
    losses = player_losses(fg, x, z)
    rule = game_rule(method, lr, **options)

    def field(w):
        return game_field(fg, w[:1], w[1:], x, z, losses=losses)

    def one_step(state_vector):
        w = state_vector[:2]
        f = field(w)
        v = f.field(w)
        state = rule.init(w)
        if method == "optimistic":  # the state (w_t, v_{t-1})
            state = (state[0], state[1]._replace(previous=state_vector[2:]))
        step, _ = rule.update(v, state, params=w, game=f)
        return np.concatenate([w + step, v]) if method == "optimistic" else w + step

    return one_step


def _central_jacobian(fun, x, h):
    return np.stack([(fun(x + h * e) - fun(x - h * e)) / (2 * h) for e in np.eye(x.size)], axis=1)


@pytest.mark.parametrize("loss", ["bce", "minimax"])
@pytest.mark.parametrize(
    ("method", "lr", "options"),
    [
        ("conopt", 0.1, {"gamma": 1.0}),
        ("conopt", 0.3, {"gamma": 4.0}),
        ("sga", 0.1, {"sga_lambda": 1.0}),
        ("sga", 0.5, {"sga_lambda": 2.0}),
        ("cgd", 0.1, {}),
        ("cgd", 3.0, {}),
        ("extragradient", 0.1, {}),
        ("extragradient", 1.0, {}),
        ("optimistic", 0.1, {}),
        ("optimistic", 0.7, {}),
    ],
)
def test_update_jacobian_at_the_diracgan_equilibrium_has_the_closed_form_eigenvalues(
    method, lr, options, loss
):
    one_step = _dirac_update_map(method, lr, loss, **options)
    n = 4 if method == "optimistic" else 2
    h = 1e-6
    M = _central_jacobian(one_step, np.zeros(n), h)
    gamma, lam = options.get("gamma", 1.0), options.get("sga_lambda", 1.0)
    closed = _closed_map(method, lr, gamma, lam)
    # Every map is odd (v(-w) = -v(w), J even), so the central difference's error is the
    # cubic term, h^2 |F'''| / 6 with |F'''| of order lr (1 + gamma) (the field's third
    # derivatives are at most 1/4 here): below 1e-11; rounding adds eps |F| / h ~ eps since
    # F(h) ~ h. 1e-10 on every entry is ten times that.
    np.testing.assert_allclose(M, closed, rtol=0, atol=1e-10)
    # Bauer-Fike: each eigenvalue of M is within kappa(V) ||M - closed||_2 of one of the
    # closed map's, kappa(V) the condition number of its eigenvectors (1 for the normal 2x2
    # maps), ||.||_2 <= n max|entry|.
    _, vectors = np.linalg.eig(closed)
    bound = np.linalg.cond(vectors) * n * np.abs(M - closed).max() + 16 * EPS
    got = np.linalg.eigvals(M)
    for mu in _closed_eigenvalues(method, lr, gamma, lam):
        assert np.abs(got - mu).min() <= bound, (mu, got)


def test_the_closed_form_eigenvalues_are_the_closed_maps_own():
    # the two closed forms of the module docstring agree with each other (to rounding)
    for method in ("simultaneous", *GAME_METHODS):
        for lr in (0.1, 0.9):
            got = np.sort_complex(np.linalg.eigvals(_closed_map(method, lr, 2.0, 3.0)))
            want = np.sort_complex(np.array(_closed_eigenvalues(method, lr, 2.0, 3.0)))
            np.testing.assert_allclose(got, want, rtol=0, atol=64 * EPS)


def _run_closed_form(method: str, w0: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` steps on DiracGAN's closed-form field (:func:`dirac_field`) at the defaults."""
    if method == "simultaneous":  # plain simultaneous steps at the game methods' step size
        rule = sgd(0.1)
    else:
        rule = game_rule(method, DEFAULT_LR[method], **_defaults(method))
    w, state = w0.copy(), rule.init(w0)
    for _ in range(steps):
        v, f = dirac_field(w)
        if method == "simultaneous":
            step, state = rule.update(v, state)
        else:
            step, state = rule.update(v, state, params=w, game=f)
        w = w + step
    return w


@pytest.mark.parametrize("method", ["simultaneous", *GAME_METHODS])
def test_simultaneous_steps_spiral_out_while_every_game_method_converges_at_its_defaults(method):
    assert all(DEFAULT_LR[m] == 0.1 for m in GAME_METHODS)  # the step size analysed here
    lr, steps = 0.1, 1000
    w0 = np.array([1e-3, 1e-3])
    w = _run_closed_form(method, w0, steps)
    state0 = np.concatenate([w0, dirac_field(w0)[0]]) if method == "optimistic" else w0
    gamma, lam = DEFAULT_OPTIONS["gamma"], DEFAULT_OPTIONS["sga_lambda"]
    linear = (np.linalg.matrix_power(_closed_map(method, lr, gamma, lam), steps) @ state0)[:2]
    ratio = np.linalg.norm(w) / np.linalg.norm(w0)
    # the nonlinear run follows the linearized one: the field is linear plus cubic terms
    # (coefficients at most 1), each step changes the radius by a relative O(lr |w|^2) beyond
    # the linear map, at most steps * lr * (3.5 |w0|)^2 = 2.5e-3 in all; 1e-2 is the bound
    assert np.linalg.norm(w) == pytest.approx(np.linalg.norm(linear), rel=1e-2)
    if method == "simultaneous":  # |1 + i lr a|^1000 = 1.0025^500 = 3.48
        assert ratio > 3.0
    else:  # at most 0.287 of the start (extragradient, cgd, optimistic); 4e-11 (conopt, sga)
        assert ratio < 0.3


@pytest.mark.parametrize("method", GAME_METHODS)
def test_the_trainer_follows_the_closed_form_field_on_diracgan(method):
    from hsc_ref.gan.train import TrainConfig, train

    config = TrainConfig(data="dirac", method=method, steps=8, batch=2, n_eval=4)
    init_seq = np.random.SeedSequence(config.seed).spawn(3)[0]
    fg = init_game(config.game(), np.random.default_rng(init_seq))
    result = train(config)
    w0 = np.concatenate([fg.theta, fg.phi])
    rule = game_rule(method, config.step_size, **_defaults(method))
    w, state = w0.copy(), rule.init(w0)
    for _ in range(config.steps):
        v, f = dirac_field(w)
        step, state = rule.update(v, state, params=w, game=f)
        w = w + step
    # autograd's field and the closed form differ by a few eps per evaluation; 8 steps of a
    # map with |M| <= 1.1 at lr 0.1 keep that below 1e3 eps
    np.testing.assert_allclose(np.concatenate([result.theta, result.phi]), w, atol=1e3 * EPS)


# --------------------------------------------------------------------------- MLP game


def _mlp_point(hidden: tuple[int, ...] = (3,)):
    fg = init_game(mlp_game("ring", hidden=hidden), np.random.default_rng(4))
    rng = np.random.default_rng(5)
    x, z = sample(fg.game.data, 8, rng), rng.standard_normal((8, 2))
    return fg, x, z


def _dense_field(J: np.ndarray, n_g: int, field, blocks: GameMatrices | None = None) -> GameField:
    n = J.shape[0]
    if blocks is None:
        blocks = GameMatrices(
            J[:n_g, :n_g], J[n_g:, n_g:], J[:n_g, n_g:], J[n_g:, :n_g], J
        )  # fmt: skip
    assert J.shape == (n, n)
    return GameField(n_g, field, lambda u: J.T @ u, lambda u: J @ u, lambda: blocks)


def test_the_exact_products_and_every_update_match_central_differences_on_an_mlp_game():
    fg, x, z = _mlp_point()
    n_g = fg.theta.size
    exact = game_field(fg, fg.theta, fg.phi, x, z)
    w = np.concatenate([fg.theta, fg.phi])
    v = exact.field(w)
    h = 1e-6
    fd = _central_jacobian(exact.field, w, h)
    # central difference of exact gradients: h^2 |v'''| / 6 ~ 1e-12 plus eps |v| / h ~ 2e-10
    # per entry (as tests/gan/test_game.py); a product with u sums n entries times |u|
    tol = 2e-9
    u = np.random.default_rng(6).standard_normal(w.size)
    bound = w.size * tol * np.abs(u).max()
    np.testing.assert_allclose(exact.vjp(u), fd.T @ u, rtol=0, atol=bound)
    # J^T u is also the gradient of <u, v(w)>: the package's central differences of it
    by_value = central_difference_gradient(lambda w2: u @ exact.field(w2), w, h=h)
    np.testing.assert_allclose(exact.vjp(u), by_value, rtol=0, atol=bound)
    np.testing.assert_allclose(exact.jvp(u), fd @ u, rtol=0, atol=bound)
    np.testing.assert_allclose(exact.matrices().jacobian, fd, rtol=0, atol=tol)
    # each update with the exact J against the same update with the differenced J: a step
    # is lr times terms linear in J (conopt, sga) or a solve with it (cgd, whose system is
    # within 1e-2 of I here), so it moves by at most lr * c * n * tol * |v|_max with c <= 4
    approx = _dense_field(fd, n_g, exact.field)
    for method in ("conopt", "sga", "cgd"):
        rule = game_rule(method, 0.5, **_options(method, 2.0))
        state = rule.init(w)
        got, _ = rule.update(v, state, params=w, game=exact)
        want, _ = rule.update(v, state, params=w, game=approx)
        step_bound = 0.5 * 4 * w.size * tol * max(np.abs(v).max(), 1.0)
        np.testing.assert_allclose(got, want, rtol=0, atol=step_bound, err_msg=method)
    # extragradient's and optimistic's one-step maps against their exact Jacobians:
    # I - eta J(w_half) (I - eta J(w)) and [[I - 2 eta J(w), eta I], [J(w), 0]]
    eta = 0.5
    eg = game_rule("extragradient", eta)

    def eg_map(w2):
        f = game_field(fg, w2[:n_g], w2[n_g:], x, z)
        return w2 + eg.update(f.field(w2), eg.init(w2), params=w2, game=f)[0]

    half = w - eta * v
    J_half = game_field(fg, half[:n_g], half[n_g:], x, z).matrices().jacobian
    J = exact.matrices().jacobian
    eye = np.eye(w.size)
    want = eye - eta * J_half @ (eye - eta * J)
    # the map's third derivatives are those of v times eta (1 + eta |J|): below 10 here
    np.testing.assert_allclose(_central_jacobian(eg_map, w, 1e-5), want, rtol=0, atol=1e-8)
    og = game_rule("optimistic", eta)

    def og_map(s):
        w2, prev = s[: w.size], s[w.size :]
        f = game_field(fg, w2[:n_g], w2[n_g:], x, z)
        v2 = f.field(w2)
        state = og.init(w2)
        step, _ = og.update(v2, (state[0], state[1]._replace(previous=prev)), game=f)
        return np.concatenate([w2 + step, v2])

    s0 = np.concatenate([w, v])
    zeros = np.zeros_like(J)
    want = np.block([[eye - 2 * eta * J, eta * eye], [J, zeros]])
    np.testing.assert_allclose(_central_jacobian(og_map, s0, 1e-5), want, rtol=0, atol=1e-8)


def test_conopt_and_sga_update_jacobians_match_their_exact_third_order_forms():
    # D(w + step) for conopt is I - eta (J + gamma grad^2 H), H = |v|^2 / 2; for sga (its
    # sign s locally constant) I - eta (J + s lambda (grad^2 H - D(J v)) / 2) with
    # D(J v) = J^2 + T, T = d(J(w) c)/dw at c = v: all by autograd, one order above the step
    fg, x, z = _mlp_point(hidden=(2,))  # 12 + 9 parameters: third derivatives stay cheap
    n_g = fg.theta.size
    losses = player_losses(fg, x, z)
    grad_g = autograd.grad(losses.generator, 0)
    grad_d = autograd.grad(losses.discriminator, 1)

    def field(w2):
        return anp.concatenate([grad_g(w2[:n_g], w2[n_g:]), grad_d(w2[:n_g], w2[n_g:])])

    w = np.concatenate([fg.theta, fg.phi])
    v = field(w)
    hess_h = autograd.hessian(lambda w2: 0.5 * anp.sum(field(w2) ** 2))(w)
    t_v = autograd.jacobian(lambda w2: make_jvp_reversemode(field)(w2)(v))(w)
    exact = game_field(fg, fg.theta, fg.phi, x, z, losses=losses)
    J, eye = exact.matrices().jacobian, np.eye(w.size)
    grad_h = exact.vjp(v)
    a_t_v = 0.5 * (grad_h - exact.jvp(v))
    sign = np.sign(float(v @ grad_h) * float(a_t_v @ grad_h) / w.size + SGA_EPS)
    eta, weight = 0.5, 2.0
    want = {
        "conopt": eye - eta * (J + weight * hess_h),
        "sga": eye - eta * (J + sign * weight * 0.5 * (hess_h - (J @ J + t_v))),
    }
    for method, jacobian in want.items():
        rule = game_rule(method, eta, **_options(method, weight))

        def one_step(w2, rule=rule):
            f = game_field(fg, w2[:n_g], w2[n_g:], x, z, losses=losses)
            return w2 + rule.update(f.field(w2), rule.init(w2), params=w2, game=f)[0]

        # h = 1e-5: truncation h^2 |F'''| / 6 ~ 1e-10; each evaluation rounds sums of ~100
        # terms (~100 eps), over 2h: ~1e-9 (measured: 5e-10); 1e-8 per entry
        fd = _central_jacobian(one_step, w, 1e-5)
        np.testing.assert_allclose(fd, jacobian, rtol=0, atol=1e-8, err_msg=method)


# --------------------------------------------------------------------------- the papers' rules


def _linear_game(J: np.ndarray, n_g: int, w: np.ndarray) -> tuple[np.ndarray, GameField]:
    """The linear field ``v = J w``: exact products and blocks are ``J``'s."""
    return J @ w, _dense_field(J, n_g, lambda w2: J @ w2)


def test_sga_takes_the_sign_of_the_papers_alignment_rule():
    # a game with a symmetric and an antisymmetric part; scaling w scales the alignment
    # term <v, grad H><A^T v, grad H> / d as |w|^4
    J = np.array([[1.0, 2.0], [-1.0, -0.5]])
    direction = np.array([1.0, 0.0])
    v1, _ = _linear_game(J, 1, direction)
    grad_h = J.T @ v1
    a_t_v = 0.5 * (J.T - J) @ v1
    unit = float(v1 @ grad_h) * float(a_t_v @ grad_h) / 2  # the term at |w| = |direction|
    assert unit < 0
    rule = symplectic(0.1, 2.0)
    for target, sign in ((-0.075, 1.0), (-0.2, -1.0)):
        # -0.075 + eps > 0 keeps lambda positive; without eps, or without the 1/d, it
        # would flip (-0.075 < 0, -0.15 + 0.1 < 0): both mutants fail here
        w = direction * (target / unit) ** 0.25
        v, f = _linear_game(J, 1, w)
        step, _ = rule.update(v, rule.init(w), params=w, game=f)
        want = -0.1 * (v + sign * 2.0 * 0.5 * (J.T - J) @ v)
        np.testing.assert_allclose(step, want, rtol=0, atol=16 * EPS * np.abs(want).max())
    assert SGA_EPS == 0.1


def _random_blocks(rng, n_g, n_d, zero_sum):
    f_xy = rng.standard_normal((n_g, n_d))
    g_yx = -f_xy.T if zero_sum else rng.standard_normal((n_d, n_g))
    h_g, h_d = np.eye(n_g), np.eye(n_d)
    J = np.block([[h_g, f_xy], [g_yx, h_d]])
    return J, GameMatrices(h_g, h_d, f_xy, g_yx, J)


@pytest.mark.parametrize("zero_sum", [False, True])
def test_cgd_step_is_the_nash_equilibrium_of_the_local_bilinear_game(zero_sum):
    rng = np.random.default_rng(7)
    n_g, n_d, eta = 3, 2, 0.3
    J, blocks = _random_blocks(rng, n_g, n_d, zero_sum)
    v = rng.standard_normal(n_g + n_d)
    field = _dense_field(J, n_g, lambda w2: J @ w2, blocks)
    step, _ = competitive(eta).update(v, competitive(eta).init(v), game=field)
    dx, dy = step[:n_g], step[n_g:]
    f_xy, g_yx = blocks.cross_g, blocks.cross_d
    # each player's step minimizes its bilinear model given the other's (first-order
    # conditions): dx = -eta (grad_x f + D_xy f dy), dy = -eta (grad_y g + D_yx g dx)
    tol = 64 * EPS * (1 + np.abs(step).max()) * (1 + np.abs(J).max()) ** 2
    np.testing.assert_allclose(dx, -eta * (v[:n_g] + f_xy @ dy), rtol=0, atol=tol)
    np.testing.assert_allclose(dy, -eta * (v[n_g:] + g_yx @ dx), rtol=0, atol=tol)
    # the same conditions as one block system: -eta [[I, eta D_xy f], [eta D_yx g, I]]^-1 v
    block = np.block([[np.eye(n_g), eta * f_xy], [eta * g_yx, np.eye(n_d)]])
    np.testing.assert_allclose(step, -eta * np.linalg.solve(block, v), rtol=0, atol=tol)
    if zero_sum:  # g = -f: the paper's update, with grad_y f = -grad_y g and D_yx f = -D_yx g
        grad_x_f, grad_y_f, f_yx = v[:n_g], -v[n_g:], -g_yx
        want_x = -eta * np.linalg.solve(
            np.eye(n_g) + eta**2 * f_xy @ f_yx, grad_x_f + eta * f_xy @ grad_y_f
        )
        want_y = eta * np.linalg.solve(
            np.eye(n_d) + eta**2 * f_yx @ f_xy, grad_y_f - eta * f_yx @ grad_x_f
        )
        np.testing.assert_allclose(dx, want_x, rtol=0, atol=tol)
        np.testing.assert_allclose(dy, want_y, rtol=0, atol=tol)


def test_a_singular_cgd_system_ends_the_run_instead_of_returning_a_wrong_step():
    # I - eta^2 D_xy f D_yx g = 1 - 1 * 1 = 0
    J = np.array([[0.0, 1.0], [1.0, 0.0]])
    v, field = _linear_game(J, 1, np.array([1.0, 1.0]))
    with pytest.raises(FloatingPointError, match="CGD system is singular"):
        competitive(1.0).update(v, competitive(1.0).init(v), game=field)


def test_game_rules_refuse_bad_parameters_and_inputs():
    with pytest.raises(ValueError, match="method must be one of"):
        game_rule("adam", 0.1)
    with pytest.raises(ValueError, match="gamma must be"):
        game_rule("conopt", 0.1, gamma=-1.0)
    with pytest.raises(ValueError, match="lr must be"):
        game_rule("cgd", 0.0)
    rule = game_rule("extragradient", 0.1)
    _, field = dirac_field(np.zeros(2))
    with pytest.raises(ValueError, match="needs params="):
        rule.update(np.zeros(2), rule.init(np.zeros(2)), game=field)
    with pytest.raises(ValueError, match=r"v must have shape \(2,\)"):
        rule.update(np.zeros(3), rule.init(np.zeros(2)), params=np.zeros(2), game=field)


def test_game_field_checks_the_players_shapes():
    fg, x, z = _mlp_point()
    with pytest.raises(ValueError, match="theta and phi must have shapes"):
        game_field(fg, fg.theta[:-1], fg.phi, x, z)


def test_cgd_trains_the_same_on_the_exact_and_the_autograd_route():
    from hsc_ref.gan.train import TrainConfig, train

    runs = [
        train(TrainConfig(method="cgd", steps=5, hidden=(3,), batch=8, n_eval=10, hessian_route=r))
        for r in ("exact", "autograd")
    ]
    # the routes' blocks agree to 1e-13 of their size (tests/gan/test_exact.py); a CGD step
    # is lr times a solve with a system within 1e-2 of I: 5 steps stay below 1e-12
    np.testing.assert_allclose(runs[0].theta, runs[1].theta, rtol=0, atol=1e-12)
    np.testing.assert_allclose(runs[0].phi, runs[1].phi, rtol=0, atol=1e-12)


def test_products_come_from_autograd_without_a_dense_jacobian(monkeypatch):
    # conopt and sga read J only through products; cgd is the one that forms the blocks
    from hsc_ref.gan import methods

    calls = []
    monkeypatch.setattr(methods, "game_matrices", lambda *a, **k: calls.append(1))
    fg, x, z = _mlp_point()
    w = np.concatenate([fg.theta, fg.phi])
    for method in ("conopt", "sga", "extragradient", "optimistic"):
        f = game_field(fg, fg.theta, fg.phi, x, z)
        rule = game_rule(method, 0.1)
        rule.update(f.field(w), rule.init(w), params=w, game=f)
    assert calls == []


def test_a_game_method_refuses_an_option_it_does_not_read():
    with pytest.raises(TypeError, match=r"game method 'sga' takes sga_lambda, got gamma=2\.0"):
        game_rule("sga", 0.1, gamma=2.0)
    with pytest.raises(TypeError, match=r"game method 'cgd' takes no options, got gamma=2\.0"):
        game_rule("cgd", 0.1, gamma=2.0)
