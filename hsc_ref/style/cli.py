"""``hsc-ref style``: style transfer by image optimization, and the demo's style section.

Outputs in ``--out``: ``result.png`` (the optimized image), ``figure.png`` (content, style and
result side by side, upscaled), ``losses.png`` (loss per step and per second; needs matplotlib,
extra ``plot``) and ``metrics.json``. Existing files are not replaced without ``--force``.
tqdm (extra ``progress``) draws a progress bar when installed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from hsc_ref import _io
from hsc_ref.style.images import BUNDLED_IMAGES, resolve_image, save_png, side_by_side
from hsc_ref.style.loss import CONVENTIONS, TransferObjective, feature_extractor, transfer_objective
from hsc_ref.style.optimize import IMAGE_METHODS, ImageOptResult, optimize_image

__all__ = ["add_parser", "run_style", "demo_section", "style_demo", "plot_losses"]

OUTPUT_FILES = ("result.png", "figure.png", "losses.png", "metrics.json")


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
    p.add_argument("--mu", type=float, default=None, help="parameter of damped/fill")
    p.add_argument("--delta", type=float, default=None, help="parameter of clip")
    p.add_argument("--line-search", action="store_true", help="Armijo backtracking")
    p.add_argument("--content-weight", type=float, default=1.0)
    p.add_argument("--style-weight", type=float, default=1e5)
    p.add_argument("--tv-weight", type=float, default=1.0)
    p.add_argument("--convention", default="gatys", choices=sorted(CONVENTIONS))
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the bundled content image (style: seed + 1)"
    )
    p.add_argument("--feature-seed", type=int, default=0, help="seed of the feature extractor")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--force", action="store_true", help="replace existing output files")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-plots", action="store_true", help="skip losses.png (no matplotlib)")
    p.set_defaults(func=_cmd_style)


def _correction_params(args: argparse.Namespace) -> dict[str, float]:
    return {
        name: value for name, value in (("mu", args.mu), ("delta", args.delta)) if value is not None
    }


def _progress(total: int, show: bool, desc: str) -> Any:
    """A tqdm bar, or None when hidden or tqdm is missing (with a one-line note)."""
    if not show:
        return None
    try:
        from tqdm import tqdm  # noqa: PLC0415  (optional extra)
    except ImportError:
        print("(install tqdm, extra 'progress', for a progress bar)", file=sys.stderr)
        return None
    return tqdm(total=total, desc=desc, unit="step")


def run_style(
    content: np.ndarray,
    style: np.ndarray,
    *,
    method: str = "hsc",
    steps: int = 10,
    lr: float | None = None,
    line_search: bool = False,
    weights: tuple[float, float, float] = (1.0, 1e5, 1.0),
    convention: str = "gatys",
    feature_seed: int = 0,
    progress: bool = False,
    **params: float,
) -> tuple[TransferObjective, ImageOptResult]:
    """Build the objective and optimize from the content image.

    Parameters
    ----------
    content, style : ndarray, shape (H, W, 3)
        Images in ``[0, 1]`` of one size.
    method, steps, lr, line_search, **params
        As in :func:`hsc_ref.style.optimize.optimize_image`.
    weights : tuple of float
        Content, style and TV weights.
    convention : str
        Style-loss normalization.
    feature_seed : int
        Seed of the feature extractor (:func:`hsc_ref.style.feature_extractor`).
    progress : bool
        Show a tqdm progress bar when tqdm is installed.

    Returns
    -------
    (TransferObjective, ImageOptResult)

    Examples
    --------
    >>> from hsc_ref.style.images import bundled_image
    >>> c, s = bundled_image("shapes", 8), bundled_image("stripes", 8)
    >>> _, r = run_style(c, s, method="lbfgs", steps=3)
    >>> bool(r.losses[-1] < r.losses[0])
    True
    """
    objective = transfer_objective(
        content,
        style,
        content_weight=weights[0],
        style_weight=weights[1],
        tv_weight=weights[2],
        convention=convention,
        extractor=feature_extractor(seed=feature_seed),
    )
    bar = _progress(steps, progress, method)

    def callback(step: int, loss: float) -> None:
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4g}")

    try:
        result = optimize_image(
            objective,
            content,
            method,
            steps=steps,
            lr=lr,
            line_search=line_search,
            callback=callback,
            **params,
        )
    finally:
        if bar is not None:
            bar.close()
    return objective, result


def plot_losses(results: list[ImageOptResult], path: Path, *, overwrite: bool = False) -> Path:
    """Loss against step and against wall time, one line per result (needs matplotlib).

    Parameters
    ----------
    results : list of ImageOptResult
    path : Path
        PNG file to write (atomically).
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Path
    """
    from hsc_ref.plotting import new_figure, save_figure  # noqa: PLC0415  (optional extra)

    fig, (ax_steps, ax_time) = new_figure(1, 2, size=(9.0, 3.6))
    for r in results:
        label = r.method + (" +ls" if r.settings.get("line_search") else "")
        ax_steps.plot(np.arange(r.losses.shape[0]), r.losses, marker=".", label=label)
        ax_time.plot(r.times, r.losses, marker=".", label=label)
    for ax, xlabel in ((ax_steps, "step"), (ax_time, "wall time [s]")):
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("objective")
        ax.grid(True, which="both", alpha=0.3)
    ax_steps.legend(fontsize=8)
    return save_figure(fig, path, overwrite=overwrite)


def _metrics(args: argparse.Namespace, objective: TransferObjective, r: ImageOptResult) -> dict:
    return {
        "content": args.content,
        "style": args.style,
        "size": args.size,
        "n_unknowns": objective.n,
        "method": r.method,
        "settings": r.settings,
        "weights": {
            "content": objective.content_weight,
            "style": objective.style_weight,
            "tv": objective.tv_weight,
        },
        "convention": objective.convention,
        "extractor": {
            "channels": list(objective.extractor.channels),
            "seed": objective.extractor.seed,
        },
        "image_seeds": {"content": args.seed, "style": args.seed + 1},
        "losses": [float(v) for v in r.losses],
        "times_s": [float(v) for v in r.times],
        "evaluations": r.evaluations,
        "final_components": r.components,
        "initial_loss": float(r.losses[0]),
        "final_loss": float(r.losses[-1]),
        "hessian_info": r.hessian_info,
    }


def _cmd_style(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if not args.force:
        existing = [name for name in OUTPUT_FILES if (out / name).exists()]
        if existing:
            raise FileExistsError(f"{out} already holds {existing}; pass --force to replace them")
    try:
        content = resolve_image(args.content, args.size, seed=args.seed)
        style = resolve_image(args.style, args.size, seed=args.seed + 1)
    except ImportError as exc:  # an image file without Pillow: a usage error, not a crash
        raise ValueError(str(exc)) from exc
    objective, result = run_style(
        content,
        style,
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
    written = [
        save_png(out / "result.png", result.image, overwrite=args.force),
        save_png(
            out / "figure.png",
            side_by_side([content, style, result.image], factor=max(1, 128 // args.size)),
            overwrite=args.force,
        ),
    ]
    if not args.no_plots:
        try:
            written.append(plot_losses([result], out / "losses.png", overwrite=args.force))
        except ImportError as exc:
            print(f"(skipping losses.png: {exc})", file=sys.stderr)
    metrics = _metrics(args, objective, result)
    written.append(_io.atomic_write_json(out / "metrics.json", metrics, overwrite=args.force))
    print(
        f"{result.method}: objective {metrics['initial_loss']:.6g} -> {metrics['final_loss']:.6g} "
        f"in {args.steps} steps, {result.times[-1]:.2f} s"
    )
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def style_demo(seed: int = 0, size: int = 12, steps: int = 8) -> str:
    """L-BFGS-B against the HSC step (with and without backtracking) on one small image.

    Parameters
    ----------
    seed : int
        Seed of the bundled images.
    size : int
        Image side; the pixel Hessian has ``(3 size^2)^2`` entries.
    steps : int
        Iterations of every method.

    Returns
    -------
    str
        A plain-text report.

    Examples
    --------
    >>> "lbfgs" in style_demo(size=8, steps=2)
    True
    """
    from hsc_ref.corrections import correct  # noqa: PLC0415
    from hsc_ref.derivatives import hessian  # noqa: PLC0415
    from hsc_ref.style.images import bundled_image  # noqa: PLC0415

    content = bundled_image("shapes", size, seed=seed)
    style = bundled_image("checkerboard", size, seed=seed + 1)
    objective = transfer_objective(content, style)
    spectrum = correct(hessian(objective, content.ravel(), batched=True), "hsc")
    lines = [
        f"Style transfer, {size}x{size}x3 = {objective.n} pixel unknowns, start = content image",
        f"  exact pixel Hessian at the start: rank {spectrum.rank_before}/{objective.n}, "
        f"inertia {vars(spectrum.inertia_before)}, eigenvalues in "
        f"[{spectrum.eigenvalues_before[0]:.3g}, {spectrum.eigenvalues_before[-1]:.3g}]",
        f"  Hc = H + pinv(H): rank {spectrum.rank_after}, inertia {vars(spectrum.inertia_after)}"
        " (same as H: the correction fixes neither rank nor sign)",
        f"  objective after {steps} steps (start {float(objective(content.ravel())):.5g}):",
    ]
    runs = [("lbfgs", False), ("hsc", False), ("hsc", True)]
    for method, search in runs:
        r = optimize_image(
            objective, content, method, steps=steps, **({"line_search": True} if search else {})
        )
        name = method + (" + Armijo backtracking" if search else "")
        lines.append(
            f"    {name:<28} {r.losses[-1]:.5g}   ({r.times[-1]:.2f} s, style term "
            f"{r.components['style']:.3g})"
        )
    return "\n".join(lines)


def demo_section(args: argparse.Namespace) -> str:
    """The ``style`` section of ``hsc-ref demo``.

    Parameters
    ----------
    args : argparse.Namespace
        Needs ``seed``.

    Returns
    -------
    str
    """
    return style_demo(seed=args.seed)
