"""Figures for the optional ``plot`` extra: matplotlib is imported only inside these functions.

Figures are built with :class:`matplotlib.figure.Figure` directly (no ``pyplot``, so no global
backend or figure state) and written atomically with :func:`save_figure`.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

from hsc_ref import _extras, _io

__all__ = [
    "METHOD_COLOURS",
    "method_colour",
    "require_matplotlib",
    "new_figure",
    "save_figure",
]

METHOD_COLOURS: dict[str, str] = {
    # matplotlib 'tab10' first (the most-plotted methods), then the light half of 'tab20'
    "article": "#1f77b4",
    "hsc": "#ff7f0e",
    "adam": "#2ca02c",
    "sgd": "#d62728",
    "newton": "#9467bd",
    "saddle_free": "#8c564b",
    "damped": "#e377c2",
    "clip": "#7f7f7f",
    "fill": "#bcbd22",
    "sr1": "#17becf",
    "conopt": "#aec7e8",
    "sga": "#ffbb78",
    "cgd": "#98df8a",
    "extragradient": "#ff9896",
    "optimistic": "#c5b0d5",
    "lbfgs": "#c49c94",
    "hsc_cg": "#f7b6d2",
}
"""One fixed colour per method name the package knows (GAN trainers, corrections, image methods),
so a method has the same colour in every figure. Colours from matplotlib's 'tab10' and 'tab20'."""

_FALLBACK_COLOURS = ("#c7c7c7", "#dbdb8d", "#9edae5", "#393b79", "#637939", "#8c6d31", "#843c39")
"""Colours for names outside :data:`METHOD_COLOURS` ('tab20'/'tab20b'), none a known method's."""


def method_colour(method: str) -> str:
    """The fixed colour of ``method``; an unknown name gets a deterministic fallback colour.

    The fallback is picked by a hash of the name from colours no known method uses, so it is the
    same in every run and never mistaken for a known method.

    Examples
    --------
    >>> method_colour("hsc")
    '#ff7f0e'
    >>> method_colour("my_method") == method_colour("my_method")
    True
    >>> method_colour("my_method") in METHOD_COLOURS.values()
    False
    """
    if method in METHOD_COLOURS:
        return METHOD_COLOURS[method]
    digest = hashlib.sha256(method.encode()).digest()
    return _FALLBACK_COLOURS[int.from_bytes(digest[:4], "big") % len(_FALLBACK_COLOURS)]


_MISSING = f"plots need matplotlib: {_extras.install_hint('matplotlib')}"


def require_matplotlib() -> Any:
    """Import and return the ``matplotlib.figure`` module, or raise a clear ``ImportError``.

    Examples
    --------
    >>> require_matplotlib().__name__
    'matplotlib.figure'
    """
    try:
        import matplotlib.figure  # noqa: PLC0415  (optional extra)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(_MISSING) from exc
    return matplotlib.figure


def new_figure(nrows: int = 1, ncols: int = 1, *, size: tuple[float, float] = (5.0, 4.0)):
    """A ``Figure`` and its axes (a single ``Axes`` when ``nrows == ncols == 1``).

    Examples
    --------
    >>> fig, ax = new_figure()
    >>> type(ax).__name__
    'Axes'
    """
    figure_module = require_matplotlib()
    fig = figure_module.Figure(figsize=size, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=True)
    return fig, axes


def save_figure(
    fig: Any, path: str | os.PathLike, *, overwrite: bool = False, dpi: int = 100
) -> Path:
    """Render ``fig`` as PNG in memory and write it to ``path`` atomically.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> fig, ax = new_figure()
    >>> _ = ax.plot([0, 1], [0, 1])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     out = save_figure(fig, pathlib.Path(d) / "line.png")
    ...     out.read_bytes()[:4] == b"\\x89PNG"
    True
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite (--force) to replace it")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return _io.atomic_write_bytes(path, buffer.getvalue(), overwrite=overwrite)
