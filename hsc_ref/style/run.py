"""One style transfer by image optimization, and its outputs in a folder (``hsc-ref style``).

Outputs: ``result.npy`` (the optimized image, float64, shape ``(size, size, 3)``) and
``metrics.json`` (settings, loss and time per step, final terms, per-step Hessian facts) are
always written; ``result.png`` and ``figure.png`` (content, style and result side by side,
upscaled) need Pillow (extra ``image``), ``losses.png`` (loss per step and per second) needs
matplotlib (extra ``plot``). Files whose extra is missing are skipped and named in
:attr:`StyleRun.skipped_line`. Existing files are not replaced unless asked.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from hsc_ref import _extras, _io, _limits, _outputs, _validation
from hsc_ref.corrections import ALIASES, CORRECTIONS
from hsc_ref.style.images import resolve_image, save_png, side_by_side
from hsc_ref.style.loss import TransferObjective, feature_extractor, transfer_objective
from hsc_ref.style.optimize import MAX_DENSE_UNKNOWNS, ImageOptResult, optimize_image
from hsc_ref.style.plots import plot_losses

__all__ = [
    "DATA_FILES",
    "IMAGE_FILES",
    "PLOT_FILES",
    "BYTES_PER_UNKNOWN",
    "check_sizes",
    "run_style",
    "style_metrics",
    "StyleRun",
    "run_to_folder",
]

DATA_FILES = ("result.npy", "metrics.json")
"""Files a style run always writes."""

IMAGE_FILES = ("result.png", "figure.png")
"""PNG images written with Pillow (extra ``image``)."""

PLOT_FILES = ("losses.png",)
"""Plots written with matplotlib (extra ``plot``) unless plots are turned off."""


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
    bar = _extras.progress_bar(steps, method, show=progress)

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


def style_metrics(
    objective: TransferObjective, result: ImageOptResult, *, sources: dict[str, Any]
) -> dict[str, Any]:
    """``metrics.json`` of a run: where the images came from, the settings and the history.

    Parameters
    ----------
    objective : TransferObjective
    result : ImageOptResult
    sources : dict
        ``content``, ``style`` (bundled names or file paths), ``size`` and ``seed`` (of the
        bundled content image; the style image's is ``seed + 1``).

    Returns
    -------
    dict
        JSON-ready.

    Examples
    --------
    >>> from hsc_ref.style.images import bundled_image
    >>> c, s = bundled_image("shapes", 6), bundled_image("stripes", 6, seed=1)
    >>> obj, r = run_style(c, s, method="adam", steps=1)
    >>> m = style_metrics(obj, r, sources={"content": "shapes", "style": "stripes", "size": 6,
    ...                                    "seed": 0})
    >>> m["n_unknowns"], m["image_seeds"], len(m["losses"])
    (108, {'content': 0, 'style': 1}, 2)
    """
    return {
        "content": sources["content"],
        "style": sources["style"],
        "size": sources["size"],
        "n_unknowns": objective.n,
        "method": result.method,
        "settings": result.settings,
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
        "image_seeds": {"content": sources["seed"], "style": sources["seed"] + 1},
        "losses": [float(v) for v in result.losses],
        "times_s": [float(v) for v in result.times],
        "evaluations": result.evaluations,
        "final_components": result.components,
        "initial_loss": float(result.losses[0]),
        "final_loss": float(result.losses[-1]),
        "history": {  # per-step columns of the loop; null where a step recorded nothing
            name: [float(v) if np.isfinite(v) else None for v in column]
            for name, column in result.history.items()
        },
    }


class StyleRun(NamedTuple):
    """A style transfer and what :func:`run_to_folder` wrote.

    Attributes
    ----------
    objective : TransferObjective
    result : ImageOptResult
    metrics : dict
        The content of ``metrics.json`` (:func:`style_metrics`).
    written : tuple of Path
        Every file written, data first.
    skipped : tuple of str
        Files not written for lack of an optional extra: :data:`IMAGE_FILES` without
        Pillow, :data:`PLOT_FILES` without matplotlib.
    """

    objective: TransferObjective
    result: ImageOptResult
    metrics: dict[str, Any]
    written: tuple[Path, ...]
    skipped: tuple[str, ...]

    @property
    def skipped_line(self) -> str | None:
        """One line naming the skipped files and the installs that bring them, or None."""
        return _extras.skipped_line(
            [
                _extras.Skipped(tuple(f for f in IMAGE_FILES if f in self.skipped), "Pillow"),
                _extras.Skipped(tuple(f for f in PLOT_FILES if f in self.skipped), "matplotlib"),
            ]
        )


def _save_npy(path: Path, array: np.ndarray, overwrite: bool) -> Path:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return _io.atomic_write_bytes(path, buffer.getvalue(), overwrite=overwrite)


def _write_pictures(
    out: Path, images: list[np.ndarray], result: ImageOptResult, plots: bool, overwrite: bool
) -> tuple[list[Path], list[str]]:
    """``result.png``, ``figure.png`` (Pillow) and ``losses.png`` (matplotlib), if installed."""
    written: list[Path] = []
    skipped: list[str] = []
    if _extras.installed("Pillow"):
        factor = max(1, 128 // images[0].shape[0])
        written.append(save_png(out / "result.png", result.image, overwrite=overwrite))
        figure = side_by_side([*images, result.image], factor=factor)
        written.append(save_png(out / "figure.png", figure, overwrite=overwrite))
    else:
        skipped += IMAGE_FILES
    if plots and _extras.installed("matplotlib"):
        written.append(plot_losses([result], out / "losses.png", overwrite=overwrite))
    elif plots:
        skipped += PLOT_FILES
    return written, skipped


BYTES_PER_UNKNOWN = 1024
"""Memory of a style run per pixel unknown, an upper bound: peak resident memory grew by 560
to 700 bytes per unknown from size 128 to 512 (``hsc-ref style --method lbfgs --steps 1``;
images, features, autograd's tape and L-BFGS-B's memory)."""


def check_sizes(
    size: int, method: str = "hsc", *, seed: int = 0, feature_seed: int = 0, **_: Any
) -> None:
    """Refuse, before any work, sizes a style run cannot handle (and negative seeds).

    ``size`` is checked against the dense pixel Hessian's limit for the Newton-type methods
    (:data:`~hsc_ref.style.optimize.MAX_DENSE_UNKNOWNS`) and against the available memory
    at :data:`BYTES_PER_UNKNOWN` for every method (``MemoryError``).

    Examples
    --------
    >>> check_sizes(16, "hsc")                 # fine: returns None
    >>> try:
    ...     check_sizes(17, "hsc")
    ... except ValueError as exc:
    ...     print(str(exc)[:59])
    size = 17 gives 867 unknowns; a dense pixel Hessian (method
    """
    size = _validation.check_count(size, "size", minimum=4)
    _validation.check_count(seed, "seed")
    _validation.check_count(feature_seed, "feature_seed")
    n = 3 * size * size
    dense = ALIASES.get(method, method) in CORRECTIONS
    if dense and n > MAX_DENSE_UNKNOWNS:
        raise ValueError(
            f"size = {size} gives {n} unknowns; a dense pixel Hessian (method {method!r}) "
            f"takes at most {MAX_DENSE_UNKNOWNS} unknowns (size 16): use method 'hsc_cg' "
            f"(matrix-free), 'lbfgs' or 'adam' for larger images"
        )
    _limits.require_memory(
        n * BYTES_PER_UNKNOWN, f"size = {size} ({n} unknowns)", hint="choose a smaller size"
    )


def run_to_folder(
    out: str | os.PathLike,
    *,
    content: str = "shapes",
    style: str = "checkerboard",
    size: int = 16,
    seed: int = 0,
    plots: bool = True,
    overwrite: bool = False,
    **options: Any,
) -> StyleRun:
    """Resolve the images, run :func:`run_style` and write the outputs; what ``hsc-ref style`` runs.

    Existing outputs are refused before any work (unless ``overwrite``).

    Parameters
    ----------
    out : path
        Output folder (created if missing; must not be a file).
    content, style : str
        Bundled image names or image files (files need Pillow, extra ``image``).
    size : int
        Image side in pixels.
    seed : int
        Seed of a bundled content image; a bundled style image gets ``seed + 1``.
    plots : bool
        Also write ``losses.png`` (skipped, and listed, without matplotlib).
    overwrite : bool
        Replace existing files.
    **options
        Keyword arguments of :func:`run_style` (``method``, ``steps``, ``lr``,
        ``line_search``, ``weights``, ``convention``, ``feature_seed``, ``progress`` and the
        correction's parameters).

    Returns
    -------
    StyleRun

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     run = run_to_folder(d, size=6, method="lbfgs", steps=2, plots=False)
    ...     written = sorted(p.name for p in run.written)
    >>> "metrics.json" in written and "result.npy" in written
    True
    """
    names = DATA_FILES + IMAGE_FILES + (PLOT_FILES if plots else ())
    out = _outputs.refuse_existing(out, names, overwrite=overwrite)
    check_sizes(size, seed=seed, **options)
    images = [resolve_image(content, size, seed=seed), resolve_image(style, size, seed=seed + 1)]
    objective, result = run_style(*images, **options)
    sources = {"content": content, "style": style, "size": size, "seed": seed}
    metrics = style_metrics(objective, result, sources=sources)
    written = [
        _save_npy(out / "result.npy", result.image, overwrite),
        _io.atomic_write_json(out / "metrics.json", metrics, overwrite=overwrite),
    ]
    pictures, skipped = _write_pictures(out, images, result, plots, overwrite)
    return StyleRun(objective, result, metrics, tuple(written + pictures), tuple(skipped))
