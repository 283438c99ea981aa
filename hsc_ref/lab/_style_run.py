"""One style transfer by image optimization, and its outputs in a folder (``hsc-ref style``).

Outputs: ``result.npy`` (the optimized image, float64, shape ``(size, size, 3)``) and
``metrics.json`` (settings, loss and time per step, final terms, per-step Hessian facts) are
always written; ``result.png`` and ``figure.png`` (content, style and result side by side,
upscaled) need Pillow (extra ``image``), ``losses.png`` (loss per step and per second) needs
matplotlib (extra ``plot``). Files whose extra is missing are skipped and named in
:attr:`StyleRun.skipped_line`. The folder is one output set with ``manifest.json``
(``hsc_ref.lab._outputs``), replaced as a whole only when asked; while the optimizer runs it
holds a checkpoint that a resumed run continues.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from hsc_ref import _extras, _io, _limits, _validation
from hsc_ref.corrections import ALIASES, CORRECTIONS
from hsc_ref.lab import _checkpoint, _outputs
from hsc_ref.loop import LoopProgress, ProgressFn
from hsc_ref.style.images import resolve_image, save_png, side_by_side, to_uint8
from hsc_ref.style.loss import TransferObjective, feature_extractor, transfer_objective
from hsc_ref.style.optimize import MAX_DENSE_UNKNOWNS, ImageOptResult, optimize_image
from hsc_ref.style.plots import plot_losses

__all__ = [
    "DATA_FILES",
    "IMAGE_FILES",
    "PLOT_FILES",
    "SET_FILES",
    "BYTES_PER_UNKNOWN",
    "check_sizes",
    "run_style",
    "style_metrics",
    "StyleRun",
    "run_facts",
    "run_to_folder",
]

DATA_FILES = ("result.npy", "metrics.json")
"""Files a style run always writes."""

IMAGE_FILES = ("result.png", "figure.png")
"""PNG images written with Pillow (extra ``image``)."""

PLOT_FILES = ("losses.png",)
"""Plots written with matplotlib (extra ``plot``) unless plots are turned off."""

SET_FILES = DATA_FILES + IMAGE_FILES + PLOT_FILES + _checkpoint.FILES
"""Every file a style output set may hold besides ``manifest.json``: a complete run's
outputs, or an unfinished run's checkpoint."""


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
    checkpoint: ProgressFn | None = None,
    start: LoopProgress | None = None,
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
    checkpoint : callable, optional
        ``checkpoint(progress)`` after every step of a rule (on the ``callback`` of
        :func:`hsc_ref.style.optimize.optimize_image`), e.g. the lab's ``Checkpoints``; not
        for ``"lbfgs"``.
    start : LoopProgress, optional
        As in :func:`hsc_ref.style.optimize.optimize_image`.

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
    if bar is not None and start is not None:
        bar.update(start.steps_completed)

    def show(step: int, loss: float) -> None:
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4g}")

    def callback(progress: LoopProgress) -> None:  # keep the progress first, then show it
        if checkpoint is not None:
            checkpoint(progress)
        show(progress.steps_completed, progress.state[2][-1])  # the loss where it stepped

    lbfgs = ALIASES.get(method, method) == "lbfgs"

    try:
        result = optimize_image(
            objective,
            content,
            method,
            steps=steps,
            lr=lr,
            line_search=line_search,
            callback=show if lbfgs else callback,
            start=start,
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


def _save_npy(path: Path, array: np.ndarray) -> Path:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return _io.atomic_write_bytes(path, buffer.getvalue())


def _write_pictures(
    out: Path, images: list[np.ndarray], result: ImageOptResult, plots: bool
) -> tuple[list[Path], list[str]]:
    """``result.png``, ``figure.png`` (Pillow) and ``losses.png`` (matplotlib), if installed."""
    written: list[Path] = []
    skipped: list[str] = []
    if _extras.installed("Pillow"):
        factor = max(1, 128 // images[0].shape[0])
        written.append(save_png(out / "result.png", result.image))
        figure = side_by_side([*images, result.image], factor=factor, gap=_GAP)
        steps = result.losses.shape[0] - 1
        labels = ("content", "style", f"{result.method}, {steps} steps")
        panel = images[0].shape[1] * factor
        written.append(save_png(out / "figure.png", _labelled(figure, labels, panel)))
    else:
        skipped += IMAGE_FILES
    if plots and _extras.installed("matplotlib"):
        written.append(plot_losses([result], out / "losses.png"))
    elif plots:
        skipped += PLOT_FILES
    return written, skipped


_GAP = 4
"""White pixels between the panels of ``figure.png``."""

_LABEL_BAND = 16
"""Height in pixels of the white band above the panels that holds their labels."""


def _labelled(figure: np.ndarray, labels: tuple[str, ...], panel: int) -> np.ndarray:
    """``figure`` (panels of width ``panel``, :data:`_GAP` apart) under a band naming each.

    Drawn with Pillow's built-in font, so labelling needs nothing beyond the ``image`` extra
    that writes the figure. Returns the image as floats in ``[0, 1]``, as ``save_png`` takes.
    """
    from PIL import Image, ImageDraw, ImageFont  # noqa: PLC0415  (optional extra)

    height, width, _ = figure.shape
    canvas = Image.new("RGB", (width, height + _LABEL_BAND), "white")
    canvas.paste(Image.fromarray(to_uint8(figure)), (0, _LABEL_BAND))
    draw, font = ImageDraw.Draw(canvas), ImageFont.load_default()
    for index, text in enumerate(labels):
        left = index * (panel + _GAP) + max(0.0, (panel - draw.textlength(text, font=font)) / 2)
        draw.text((left, 2), text, fill="black", font=font)
    return np.asarray(canvas, dtype=np.float64) / 255.0


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


def run_facts(
    content: str, style: str, size: int, seed: int, *, images: list[np.ndarray], options: dict
) -> dict[str, Any]:
    """What defines a style run, JSON-ready: a resumed run must match it.

    The images' SHA-256 makes an image file that changed since the run started count as
    another run.

    Examples
    --------
    >>> from hsc_ref.style.images import bundled_image
    >>> image = bundled_image("shapes", 6)
    >>> facts = run_facts("shapes", "stripes", 6, 0, images=[image], options={"steps": 2})
    >>> sorted(facts)
    ['content', 'images_sha256', 'options', 'seed', 'size', 'style']
    """
    options = {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}
    options.pop("progress", None)
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(im).tobytes() for im in images))
    return {
        "content": content,
        "style": style,
        "size": size,
        "seed": seed,
        "images_sha256": digest.hexdigest(),
        "options": options,
    }


def run_to_folder(
    out: str | os.PathLike,
    *,
    content: str = "shapes",
    style: str = "checkerboard",
    size: int = 16,
    seed: int = 0,
    plots: bool = True,
    overwrite: bool = False,
    checkpoint_every: int = 0,
    resume: bool = False,
    **options: Any,
) -> StyleRun:
    """Resolve the images, run :func:`run_style` and write the outputs as one set.

    What ``hsc-ref style`` runs. The output folder is checked (and locked against a
    concurrent run) and the sizes are checked before any work; the files and
    ``manifest.json`` appear together or not at all, replacing an earlier set as a whole.
    While the optimizer runs, the folder holds its latest checkpoint (every
    ``checkpoint_every`` steps and at Ctrl-C; not for L-BFGS-B, whose memory SciPy keeps
    inside its solver) with a manifest whose status says the run is unfinished.

    Parameters
    ----------
    out : path
        Output folder (created if missing): new, empty, or this command's earlier set.
    content, style : str
        Bundled image names or image files (files need Pillow, extra ``image``).
    size : int
        Image side in pixels.
    seed : int
        Seed of a bundled content image; a bundled style image gets ``seed + 1``.
    plots : bool
        Also write ``losses.png`` (skipped, and listed, without matplotlib).
    overwrite : bool
        Replace an existing set.
    checkpoint_every : int, default 0
        Checkpoint every this many steps (0: only at Ctrl-C).
    resume : bool
        Continue the unfinished run in ``out`` (same settings) from its checkpoint: the
        image, losses and history are bit-identical to an uninterrupted run's (wall times
        aside).
    **options
        Keyword arguments of :func:`run_style` (``method``, ``steps``, ``lr``,
        ``line_search``, ``weights``, ``convention``, ``feature_seed``, ``progress`` and the
        correction's parameters).

    Returns
    -------
    StyleRun

    Raises
    ------
    KeyboardInterrupt
        At Ctrl-C, after writing the checkpoint; its message says where the run stopped.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     run = run_to_folder(d, size=6, method="lbfgs", steps=2, plots=False)
    ...     written = sorted(p.name for p in run.written)
    >>> "metrics.json" in written and "result.npy" in written
    True
    """
    checkpoint_every = _validation.check_count(checkpoint_every, "checkpoint_every")
    lbfgs = ALIASES.get(options.get("method", "hsc"), options.get("method", "hsc")) == "lbfgs"
    if lbfgs and resume:
        raise ValueError(
            "--resume: lbfgs runs keep no checkpoint (SciPy keeps L-BFGS-B's memory inside "
            "its solver); start the run again with --force"
        )
    with _outputs.OutputSet(
        out, SET_FILES, command="style", overwrite=overwrite, resume=resume
    ) as outputs:
        check_sizes(size, seed=seed, **options)
        images = [
            resolve_image(content, size, seed=seed),
            resolve_image(style, size, seed=seed + 1),
        ]
        facts = run_facts(content, style, size, seed, images=images, options=options)
        start = _checkpoint.resume_point(outputs, facts) if resume else None
        steps = options.get("steps", 10)
        checkpoints = _checkpoint.Checkpoints(outputs, "style", steps, facts, checkpoint_every)
        saving = {} if lbfgs else {"checkpoint": checkpoints}
        try:
            objective, result = run_style(*images, start=start, **saving, **options)
            sources = {"content": content, "style": style, "size": size, "seed": seed}
            metrics = style_metrics(objective, result, sources=sources)
            written, skipped = _commit_outputs(outputs, images, result, metrics, plots)
        except KeyboardInterrupt:
            if lbfgs:
                raise KeyboardInterrupt(
                    "interrupted; lbfgs runs keep no checkpoint (SciPy keeps L-BFGS-B's memory "
                    "inside its solver): nothing was written"
                ) from None
            raise checkpoints.interrupted() from None
        except Exception as exc:
            checkpoints.failed(exc)
            raise
    return StyleRun(objective, result, metrics, written, skipped)


def _commit_outputs(
    outputs: _outputs.OutputSet,
    images: list[np.ndarray],
    result: ImageOptResult,
    metrics: dict[str, Any],
    plots: bool,
) -> tuple[tuple[Path, ...], tuple[str, ...]]:
    """Write the run's files into a fresh staging folder and commit it as a complete set."""
    stage = outputs.staging()
    files = [_save_npy(stage / "result.npy", result.image)]
    files.append(_io.atomic_write_json(stage / "metrics.json", metrics))
    pictures, skipped = _write_pictures(stage, images, result, plots)
    done = len(result.losses) - 1
    outputs.commit("complete", {"steps": metrics["settings"]["steps"], "steps_completed": done})
    names = [p.name for p in files + pictures] + [_outputs.MANIFEST_NAME]
    return tuple(outputs.path / name for name in names), tuple(skipped)
