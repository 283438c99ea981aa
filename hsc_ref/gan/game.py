"""GAN games: the players, their losses and every exact matrix of the game.

The setup is pinned in ``docs/design.md``, "GAN setup and metrics".

A :class:`Game` is a generator ``G(theta, z)`` and a discriminator ``D(phi, x)`` that returns
**logits**, both functional models whose parameters may carry a leading axis of copies.
:func:`init_game` flattens both players (layout of :mod:`hsc_ref.derivatives`: layer by layer,
``W.ravel()`` then ``b``) into ``theta`` (length ``n_g``) and ``phi`` (length ``n_d``).

Losses are means over the batch, written with ``softplus(t) = log(1 + e^t) = logaddexp(0, t)``
(no ``log(sigmoid)``, which underflows). With ``r = D(x)`` on data and ``f = D(G(z))``:

* discriminator, BCE: ``L_D = mean softplus(-r) + mean softplus(f)``, i.e.
  ``BCE(sigmoid(r), 1) + BCE(sigmoid(f), 0)`` as PyTorch's DCGAN loop sums them;
* generator, ``"bce"`` (non-saturating, the article's ``BCE(D(G(z)), 1)``):
  ``L_G = mean softplus(-f)``;
* generator, ``"minimax"``: ``L_G = -mean softplus(f) = mean log(1 - sigmoid(f))``.

Noise ``z`` and data ``x`` are inputs of every loss, never sampled inside it.

The game Jacobian is the Jacobian of the simultaneous gradient field
``v(theta, phi) = (grad_theta L_G, grad_phi L_D)`` over ``(theta, phi)``:
``J = [[H_G, C_G], [C_D, H_D]]`` with ``H_G = d2 L_G / d theta2``,
``C_G = d2 L_G / d theta d phi`` (rows theta), ``C_D = d2 L_D / d phi d theta`` (rows phi),
``H_D = d2 L_D / d phi2``. ``H_G`` and ``H_D`` are symmetric; ``J`` is not (its complex
eigenvalues are the rotational part of the game), so ``J + pinv(J)`` needs the SVD-based
:func:`~hsc_ref.corrections.literal_hsc_nonsymmetric` and has no eigenvalue map.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import autograd.numpy as anp
import numpy as np
import scipy.special

from hsc_ref import _validation
from hsc_ref.derivatives import ValueGradHessian, hessian, value_grad_hessian
from hsc_ref.gan import _exact
from hsc_ref.gan.data import Mixture, mixture
from hsc_ref.layout import flatten
from hsc_ref.models import Model, mlp

__all__ = [
    "discriminator_loss",
    "generator_loss",
    "Game",
    "mlp_game",
    "dirac_game",
    "init_game",
    "player_losses",
    "player_value_grad_hessian",
    "player_hessians",
    "game_matrices",
]

LOSSES = ("bce", "minimax")
"""Generator losses: ``"bce"`` (non-saturating, the article's) and ``"minimax"``."""


def softplus(t: Any) -> Any:
    """``log(1 + exp(t))`` computed as ``logaddexp(0, t)``: no overflow, no underflow to -inf.

    Examples
    --------
    >>> import numpy as np
    >>> softplus(np.array([-800.0, 0.0, 800.0])).tolist()
    [0.0, 0.6931471805599453, 800.0]
    """
    return anp.logaddexp(0.0, t)


def _logits(x: Any, name: str) -> Any:
    """``x`` as logits of shape ``(..., batch, 1)``: a real array, or autograd's box of one.

    Only the dtype and the shape are read (a traced value's entries are not inspected).
    """
    if not (hasattr(x, "shape") and hasattr(x, "dtype")):
        x = _validation.as_real_array(x, name)
    if np.dtype(x.dtype).kind not in "fiu":
        raise TypeError(f"{name} must be a real floating-point array, got dtype {x.dtype}")
    shape = tuple(x.shape)
    if len(shape) < 2 or shape[-1] != 1 or shape[-2] == 0:
        raise ValueError(f"{name} must have shape (..., batch, 1) with batch >= 1, got {shape}")
    return x


def _check_loss(loss: str) -> str:
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    return loss


def discriminator_loss(real_logits: Any, fake_logits: Any) -> Any:
    """BCE discriminator loss ``mean softplus(-r) + mean softplus(f)`` over the last two axes.

    Parameters
    ----------
    real_logits, fake_logits : array, shape (..., batch, 1)
        Discriminator logits on data and on generated samples; leading axes are copies.

    Returns
    -------
    array, shape (...)

    Examples
    --------
    >>> import numpy as np
    >>> bool(discriminator_loss(np.zeros((4, 1)), np.zeros((4, 1))) == 2 * np.log(2))
    True
    """
    real_logits = _logits(real_logits, "real_logits")
    fake_logits = _logits(fake_logits, "fake_logits")
    return anp.mean(softplus(-real_logits), axis=(-2, -1)) + anp.mean(
        softplus(fake_logits), axis=(-2, -1)
    )


def generator_loss(fake_logits: Any, loss: str = "bce") -> Any:
    """Generator loss on the logits ``f = D(G(z))``, a mean over the last two axes.

    ``"bce"``: ``mean softplus(-f)`` (non-saturating); ``"minimax"``: ``-mean softplus(f)``.

    Examples
    --------
    >>> import numpy as np
    >>> f = np.array([[0.0], [2.0]])
    >>> bool(np.isclose(generator_loss(f), np.mean(np.log1p(np.exp(-f)))))
    True
    >>> bool(np.isclose(generator_loss(f, "minimax"), np.mean(np.log(1 - 1 / (1 + np.exp(-f))))))
    True
    """
    fake_logits = _logits(fake_logits, "fake_logits")
    if _check_loss(loss) == "bce":
        return anp.mean(softplus(-fake_logits), axis=(-2, -1))
    return -anp.mean(softplus(fake_logits), axis=(-2, -1))


class Game(NamedTuple):
    """Two functional players, the data they play on and the generator loss.

    Attributes
    ----------
    generator : Model
        ``G(theta, z)``, noise ``(..., batch, noise_dim)`` to samples ``(..., batch, d)``.
    discriminator : Model
        ``D(phi, x)``, samples to logits ``(..., batch, 1)``.
    noise_dim : int
        Width of ``z``.
    data : Mixture
        The pinned data set.
    loss : str
        Generator loss, one of :data:`LOSSES`.
    """

    generator: Model
    discriminator: Model
    noise_dim: int
    data: Mixture
    loss: str


def mlp_game(
    data: str = "ring",
    *,
    hidden: Sequence[int] = (16, 16),
    noise_dim: int = 2,
    activation: str = "tanh",
    loss: str = "bce",
) -> Game:
    """MLP generator ``noise_dim -> hidden -> 2`` and discriminator ``2 -> hidden -> 1`` (logits).

    Examples
    --------
    >>> import numpy as np
    >>> fg = init_game(mlp_game("ring", hidden=(8,)), np.random.default_rng(0))
    >>> fg.theta.shape, fg.phi.shape                # 2*8+8+8*2+2 and 2*8+8+8*1+1
    ((42,), (33,))
    """
    if data not in ("ring", "grid"):
        raise ValueError(f"data must be 'ring' or 'grid' for an MLP game, got {data!r}")
    mix = mixture(data)
    d = mix.centers.shape[1]
    noise_dim = _positive_int(noise_dim, "noise_dim")
    hidden = [_positive_int(h, "hidden width") for h in hidden]
    generator = mlp([noise_dim, *hidden, d], activation=activation)
    discriminator = mlp([d, *hidden, 1], activation=activation)
    return Game(generator, discriminator, noise_dim, mix, _check_loss(loss))


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def dirac_game(loss: str = "bce") -> Game:
    """DiracGAN (Mescheder et al. 2018): ``G(theta, z) = theta``, ``D(psi, x) = psi x``, data 0.

    Both players have one parameter; ``init`` draws it from ``U(0.5, 1.5)``. The unique
    equilibrium is ``(0, 0)``, where both per-player Hessians vanish (so ``Hc = 0``) and the
    game Jacobian is ``[[0, -1/2], [1/2, 0]]`` (eigenvalues ``+-i/2``).

    Examples
    --------
    >>> import numpy as np
    >>> game = dirac_game()
    >>> fg = init_game(game, np.random.default_rng(0))
    >>> fg.theta.shape, fg.phi.shape
    ((1,), (1,))
    """

    def init(rng: np.random.Generator) -> list[np.ndarray]:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        return [rng.uniform(0.5, 1.5, 1)]

    def generator(params: Any, z: Any) -> Any:
        return z[..., :1] * 0.0 + params[0][..., None, :]

    def discriminator(params: Any, x: Any) -> Any:
        return x * params[0][..., None, :]

    return Game(Model(init, generator), Model(init, discriminator), 1, mixture("dirac"), loss)


class FlatGame(NamedTuple):
    """A game with its players' initial flat parameters and the maps back to layers.

    Attributes
    ----------
    game : Game
    theta, phi : ndarray
        Initial flat generator and discriminator parameters.
    unflatten_g, unflatten_d : callable
        Flat vector (or ``(k, n)`` stack) to layers, for each player.
    """

    game: Game
    theta: np.ndarray
    phi: np.ndarray
    unflatten_g: Callable[[Any], Any]
    unflatten_d: Callable[[Any], Any]


def init_game(game: Game, rng: np.random.Generator) -> FlatGame:
    """Initialise the generator, then the discriminator, from ``rng``; flatten both.

    Examples
    --------
    >>> import numpy as np
    >>> fg = init_game(mlp_game("grid", hidden=(4,)), np.random.default_rng(0))
    >>> fg.unflatten_g(fg.theta)[0][0].shape      # first generator layer's W
    (2, 4)
    """
    if not isinstance(game, Game):
        raise TypeError(f"game must be a Game, got {type(game).__name__}")
    theta, unflatten_g = flatten(game.generator.init(rng))
    phi, unflatten_d = flatten(game.discriminator.init(rng))
    return FlatGame(game, theta, phi, unflatten_g, unflatten_d)


def _check_flat_game(fg: Any) -> None:
    """Refuse an ``fg`` that is not a :class:`FlatGame` (what :func:`init_game` returns)."""
    if not isinstance(fg, FlatGame):
        raise TypeError(f"fg must be a FlatGame (from init_game), got {type(fg).__name__}")


class PlayerLosses(NamedTuple):
    """``generator(theta, phi)`` and ``discriminator(theta, phi)`` on one fixed batch."""

    generator: Callable[[Any, Any], Any]
    discriminator: Callable[[Any, Any], Any]


def player_losses(fg: FlatGame, x_real: Any, z: Any) -> PlayerLosses:
    """Both players' losses as functions of the flat parameters, on the batch ``(x_real, z)``.

    ``theta`` and ``phi`` may each be ``(n,)`` or a stack ``(k, n)`` of copies; the result
    has the copies' shape ``()`` or ``(k,)``.

    Raises
    ------
    ValueError
        If ``x_real`` is not ``(batch, d)`` or ``z`` is not ``(batch, noise_dim)``.

    Examples
    --------
    >>> import numpy as np
    >>> fg = init_game(dirac_game(), np.random.default_rng(0))
    >>> losses = player_losses(fg, np.zeros((3, 1)), np.zeros((3, 1)))
    >>> bool(np.isclose(losses.generator(np.array([1.0]), np.array([2.0])), np.log1p(np.exp(-2))))
    True
    """
    _check_flat_game(fg)
    game = fg.game
    d = game.data.centers.shape[1]
    x_real = _batch(x_real, "x_real", d)
    z = _batch(z, "z", game.noise_dim)
    if x_real.shape[0] != z.shape[0]:
        raise ValueError(f"x_real and z must have the same batch size, got {len(x_real)}, {len(z)}")

    def fake_logits(theta: Any, phi: Any) -> Any:
        fake = game.generator.apply(fg.unflatten_g(theta), z)
        return game.discriminator.apply(fg.unflatten_d(phi), fake)

    def loss_g(theta: Any, phi: Any) -> Any:
        return generator_loss(fake_logits(theta, phi), game.loss)

    def loss_d(theta: Any, phi: Any) -> Any:
        real = game.discriminator.apply(fg.unflatten_d(phi), x_real)
        return discriminator_loss(real, fake_logits(theta, phi))

    return PlayerLosses(loss_g, loss_d)


def _batch(x: Any, name: str, width: int) -> np.ndarray:
    x = _validation.as_real_array(x, name, ndim=2)
    if x.shape[1] != width:
        raise ValueError(f"{name} must have shape (batch, {width}), got {x.shape}")
    return x


ROUTES = ("auto", "exact", "autograd")
"""Routes to the exact matrices: ``"exact"``, derived by hand for MLP players
(:mod:`hsc_ref._mlp_hessian`, batched matrix products, one primal); ``"autograd"``, the
reference (:func:`~hsc_ref.derivatives.hessian`, batched); ``"auto"``, ``"exact"`` when both
players are :func:`~hsc_ref.models.mlp` models (``apply.activations`` known), else autograd."""

PLAYERS = ("generator", "discriminator")
"""Player names of :func:`player_value_grad_hessian`."""


def _route(fg: FlatGame, route: str) -> str:
    if not isinstance(route, str) or route not in ROUTES:
        raise ValueError(f"route must be one of {ROUTES}, got {route!r}")
    game = fg.game
    exact = _exact.supports(_activations(game.generator), _activations(game.discriminator))
    if route == "exact" and not exact:
        raise ValueError(
            "route 'exact' needs both players to be hsc_ref.models.mlp models (apply.activations "
            "set, each a key of models.ACTIVATIONS); use route='auto' or 'autograd'"
        )
    return "exact" if route == "auto" and exact else "autograd" if route == "auto" else route


def _activations(model: Model) -> tuple[str, ...] | None:
    """Each layer's activation name for an :func:`~hsc_ref.models.mlp`, else None."""
    return getattr(model.apply, "activations", None)


def player_value_grad_hessian(
    fg: FlatGame, theta: Any, phi: Any, x_real: Any, z: Any, *, player: str, route: str = "auto"
) -> ValueGradHessian:
    """One player's loss, exact gradient and exact Hessian over its own parameters.

    ``"generator"``: ``L_G`` over ``theta``; ``"discriminator"``: ``L_D`` over ``phi``; the
    other player's parameters are held fixed. One call gives what a Newton-type step needs.

    Parameters
    ----------
    fg : FlatGame
    theta, phi : array_like
        Flat parameters of the two players.
    x_real, z : array_like
        The batch of data ``(batch, d)`` and of noise ``(batch, noise_dim)``.
    player : {"generator", "discriminator"}
    route : {"auto", "exact", "autograd"}, default "auto"
        See :data:`ROUTES`; both routes give the same numbers to rounding (tested to
        ``1e-13`` of ``max|H|``).

    Returns
    -------
    ValueGradHessian
        The Hessian is exactly symmetric on both routes.

    Examples
    --------
    >>> import numpy as np
    >>> fg = init_game(mlp_game("ring", hidden=(4,)), np.random.default_rng(0))
    >>> x, z = np.ones((8, 2)), np.ones((8, 2))
    >>> exact = player_value_grad_hessian(fg, fg.theta, fg.phi, x, z, player="generator")
    >>> ref = player_value_grad_hessian(
    ...     fg, fg.theta, fg.phi, x, z, player="generator", route="autograd"
    ... )
    >>> bool(np.abs(exact.hessian - ref.hessian).max() <= 1e-13 * np.abs(ref.hessian).max())
    True
    """
    if not isinstance(player, str) or player not in PLAYERS:
        raise ValueError(f"player must be one of {PLAYERS}, got {player!r}")
    theta, phi = _players(fg, theta, phi)
    losses = player_losses(fg, x_real, z)  # validates the batch
    if _route(fg, route) == "autograd":
        if player == "generator":
            return value_grad_hessian(lambda t: losses.generator(t, phi), theta, batched=True)
        return value_grad_hessian(lambda p: losses.discriminator(theta, p), phi, batched=True)
    players = _exact_players(fg, theta, phi)
    if player == "generator":
        return _exact.generator_value_grad_hessian(players, z, fg.game.loss)
    return _exact.discriminator_value_grad_hessian(players, x_real, z)


def _exact_players(fg: FlatGame, theta: np.ndarray, phi: np.ndarray) -> _exact.Players:
    game = fg.game
    return _exact.Players(
        fg.unflatten_g(theta),
        _activations(game.generator),
        fg.unflatten_d(phi),
        _activations(game.discriminator),
    )


def player_hessians(
    fg: FlatGame, theta: Any, phi: Any, x_real: Any, z: Any, *, route: str = "auto"
) -> tuple[np.ndarray, np.ndarray]:
    """Per-player exact Hessians ``(d2 L_G / d theta2, d2 L_D / d phi2)``, symmetrized.

    ``route="auto"`` takes the hand-derived route for MLP players and the vectorized autograd
    route (``hessian(..., batched=True)``, the reference) otherwise; see :data:`ROUTES`.

    Parameters
    ----------
    fg : FlatGame
    theta, phi : array_like
        Flat parameters of the two players.
    x_real, z : array_like
        The batch of data ``(batch, d)`` and of noise ``(batch, noise_dim)``.
    route : {"auto", "exact", "autograd"}, default "auto"

    Returns
    -------
    (ndarray, ndarray)
        ``(n_g, n_g)`` and ``(n_d, n_d)`` symmetric matrices.
    """
    return tuple(
        player_value_grad_hessian(fg, theta, phi, x_real, z, player=player, route=route).hessian
        for player in PLAYERS
    )


def _players(fg: FlatGame, theta: Any, phi: Any) -> tuple[np.ndarray, np.ndarray]:
    _check_flat_game(fg)
    theta = _validation.as_real_array(theta, "theta", ndim=1)
    phi = _validation.as_real_array(phi, "phi", ndim=1)
    if theta.shape != fg.theta.shape or phi.shape != fg.phi.shape:
        raise ValueError(
            f"theta and phi must have shapes {fg.theta.shape} and {fg.phi.shape}, "
            f"got {theta.shape} and {phi.shape}"
        )
    return theta, phi


class GameMatrices(NamedTuple):
    """Every second-derivative matrix of a two-player game at one point (see module docs).

    Attributes
    ----------
    hessian_g : (n_g, n_g)
        ``d2 L_G / d theta2`` (symmetric).
    hessian_d : (n_d, n_d)
        ``d2 L_D / d phi2`` (symmetric).
    cross_g : (n_g, n_d)
        ``d2 L_G / d theta d phi``, rows indexed by ``theta``.
    cross_d : (n_d, n_g)
        ``d2 L_D / d phi d theta``, rows indexed by ``phi``.
    jacobian : (n_g + n_d, n_g + n_d)
        ``[[hessian_g, cross_g], [cross_d, hessian_d]]``, the Jacobian of
        ``(grad_theta L_G, grad_phi L_D)`` (not symmetric).
    """

    hessian_g: np.ndarray
    hessian_d: np.ndarray
    cross_g: np.ndarray
    cross_d: np.ndarray
    jacobian: np.ndarray


def game_matrices(
    fg: FlatGame, theta: Any, phi: Any, x_real: Any, z: Any, *, route: str = "auto"
) -> GameMatrices:
    """All exact second-derivative matrices of the game at ``(theta, phi)`` on one batch.

    Each player's loss is differentiated twice over the joint vector ``(theta, phi)``
    (symmetrized); the blocks are read off those two joint Hessians. ``route`` is as in
    :func:`player_hessians` (:data:`ROUTES`): hand-derived for MLP players by default,
    autograd's vectorized Hessian as the reference.

    Examples
    --------
    >>> import numpy as np
    >>> fg = init_game(dirac_game(), np.random.default_rng(0))
    >>> m = game_matrices(fg, np.zeros(1), np.zeros(1), np.zeros((4, 1)), np.zeros((4, 1)))
    >>> m.jacobian
    array([[ 0. , -0.5],
           [ 0.5,  0. ]])
    """
    theta, phi = _players(fg, theta, phi)
    losses = player_losses(fg, x_real, z)
    n_g = theta.shape[0]
    if _route(fg, route) == "exact":
        players = _exact_players(fg, theta, phi)
        joint_g, joint_d = _exact.joint_hessians(players, x_real, z, fg.game.loss)
    else:
        joint_g, joint_d = _autograd_joint_hessians(losses, theta, phi)
    jacobian = np.concatenate([joint_g[:n_g], joint_d[n_g:]], axis=0)
    return GameMatrices(
        hessian_g=joint_g[:n_g, :n_g],
        hessian_d=joint_d[n_g:, n_g:],
        cross_g=joint_g[:n_g, n_g:],
        cross_d=joint_d[n_g:, :n_g],
        jacobian=jacobian,
    )


def _autograd_joint_hessians(
    losses: PlayerLosses, theta: np.ndarray, phi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n_g = theta.shape[0]

    def joint(fun: Callable[[Any, Any], Any]) -> Callable[[Any], Any]:
        return lambda w: fun(w[..., :n_g], w[..., n_g:])

    w = np.concatenate([theta, phi])
    joint_g = hessian(joint(losses.generator), w, batched=True)
    return joint_g, hessian(joint(losses.discriminator), w, batched=True)


def dirac_matrices(theta: float, psi: float, loss: str = "bce") -> GameMatrices:
    """DiracGAN's matrices in closed form, with ``t = psi theta`` and ``s = sigmoid(t)``.

    ``L_D = log 2 + softplus(t)``: ``d2/dpsi2 = theta^2 s (1 - s)``,
    ``d2/dpsi dtheta = s + t s (1 - s)``. ``"bce"``: ``L_G = softplus(-t)``,
    ``d2/dtheta2 = psi^2 s (1 - s)``, ``d2/dtheta dpsi = -(1 - s) + t s (1 - s)``.
    ``"minimax"``: ``L_G = -softplus(t)``, ``d2/dtheta2 = -psi^2 s (1 - s)``,
    ``d2/dtheta dpsi = -s - t s (1 - s)``. At ``(0, 0)`` both Hessians are 0 and
    ``J = [[0, -1/2], [1/2, 0]]``.

    Examples
    --------
    >>> dirac_matrices(0.0, 0.0).jacobian
    array([[ 0. , -0.5],
           [ 0.5,  0. ]])
    """
    _check_loss(loss)
    t = float(psi) * float(theta)
    s = float(scipy.special.expit(t))
    curv = s * (1.0 - s)
    h_d = theta**2 * curv
    c_d = s + t * curv
    if loss == "bce":
        h_g, c_g = psi**2 * curv, -(1.0 - s) + t * curv
    else:
        h_g, c_g = -(psi**2) * curv, -s - t * curv
    jacobian = np.array([[h_g, c_g], [c_d, h_d]], dtype=np.float64)
    return GameMatrices(
        np.array([[h_g]]), np.array([[h_d]]), np.array([[c_g]]), np.array([[c_d]]), jacobian
    )
