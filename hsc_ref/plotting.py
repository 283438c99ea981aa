"""Figures for the optional ``plot`` extra: matplotlib is imported only inside these functions.

Figures are built with :class:`matplotlib.figure.Figure` directly (no ``pyplot``, so no global
backend or figure state) and written atomically with :func:`save_figure`.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from hsc_ref import _extras, _io

__all__ = ["require_matplotlib", "new_figure", "save_figure"]

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
