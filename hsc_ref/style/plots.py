"""Figures of style-transfer runs (matplotlib, extra ``plot``, imported only when called)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hsc_ref.style.optimize import ImageOptResult

__all__ = ["plot_losses"]


def plot_losses(
    results: list[ImageOptResult], path: str | os.PathLike, *, overwrite: bool = False
) -> Path:
    """Loss against step and against wall time, one line per result (needs matplotlib).

    Parameters
    ----------
    results : list of ImageOptResult
    path : path
        PNG file to write (atomically).
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Path

    Raises
    ------
    ImportError
        Without matplotlib (extra ``plot``).
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.
    """
    from hsc_ref._plotting import method_colour, new_figure, save_figure  # noqa: PLC0415  (optional extra)

    fig, (ax_steps, ax_time) = new_figure(1, 2, size=(9.0, 3.6))
    for r in results:
        searched = bool(r.settings.get("line_search"))
        label = r.method + (" +ls" if searched else "")
        style = {"marker": ".", "label": label, "color": method_colour(r.method)}
        style["ls"] = "--" if searched else "-"  # same method, same colour: the line tells
        ax_steps.plot(np.arange(r.losses.shape[0]), r.losses, **style)
        ax_time.plot(r.times, r.losses, **style)
    for ax, xlabel in ((ax_steps, "step"), (ax_time, "wall time [s]")):
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("objective")
        ax.grid(True, which="both", alpha=0.3)
    ax_steps.legend(fontsize=8)
    return save_figure(fig, path, overwrite=overwrite)
