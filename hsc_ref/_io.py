"""Atomic, pickle-free file input and output."""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__: list[str] = []


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder (never half-written).

    The file gets the usual permissions (``0o666`` less the umask), not the private mode of a
    temporary file. Without ``overwrite`` an existing file is refused, atomically: the
    temporary file is hard-linked into place, which fails if ``path`` exists.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite (--force) to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o666 & ~_umask())
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise FileExistsError(
                    f"{path} exists; pass overwrite (--force) to replace it"
                ) from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def atomic_write_text(path: str | os.PathLike, text: str, *, overwrite: bool = False) -> Path:
    """UTF-8 text version of :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def atomic_write_json(path: str | os.PathLike, obj: Any, *, overwrite: bool = False) -> Path:
    """Write ``obj`` as indented, key-sorted JSON, atomically."""
    text = json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n"
    return atomic_write_text(path, text, overwrite=overwrite)


def atomic_save_npz(
    path: str | os.PathLike, arrays: dict[str, Any], *, overwrite: bool = False
) -> Path:
    """Save arrays as an uncompressed ``.npz`` atomically; object arrays are refused."""
    for name, array in arrays.items():
        if np.asarray(array).dtype.hasobject:
            raise TypeError(f"array {name!r} must not have object dtype (no pickles)")
    buffer = io.BytesIO()
    np.savez(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
    return atomic_write_bytes(path, buffer.getvalue(), overwrite=overwrite)


def load_array(path: str | os.PathLike, name: str) -> np.ndarray:
    """Load one array from a ``.npy`` file without pickles, with a clear error on failure."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{name} file {path} does not exist")
    if not path.is_file():
        raise ValueError(f"{name} file {path} must be a regular .npy file, got a non-file")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:  # pickles, empty or truncated files
        raise ValueError(
            f"{name} file {path} could not be read as a pickle-free .npy: {exc}"
        ) from exc
    if isinstance(array, np.lib.npyio.NpzFile):
        array.close()
        raise ValueError(f"{name} file {path} must be a single-array .npy, got an .npz archive")
    return array
