"""``hsc-ref gan``: train one GAN and write metrics, samples, history and plots; the demo section.

Outputs in ``--out``: ``metrics.json`` (config and metrics), ``samples.npz`` (evaluation
samples, mode centres, final ``theta`` and ``phi``), ``history.npz`` (per-step arrays, see
:class:`~hsc_ref.gan.train.TrainResult`), ``matrices.npz`` (every exact matrix of the game
at the final point, :func:`final_matrices`) and, unless ``--no-plots``, ``samples.png``,
``losses.png`` and ``spectrum.png``. Existing files are not replaced without ``--force``.
tqdm (extra ``progress``) draws a progress bar when installed; matplotlib (extra ``plot``)
is needed for the plots.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np

from hsc_ref import _io
from hsc_ref.corrections import correct
from hsc_ref.gan.data import DATASETS, sample
from hsc_ref.gan.game import LOSSES, game_matrices, init_game
from hsc_ref.gan.train import METHODS, SCHEDULES, TrainConfig, TrainResult, train

__all__ = [
    "OUTPUT_FILES",
    "PLOT_FILES",
    "add_parser",
    "final_matrices",
    "write_outputs",
    "gan_demo",
    "demo_section",
]

OUTPUT_FILES = ("metrics.json", "samples.npz", "history.npz", "matrices.npz")
"""Files ``hsc-ref gan`` always writes."""

PLOT_FILES = ("samples.png", "losses.png", "spectrum.png")
"""Plots ``hsc-ref gan`` writes unless ``--no-plots``."""


def _hidden(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(w) for w in text.split(",") if w.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"hidden must be comma-separated integers: {exc}") from exc
    return widths


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``gan`` subcommand to the ``hsc-ref`` parser.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The parser's subcommand collection.

    Returns
    -------
    None
    """
    p = sub.add_parser("gan", help="train a small MLP GAN with the HSC step or a comparator")
    p.add_argument("--data", default="ring", help=f"one of {', '.join(DATASETS)} (default ring)")
    p.add_argument("--method", default="hsc", help=f"one of {', '.join(METHODS)} (default hsc)")
    p.add_argument("--steps", type=int, default=200, help="training steps (default 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    p.add_argument("--batch", type=int, default=64, help="samples per step (default 64)")
    p.add_argument("--hidden", type=_hidden, default=(16,), help="hidden widths, e.g. 16 or 8,8")
    p.add_argument("--lr", type=float, default=None, help="step size (default: per method)")
    p.add_argument("--mu", type=float, default=1.0, help="damping of 'damped' (default 1)")
    p.add_argument("--loss", default="bce", help=f"generator loss: {', '.join(LOSSES)}")
    p.add_argument("--schedule", default="alternating", help=f"one of {', '.join(SCHEDULES)}")
    p.add_argument(
        "--spectrum-every", type=int, default=1, help="diagnostic spectra period (default 1)"
    )
    p.add_argument("--n-eval", type=int, default=2500, help="samples for the metrics (2500)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--force", action="store_true", help="replace existing output files")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_gan)


def _config(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        data=args.data,
        method=args.method,
        steps=args.steps,
        seed=args.seed,
        batch=args.batch,
        hidden=tuple(args.hidden),
        lr=args.lr,
        mu=args.mu,
        loss=args.loss,
        schedule=args.schedule,
        spectrum_every=args.spectrum_every,
        n_eval=args.n_eval,
    )


def _cmd_gan(args: argparse.Namespace) -> int:
    config = _config(args)
    out = Path(args.out)
    names = OUTPUT_FILES + (() if args.no_plots else PLOT_FILES)
    existing = [name for name in names if (out / name).exists()]
    if existing and not args.force:
        raise FileExistsError(f"{out} already holds {existing}; pass --force to replace them")
    if not args.no_plots:
        try:
            from hsc_ref.plotting import require_matplotlib  # noqa: PLC0415

            require_matplotlib()
        except ImportError as exc:
            print(f"hsc-ref gan: error: {exc}", file=sys.stderr)
            return 2
    result = _train_with_progress(config, show=not args.no_progress)
    paths = write_outputs(result, out, plots=not args.no_plots, overwrite=args.force)
    m = result.metrics
    summary = ", ".join(
        f"{k} {m[k]:.4g}" if isinstance(m[k], float) else f"{k} {m[k]}"
        for k in ("modes_captured", "high_quality_fraction", "reverse_kl", "diverged_at")
        if k in m
    )
    print(f"{config.method} on {config.data}, {m['steps_completed']} steps: {summary}")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _train_with_progress(config: TrainConfig, show: bool) -> TrainResult:
    if not show:
        return train(config)
    try:
        from tqdm import tqdm  # noqa: PLC0415  (optional extra)
    except ImportError:
        print("(install tqdm, extra 'progress', for a progress bar)", file=sys.stderr)
        return train(config)
    with tqdm(total=config.steps, desc=f"{config.method} {config.data}", unit="step") as bar:
        return train(config, progress=lambda done: bar.update(done - bar.n))


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, tuple):
        return list(value)
    return value


def write_outputs(
    result: TrainResult, out: str | Path, *, plots: bool = True, overwrite: bool = False
) -> list[Path]:
    """Write ``metrics.json``, ``samples.npz``, ``history.npz`` (and the plots) atomically.

    Parameters
    ----------
    result : TrainResult
    out : path
        Output folder (created if missing).
    plots : bool
        Also write the PNG plots (needs matplotlib).
    overwrite : bool
        Replace existing files; otherwise an existing file raises ``FileExistsError``.

    Returns
    -------
    list of Path
        The files written.
    """
    out = Path(out)
    config = {k: _jsonable(v) for k, v in dataclasses.asdict(result.config).items()}
    matrices = final_matrices(result)
    eig = matrices["jacobian_eigenvalues_real"] + 1j * matrices["jacobian_eigenvalues_imag"]
    metrics = {k: _jsonable(v) for k, v in result.metrics.items()}
    metrics.update(
        final_jacobian_max_real=float(eig.real.max()),
        final_jacobian_max_abs_imag=float(np.abs(eig.imag).max()),
        final_jacobian_complex_count=int(np.sum(np.abs(eig.imag) > 0)),
    )
    paths = [
        _io.atomic_write_json(
            out / "metrics.json", {"config": config, "metrics": metrics}, overwrite=overwrite
        ),
        _io.atomic_save_npz(
            out / "samples.npz",
            {
                "samples": result.samples,
                "centers": result.config.game().data.centers,
                "theta": result.theta,
                "phi": result.phi,
            },
            overwrite=overwrite,
        ),
        _io.atomic_save_npz(out / "history.npz", result.history, overwrite=overwrite),
        _io.atomic_save_npz(out / "matrices.npz", matrices, overwrite=overwrite),
    ]
    if plots:
        paths += _plots(result, out, overwrite)
    return paths


def final_matrices(result: TrainResult) -> dict[str, np.ndarray]:
    """Every exact matrix of the game at the run's final point, on a fresh seeded batch.

    The batch (``x_real``, ``z``, ``config.batch`` rows) comes from the fourth child of
    ``SeedSequence(seed)`` (training uses the first three), so it is reproducible.

    Parameters
    ----------
    result : TrainResult

    Returns
    -------
    dict of str to ndarray
        ``theta, phi, x_real, z``; ``hessian_g, hessian_d, cross_g, cross_d, jacobian``
        (:class:`~hsc_ref.gan.GameMatrices`); ``hc_g, hc_d`` (``H + pinv(H)`` per player,
        pinvh cutoff policy, recorded in ``cutoff_g, cutoff_d``); and the game Jacobian's
        eigenvalues as ``jacobian_eigenvalues_real`` and ``_imag`` (it is not symmetric).
    """
    config = result.config
    game = config.game()
    rng = np.random.default_rng(np.random.SeedSequence(int(config.seed)).spawn(4)[3])
    x_real = sample(game.data, config.batch, rng)
    z = rng.standard_normal((config.batch, game.noise_dim))
    fg = init_game(game, np.random.default_rng(0))  # only its layout is used
    m = game_matrices(fg, result.theta, result.phi, x_real, z)
    arrays = {"theta": result.theta, "phi": result.phi, "x_real": x_real, "z": z}
    arrays.update(m._asdict())
    for p, H in (("g", m.hessian_g), ("d", m.hessian_d)):
        corrected = correct(H, "hsc")
        arrays[f"hc_{p}"] = corrected.matrix
        arrays[f"cutoff_{p}"] = np.float64(corrected.cutoff)
    eig = np.linalg.eigvals(m.jacobian)
    arrays["jacobian_eigenvalues_real"] = eig.real
    arrays["jacobian_eigenvalues_imag"] = eig.imag
    return arrays


def _plots(result: TrainResult, out: Path, overwrite: bool) -> list[Path]:
    from hsc_ref.plotting import new_figure, save_figure  # noqa: PLC0415

    c, h = result.config, result.history
    steps = np.arange(1, c.steps + 1)
    fig, ax = new_figure(size=(5.0, 5.0))
    centers = c.game().data.centers
    if centers.shape[1] == 2:
        ax.scatter(result.samples[:, 0], result.samples[:, 1], s=2, alpha=0.4, label="generated")
        ax.scatter(centers[:, 0], centers[:, 1], s=40, marker="x", c="red", label="modes")
        ax.set_aspect("equal")
    else:
        ax.hist(result.samples[:, 0], bins=50, label="generated")
        ax.axvline(0.0, c="red", label="data")
    m = result.metrics
    ax.set_title(f"{c.method} on {c.data}: {m.get('modes_captured', '-')} modes, seed {c.seed}")
    ax.legend(loc="upper right", fontsize=8)
    paths = [save_figure(fig, out / "samples.png", overwrite=overwrite)]
    fig, ax = new_figure(size=(6.0, 4.0))
    for key in ("loss_g", "loss_d"):
        ax.plot(steps, h[key], label=key)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(f"{c.method} on {c.data}: losses")
    ax.legend()
    paths.append(save_figure(fig, out / "losses.png", overwrite=overwrite))
    fig, axes = new_figure(1, 2, size=(10.0, 4.0))
    for ax, p, name in zip(axes, ("g", "d"), ("generator", "discriminator"), strict=True):
        seen = np.isfinite(h[f"eig_min_{p}"])
        ax.plot(steps[seen], h[f"eig_min_{p}"][seen], ".-", label="min eigenvalue")
        ax.plot(steps[seen], h[f"eig_max_{p}"][seen], ".-", label="max eigenvalue")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.set_xlabel("step")
        ax.set_title(f"{name} Hessian spectrum")
        ax.legend(fontsize=8)
    paths.append(save_figure(fig, out / "spectrum.png", overwrite=overwrite))
    return paths


def gan_demo(seed: int = 0, steps: int = 300) -> str:
    """The ``hsc-ref demo`` GAN section: article's loop vs HSC step vs Adam on the ring.

    Same model (2-16-2 generator, 2-16-1 discriminator, tanh), batch 64 and step budget for
    the three; one seed, so it illustrates rather than measures (see docs/gan.md).

    Parameters
    ----------
    seed : int
        Seed of every run.
    steps : int
        Step budget of every run.

    Returns
    -------
    str
        A plain-text table.
    """
    lines = [
        f"GAN on the 8-mode ring, {steps} alternating steps, seed {seed}, 2-16-2 / 2-16-1 tanh "
        "MLPs, batch 64; metrics on 2500 samples (modes within 3 std)",
        f"  {'method':<8} {'lr':>7} {'modes':>5} {'HQ %':>6} {'rev KL':>7} {'ms/step':>8} "
        f"{'indef H_G':>9} {'diverged':>8}",
    ]
    for method in ("article", "hsc", "adam"):
        r = train(TrainConfig(data="ring", method=method, steps=steps, seed=seed,
                              spectrum_every=25))  # fmt: skip
        m = r.metrics
        kl = "n/a" if m["reverse_kl"] is None else f"{m['reverse_kl']:.3f}"
        lines.append(
            f"  {method:<8} {m['lr']:>7.0e} {m['modes_captured']:>5d} "
            f"{100 * m['high_quality_fraction']:>6.1f} {kl:>7} "
            f"{1e3 * m['wall_time_per_step']:>8.1f} {m['indefinite_fraction_g']:>9.2f} "
            f"{m['diverged_at'] if m['diverged_at'] is not None else '-':>8}"
        )
    lines.append(
        "  The article's loop computes H, pinv(H) and Hc each step and discards them; the HSC "
        "step uses pinv(Hc) g = (I + H^2)^-1 H g. One seed: see docs/gan.md for 5 seeds."
    )
    return "\n".join(lines)


def demo_section(args: argparse.Namespace) -> str:
    """``hsc-ref demo`` section ``gan``: :func:`gan_demo` with the demo's seed.

    Parameters
    ----------
    args : argparse.Namespace
        The demo's arguments (``seed``).

    Returns
    -------
    str
        The report.
    """
    return gan_demo(seed=args.seed)
