"""``hsc-ref gan``: parse the options, train and write one run (:mod:`hsc_ref.lab._gan_run`), print.

Writes ``metrics.json``, ``samples.npz``, ``history.npz``, ``matrices.npz`` and, with
matplotlib (extra ``plot``) and unless ``--no-plots``, ``samples.png``, ``losses.png`` and
``spectrum.png``; without matplotlib it writes the data and names the skipped plots in one
line. The folder is one output set with ``manifest.json``: an existing set is replaced, as
a whole, only with ``--force``. While training it holds a checkpoint (every
``--checkpoint-every`` steps and at Ctrl-C, which exits with status 130) that ``--resume``
continues. tqdm (extra ``progress``) draws a progress bar when installed.
"""

from __future__ import annotations

import argparse
import sys

from hsc_ref.gan._options import refusal
from hsc_ref.gan.data import DATASETS
from hsc_ref.gan.game import LOSSES
from hsc_ref.gan.train import (
    _FIELD_DEFAULTS,
    GAME_METHODS,
    METHODS,
    OPTION_TAKERS,
    OPTIONS,
    SCHEDULES,
    TrainConfig,
)
from hsc_ref.lab import _outputs
from hsc_ref.lab._gan_run import GanRun, run_to_folder

__all__ = ["add_parser"]


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
    for name, option in OPTIONS.items():  # declared once, in the methods' registries
        takers = "/".join(OPTION_TAKERS[name])
        p.add_argument(
            "--" + name.replace("_", "-"),
            type=float,
            default=_FIELD_DEFAULTS[name],
            help=f"{option.why} ({takers}; default {option.default:g})",
        )
    p.add_argument("--loss", default="bce", help=f"generator loss: {', '.join(LOSSES)}")
    p.add_argument(
        "--schedule",
        default=None,
        help=f"one of {', '.join(SCHEDULES)} (default alternating; simultaneous for the "
        f"game methods {', '.join(GAME_METHODS)})",
    )
    p.add_argument(
        "--spectrum-every",
        type=int,
        default=0,
        help="spectra of methods that use no Hessian every N steps (default 0: never)",
    )
    p.add_argument("--n-eval", type=int, default=2500, help="samples for the metrics (2500)")
    _outputs.add_output_arguments(p, checkpoint_every=50)
    p.add_argument("--no-plots", action="store_true", help="do not make the PNG plots")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_gan)


def _config(args: argparse.Namespace) -> TrainConfig:
    refused = refusal(vars(args))
    if refused is not None:  # an option that would change nothing: hsc_ref.gan._options.SCOPES
        raise ValueError(refused)
    return TrainConfig(
        data=args.data,
        method=args.method,
        steps=args.steps,
        seed=args.seed,
        batch=args.batch,
        hidden=tuple(args.hidden),
        lr=args.lr,
        **{name: getattr(args, name) for name in OPTIONS},
        loss=args.loss,
        schedule=args.schedule,
        spectrum_every=args.spectrum_every,
        n_eval=args.n_eval,
    )


def _print_report(run: GanRun) -> None:
    config, m = run.result.config, run.result.metrics
    summary = ", ".join(
        f"{k} {m[k]:.4g}" if isinstance(m[k], float) else f"{k} {m[k]}"
        for k in ("modes_captured", "high_quality_fraction", "reverse_kl", "diverged_at")
        if k in m
    )
    print(f"{config.method} on {config.data}, {m['steps_completed']} steps: {summary}")
    print("wrote " + ", ".join(str(p) for p in run.written.paths))
    if run.skipped_line is not None:
        print(f"hsc-ref gan: {run.skipped_line}", file=sys.stderr)


def _cmd_gan(args: argparse.Namespace) -> int:
    run = run_to_folder(
        _config(args),
        args.out,
        plots=not args.no_plots,
        overwrite=args.force,
        progress=not args.no_progress,
        checkpoint_every=args.checkpoint_every,
        resume=args.resume,
    )
    _print_report(run)
    return 0
