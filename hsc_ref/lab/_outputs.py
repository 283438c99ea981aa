"""Output folders of the commands, written atomically as a set.

A command's output folder is one set of files. :class:`OutputSet` writes every file of a set
into a fresh sibling temporary folder, adds ``manifest.json`` (the command, a status, and
each file's size and SHA-256), and then puts the folder in place in one step: a rename when
``--out`` is new (or an empty folder), an atomic exchange with the previous set under
``--force`` (``renameat2(RENAME_EXCHANGE)`` on Linux; elsewhere two renames, between which the
folder is briefly absent). A reader therefore finds a complete set, or an unfinished one
that says so in its manifest, or nothing; never a mix, and no file of a replaced set
survives.

Before any work, the set refuses what it must not touch: an empty ``--out``, the current
folder, a symbolic link or a file, a folder holding files that are not this command's
outputs, and, without ``--force``, an existing set. One run at a time writes a folder: the
set holds an exclusive lock (``flock`` on ``.NAME.lock`` beside the folder, released when the
process ends) for the whole run, and checks at every commit that the folder is still the one
it last wrote, so that of two concurrent writers one wins and the other fails with a clear
message.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from hsc_ref import __version__, _io

try:
    import fcntl
except ImportError:  # not POSIX: no lock; the identity checks at each commit remain
    fcntl = None

__all__: list[str] = []

MANIFEST_NAME = "manifest.json"
"""The file every output set carries, written last into the set."""

FORMAT = "hsc-ref output set"
"""``manifest.json``'s ``format`` entry."""

STATUSES = ("complete", "running", "interrupted", "failed")
"""A set's status: only ``complete`` sets hold a finished run's outputs."""


CHUNK_PATTERN = re.compile(r"checkpoint-history-\d{9}\.npz")
"""Names of the history chunks of a checkpoint (:mod:`hsc_ref.lab._checkpoint`): a set that may
hold ``checkpoint.json`` may hold any number of them."""


class ConcurrentWriterError(OSError):
    """Another run writes, or wrote, the same output folder while this one ran."""


class IncompleteSetError(ValueError):
    """An output folder is not a complete, intact set (no manifest, a file changed, unfinished)."""


def _identity(path: Path) -> tuple[int, int] | None:
    """``(device, inode)`` of a folder, or None when there is none (links are not followed)."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino)


def add_output_arguments(
    parser: argparse.ArgumentParser, *, checkpoint_every: int, checkpoint_note: str = ""
) -> None:
    """The options of a command that writes a resumable output set: ``--out``, ``--force``,
    ``--checkpoint-every`` (default ``checkpoint_every``) and ``--resume``."""
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--force", action="store_true", help="replace an existing output set")
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=checkpoint_every,
        metavar="N",
        help=f"checkpoint into --out every N steps (default {checkpoint_every}; 0: only at "
        f"Ctrl-C{checkpoint_note})",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the unfinished run in --out (give its original options)",
    )


def check_folder(out: str | os.PathLike, option: str = "--out") -> Path:
    """The absolute output path, after refusing what a set must never replace.

    Examples
    --------
    >>> try:
    ...     check_folder("")
    ... except ValueError as exc:
    ...     print(exc)
    --out must name a folder, got an empty string
    """
    if str(out) == "":
        raise ValueError(f"{option} must name a folder, got an empty string")
    path = Path(os.path.abspath(out))
    if path.is_symlink():
        raise ValueError(f"{option} must be a folder, got the symbolic link {out}")
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option} must be a folder, got the existing file {out}")
    cwd = Path.cwd().resolve()
    if path.parent == path or path.resolve() == cwd or path.resolve() in cwd.parents:
        raise ValueError(
            f"{option} must not be the current folder or one above it, got {out}: the output "
            f"set replaces its folder as a whole; name a new subfolder, e.g. {option} run"
        )
    return path


class OutputSet:
    """One run's output folder: checked, locked, and replaced as a whole at each commit.

    Parameters
    ----------
    out : path
        The output folder.
    names : iterable of str
        Every file name the command may put in the set (the manifest excluded).
    command : str
        The command (``gan``, ``style``, ``correct``), recorded in the manifest.
    overwrite : bool
        Replace an existing set (``--force``).
    resume : bool
        The folder holds this command's unfinished set, to be continued (``--resume``).
    option : str
        The option that named the folder, for messages.

    Examples
    --------
    >>> import tempfile, pathlib, json
    >>> with tempfile.TemporaryDirectory() as d:
    ...     out = pathlib.Path(d) / "run"
    ...     with OutputSet(out, ["a.txt"], command="demo") as outputs:
    ...         _ = (outputs.staging() / "a.txt").write_text("hi")
    ...         _ = outputs.commit()
    ...     manifest = json.loads((out / "manifest.json").read_text())
    >>> manifest["status"], sorted(manifest["files"])
    ('complete', ['a.txt'])
    """

    def __init__(
        self,
        out: str | os.PathLike,
        names: Iterable[str],
        *,
        command: str,
        overwrite: bool = False,
        resume: bool = False,
        option: str = "--out",
    ) -> None:
        self.path = check_folder(out, option)
        self.names = frozenset(names) | {MANIFEST_NAME}
        self.command, self.option = command, option
        self.overwrite, self.resume = overwrite, resume
        self._lock: int | None = None
        self._stage: Path | None = None
        self.status: str | None = None  # of the last commit
        self._expected: tuple[int, int] | None = None

    # ------------------------------------------------------------------ the run's lifetime

    def __enter__(self) -> OutputSet:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = _acquire_lock(self._lock_path(), self.path, self.option)
        try:
            self._remove_leftovers()
            self._refuse_existing()
        except BaseException:
            self.close()
            raise
        self._expected = _identity(self.path)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Remove an uncommitted staging folder and release the lock."""
        if self._stage is not None:
            shutil.rmtree(self._stage, ignore_errors=True)
            self._stage = None
        if self._lock is not None:
            with contextlib.suppress(OSError):
                self._lock_path().unlink()  # while still held: the next writer makes its own
            os.close(self._lock)
            self._lock = None

    def _lock_path(self) -> Path:
        return self.path.parent / f".{self.path.name}.lock"

    def _remove_leftovers(self) -> None:
        """Temporary folders of this set left by a killed run (the lock says none is alive)."""
        for stale in self.path.parent.glob(f".{self.path.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)

    def _refuse_existing(self) -> None:
        """Refuse a folder of other files, and an existing set without --force or --resume."""
        if not self.path.is_dir():
            return
        entries = sorted(p.name for p in self.path.iterdir())
        foreign = [name for name in entries if not self._allowed(name)]
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise FileExistsError(
                f"{self.option} {self.path} holds files that are not outputs of hsc-ref "
                f"{self.command} ({shown}); the output set replaces its folder as a whole: "
                f"name a new or empty folder"
            )
        if not entries or self.overwrite:
            return
        if self.resume:
            return
        status = read_manifest(self.path).get("status") if MANIFEST_NAME in entries else None
        if status not in (None, "complete"):
            raise FileExistsError(
                f"{self.path} holds an unfinished run of hsc-ref {self.command} ({status}, "
                f"{describe_progress(self.path)}); continue it with --resume (the same options), "
                f"or pass --force to replace it"
            )
        existing = [str(self.path / name) for name in entries if name != MANIFEST_NAME]
        existing = existing or [str(self.path / MANIFEST_NAME)]
        if len(existing) == 1:
            raise FileExistsError(f"{existing[0]} exists; pass --force to replace it")
        raise FileExistsError(f"{', '.join(existing)} exist; pass --force to replace them")

    # ------------------------------------------------------------------ writing a set

    def staging(self) -> Path:
        """A fresh, empty sibling folder to write the next set into (a previous uncommitted one
        is removed); :meth:`commit` puts it in place."""
        if self._lock is None:
            raise RuntimeError("OutputSet.staging() needs the set opened with 'with'")
        if self._stage is not None:
            shutil.rmtree(self._stage, ignore_errors=True)
        self._stage = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=f".{self.path.name}.tmp-"))
        os.chmod(self._stage, 0o777 & ~_io._umask())
        return self._stage

    def commit(self, status: str = "complete", info: Mapping[str, Any] | None = None) -> Path:
        """Write the manifest into the staging folder and put the folder in place, atomically.

        Parameters
        ----------
        status : str
            One of :data:`STATUSES`.
        info : mapping, optional
            JSON-ready facts recorded in the manifest (e.g. ``steps_completed``).

        Returns
        -------
        Path
            The output folder.
        """
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        if self._stage is None:
            raise RuntimeError("OutputSet.commit() needs the files written into staging() first")
        stage = self._stage
        unknown = sorted(p.name for p in stage.iterdir() if not self._allowed(p.name))
        if unknown:
            raise ValueError(f"the set of hsc-ref {self.command} has no files {unknown}")
        manifest = {
            "format": FORMAT,
            "command": self.command,
            "status": status,
            "hsc_ref": __version__,
            **dict(info or {}),
            "files": self._digests(stage),
        }
        _io.atomic_write_json(stage / MANIFEST_NAME, manifest)
        _fsync_folder(stage)
        with _deferred_interrupt():  # the folder and what this object knows of it stay in step
            replaced = self._place(stage)
            self._stage, self.status = None, status
            self._expected = _identity(self.path)
        if replaced is not None:
            shutil.rmtree(replaced, ignore_errors=True)  # the previous set (a leftover if killed)
        _fsync_folder(self.path.parent)
        return self.path

    def _allowed(self, name: str) -> bool:
        """Whether ``name`` may be part of this command's set."""
        if name in self.names:
            return True
        return "checkpoint.json" in self.names and CHUNK_PATTERN.fullmatch(name) is not None

    def _digests(self, stage: Path) -> dict[str, dict[str, Any]]:
        """Size and SHA-256 of each staged file; a file hard-linked from the set in place
        (an unchanged history chunk) keeps the digest that set's manifest gives it."""
        previous: dict[str, Any] = {}
        if self._expected is not None and _identity(self.path) == self._expected:
            with contextlib.suppress(IncompleteSetError, OSError):
                previous = dict(read_manifest(self.path).get("files", {}))
        digests = {}
        for p in sorted(stage.iterdir()):
            known = previous.get(p.name)
            if known is not None and _same_file(p, self.path / p.name):
                digests[p.name] = known
            else:
                digests[p.name] = _digest(p, sync=True)
        return digests

    def _place(self, stage: Path) -> Path | None:
        """Rename ``stage`` to the output folder, or exchange the two: never a mix.

        Returns where the previous set now is (to remove), or None.
        """
        if _identity(self.path) != self._expected:
            raise self._taken()
        if self._expected is None or not any(self.path.iterdir()):
            try:
                os.rename(stage, self.path)  # fails if another writer filled the folder
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                    raise self._taken() from None
                raise
            return None
        exchange(stage, self.path)
        if _identity(stage) != self._expected:  # another writer swapped in meanwhile
            exchange(stage, self.path)
            raise self._taken()
        return stage

    def _taken(self) -> ConcurrentWriterError:
        return ConcurrentWriterError(
            f"{self.path} was written by another run while this one ran; its set is kept and "
            f"this run's outputs were not written"
        )


@contextlib.contextmanager
def _deferred_interrupt() -> Iterator[None]:
    """Hold Ctrl-C back until the block is done, then raise it (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:
        yield
        return
    received: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


@contextlib.contextmanager
def folder_lock(out: str | os.PathLike, option: str = "--out") -> Iterator[Path]:
    """Hold the one-writer lock of folder ``out`` (the lock :class:`OutputSet` takes).

    For a folder that is not one output set (a sweep folder): ``flock`` on ``.NAME.lock``
    beside it, failing at once with :class:`ConcurrentWriterError` when another run holds it.
    The folder itself is not checked here (:func:`check_folder` is the caller's choice).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     with folder_lock(pathlib.Path(d) / "sweep") as path:
    ...         try:
    ...             with folder_lock(path):
    ...                 pass
    ...         except ConcurrentWriterError as exc:
    ...             print(str(exc)[:28])
    another hsc-ref run is writi
    """
    path = Path(os.path.abspath(out))
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.parent / f".{path.name}.lock"
    fd = _acquire_lock(lock_path, path, option)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            lock_path.unlink()  # while still held: the next writer makes its own
        os.close(fd)


def _acquire_lock(lock_path: Path, out: Path, option: str) -> int:
    """An exclusive ``flock`` on ``lock_path`` (made if missing); fail at once if it is held."""
    for _ in range(3):
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666 & ~_io._umask())
        if fcntl is None:
            return fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConcurrentWriterError(
                f"another hsc-ref run is writing {out} ({option}); wait for it to finish or "
                f"name another folder"
            ) from None
        if _identity(lock_path) == (os.fstat(fd).st_dev, os.fstat(fd).st_ino):
            return fd
        os.close(fd)  # the holder removed the file we locked: lock the new one
    raise ConcurrentWriterError(f"could not lock {out}: other runs keep writing it")


exchange = _io.exchange  # swap two folders atomically (the golden files use it too)


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths are one file (a hard link), without following links."""
    try:
        x, y = a.lstat(), b.lstat()
    except OSError:
        return False
    return (x.st_dev, x.st_ino) == (y.st_dev, y.st_ino) and x.st_size == y.st_size


def _digest(path: Path, *, sync: bool = False) -> dict[str, Any]:
    """Size and SHA-256 of a file (``sync``: also flush it to disk)."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
        if sync:
            os.fsync(handle.fileno())
    return {"bytes": path.stat().st_size, "sha256": sha.hexdigest()}


def _fsync_folder(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- reading a set


def read_manifest(out: str | os.PathLike) -> dict[str, Any]:
    """The manifest of an output folder, unverified; ``IncompleteSetError`` if there is none."""
    path = Path(out) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IncompleteSetError(f"{out} is not an output set: it has no {MANIFEST_NAME}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IncompleteSetError(f"{path} is unreadable: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IncompleteSetError(f"{path} is not the manifest of an hsc-ref output set")
    return manifest


def describe_progress(out: str | os.PathLike) -> str:
    """``"steps completed: 30 of 200"`` from a manifest (or what it lacks)."""
    manifest = read_manifest(out)
    done, total = manifest.get("steps_completed"), manifest.get("steps")
    return f"steps completed: {done} of {total}"


def verify_set(
    out: str | os.PathLike, *, command: str | None = None, complete: bool = True
) -> dict[str, Any]:
    """Check an output folder against its manifest: every file listed, intact, nothing else.

    Parameters
    ----------
    out : path
        The output folder.
    command : str, optional
        The command that must have written it.
    complete : bool, default True
        Also require the status ``complete`` (a finished run).

    Returns
    -------
    dict
        The manifest.

    Raises
    ------
    IncompleteSetError
        No manifest, another command's, an unfinished run (with ``complete``), or a file
        missing, added or changed.
    """
    out = Path(out)
    manifest = read_manifest(out)
    if command is not None and manifest.get("command") != command:
        raise IncompleteSetError(
            f"{out} holds outputs of hsc-ref {manifest.get('command')}, not of {command}"
        )
    if complete and manifest.get("status") != "complete":
        raise IncompleteSetError(
            f"{out} holds an unfinished run ({manifest.get('status')}, {describe_progress(out)})"
        )
    files = manifest.get("files", {})
    present = {p.name for p in out.iterdir()} - {MANIFEST_NAME}
    if present != set(files):
        raise IncompleteSetError(
            f"{out} does not match its manifest: missing {sorted(set(files) - present)}, "
            f"unlisted {sorted(present - set(files))}"
        )
    for name, expected in files.items():
        if _digest(out / name) != expected:
            raise IncompleteSetError(f"{out / name} differs from its manifest (size or SHA-256)")
    return manifest
