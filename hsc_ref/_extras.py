"""Optional extras (matplotlib, Pillow, tqdm): is one installed, and the one-line skip note.

Every command degrades the same way without an extra: it writes its data, then prints one
line from :func:`skipped_line` naming the files it skipped and the ``pip install`` that brings
them. A missing tqdm only loses the progress bar (:func:`progress_bar` says so once).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any, NamedTuple

__all__: list[str] = []

EXTRAS = {"matplotlib": "plot", "Pillow": "image", "tqdm": "progress"}
"""The extra of ``pyproject.toml`` that installs each optional package."""

_IMPORT_NAMES = {"matplotlib": "matplotlib.figure", "Pillow": "PIL.Image", "tqdm": "tqdm"}


def install_hint(package: str) -> str:
    """``pip install 'hsc-ref[EXTRA]'`` for an optional package.

    Examples
    --------
    >>> install_hint("Pillow")
    "pip install 'hsc-ref[image]'"
    """
    if package not in EXTRAS:
        raise ValueError(f"package must be one of {sorted(EXTRAS)}, got {package!r}")
    return f"pip install 'hsc-ref[{EXTRAS[package]}]'"


def installed(package: str) -> bool:
    """Whether an optional package imports (``sys.modules[name] = None`` hides it, as in tests).

    Examples
    --------
    >>> installed("tqdm") in (True, False)
    True
    """
    install_hint(package)  # validates the name
    top = _IMPORT_NAMES[package].split(".")[0]
    if top in sys.modules and sys.modules[top] is None:
        return False
    try:
        importlib.import_module(_IMPORT_NAMES[package])
    except ImportError:
        return False
    return True


class Skipped(NamedTuple):
    """Output ``files`` not written because the optional ``package`` is missing."""

    files: tuple[str, ...]
    package: str


def skipped_line(skipped: Sequence[Skipped]) -> str | None:
    """One line naming every skipped file and how to get it; None when nothing was skipped.

    Examples
    --------
    >>> print(skipped_line([Skipped(("losses.png",), "matplotlib")]))
    skipped losses.png (needs matplotlib: pip install 'hsc-ref[plot]')
    >>> skipped_line([]) is None
    True
    """
    parts = [
        f"{', '.join(s.files)} (needs {s.package}: {install_hint(s.package)})"
        for s in skipped
        if s.files
    ]
    return "skipped " + "; ".join(parts) if parts else None


def progress_bar(total: int, desc: str, *, show: bool = True) -> Any | None:
    """A tqdm bar, or None when not shown or tqdm is missing (then one note on stderr).

    Examples
    --------
    >>> progress_bar(10, "steps", show=False) is None
    True
    """
    if not show:
        return None
    if not installed("tqdm"):
        print(f"(install tqdm for a progress bar: {install_hint('tqdm')})", file=sys.stderr)
        return None
    from tqdm import tqdm  # noqa: PLC0415  (optional extra)

    return tqdm(total=total, desc=desc, unit="step")
