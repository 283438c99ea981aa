"""Optional extras (matplotlib, Pillow, tqdm): is one installed, and the one-line skip note.

Every command degrades the same way without an extra: it writes its data, then prints one
line from :func:`skipped_line` naming the files it skipped and the ``pip install`` that brings
them. Without tqdm, progress is shown as plain lines on stderr (:class:`TextProgress`).
"""

from __future__ import annotations

import importlib
import sys
import time
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


class TextProgress:
    """Progress as plain lines on stderr, for when tqdm is missing: ``desc: 40/200 steps (20%)``.

    A line at most every :attr:`every_s` seconds and at each tenth of the work, and one at
    the end; the calls are those of the tqdm bar it stands in for (``update``, ``n``,
    ``set_postfix``, ``close``, a context manager).

    Examples
    --------
    >>> import io
    >>> stream = io.StringIO()
    >>> with TextProgress(4, "hsc ring", stream=stream) as bar:
    ...     for _ in range(4):
    ...         bar.update(1)
    >>> print(stream.getvalue().splitlines()[-1])
    hsc ring: 4/4 steps (100%)
    """

    every_s = 5.0

    def __init__(self, total: int, desc: str, *, stream: Any | None = None) -> None:
        self.total, self.desc, self.n = int(total), desc, 0
        self._stream = sys.stderr if stream is None else stream
        self._postfix = ""
        self._shown_at = time.monotonic()
        self._shown_tenth = 0
        self._closed = False
        self._print()

    def _print(self) -> None:
        share = f" ({100 * self.n // self.total}%)" if self.total > 0 else ""
        line = f"{self.desc}: {self.n}/{self.total} steps{share}{self._postfix}"
        print(line, file=self._stream, flush=True)
        self._shown_at = time.monotonic()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more steps done; print a line when a tenth is passed or time is due."""
        self.n += int(n)
        tenth = 10 * self.n // self.total if self.total > 0 else 0
        if tenth > self._shown_tenth or time.monotonic() - self._shown_at >= self.every_s:
            self._shown_tenth = tenth
            if self.n < self.total:  # the last line is close()'s
                self._print()

    def set_postfix(self, **values: Any) -> None:
        """Values shown after the count on the next line, e.g. ``loss=0.12``."""
        self._postfix = ", " + ", ".join(f"{k} {v}" for k, v in values.items())

    def close(self) -> None:
        """Print the final count once."""
        if not self._closed:
            self._closed = True
            self._print()

    def __enter__(self) -> TextProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress_bar(total: int, desc: str, *, show: bool = True) -> Any | None:
    """A tqdm bar, or plain progress lines on stderr without tqdm; None when not shown.

    Examples
    --------
    >>> progress_bar(10, "steps", show=False) is None
    True
    """
    if not show:
        return None
    if not installed("tqdm"):
        return TextProgress(total, desc)
    from tqdm import tqdm  # noqa: PLC0415  (optional extra)

    return tqdm(total=total, desc=desc, unit="step")
