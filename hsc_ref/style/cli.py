"""``hsc-ref style``: parse the options, run a style transfer (:mod:`hsc_ref.lab._style_run`).

Writes ``result.npy`` and ``metrics.json``, and with their extras ``result.png``,
``figure.png`` (Pillow, extra ``image``) and ``losses.png`` (matplotlib, extra ``plot``;
``--no-plots`` turns it off); a missing extra skips its files and one line names them.
The folder is one output set with ``manifest.json``: an existing set is replaced, as a
whole, only with ``--force``. While the optimizer runs it holds a checkpoint (every
``--checkpoint-every`` steps and at Ctrl-C, which exits with status 130; not for ``lbfgs``)
that ``--resume`` continues. tqdm (extra ``progress``) draws a progress bar when installed.
"""

from __future__ import annotations

import argparse
import sys

from hsc_ref.corrections import _parameter_takers
from hsc_ref.lab import _outputs
from hsc_ref.lab._style_run import StyleRun, run_to_folder
from hsc_ref.style.images import BUNDLED_IMAGES
from hsc_ref.style.loss import CONVENTIONS
from hsc_ref.style.optimize import IMAGE_METHODS

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``style`` subcommand to the ``hsc-ref`` parser.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        From ``ArgumentParser.add_subparsers``.

    Returns
    -------
    None
    """
    p = sub.add_parser("style", help="Gram-matrix style transfer with exact pixel Hessians")
    names = ", ".join(sorted(BUNDLED_IMAGES))
    p.add_argument("--content", default="shapes", help=f"bundled name ({names}) or image file")
    p.add_argument("--style", default="checkerboard", help="bundled name or image file")
    p.add_argument("--size", type=int, default=16, help="image side in pixels (default 16)")
    p.add_argument("--method", default="hsc", choices=IMAGE_METHODS, help="optimizer")
    p.add_argument("--steps", type=int, default=10, help="iterations (default 10)")
    p.add_argument("--lr", type=float, default=None, help="step size (Adam 0.02, else 1)")
    for name, takers in _parameter_takers().items():  # declared once, by the corrections
        p.add_argument(
            f"--{name}", type=float, default=None, help=f"parameter of {'/'.join(takers)}"
        )
    p.add_argument("--line-search", action="store_true", help="Armijo backtracking")
    p.add_argument("--content-weight", type=float, default=1.0)
    p.add_argument("--style-weight", type=float, default=1e5)
    p.add_argument("--tv-weight", type=float, default=1.0)
    p.add_argument("--convention", default="gatys", choices=sorted(CONVENTIONS))
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the bundled content image (style: seed + 1)"
    )
    p.add_argument("--feature-seed", type=int, default=0, help="seed of the feature extractor")
    _outputs.add_output_arguments(p, checkpoint_every=10, checkpoint_note="; lbfgs keeps none")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-plots", action="store_true", help="do not make losses.png")
    p.set_defaults(func=_cmd_style)


def _correction_params(args: argparse.Namespace) -> dict[str, float]:
    values = {name: getattr(args, name) for name in _parameter_takers()}
    return {name: value for name, value in values.items() if value is not None}


def _print_report(run: StyleRun) -> None:
    r = run.result
    print(
        f"{r.method}: objective {run.metrics['initial_loss']:.6g} -> "
        f"{run.metrics['final_loss']:.6g} in {r.losses.shape[0] - 1} steps, {r.times[-1]:.2f} s"
    )
    print("wrote " + ", ".join(str(p) for p in run.written))
    if run.skipped_line is not None:  # without Pillow the image is still written, as an array
        image = "the image is result.npy (numpy.load); " if "result.png" in run.skipped else ""
        print(f"hsc-ref style: {image}{run.skipped_line}", file=sys.stderr)


def _cmd_style(args: argparse.Namespace) -> int:
    run = run_to_folder(
        args.out,
        content=args.content,
        style=args.style,
        size=args.size,
        seed=args.seed,
        plots=not args.no_plots,
        overwrite=args.force,
        checkpoint_every=args.checkpoint_every,
        resume=args.resume,
        method=args.method,
        steps=args.steps,
        lr=args.lr,
        line_search=args.line_search,
        weights=(args.content_weight, args.style_weight, args.tv_weight),
        convention=args.convention,
        feature_seed=args.feature_seed,
        progress=not args.no_progress,
        **_correction_params(args),
    )
    _print_report(run)
    return 0
