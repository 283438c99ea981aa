"""Atomic, pickle-free file input and output."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import io
import json
import os
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hsc_ref import _limits

__all__: list[str] = []


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_file_target(path: str | os.PathLike) -> Path:
    """``path``, after refusing what a written file must never replace, whatever ``--force``.

    hsc_ref writes only regular files: ``path`` must be new or an existing regular file, not
    a device (``/dev/null``), a pipe, a socket, a folder or a symbolic link (replacing a link
    would silently cut it from its target).

    Examples
    --------
    >>> try:
    ...     check_file_target("/dev/null")
    ... except ValueError as exc:
    ...     print(str(exc)[:51])
    /dev/null is a character device, not a regular file
    """
    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return path
    except NotADirectoryError:
        raise ValueError(f"{path}: a part of the path above it is a file, not a folder") from None
    if stat.S_ISREG(mode):
        return path
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
    )
    kind = next((name for test, name in kinds if test(mode)), "not a regular file")
    raise ValueError(
        f"{path} is {kind}, not a regular file: hsc_ref writes only new or regular files; "
        f"name another path"
    )


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder (never half-written).

    The file gets the usual permissions (``0o666`` less the umask), not the private mode of a
    temporary file. Without ``overwrite`` an existing file is refused, atomically: the
    temporary file is hard-linked into place, which fails if ``path`` exists. A ``path``
    that is not new or a regular file is refused even with ``overwrite``
    (:func:`check_file_target`).
    """
    path = check_file_target(path)
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


_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed entry time: the same arrays give the same bytes


def npz_bytes(arrays: Mapping[str, Any]) -> bytes:
    """An uncompressed ``.npz`` with sorted entries and a fixed entry date: reproducible bytes.

    ``numpy.savez`` stamps the current time into every entry; this does not. Object arrays
    are refused (they would be pickled).
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for key in sorted(arrays):
            array = np.asarray(arrays[key], order="C")
            if array.dtype.hasobject:
                raise TypeError(f"array {key!r} must not have object dtype (no pickles)")
            entry = io.BytesIO()
            np.lib.format.write_array(entry, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            archive.writestr(info, entry.getvalue())
    return buffer.getvalue()


def atomic_save_npz(
    path: str | os.PathLike, arrays: Mapping[str, Any], *, overwrite: bool = False
) -> Path:
    """Save arrays as a reproducible uncompressed ``.npz`` (:func:`npz_bytes`), atomically."""
    return atomic_write_bytes(path, npz_bytes(arrays), overwrite=overwrite)


@contextlib.contextmanager
def _open_npz(path: Path, what: str, error: type[ValueError]) -> Iterator[Any]:
    """The open archive of a pickle-free ``.npz``; every way it can be bad raises ``error``."""
    if path.is_dir():
        raise error(f"{what} {path} is a folder, not an .npz file")
    if not path.is_file():
        raise error(f"{what} {path} does not exist")
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if magic == b"\x93NUMPY":
        raise error(f"{what} {path} must be an .npz archive, got a single-array .npy")
    if not magic.startswith(b"PK"):
        raise error(f"{what} {path} is not an .npz archive (no zip signature)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            yield archive
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise error(
                f"{what} {path} contains a pickled (object-dtype) array; only plain numeric "
                f"arrays are accepted, pickles are never loaded"
            ) from exc
        raise error(f"{what} {path} could not be read as an .npz: {exc}") from exc
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise error(
            f"{what} {path} is not a readable .npz (truncated or corrupted?): {exc}"
        ) from exc


class _AbsentKeysError(LookupError):
    """Requested arrays are not in the archive (kept apart from numpy's ValueErrors)."""


def npz_names(
    path: str | os.PathLike, what: str, *, error: type[ValueError] = ValueError
) -> list[str]:
    """Names of the arrays in an ``.npz``, without loading any, with :func:`load_npz`'s errors."""
    with _open_npz(Path(path), what, error) as archive:
        return list(archive.files)


def load_npz(
    path: str | os.PathLike,
    what: str,
    *,
    keys: Collection[str] | None = None,
    error: type[ValueError] = ValueError,
) -> dict[str, np.ndarray]:
    """Arrays of a pickle-free ``.npz`` (only ``keys`` when given), with a clear error.

    Every failure (no file, a single-array ``.npy``, not a zip, a pickled array, a truncated
    or corrupted archive, a requested key absent) raises ``error`` naming ``what`` and the
    file; pickles are never loaded.
    """

    def arrays(archive: Any, wanted: list[str], where: str) -> dict[str, np.ndarray]:
        _check_entries(archive, wanted, where)
        return {key: archive[key] for key in wanted}

    return _read_npz(path, what, keys, error, arrays)


class _BadEntryError(LookupError):
    """An entry's header lies or is unreadable (kept apart from numpy's ValueErrors)."""


def npz_shapes(
    path: str | os.PathLike,
    what: str,
    keys: Collection[str] | None = None,
    *,
    error: type[ValueError] = ValueError,
) -> dict[str, tuple[int, ...]]:
    """Shapes of the arrays ``keys`` (default all) of an ``.npz``, from their headers only.

    Nothing is unpacked beyond each entry's header: a caller checks the shapes it expects
    before :func:`load_npz` loads anything. Errors as :func:`load_npz`'s.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.npz")
    >>> _ = atomic_save_npz(path, {"a": np.zeros((2, 3)), "b": np.ones(4)})
    >>> npz_shapes(path, "file")
    {'a': (2, 3), 'b': (4,)}
    """

    return {key: shape for key, (shape, _) in npz_headers(path, what, keys, error=error).items()}


def npz_headers(
    path: str | os.PathLike,
    what: str,
    keys: Collection[str] | None = None,
    *,
    error: type[ValueError] = ValueError,
) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shape and dtype of the arrays ``keys`` (default all) of an ``.npz``, from their headers.

    As :func:`npz_shapes`, with each entry's dtype: nothing is unpacked beyond the headers,
    and an entry whose header claims other data than it holds is refused (as corrupt).

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.npz")
    >>> _ = atomic_save_npz(path, {"a": np.zeros((2, 3), np.float32)})
    >>> npz_headers(path, "file")
    {'a': ((2, 3), dtype('float32'))}
    """

    def headers(archive: Any, wanted: list[str], where: str) -> dict[str, Any]:
        return {key: _checked_header(archive, key, where) for key in wanted}

    return _read_npz(path, what, keys, error, headers)


def _read_npz(
    path: str | os.PathLike,
    what: str,
    keys: Collection[str] | None,
    error: type[ValueError],
    read: Callable[[Any, list[str], str], Any],
) -> Any:
    """``read(archive, wanted keys, description)`` on an opened pickle-free ``.npz``.

    The one place that opens an archive for :func:`load_npz` and :func:`npz_shapes`: absent
    keys and bad entries become ``error`` naming ``what`` and the file.
    """
    path = Path(path)
    try:
        with _open_npz(path, what, error) as archive:
            wanted = list(archive.files) if keys is None else list(keys)
            absent = sorted(set(wanted) - set(archive.files))
            if absent:
                raise _AbsentKeysError(absent)
            return read(archive, wanted, f"{what} {path}")
    except _AbsentKeysError as exc:
        raise error(f"{what} {path} lacks the arrays {exc.args[0]}") from None
    except _BadEntryError as exc:
        raise error(exc.args[0]) from None


def _entry_header(archive: Any, key: str, what: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data bytes of one entry, from its header (nothing else is read)."""
    members = set(archive.zip.namelist())
    info = archive.zip.getinfo(f"{key}.npy" if f"{key}.npy" in members else key)
    try:
        with archive.zip.open(info) as member:
            shape, dtype = npy_header(member, f"{what} entry {key!r}")
            return shape, dtype, info.file_size - member.tell()
    except ValueError as exc:
        raise _BadEntryError(str(exc)) from None


def _checked_header(archive: Any, key: str, what: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of one entry, refused when its header lies about the data it holds
    (the sizes come from the header and the archive's directory: nothing is inflated)."""
    shape, dtype, data_bytes = _entry_header(archive, key, what)
    nbytes = _limits.array_bytes(shape, dtype.itemsize)
    if data_bytes != nbytes:
        raise _BadEntryError(
            f"{what} entry {key!r} is corrupt: its header says shape {shape} of {dtype} "
            f"({nbytes} bytes) but the entry holds {data_bytes} bytes of data"
        )
    return shape, dtype


def _check_entries(archive: Any, keys: list[str], what: str) -> None:
    """Read the header of every entry to load: refuse a lying or oversized one before loading."""
    total = 0
    for key in keys:
        shape, dtype = _checked_header(archive, key, what)
        total += _limits.array_bytes(shape, dtype.itemsize)
    _limits.require_memory(total, f"{what} (arrays {keys})", hint="hsc_ref loads whole arrays")


def load_array(path: str | os.PathLike, name: str) -> np.ndarray:
    """Load one array from a ``.npy`` file without pickles, with a clear error on failure.

    The header is read first: a file that is not a ``.npy`` (text, an ``.npz``), a pickled
    array, values that are not real numbers (complex, bool, strings, float16), a header that
    claims more data than the file holds, or an array that would not fit in the available
    memory is refused with a ``ValueError`` before any data is read.
    """
    path = Path(path)
    what = f"{name} file {path}"
    if not path.exists():
        raise FileNotFoundError(f"{what} does not exist")
    if path.is_dir():
        raise ValueError(f"{what} is a folder, not a .npy file")
    if not path.is_file():
        raise ValueError(f"{what} must be a regular .npy file, got a non-file")
    with open(path, "rb") as handle:
        shape, dtype = npy_header(handle, what)
        _check_npy_size(shape, dtype, path.stat().st_size - handle.tell(), what)
    if dtype.kind not in "iuf" or (dtype.kind == "f" and dtype.itemsize not in (4, 8)):
        raise ValueError(  # the file's content, refused where it is read (not a TypeError later)
            f"{what} holds {dtype} values; {name} must hold real numbers (float32, float64 or "
            f"integers)"
        )
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:  # e.g. a file changed while being read
        raise ValueError(f"{what} could not be read as a pickle-free .npy: {exc}") from exc


_NPY_MAGIC = b"\x93NUMPY"


def npy_header(handle: Any, what: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from the header of a ``.npy`` stream, leaving it at the data.

    Raises ``ValueError`` naming ``what`` for an empty stream, an ``.npz`` archive, anything
    without NumPy's magic bytes (a text file), an unreadable header or a pickled array.
    """
    magic = handle.read(len(_NPY_MAGIC))
    if not magic:
        raise ValueError(f"{what} is empty")
    if magic.startswith(b"PK"):
        raise ValueError(f"{what} must be a single-array .npy, got an .npz archive")
    if magic != _NPY_MAGIC:
        raise ValueError(
            f"{what} is not a .npy file: it does not start with NumPy's magic bytes, got "
            f"{magic!r} (a text file?); write arrays with numpy.save"
        )
    try:
        major, _minor = np.lib.format.read_magic(_Prefixed(magic, handle))
        read = np.lib.format.read_array_header_1_0
        if major != 1:
            read = np.lib.format.read_array_header_2_0
        shape, _fortran, dtype = read(handle)
    except Exception as exc:  # the header of untrusted input fails in many ways (tokenize...)
        raise ValueError(f"{what} has an unreadable .npy header: {exc}") from exc
    if dtype.hasobject:
        raise ValueError(
            f"{what} holds a pickled (object-dtype) array; only plain numeric arrays are "
            f"accepted, pickles are never loaded"
        )
    return shape, dtype


class _Prefixed:
    """A stream whose first bytes were already read (``read_magic`` reads them again)."""

    def __init__(self, prefix: bytes, handle: Any) -> None:
        self._prefix, self._handle = prefix, handle

    def read(self, size: int) -> bytes:
        head, self._prefix = self._prefix[:size], self._prefix[size:]
        return head + (self._handle.read(size - len(head)) if size > len(head) else b"")


def _check_npy_size(shape: tuple[int, ...], dtype: np.dtype, data_bytes: int, what: str) -> None:
    """Refuse a header that claims more than the file holds, or more than memory can take."""
    nbytes = _limits.array_bytes(shape, dtype.itemsize)
    if data_bytes < nbytes:
        raise ValueError(
            f"{what} is truncated or corrupt: its header says shape {shape} of {dtype} "
            f"({nbytes} bytes) but {data_bytes} bytes of data follow it"
        )
    _limits.require_memory(
        nbytes, f"{what} (shape {shape}, {dtype})", hint="hsc_ref loads whole arrays"
    )


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(a: Path, b: Path) -> None:
    """Swap two folders atomically (Linux ``renameat2``); elsewhere with two renames."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        renameat2 = None
    if renameat2 is not None:
        result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
        if result == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(code, f"could not exchange {a} and {b}: {os.strerror(code)}")
    parked = a.with_name(a.name + "-swap")
    os.rename(b, parked)
    os.rename(a, b)
    os.rename(parked, a)
