"""Game-aware methods: step rules on the simultaneous gradient field of the two players.

The methods of the GAN literature built for the rotational dynamics of games act on the joint
vector ``w = (theta, phi)`` and the simultaneous gradient field
``v(w) = (grad_theta L_G, grad_phi L_D)`` with its exact Jacobian ``J`` (the game Jacobian of
:mod:`hsc_ref.gan.game`). Each is a :class:`GameRule`, an ``(init, update)`` pair like the
per-player :class:`~hsc_ref.rules.StepRule`::

    state = rule.init(w0)
    step, state = rule.update(v, state, params=w, game=field)
    w = w + step

where ``field`` is a :class:`GameField` at ``w`` on the step's batch: it evaluates ``v``
elsewhere, the exact products ``J^T u`` and ``J u``, and the dense blocks, each only when a
rule asks for it. Both players minimize their own loss. With step size ``eta``:

``conopt``  consensus optimization (Mescheder, Nowozin and Geiger 2017, "The Numerics of
            GANs"): ``step = -eta (v + gamma J^T v)``, the field plus ``gamma`` times the
            gradient of ``H = |v|^2 / 2`` (``grad H = J^T v``).
``sga``     symplectic gradient adjustment (Balduzzi et al. 2018, "The Mechanics of n-Player
            Differentiable Games", Algorithm 1 with alignment):
            ``step = -eta (v + lambda A^T v)``, ``A = (J - J^T) / 2``, with
            ``lambda = |lambda| sign(<v, grad H> <A^T v, grad H> / d + eps)``, ``d`` the number
            of parameters and ``eps = 1/10`` (the paper's); ``sign(0) = 0``.
``cgd``     competitive gradient descent (Schaefer and Anandkumar 2019), the Nash equilibrium
            of the local bilinear game, solved exactly. For ``x = theta``, ``f = L_G``,
            ``y = phi``, ``g = L_D``, mixed Hessians ``D_xy f`` (``cross_g``) and ``D_yx g``
            (``cross_d``):
            ``dx = -eta (I - eta^2 D_xy f D_yx g)^-1 (grad_x f - eta D_xy f grad_y g)``,
            ``dy = -eta (I - eta^2 D_yx g D_xy f)^-1 (grad_y g - eta D_yx g grad_x f)``.
``extragradient``  Korpelevich (1976): ``w_half = w - eta v(w)``, ``step = -eta v(w_half)``,
            both fields on the step's batch.
``optimistic``  optimistic gradient descent (Daskalakis et al. 2018, "Training GANs with
            Optimism"): ``w_next = w_t - 2 eta v_t + eta v_{t-1}``, ``v_{t-1}`` the previous
            step's field (on its own batch); the first step, with no previous field, takes
            ``v_{-1} = v_0``, a plain gradient step.

Derivation of the CGD step for two minimizing players: player ``x`` minimizes its bilinear
model ``dx^T grad_x f + dx^T D_xy f dy + |dx|^2 / (2 eta)``, player ``y``
``dy^T grad_y g + dy^T D_yx g dx + |dy|^2 / (2 eta)``. Their first-order conditions
``dx = -eta (grad_x f + D_xy f dy)`` and ``dy = -eta (grad_y g + D_yx g dx)``, each substituted
into the other, give the two linear systems above. For the zero-sum game ``g = -f`` they are the
paper's update: ``dx = -eta (I + eta^2 D_xy f D_yx f)^-1 (grad_x f + eta D_xy f grad_y f)``.

As these papers define them, all five are simultaneous updates of both players (the trainer
refuses the alternating schedule for them). ``conopt`` and ``sga`` need only products with
``J``: ``J^T u`` is autograd's reverse-mode vector-Jacobian product of the field (one backward
pass through the gradient computation, a few times a gradient's cost) and ``J u`` the
reverse-mode product of that linear map; a dense ``J`` would cost ``n_g + n_d`` such
products. ``cgd`` needs the dense cross blocks and two linear solves; it takes them from
:func:`~hsc_ref.gan.game.game_matrices` (hand-derived for MLP players).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import autograd
import autograd.numpy as anp
import numpy as np

from hsc_ref import _validation, rules
from hsc_ref.gan.game import (
    FlatGame,
    GameMatrices,
    PlayerLosses,
    _players,
    dirac_matrices,
    game_matrices,
    player_losses,
)

__all__ = [
    "GAME_METHODS",
    "game_rule",
]

SGA_EPS = 0.1
"""``eps`` of SGA's sign rule, the paper's ``1/10``."""


class GameField(NamedTuple):
    """What a game rule may read at the current point ``w`` on one batch (all exact).

    Attributes
    ----------
    n_g : int
        Generator parameters: ``w[:n_g]`` is ``theta``, ``w[n_g:]`` is ``phi``.
    field : callable
        ``field(w2) -> v(w2)``, the simultaneous gradient field at any joint point.
    vjp : callable
        ``vjp(u) -> J^T u`` at ``w``.
    jvp : callable
        ``jvp(u) -> J u`` at ``w``.
    matrices : callable
        ``matrices() -> GameMatrices`` at ``w`` (dense blocks and ``J``).
    """

    n_g: int
    field: Callable[[np.ndarray], np.ndarray]
    vjp: Callable[[np.ndarray], np.ndarray]
    jvp: Callable[[np.ndarray], np.ndarray]
    matrices: Callable[[], GameMatrices]


class GameRule(NamedTuple):
    """A game method as two pure functions (see the module docstring).

    Attributes
    ----------
    init : callable
        ``init(w0) -> state``.
    update : callable
        ``update(v, state, *, params, game) -> (step, state)``: ``v`` the field at ``params``,
        ``game`` a :class:`GameField` there.
    """

    init: Callable[[np.ndarray], Any]
    update: Callable[..., tuple[np.ndarray, Any]]


def game_field(
    fg: FlatGame,
    theta: np.ndarray,
    phi: np.ndarray,
    x_real: np.ndarray,
    z: np.ndarray,
    *,
    route: str = "auto",
    losses: PlayerLosses | None = None,
) -> GameField:
    """The :class:`GameField` of a game at ``(theta, phi)`` on the batch ``(x_real, z)``.

    The field and its products are autograd's, exact to rounding; ``matrices`` is
    :func:`~hsc_ref.gan.game.game_matrices` by ``route``. Nothing is computed until asked.
    ``losses``, :func:`~hsc_ref.gan.game.player_losses` of the same batch, saves building them.

    Examples
    --------
    >>> import numpy as np
    >>> from hsc_ref.gan.game import dirac_game, init_game
    >>> fg = init_game(dirac_game(), np.random.default_rng(0))
    >>> x = z = np.zeros((2, 1))
    >>> f = game_field(fg, np.zeros(1), np.zeros(1), x, z)
    >>> f.vjp(np.array([1.0, 0.0]))                   # J^T e_1 = (0, -1/2) at (0, 0)
    array([ 0. , -0.5])
    """
    theta, phi = _players(fg, theta, phi)
    losses = player_losses(fg, x_real, z) if losses is None else losses
    n_g = theta.shape[0]
    w = np.concatenate([theta, phi])
    grad_g = autograd.grad(losses.generator, 0)
    grad_d = autograd.grad(losses.discriminator, 1)

    def field(w2: Any) -> Any:
        return anp.concatenate([grad_g(w2[:n_g], w2[n_g:]), grad_d(w2[:n_g], w2[n_g:])])

    cache: dict[str, Any] = {}

    def transposed() -> Callable[[Any], Any]:  # u -> J^T u, one trace of the field for all
        if "vjp" not in cache:
            cache["vjp"] = autograd.make_vjp(field)(w)[0]
        return cache["vjp"]

    def vjp(u: np.ndarray) -> np.ndarray:
        return np.asarray(transposed()(u))

    def jvp(u: np.ndarray) -> np.ndarray:
        # u -> J^T u is linear: its vector-Jacobian product at any point is u -> J u
        # (autograd's make_jvp_reversemode, here on the trace the field already has)
        if "jvp" not in cache:
            cache["jvp"] = autograd.make_vjp(transposed())(np.zeros_like(w))[0]
        return np.asarray(cache["jvp"](u))

    def matrices() -> GameMatrices:
        return game_matrices(fg, theta, phi, x_real, z, route=route)

    return GameField(n_g, lambda w2: np.asarray(field(np.asarray(w2))), vjp, jvp, matrices)


def dirac_field(w: np.ndarray, loss: str = "bce") -> tuple[np.ndarray, GameField]:
    """DiracGAN's field and :class:`GameField` at ``w = (theta, psi)`` in closed form.

    With ``t = psi theta``, ``s = sigmoid(t)``: ``v = (-psi (1 - s), theta s)`` for ``"bce"``,
    ``(-psi s, theta s)`` for ``"minimax"``; ``J`` is :func:`~hsc_ref.gan.game.dirac_matrices`.
    An independent reference for the autograd route of :func:`game_field`.

    Examples
    --------
    >>> v, f = dirac_field(np.zeros(2))
    >>> v, f.jvp(np.array([1.0, 0.0]))             # J e_1 = (0, 1/2) at (0, 0)
    (array([-0.,  0.]), array([0. , 0.5]))
    """

    def field(w2: np.ndarray) -> np.ndarray:
        theta, psi = float(w2[0]), float(w2[1])
        s = 1.0 / (1.0 + np.exp(-psi * theta))
        v_g = -psi * (1.0 - s) if loss == "bce" else -psi * s
        return np.array([v_g, theta * s])

    m = dirac_matrices(float(w[0]), float(w[1]), loss)
    return field(w), GameField(
        1, field, lambda u: m.jacobian.T @ u, lambda u: m.jacobian @ u, lambda: m
    )


def _joint(w0: Any) -> rules._Size:
    """Stateless game rules remember only the length of ``w0`` (the per-player rules' state)."""
    return rules._Size(_validation.as_real_array(w0, "w0", ndim=1).shape[0])


def _vector(v: Any, n: int, name: str) -> np.ndarray:
    v = _validation.as_real_array(v, name, ndim=1)
    if v.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) like w0, got {v.shape}")
    return v


def _finite(step: np.ndarray, what: str) -> np.ndarray:
    if not np.all(np.isfinite(step)):
        raise FloatingPointError(f"the {what} step is not finite (overflow): the run diverged")
    return step


def consensus(lr: float, gamma: float = 1.0) -> GameRule:
    """Consensus optimization: ``step = -lr (v + gamma J^T v)``.

    Examples
    --------
    >>> import numpy as np
    >>> v, f = dirac_field(np.array([0.0, 1.0]))
    >>> rule = consensus(0.1, gamma=2.0)
    >>> step, _ = rule.update(v, rule.init(np.zeros(2)), params=np.array([0.0, 1.0]), game=f)
    >>> bool(np.allclose(step, -0.1 * (v + 2.0 * f.vjp(v))))
    True
    """
    lr = _validation.check_positive(lr, "lr")
    gamma = _validation.check_positive(gamma, "gamma")

    def update(v: Any, state: rules._Size, /, *, params: Any = None, game: GameField) -> tuple:
        v = _vector(v, state.n, "v")
        with np.errstate(over="ignore", invalid="ignore"):
            return _finite(-lr * (v + gamma * game.vjp(v)), "consensus"), state

    return GameRule(_joint, update)


def symplectic(lr: float, lam: float = 1.0, *, eps: float = SGA_EPS) -> GameRule:
    """Symplectic gradient adjustment with the paper's sign rule (see the module docstring).

    ``lam`` is the magnitude ``|lambda|``; its sign is chosen at every step.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([0.3, 0.2])
    >>> v, f = dirac_field(w)
    >>> step, _ = symplectic(0.1).update(v, symplectic(0.1).init(w), params=w, game=f)
    >>> a_t_v = 0.5 * (f.vjp(v) - f.jvp(v))        # here the sign rule gives +1
    >>> bool(np.allclose(step, -0.1 * (v + a_t_v)))
    True
    """
    lr = _validation.check_positive(lr, "lr")
    lam = _validation.check_positive(lam, "sga_lambda")
    eps = _validation.check_positive(eps, "eps")

    def update(v: Any, state: rules._Size, /, *, params: Any = None, game: GameField) -> tuple:
        v = _vector(v, state.n, "v")
        with np.errstate(over="ignore", invalid="ignore"):
            grad_h = game.vjp(v)  # grad (|v|^2 / 2) = J^T v
            a_t_v = 0.5 * (grad_h - game.jvp(v))  # A^T v = (J^T - J) v / 2
            align = float(v @ grad_h) * float(a_t_v @ grad_h) / state.n + eps
            sign = float(np.sign(align))
            return _finite(-lr * (v + sign * lam * a_t_v), "SGA"), state

    return GameRule(_joint, update)


def competitive(lr: float) -> GameRule:
    """Competitive gradient descent, the local bilinear game's Nash step (module docstring).

    Raises ``FloatingPointError`` (the run ends) when a system is singular or overflows.

    Examples
    --------
    >>> import numpy as np
    >>> v, f = dirac_field(np.array([0.2, 1.0]))   # one parameter per player: scalars
    >>> rule = competitive(0.5)
    >>> step, _ = rule.update(v, rule.init(np.zeros(2)), game=f)
    >>> c_g, c_d = f.matrices().cross_g[0, 0], f.matrices().cross_d[0, 0]
    >>> dx = -0.5 * (v[0] - 0.5 * c_g * v[1]) / (1 - 0.25 * c_g * c_d)
    >>> bool(np.isclose(step[0], dx))
    True
    """
    lr = _validation.check_positive(lr, "lr")

    def update(v: Any, state: rules._Size, /, *, params: Any = None, game: GameField) -> tuple:
        v = _vector(v, state.n, "v")
        n_g = game.n_g
        m = game.matrices()
        d_xy_f, d_yx_g = m.cross_g, m.cross_d
        g_x, g_y = v[:n_g], v[n_g:]
        with np.errstate(over="ignore", invalid="ignore"):
            try:
                dx = np.linalg.solve(
                    np.eye(n_g) - lr**2 * (d_xy_f @ d_yx_g), g_x - lr * (d_xy_f @ g_y)
                )
                dy = np.linalg.solve(
                    np.eye(v.shape[0] - n_g) - lr**2 * (d_yx_g @ d_xy_f), g_y - lr * (d_yx_g @ g_x)
                )
            except np.linalg.LinAlgError as exc:
                raise FloatingPointError(f"the CGD system is singular: {exc}") from None
            return _finite(-lr * np.concatenate([dx, dy]), "CGD"), state

    return GameRule(_joint, update)


def extragradient(lr: float) -> GameRule:
    """Korpelevich's extragradient: ``step = -lr v(w - lr v(w))``; needs ``params=``.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([0.5, 0.5])
    >>> v, f = dirac_field(w)
    >>> step, _ = extragradient(0.1).update(v, extragradient(0.1).init(w), params=w, game=f)
    >>> bool(np.allclose(step, -0.1 * f.field(w - 0.1 * v)))
    True
    """
    lr = _validation.check_positive(lr, "lr")

    def update(v: Any, state: rules._Size, /, *, params: Any = None, game: GameField) -> tuple:
        v = _vector(v, state.n, "v")
        if params is None:
            raise ValueError("extragradient needs params= (the current point), got None")
        w = _vector(params, state.n, "params")
        with np.errstate(over="ignore", invalid="ignore"):
            half = _finite(w - lr * v, "extragradient's extrapolation")
            return _finite(-lr * np.asarray(game.field(half)), "extragradient"), state

    return GameRule(_joint, update)


def optimistic(lr: float) -> GameRule:
    """Optimistic gradient descent on the joint field: :func:`hsc_ref.rules.optimistic` on ``v``.

    ``step = -2 lr v_t + lr v_{t-1}`` (``v_{-1} = v_0``); the state keeps ``v_{t-1}``.

    Examples
    --------
    >>> import numpy as np
    >>> rule = optimistic(0.1)
    >>> s1, state = rule.update(np.array([1.0, 0.0]), rule.init(np.zeros(2)), game=None)
    >>> s2, state = rule.update(np.array([0.0, 1.0]), state, game=None)
    >>> s1, s2                                    # -0.1 v_0, then -0.2 v_1 + 0.1 v_0
    (array([-0.1,  0. ]), array([ 0.1, -0.2]))
    """
    rule = rules.optimistic(lr)

    def update(v: Any, state: Any, /, *, params: Any = None, game: Any = None) -> tuple:
        return rule.update(v, state, params=params)

    return GameRule(rule.init, update)


class MethodOption(NamedTuple):
    """An option a GAN method reads besides its step size.

    Attributes
    ----------
    default : float
        Its value when a run leaves it unset.
    why : str
        What it does, in a few words (the command's help and its refusals say it).
    """

    default: float
    why: str


class GameMethod(NamedTuple):
    """A game-aware method as the trainer and the commands see it.

    Attributes
    ----------
    factory : callable
        ``factory(lr, **options) -> GameRule``.
    default_lr : float
        Its step size when a run leaves ``lr`` unset.
    options : mapping of str to MethodOption
        The options it reads, by :class:`~hsc_ref.gan.train.TrainConfig` field name.
    """

    factory: Callable[..., GameRule]
    default_lr: float
    options: Mapping[str, MethodOption] = {}


def _sga(lr: float, sga_lambda: float) -> GameRule:
    return symplectic(lr, sga_lambda)


_REGISTRY: dict[str, GameMethod] = {
    "conopt": GameMethod(
        consensus,
        0.1,
        {"gamma": MethodOption(1.0, "the weight of J^T v in consensus optimization")},
    ),
    "sga": GameMethod(
        _sga,
        0.1,
        {"sga_lambda": MethodOption(1.0, "the weight of A^T v in symplectic gradient adjustment")},
    ),
    "cgd": GameMethod(competitive, 0.1),
    "extragradient": GameMethod(extragradient, 0.1),
    "optimistic": GameMethod(optimistic, 0.1),
}
"""Every game-aware method, declared once: the trainer, ``hsc-ref gan`` and the sweep specs read
their names, step sizes and options from here. A new method is a factory above and an entry
here (and, for an option of a new name, a :class:`~hsc_ref.gan.train.TrainConfig` field)."""

GAME_METHODS = tuple(_REGISTRY)
"""The game-aware methods, in the order of the module docstring."""


def game_rule(method: str, lr: float, **options: float) -> GameRule:
    """The :class:`GameRule` of a method of :data:`GAME_METHODS`.

    ``options`` are the method's own (``gamma`` of ``conopt``, ``sga_lambda`` of ``sga``), each
    defaulting to its registry value; an option the method does not read is refused.

    Examples
    --------
    >>> rule = game_rule("conopt", 0.1, gamma=10.0)
    >>> v, f = dirac_field(np.array([1.0, 0.0]))
    >>> v, f.vjp(v)                                  # at (1, 0): J = [[0, -1/2], [1/2, 1/4]]
    (array([-0. ,  0.5]), array([0.25 , 0.125]))
    >>> rule.update(v, rule.init(np.zeros(2)), game=f)[0]    # -0.1 (v + 10 J^T v)
    array([-0.25 , -0.175])
    """
    if method not in _REGISTRY:
        raise ValueError(f"method must be one of {GAME_METHODS}, got {method!r}")
    taken = _REGISTRY[method].options
    unknown = sorted(set(options) - set(taken))
    if unknown:
        takes = ", ".join(taken) or "no options"
        name = unknown[0]
        raise TypeError(f"game method {method!r} takes {takes}, got {name}={options[name]!r}")
    values = {name: option.default for name, option in taken.items()} | options
    return _REGISTRY[method].factory(lr, **values)
