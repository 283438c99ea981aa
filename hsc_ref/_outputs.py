"""Output folders of the commands: refuse to replace a user's files before anything is written."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__: list[str] = []


def refuse_existing(
    out: str | os.PathLike, names: Iterable[str], *, overwrite: bool, option: str = "--out"
) -> Path:
    """Check that ``out`` is (or can be) a folder holding none of ``names``, unless ``overwrite``.

    Called once before a command computes or writes anything, so that a refused run leaves
    every file as it was (no half-replaced output set).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = (pathlib.Path(d) / "a.json").write_text("{}")
    ...     try:
    ...         refuse_existing(d, ["a.json", "b.npz"], overwrite=False)
    ...     except FileExistsError as exc:
    ...         print(str(exc).replace(d, "DIR"))
    DIR/a.json exists; pass --force to replace it
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{option} must be a folder, got the existing file {out}")
    existing = [str(out / name) for name in names if (out / name).exists()]
    if existing and not overwrite:
        if len(existing) == 1:
            raise FileExistsError(f"{existing[0]} exists; pass --force to replace it")
        raise FileExistsError(f"{', '.join(existing)} exist; pass --force to replace them")
    return out
