"""GAN trainers: the article's loop, the HSC step per player, and the comparators.

Every method is a pair of :class:`~hsc_ref.rules.StepRule` (one per player), driven by the
package's one loop (:func:`hsc_ref.loop.run_loop`, one :func:`hsc_ref.loop.rule_step` per
player). Each step draws a data batch ``x`` and a noise batch ``z`` from the run's stream
generator, then

* ``"alternating"`` (default): the discriminator steps on ``L_D(theta, phi)``, then the
  generator steps on ``L_G(theta, phi_new)`` with the same ``(x, z)`` (PyTorch DCGAN order);
* ``"simultaneous"``: both players step from ``(theta, phi)``.

The game-aware methods of :mod:`hsc_ref.gan.methods` (:data:`GAME_METHODS`) update both
players at once from the joint field ``v = (grad_theta L_G, grad_phi L_D)`` and its exact
Jacobian, on the step's batch; they are defined for ``"simultaneous"`` updates only, which is
their default schedule (the others default to ``"alternating"``).

Methods (``lr`` defaults in :data:`DEFAULT_LR`):

``"article"``  the article's loop as written (``docs/design.md``, "GAN setup and metrics"):
               Adam(lr 2e-4, betas (0.5, 0.999)) for both players, BCE, generator gradient
               clipped to norm 1.0 with ``torch.nn.utils.clip_grad_norm_`` semantics, and the
               generator's ``H``, ``H^+`` and ``Hc = H + H^+`` computed every step but not used
               by the update:
               ``chain(article_curvature(), article_optimizer())`` for the generator.
``"hsc"``      the HSC step ``-lr pinv(H + pinv(H)) g`` per player with its exact Hessian.
``"newton"``   pseudo-inverse Newton; ``"saddle_free"`` (alias ``"abs"``); ``"damped"``
               Levenberg-Marquardt ``(H + mu I)^+`` (``mu`` from the config).
``"sgd"``, ``"adam"`` (betas (0.5, 0.999), no clipping), ``"sr1"`` (SciPy SR1, inverse form).
``"conopt"``, ``"sga"``, ``"cgd"``, ``"extragradient"``, ``"optimistic"``: consensus
               optimization (``gamma``), symplectic gradient adjustment (``sga_lambda``),
               competitive gradient descent, extragradient and optimistic gradient descent;
               their updates are written in :mod:`hsc_ref.gan.methods`.

Per step the history records both losses, gradient norms (before clipping), step norms, wall
time of the update (what the method itself needs: for Adam only gradients, for the article's
loop also ``H``, ``H^+``, ``Hc``), and per-player Hessian spectrum summaries
(:class:`~hsc_ref.corrections.SpectrumSummary` fields): every step from the decomposition the
step itself made for methods that use the Hessian (one ``eigh`` per player per step), and for
the others every ``spectrum_every`` steps, outside the timed region, or never with the default
``spectrum_every=0``: an Adam, SGD or SR1 run (and the article's discriminator) computes no
Hessian it does not use. The article's generator computes ``H``, ``H^+`` and ``Hc`` every
step, since that is the article's loop, so its spectrum is always recorded.
A step with a non-finite loss, gradient or step ends the run (``diverged_at``);
the parameters stay at their last finite values.

Random streams: ``SeedSequence(seed).spawn(3)`` gives the initialisation, the training
batches and the evaluation noise, so the same config gives bit-identical results.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import autograd
import numpy as np

from hsc_ref import _limits, _validation
from hsc_ref.corrections import SUMMARY_FIELDS
from hsc_ref.derivatives import BATCHED_CHUNK_SIZE, ValueGradHessian
from hsc_ref.gan.data import DATASETS, sample
from hsc_ref.gan.game import (
    ROUTES,
    FlatGame,
    dirac_game,
    init_game,
    mlp_game,
    player_losses,
    player_value_grad_hessian,
)
from hsc_ref.gan.methods import (
    _REGISTRY as _GAME_REGISTRY,
)
from hsc_ref.gan.methods import (
    GAME_METHODS,
    GameRule,
    MethodOption,
    game_field,
    game_rule,
)
from hsc_ref.gan.metrics import N_EVAL, mode_metrics
from hsc_ref.loop import (
    LoopProgress,
    ProgressFn,
    _check_start,
    rule_step,
    run_loop,
    summary_record,
)
from hsc_ref.rules import (
    StepRule,
    article_curvature,
    article_optimizer,
    chain,
    newton_type,
    sgd,
    sr1,
)
from hsc_ref.spectral import decompose

__all__ = [
    "METHODS",
    "TrainConfig",
    "TrainResult",
    "make_rule",
    "train",
]


class _PlayerMethod(NamedTuple):
    """A method that updates each player with its own :class:`~hsc_ref.rules.StepRule`."""

    default_lr: float
    uses_hessian: bool = False
    options: Mapping[str, MethodOption] = {}


_PLAYER_METHODS = {
    "article": _PlayerMethod(2e-4),
    "hsc": _PlayerMethod(1.0, uses_hessian=True),
    "newton": _PlayerMethod(1.0, uses_hessian=True),
    "saddle_free": _PlayerMethod(1.0, uses_hessian=True),
    "damped": _PlayerMethod(
        1.0, uses_hessian=True, options={"mu": MethodOption(1.0, "the damping of (H + mu I)^+")}
    ),
    "sgd": _PlayerMethod(0.05),
    "adam": _PlayerMethod(1e-3),
    "sr1": _PlayerMethod(0.1),
}
"""The per-player methods, declared once (their rules are built by :func:`make_rule`); the
game-aware methods are declared in :mod:`hsc_ref.gan.methods`. Every table below, the
command's options and the sweep specs' keys are read from the two."""

_ALL_METHODS: dict[str, Any] = {**_PLAYER_METHODS, **_GAME_REGISTRY}

METHODS = tuple(_ALL_METHODS)
"""Trainer names accepted by :class:`TrainConfig`."""

HESSIAN_METHODS = tuple(m for m, spec in _PLAYER_METHODS.items() if spec.uses_hessian)
"""Methods whose update uses each player's exact Hessian."""

SCHEDULES = ("alternating", "simultaneous")
"""Update orders of the two players."""

DEFAULT_LR = {method: spec.default_lr for method, spec in _ALL_METHODS.items()}
"""Step size of each method when the config leaves ``lr`` unset."""

METHOD_OPTIONS = {m: tuple(spec.options) for m, spec in _ALL_METHODS.items() if spec.options}
"""The :class:`TrainConfig` fields each method reads besides ``lr`` (a method not listed reads
none): ``mu`` the damping of ``damped``, ``gamma`` the consensus weight of ``conopt``,
``sga_lambda`` the magnitude of SGA's ``lambda``. An option whose config field defaults to
``None`` (``gamma``, ``sga_lambda``) is refused for another method; ``mu`` has a default in
every config."""

OPTIONS = {name: option for spec in _ALL_METHODS.values() for name, option in spec.options.items()}
"""Every method option by name, with its default and what it does."""

DEFAULT_OPTIONS = {name: option.default for name, option in OPTIONS.items()}
"""The value of each :data:`METHOD_OPTIONS` field when the config leaves it unset."""

OPTION_TAKERS = {
    name: tuple(m for m, names in METHOD_OPTIONS.items() if name in names) for name in OPTIONS
}
"""The methods that read each option (the inverse of :data:`METHOD_OPTIONS`)."""

METHOD_ALIASES = {"abs": "saddle_free"}
"""Other accepted method names."""

_PLAYERS = ("g", "d")


@dataclass(frozen=True)
class TrainConfig:
    """One training run, fully determined by these fields.

    Attributes
    ----------
    data : {"ring", "grid", "dirac"}
        Pinned data set (``"dirac"`` plays DiracGAN).
    method : str
        One of :data:`METHODS`.
    steps : int
        Positive number of steps (each step updates both players once).
    seed : int
        Seed of every random draw.
    batch : int
        Samples per step (data and noise).
    hidden : tuple of int
        Hidden widths of both MLPs (ignored for DiracGAN).
    noise_dim : int
        Generator input width (ignored for DiracGAN).
    activation : str
        Hidden activation of both MLPs.
    loss : {"bce", "minimax"}
        Generator loss; the article's loop requires ``"bce"``.
    schedule : {"alternating", "simultaneous"} or None
        Update order; the article's loop is alternating, the :data:`GAME_METHODS` are
        simultaneous. ``None`` (the default) takes ``"simultaneous"`` for the game methods and
        ``"alternating"`` for the others.
    lr : float or None
        Step size; ``None`` takes :data:`DEFAULT_LR`.
    mu : float
        Damping of ``"damped"``.
    gamma : float or None
        Consensus weight of ``"conopt"`` (``None``: 1); refused for other methods.
    sga_lambda : float or None
        Magnitude of ``lambda`` of ``"sga"`` (``None``: 1; its sign is the paper's rule);
        refused for other methods.
    spectrum_every : int
        Period of the spectrum diagnostics for rules that do not need the Hessian; 0 (the
        default) computes none. Rules that use ``H`` record theirs every step.
    n_eval : int
        Generated samples for the metrics (the protocol's 2500).
    hessian_route : {"auto", "exact", "autograd"}
        How the players' Hessians are computed (:data:`hsc_ref.gan.game.ROUTES`): ``"auto"``
        takes the hand-derived exact route for MLP players, with the loss, gradient and
        Hessian from one primal; ``"autograd"`` is the reference. Both agree to rounding.
    """

    data: str = "ring"
    method: str = "hsc"
    steps: int = 200
    seed: int = 0
    batch: int = 64
    hidden: tuple[int, ...] = (16,)
    noise_dim: int = 2
    activation: str = "tanh"
    loss: str = "bce"
    schedule: str | None = None
    lr: float | None = None
    mu: float = 1.0
    gamma: float | None = None
    sga_lambda: float | None = None
    spectrum_every: int = 0
    n_eval: int = N_EVAL
    hessian_route: str = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", METHOD_ALIASES.get(self.method, self.method))
        if self.data not in DATASETS:
            raise ValueError(f"data must be one of {DATASETS}, got {self.data!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.hessian_route not in ROUTES:
            raise ValueError(f"hessian_route must be one of {ROUTES}, got {self.hessian_route!r}")
        if self.schedule is None:
            default = "simultaneous" if self.method in GAME_METHODS else "alternating"
            object.__setattr__(self, "schedule", default)
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.method in GAME_METHODS and self.schedule != "simultaneous":
            raise ValueError(
                f"method {self.method!r} is defined for schedule='simultaneous' only, "
                f"got schedule={self.schedule!r}"
            )
        for name in OPTIONS:
            value = getattr(self, name)
            if value is None or _FIELD_DEFAULTS[name] is not None:
                continue  # unset, or carried by every config (mu)
            if name not in METHOD_OPTIONS.get(self.method, ()):
                raise ValueError(
                    f"{name} applies only to method "
                    f"{' or '.join(map(repr, OPTION_TAKERS[name]))}, got "
                    f"{name}={value!r} with method={self.method!r}"
                )
            _validation.check_positive(value, name)
        for name in ("steps", "batch", "n_eval", "noise_dim"):
            _validation.check_count(getattr(self, name), name, minimum=1)
        _validation.check_count(self.seed, "seed")
        _validation.check_count(self.spectrum_every, "spectrum_every")  # 0: never
        if self.lr is not None:
            _validation.check_positive(self.lr, "lr")
        _validation.check_positive(self.mu, "mu")
        if self.method == "article" and (self.loss != "bce" or self.schedule != "alternating"):
            raise ValueError(
                "the article's loop uses loss='bce' and schedule='alternating', got "
                f"loss={self.loss!r}, schedule={self.schedule!r}"
            )
        self.game()  # validates data, hidden, activation, loss

    @property
    def step_size(self) -> float:
        """``lr``, or the method's default."""
        return DEFAULT_LR[self.method] if self.lr is None else float(self.lr)

    def option(self, name: str) -> float:
        """A :data:`METHOD_OPTIONS` field's value, or its default (:data:`DEFAULT_OPTIONS`).

        Examples
        --------
        >>> TrainConfig(method="conopt", gamma=10.0).option("gamma")
        10.0
        >>> TrainConfig(method="sga").option("sga_lambda")
        1.0
        """
        value = getattr(self, name)
        return DEFAULT_OPTIONS[name] if value is None else float(value)

    def game(self):
        """The :class:`~hsc_ref.gan.Game` this config plays."""
        if self.data == "dirac":
            return dirac_game(self.loss)
        return mlp_game(
            self.data,
            hidden=tuple(self.hidden),
            noise_dim=self.noise_dim,
            activation=self.activation,
            loss=self.loss,
        )


_FIELD_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
"""Each :class:`TrainConfig` field's default; every method option is a field."""


@dataclass(frozen=True, eq=False)
class TrainResult:
    """Final parameters, per-step history, evaluation samples and metrics of one run.

    ``history`` maps names to arrays of length ``config.steps`` (NaN where not recorded):
    ``loss_g, loss_d, grad_norm_g, grad_norm_d, step_norm_g, step_norm_d, wall_time`` and,
    per player ``p`` in ``g, d``, every :data:`~hsc_ref.corrections.SUMMARY_FIELDS` name with the
    suffix ``_p`` (e.g. ``rank_g``, ``negative_d``, ``rank_corrected_g``: the rank of
    ``H + pinv(H)`` under the same cutoff).

    Attributes
    ----------
    config : TrainConfig
    theta, phi : ndarray
        Final (last finite) generator and discriminator parameters.
    history : dict of str to ndarray
        Per-step records, above.
    samples : ndarray, shape (n_eval, d)
        Generator samples on fresh evaluation noise.
    metrics : dict
        JSON-ready summary: mode metrics (or ``distance_to_equilibrium`` on DiracGAN),
        ``steps_completed``, ``diverged_at``, mean wall time per step, spectrum statistics.
    """

    config: TrainConfig
    theta: np.ndarray
    phi: np.ndarray
    history: dict[str, np.ndarray]
    samples: np.ndarray
    metrics: dict[str, Any] = field(default_factory=dict)


def make_rule(method: str, lr: float, mu: float = 1.0, *, generator: bool = False) -> StepRule:
    """The :class:`~hsc_ref.rules.StepRule` of one player for ``method``.

    ``generator=True`` gives the article's generator its clip and its unused curvature.

    Examples
    --------
    >>> import numpy as np
    >>> rule = make_rule("hsc", 1.0)
    >>> step, _ = rule.update(np.ones(2), rule.init(np.zeros(2)), hessian=np.diag([1.0, 0.0]))
    >>> step                                   # phi(1) = 1/2, phi(0) = 0
    array([-0.5, -0. ])
    """
    method = METHOD_ALIASES.get(method, method)
    if method in GAME_METHODS:
        raise ValueError(
            f"method {method!r} updates both players jointly: it has no per-player rule "
            f"(hsc_ref.gan.methods.game_rule gives its GameRule)"
        )
    if method == "article" and generator:
        return chain(article_curvature(), article_optimizer(lr))
    if method in ("article", "adam"):  # the article's Adam, unclipped
        return article_optimizer(lr, max_grad_norm=None)
    factories = {"sgd": sgd, "sr1": sr1}
    if method in factories:
        return factories[method](lr)
    if method in HESSIAN_METHODS:
        return newton_type(method, lr=lr, **({"mu": mu} if method == "damped" else {}))
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def _config_game_rule(config: TrainConfig) -> GameRule:
    names = METHOD_OPTIONS.get(config.method, ())
    return game_rule(config.method, config.step_size, **{n: config.option(n) for n in names})


def _history_names() -> tuple[str, ...]:
    names = ["loss_g", "loss_d", "grad_norm_g", "grad_norm_d", "step_norm_g", "step_norm_d"]
    return (*names, "wall_time", *(f"{k}_{p}" for p in _PLAYERS for k in SUMMARY_FIELDS))


def train(
    config: TrainConfig,
    *,
    callback: ProgressFn | None = None,
    start: LoopProgress | None = None,
) -> TrainResult:
    """Train one GAN as ``config`` says; see the module docstring for the loop.

    Parameters
    ----------
    config : TrainConfig
    callback : callable, optional
        ``callback(progress)`` after every completed step (:func:`hsc_ref.loop.run_loop`),
        with a :class:`~hsc_ref.loop.LoopProgress` whose state is
        ``(((theta, g_state), (phi, d_state)), stream_state)`` (the rules' states and the
        training batches' generator state; for the :data:`GAME_METHODS`, which update both
        players jointly, ``g_state`` is the joint rule's state and ``d_state`` is None):
        progress bars read ``progress.steps_completed``, checkpoints keep the whole of it.
    start : LoopProgress, optional
        Such a progress of a run of the same ``config``: the result is bit-identical to the
        uninterrupted run's (wall times aside).

    Returns
    -------
    TrainResult

    Examples
    --------
    >>> r = train(TrainConfig(data="dirac", method="hsc", steps=3, batch=4, n_eval=10))
    >>> r.history["loss_d"].shape, r.metrics["steps_completed"]
    ((3,), 3)
    >>> saved = []
    >>> _ = train(TrainConfig(data="dirac", method="adam", steps=3, batch=4, n_eval=10),
    ...           callback=saved.append)
    >>> again = train(TrainConfig(data="dirac", method="adam", steps=3, batch=4, n_eval=10),
    ...               start=saved[0])
    >>> bool(np.array_equal(again.theta, _.theta))
    True
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    _validation.check_callable(callback, "callback", optional=True)
    if start is not None:
        _check_start(start)
    check_memory(config)
    init_seq, stream_seq, eval_seq = np.random.SeedSequence(int(config.seed)).spawn(3)
    fg = init_game(config.game(), np.random.default_rng(init_seq))
    lr = config.step_size
    stream = np.random.default_rng(stream_seq)
    if start is not None:
        stream.bit_generator.state = start.state[1]
    if config.method in GAME_METHODS:
        rule = _config_game_rule(config)
        w0 = np.concatenate([fg.theta, fg.phi])
        players = ((fg.theta.copy(), rule.init(w0)), (fg.phi.copy(), None))
        step = _joint_step(config, fg, rule, stream)
    else:
        gen_rule = make_rule(config.method, lr, config.option("mu"), generator=True)
        disc_rule = make_rule(config.method, lr, config.option("mu"))
        players = (
            (fg.theta.copy(), gen_rule.init(fg.theta)),
            (fg.phi.copy(), disc_rule.init(fg.phi)),
        )
        step = _game_step(config, fg, gen_rule, disc_rule, stream)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # checked per step
        res = run_loop(
            step,
            (players, stream.bit_generator.state),
            config.steps,
            names=_history_names(),
            callback=callback,
            start=start,
        )
    ((theta, _), (phi, _)), _stream_state = res.state
    samples = _generate(fg, theta, config.n_eval, np.random.default_rng(eval_seq))
    metrics = _metrics(
        config, fg, theta, phi, samples=samples, history=res.history, diverged_at=res.stopped_at
    )
    return TrainResult(config, theta, phi, res.history, samples, metrics)


_BYTES_PER_ACTIVATION = 8 * 8
"""Bytes per float of a forward pass kept by autograd's tape under reverse-over-reverse
differentiation: float64 values, about eight arrays alive per activation (an upper bound:
batch 20000, hidden 16 took 2.5 GiB on the autograd route, this counts 3.8 GiB)."""

_BYTES_PER_SAMPLE_PARAMETER = 8 * 32
"""Bytes per sample and parameter on the hand-derived route: float64, 32 arrays of shape
``(batch, n)`` (an upper bound: batch 20000, hidden 16 took 0.26 GiB, this counts 0.39 GiB)."""


def memory_parts(config: TrainConfig) -> list[tuple[str, int]]:
    """What a run allocates, by the option that sets its size: ``[(what, bytes), ...]``.

    Each ``what`` starts with the config field (``hidden``, ``batch``, ``steps``,
    ``n_eval``). The parts, each an upper bound: the larger player's exact Hessian and its
    ``eigh`` (counted whatever the method: the diagnostics and the final matrices need it; for
    ``"cgd"``, which solves with the game's blocks every step, the joint matrices), a
    step's batch through the batched Hessian route's parameter copies, the per-step history,
    the evaluation samples.

    Examples
    --------
    >>> [what.split(" =")[0] for what, _ in memory_parts(TrainConfig())]
    ['hidden', 'batch', 'steps', 'n_eval']
    """
    game = config.game()
    d = game.data.centers.shape[1]
    widths = [] if config.data == "dirac" else list(config.hidden)
    sizes_g, sizes_d = [game.noise_dim, *widths, d], [d, *widths, 1]
    n_g, n_d = (sum(a * b + b for a, b in itertools.pairwise(s)) for s in (sizes_g, sizes_d))
    n = max(n_g, n_d)
    matrix = f"the exact {n} x {n} Hessian and its eigh"
    if config.method == "cgd":  # the game's joint matrices, of order n_g + n_d
        n = n_g + n_d
        matrix = f"the exact {n} x {n} game matrices and the CGD solves"
    copies = min(BATCHED_CHUNK_SIZE, n)
    activations = sum(sizes_g) + sum(sizes_d)
    modes = game.data.centers.shape[0]
    if config.hessian_route == "autograd" or config.data == "dirac":
        route = f"through {copies} parameter copies"
        per_sample = copies * activations * _BYTES_PER_ACTIVATION
    else:  # the hand-derived route: per-sample blocks over the parameters
        route, per_sample = "on the exact MLP route", n * _BYTES_PER_SAMPLE_PARAMETER
    return [
        (
            f"hidden = {tuple(config.hidden)} ({matrix})",
            6 * 8 * n * n,
        ),
        (f"batch = {config.batch} (each batch {route})", config.batch * per_sample),
        (
            f"steps = {config.steps} (the per-step history)",
            8 * config.steps * len(_history_names()),
        ),
        (
            f"n_eval = {config.n_eval} (the evaluation samples)",
            2 * 8 * config.n_eval * (sum(sizes_g) + modes),
        ),
    ]


def check_memory(config: TrainConfig) -> None:
    """Refuse a run whose sizes cannot fit in the available memory, before any work.

    Raises ``MemoryError`` naming the option that sets the size of the first part that does
    not fit (:func:`memory_parts`), or the whole run when only their sum does not.

    Examples
    --------
    >>> check_memory(TrainConfig())            # fits: returns None
    >>> try:
    ...     check_memory(TrainConfig(n_eval=10**13))
    ... except MemoryError as exc:
    ...     print(str(exc)[:48])
    n_eval = 10000000000000 (the evaluation samples)
    """
    parts = memory_parts(config)
    for what, nbytes in parts:
        _limits.require_memory(nbytes, what, hint="make it smaller")
    total = sum(nbytes for _, nbytes in parts)
    _limits.require_memory(total, "the run (all its parts)", hint="make the sizes smaller")


def _derivatives(
    config: TrainConfig, fg: FlatGame, batch: tuple[np.ndarray, np.ndarray], player: str, other: Any
) -> Callable[[np.ndarray], ValueGradHessian]:
    """One player's loss, gradient and Hessian at its parameters, by the config's route."""
    x_real, z = batch
    if player == "generator":
        return lambda th: player_value_grad_hessian(
            fg, th, other, x_real, z, player=player, route=config.hessian_route
        )
    return lambda ph: player_value_grad_hessian(
        fg, other, ph, x_real, z, player=player, route=config.hessian_route
    )


def _game_step(
    config: TrainConfig,
    fg: FlatGame,
    gen_rule: StepRule,
    disc_rule: StepRule,
    stream: np.random.Generator,
) -> Callable:
    """The loop's step: draw a batch, update the discriminator, then the generator."""

    def step(t: int, carry: tuple) -> tuple | None:
        ((theta, g_state), (phi, d_state)), _stream_state = carry  # the stream runs on
        x_real = sample(fg.game.data, config.batch, stream)
        z = stream.standard_normal((config.batch, fg.game.noise_dim))
        losses = player_losses(fg, x_real, z)
        diagnose = config.spectrum_every > 0 and t % config.spectrum_every == 0
        d_loss = lambda p: losses.discriminator(theta, p)  # noqa: E731
        d_derivatives = _derivatives(config, fg, (x_real, z), "discriminator", theta)
        out_d = rule_step(
            disc_rule, d_state, d_loss, phi, diagnose=diagnose, derivatives_of=d_derivatives
        )
        if out_d is None:
            return None
        phi_for_g = phi + out_d.step if config.schedule == "alternating" else phi
        g_loss = lambda th: losses.generator(th, phi_for_g)  # noqa: E731
        g_derivatives = _derivatives(config, fg, (x_real, z), "generator", phi_for_g)
        out_g = rule_step(
            gen_rule, g_state, g_loss, theta, diagnose=diagnose, derivatives_of=g_derivatives
        )
        if out_g is None:
            return None
        record = {"wall_time": out_d.wall_time + out_g.wall_time}
        for name, out in (("d", out_d), ("g", out_g)):
            record[f"loss_{name}"] = out.value
            record[f"grad_norm_{name}"] = float(np.linalg.norm(out.grad))
            record[f"step_norm_{name}"] = float(np.linalg.norm(out.step))
            record |= summary_record(out.spectrum, f"_{name}")
        players = ((theta + out_g.step, out_g.state), (phi + out_d.step, out_d.state))
        return (players, stream.bit_generator.state), record

    return step


def _joint_step(
    config: TrainConfig, fg: FlatGame, rule: GameRule, stream: np.random.Generator
) -> Callable:
    """The loop's step of a game method: draw a batch, step both players from ``(theta, phi)``.

    The timed region holds what the method needs: both losses and gradients (the field
    ``v``) and the rule's update with the products, fields or blocks it asks for.
    """
    n_g = fg.theta.shape[0]

    def step(t: int, carry: tuple) -> tuple | None:
        ((theta, state), (phi, _)), _stream_state = carry
        x_real = sample(fg.game.data, config.batch, stream)
        z = stream.standard_normal((config.batch, fg.game.noise_dim))
        losses = player_losses(fg, x_real, z)
        start = time.perf_counter()
        value_g, grad_g = autograd.value_and_grad(lambda th: losses.generator(th, phi))(theta)
        value_d, grad_d = autograd.value_and_grad(lambda ph: losses.discriminator(theta, ph))(phi)
        v = np.concatenate([grad_g, grad_d])
        if not np.all(np.isfinite(v)) or not np.isfinite(value_g) or not np.isfinite(value_d):
            return None
        w = np.concatenate([theta, phi])
        field = game_field(fg, theta, phi, x_real, z, route=config.hessian_route, losses=losses)
        try:
            dw, state = rule.update(v, state, params=w, game=field)
        except FloatingPointError:  # the rule refused an overflowing or singular step
            return None
        wall = time.perf_counter() - start
        record = {"wall_time": wall, "loss_g": float(value_g), "loss_d": float(value_d)}
        for name, grad, part in (("g", grad_g, dw[:n_g]), ("d", grad_d, dw[n_g:])):
            record[f"grad_norm_{name}"] = float(np.linalg.norm(grad))
            record[f"step_norm_{name}"] = float(np.linalg.norm(part))
        if config.spectrum_every > 0 and t % config.spectrum_every == 0:  # outside the timing
            for name, player in (("g", "generator"), ("d", "discriminator")):
                H = player_value_grad_hessian(
                    fg, theta, phi, x_real, z, player=player, route=config.hessian_route
                ).hessian
                record |= summary_record(
                    decompose(H) if np.all(np.isfinite(H)) else None, f"_{name}"
                )
        players = ((theta + dw[:n_g], state), (phi + dw[n_g:], None))
        return (players, stream.bit_generator.state), record

    return step


def _generate(fg: FlatGame, theta: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    z = rng.standard_normal((n, fg.game.noise_dim))
    return np.asarray(fg.game.generator.apply(fg.unflatten_g(theta), z))


def _metrics(
    config: TrainConfig,
    fg: FlatGame,
    theta: np.ndarray,
    phi: np.ndarray,
    *,
    samples: np.ndarray,
    history: dict[str, np.ndarray],
    diverged_at: int | None,
) -> dict[str, Any]:
    done = config.steps if diverged_at is None else diverged_at
    out: dict[str, Any] = {
        "steps_completed": int(done),
        "diverged_at": diverged_at,
        "lr": config.step_size,
        "n_params_g": int(theta.shape[0]),
        "n_params_d": int(phi.shape[0]),
        "wall_time_per_step": _mean(history["wall_time"]),
        "final_loss_g": _last(history["loss_g"]),
        "final_loss_d": _last(history["loss_d"]),
    }
    for p in _PLAYERS:
        neg, rank = history[f"negative_{p}"], history[f"rank_{p}"]
        seen = np.isfinite(neg)
        n = theta.shape[0] if p == "g" else phi.shape[0]
        out[f"spectra_recorded_{p}"] = int(seen.sum())
        out[f"indefinite_fraction_{p}"] = _mean((neg[seen] > 0) & (rank[seen] > neg[seen]))
        out[f"rank_deficient_fraction_{p}"] = _mean(rank[seen] < n)
        changed = history[f"rank_corrected_{p}"][seen] != rank[seen]
        out[f"rank_changes_under_hc_{p}"] = int(np.sum(changed))
    if config.data == "dirac":
        out["distance_to_equilibrium"] = float(np.hypot(theta[0], phi[0]))
        return out
    if not np.all(np.isfinite(samples)):
        out.update(modes_captured=0, high_quality_fraction=0.0, reverse_kl=None)
        return out
    m = mode_metrics(samples, fg.game.data)
    out.update(
        modes_captured=m.modes_captured,
        high_quality_fraction=m.high_quality_fraction,
        reverse_kl=m.reverse_kl,
    )
    return out


def _mean(values: np.ndarray) -> float | None:
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else None


def _last(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(finite[-1]) if finite.size else None
