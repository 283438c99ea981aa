"""GAN trainers: the article's loop, the HSC step per player, and the comparators.

Every method is a pair of :class:`~hsc_ref.steps.StepRule` (one per player), driven by one
loop. Each step draws a data batch ``x`` and a noise batch ``z`` from the run's stream
generator, then

* ``"alternating"`` (default): the discriminator steps on ``L_D(theta, phi)``, then the
  generator steps on ``L_G(theta, phi_new)`` with the same ``(x, z)`` (PyTorch DCGAN order);
* ``"simultaneous"``: both players step from ``(theta, phi)``.

Methods (``lr`` defaults in :data:`DEFAULT_LR`):

``"article"``  the article's loop as written (DESIGN section 7): Adam(lr 2e-4, betas
               (0.5, 0.999)) for both players, BCE, generator gradient clipped to norm 1.0
               with ``torch.nn.utils.clip_grad_norm_`` semantics, and the generator's ``H``,
               ``H^+`` and ``Hc = H + H^+`` computed every step but not used by the update.
``"hsc"``      the HSC step ``-lr pinv(H + pinv(H)) g`` per player with its exact Hessian.
``"newton"``   pseudo-inverse Newton; ``"abs"`` saddle-free Newton; ``"damped"``
               Levenberg-Marquardt ``(H + mu I)^+`` (``mu`` from the config).
``"sgd"``, ``"adam"`` (betas (0.5, 0.999), no clipping), ``"sr1"`` (SciPy SR1, inverse form).

Per step the history records both losses, gradient norms (before clipping), step norms, wall
time of the update (what the method itself needs: for Adam only gradients, for the article's
loop also ``H``, ``H^+``, ``Hc``), and per-player Hessian spectrum summaries (computed outside
the timed region every ``spectrum_every`` steps, and every step for methods that need the
Hessian anyway). A step with a non-finite loss, gradient or step ends the run (``diverged_at``);
the parameters stay at their last finite values.

Random streams: ``SeedSequence(seed).spawn(3)`` gives the initialisation, the training
batches and the evaluation noise, so the same config gives bit-identical results.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import autograd
import numpy as np

from hsc_ref import _validation
from hsc_ref.corrections import correct
from hsc_ref.derivatives import hessian
from hsc_ref.gan.data import DATASETS, sample
from hsc_ref.gan.game import FlatGame, dirac_game, init_game, mlp_game, player_losses
from hsc_ref.gan.metrics import N_EVAL, mode_metrics
from hsc_ref.rules import StepRule, adam, newton_type, sgd, sr1
from hsc_ref.spectral import Spectrum, decompose

__all__ = [
    "METHODS",
    "HESSIAN_METHODS",
    "SCHEDULES",
    "DEFAULT_LR",
    "TrainConfig",
    "TrainResult",
    "make_rule",
    "clip_grad_norm",
    "spectrum_summary",
    "train",
]

METHODS = ("article", "hsc", "newton", "abs", "damped", "sgd", "adam", "sr1")
"""Trainer names accepted by :class:`TrainConfig`."""

HESSIAN_METHODS = ("hsc", "newton", "abs", "damped")
"""Methods whose update uses each player's exact Hessian."""

SCHEDULES = ("alternating", "simultaneous")
"""Update orders of the two players."""

DEFAULT_LR = {
    "article": 2e-4,
    "hsc": 1.0,
    "newton": 1.0,
    "abs": 1.0,
    "damped": 1.0,
    "sgd": 0.05,
    "adam": 1e-3,
    "sr1": 0.1,
}
"""Step size of each method when the config leaves ``lr`` unset."""

ARTICLE_CLIP = 1.0
"""The article's generator gradient-norm clip."""

_PLAYERS = ("g", "d")
_SUMMARY_KEYS = ("eig_min", "eig_max", "eig_abs_min", "rank", "negative", "zero", "rank_hc")


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
    schedule : {"alternating", "simultaneous"}
        Update order; the article's loop is alternating.
    lr : float or None
        Step size; ``None`` takes :data:`DEFAULT_LR`.
    mu : float
        Damping of ``"damped"``.
    spectrum_every : int
        Period of the spectrum diagnostics for methods that do not need the Hessian.
    n_eval : int
        Generated samples for the metrics (the protocol's 2500).
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
    schedule: str = "alternating"
    lr: float | None = None
    mu: float = 1.0
    spectrum_every: int = 1
    n_eval: int = N_EVAL

    def __post_init__(self) -> None:
        if self.data not in DATASETS:
            raise ValueError(f"data must be one of {DATASETS}, got {self.data!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        for name in ("steps", "batch", "spectrum_every", "n_eval", "noise_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise TypeError(f"seed must be an integer, got {self.seed!r}")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
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


@dataclass(frozen=True, eq=False)
class TrainResult:
    """Final parameters, per-step history, evaluation samples and metrics of one run.

    ``history`` maps names to arrays of length ``config.steps`` (NaN where not recorded):
    ``loss_g, loss_d, grad_norm_g, grad_norm_d, step_norm_g, step_norm_d, wall_time`` and,
    per player ``p`` in ``g, d``: ``eig_min_p, eig_max_p, eig_abs_min_p, rank_p, negative_p,
    zero_p, rank_hc_p`` (``zero`` counts ``|lam| <= cutoff`` under the pinvh policy;
    ``rank_hc`` is the rank of ``H + pinv(H)`` under the same policy).

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


def make_rule(method: str, lr: float, mu: float = 1.0) -> StepRule:
    """The :class:`~hsc_ref.steps.StepRule` of one player for ``method``.

    Examples
    --------
    >>> import numpy as np
    >>> rule = make_rule("hsc", 1.0)
    >>> step, _ = rule.update(np.ones(2), rule.init(np.zeros(2)), hessian=np.diag([1.0, 0.0]))
    >>> step                                   # phi(1) = 1/2, phi(0) = 0
    array([-0.5, -0. ])
    """
    if method in ("article", "adam"):
        return adam(lr, b1=0.5, b2=0.999)
    if method == "sgd":
        return sgd(lr)
    if method == "sr1":
        return sr1(lr)
    if method == "damped":
        return newton_type("damped", lr=lr, mu=mu)
    if method in HESSIAN_METHODS:
        return newton_type(method, lr=lr)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def clip_grad_norm(g: np.ndarray, max_norm: float) -> np.ndarray:
    """Scale ``g`` as ``torch.nn.utils.clip_grad_norm_`` does (2-norm, ``eps = 1e-6``).

    ``coef = max_norm / (||g|| + 1e-6)``; ``g * coef`` if ``coef < 1``, else ``g`` unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> clip_grad_norm(np.array([3.0, 4.0]), 1.0)
    array([0.59999988, 0.79999984])
    >>> clip_grad_norm(np.array([0.3, 0.4]), 1.0)
    array([0.3, 0.4])
    """
    max_norm = _validation.check_positive(max_norm, "max_norm")
    coef = max_norm / (float(np.linalg.norm(g)) + 1e-6)
    return g * coef if coef < 1.0 else g


def spectrum_summary(spectrum: Spectrum) -> dict[str, float]:
    """Min/max and smallest-magnitude eigenvalue, rank, negative and zero counts, rank of Hc.

    ``rank_hc`` is the rank of ``H + pinv(H)`` under the same cutoff policy (DESIGN fact 2:
    equal to ``rank`` unless an eigenvalue sits at the cutoff).

    Examples
    --------
    >>> import numpy as np
    >>> from hsc_ref.spectral import decompose
    >>> s = spectrum_summary(decompose(np.diag([-1.0, 0.0, 2.0])))
    >>> s["eig_min"], s["eig_max"], s["eig_abs_min"]
    (-1.0, 2.0, 0.0)
    >>> s["rank"], s["negative"], s["zero"], s["rank_hc"]
    (2, 1, 1, 2)
    """
    inertia = spectrum.inertia
    return {
        "eig_min": float(spectrum.eigenvalues[0]),
        "eig_max": float(spectrum.eigenvalues[-1]),
        "eig_abs_min": float(np.abs(spectrum.eigenvalues).min()),
        "rank": spectrum.rank,
        "negative": inertia.negative,
        "zero": inertia.zero,
        "rank_hc": correct(spectrum, "hsc").rank_after,
    }


class _Player:
    """One player's rule, state and parameters."""

    def __init__(self, rule: StepRule, x: np.ndarray) -> None:
        self.rule, self.x, self.state = rule, x.copy(), rule.init(x)


def _history(steps: int) -> dict[str, np.ndarray]:
    names = ["loss_g", "loss_d", "grad_norm_g", "grad_norm_d", "step_norm_g", "step_norm_d"]
    names += ["wall_time"] + [f"{k}_{p}" for p in _PLAYERS for k in _SUMMARY_KEYS]
    return {name: np.full(steps, np.nan) for name in names}


def _finite(*arrays: Any) -> bool:
    return all(bool(np.all(np.isfinite(a))) for a in arrays)


class _Stepper:
    """Computes one player's update from its loss; keeps the Hessian for the diagnostics."""

    def __init__(self, config: TrainConfig) -> None:
        self.method = config.method
        self.needs_hessian = config.method in HESSIAN_METHODS

    def __call__(self, player: _Player, fun: Callable, is_generator: bool) -> tuple | None:
        """``(value, grad, step, state, H, spectrum)``, or None if something is non-finite."""
        value, grad = autograd.value_and_grad(fun)(player.x)
        grad = np.asarray(grad)
        H = spectrum = None
        update_grad = grad
        if self.needs_hessian or (self.method == "article" and is_generator):
            H = hessian(fun, player.x, batched=True)
        if not _finite(value, grad, H if H is not None else 0.0):
            return None
        if self.method == "article" and is_generator:
            spectrum = decompose(H)
            result = correct(spectrum, "hsc")  # H, H^+ and Hc: computed, not used
            _ = (spectrum.pinv(), result.matrix)
            update_grad = clip_grad_norm(grad, ARTICLE_CLIP)
        step, state = player.rule.update(update_grad, player.state, params=player.x, hessian=H)
        if not _finite(step):
            return None
        return float(value), grad, np.asarray(step), state, H, spectrum


def train(config: TrainConfig, *, progress: Callable[[int], None] | None = None) -> TrainResult:
    """Train one GAN as ``config`` says; see the module docstring for the loop.

    Parameters
    ----------
    config : TrainConfig
    progress : callable, optional
        Called with the number of completed steps after each step (e.g. a tqdm update).

    Returns
    -------
    TrainResult

    Examples
    --------
    >>> r = train(TrainConfig(data="dirac", method="hsc", steps=3, batch=4, n_eval=10))
    >>> r.history["loss_d"].shape, r.metrics["steps_completed"]
    ((3,), 3)
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    init_seq, stream_seq, eval_seq = np.random.SeedSequence(int(config.seed)).spawn(3)
    fg = init_game(config.game(), np.random.default_rng(init_seq))
    stream = np.random.default_rng(stream_seq)
    lr = config.step_size
    gen = _Player(make_rule(config.method, lr, config.mu), fg.theta)
    disc = _Player(make_rule(config.method, lr, config.mu), fg.phi)
    history = _history(config.steps)
    run = _Run(config, fg, stream, gen, disc, _Stepper(config), history)
    diverged_at = None
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # checked per step
        for t in range(config.steps):
            if not _train_step(run, t):
                diverged_at = t
                break
            if progress is not None:
                progress(t + 1)
        samples = _generate(fg, gen.x, config.n_eval, np.random.default_rng(eval_seq))
    metrics = _metrics(
        config, fg, gen.x, disc.x, samples=samples, history=history, diverged_at=diverged_at
    )
    return TrainResult(config, gen.x, disc.x, history, samples, metrics)


class _Run(NamedTuple):
    """Everything one training loop carries from step to step."""

    config: TrainConfig
    fg: FlatGame
    stream: np.random.Generator
    gen: _Player
    disc: _Player
    stepper: _Stepper
    history: dict[str, np.ndarray]


def _train_step(run: _Run, t: int) -> bool:
    """One step of both players; False (nothing applied) if anything is non-finite."""
    config, fg, stream, gen, disc, stepper, history = run
    x_real = sample(fg.game.data, config.batch, stream)
    z = stream.standard_normal((config.batch, fg.game.noise_dim))
    losses = player_losses(fg, x_real, z)
    theta = gen.x
    start = time.perf_counter()
    out_d = stepper(disc, lambda p: losses.discriminator(theta, p), False)
    if out_d is None:
        return False
    phi_for_g = disc.x + out_d[2] if config.schedule == "alternating" else disc.x
    out_g = stepper(gen, lambda th: losses.generator(th, phi_for_g), True)
    wall = time.perf_counter() - start
    if out_g is None:
        return False
    record_all = t % config.spectrum_every == 0
    for name, player, out, fun in (
        ("d", disc, out_d, lambda p: losses.discriminator(theta, p)),
        ("g", gen, out_g, lambda th: losses.generator(th, phi_for_g)),
    ):
        value, grad, step, state, H, spectrum = out
        history[f"loss_{name}"][t] = value
        history[f"grad_norm_{name}"][t] = np.linalg.norm(grad)
        history[f"step_norm_{name}"][t] = np.linalg.norm(step)
        if spectrum is None and (H is not None or record_all):
            H = H if H is not None else hessian(fun, player.x, batched=True)
            spectrum = decompose(H) if _finite(H) else None  # overflow: leave NaN
        if spectrum is not None:
            for key, val in spectrum_summary(spectrum).items():
                history[f"{key}_{name}"][t] = val
        player.x, player.state = player.x + step, state
    history["wall_time"][t] = wall
    return True


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
        out[f"rank_changes_under_hc_{p}"] = int(np.sum(history[f"rank_hc_{p}"][seen] != rank[seen]))
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
