"""BLAS thread pools sized for small-matrix work (threadpoolctl), with an override.

NumPy and SciPy each load their own OpenBLAS, and each pool spins one thread per core even on
a 100 x 100 matrix. On a busy machine those threads wait on each other: ``hsc-ref gan --steps
60`` took several times longer beside one other busy process than alone (figures and the
command in ``docs/experiments.md``, section "Threads"). Commands therefore run their
small-matrix work on one BLAS thread per process, and leave the libraries' own pools alone
for large matrices, where more threads pay.

The setting, from the first that is given: the ``--blas-threads`` option, the environment
variable :data:`ENV_VAR`, else ``"auto"``. Values: a positive integer (that many threads per
pool), ``"auto"`` (one thread when the command's largest matrix has at most :data:`SMALL_N`
rows, else the libraries' default) or ``"default"`` (the libraries' default, untouched).
Sizing uses threadpoolctl, a core dependency; should it not import, the pools keep their
default, and an explicit setting says so in one line.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from hsc_ref import _io

__all__: list[str] = []

ENV_VAR = "HSC_REF_BLAS_THREADS"
"""Environment variable read when ``--blas-threads`` is not given."""

SMALL_N = 1500
"""Largest matrix order run on one BLAS thread under ``"auto"``.

A trade measured for ``eigh`` plus a product on the 2-core machine (``docs/experiments.md``,
"Threads", records in ``docs/tables/records/``): with the machine busy, one thread beat two at
every order from 100 to 2500, by 8x to 140x; quiet, one thread cost up to 1.7x from n = 768
to 1500 and 1.6x at 2500. Small matrices on machines that are rarely idle take one thread.
"""

KEYWORDS = ("auto", "default")
"""The non-numeric settings."""


def parse_setting(value: str | int | None, source: str) -> int | str | None:
    """A thread setting: a positive int, ``"auto"``, ``"default"``, or None when not given.

    Examples
    --------
    >>> parse_setting("2", "--blas-threads"), parse_setting(" AUTO ", "x"), parse_setting(None, "x")
    (2, 'auto', None)
    """
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in KEYWORDS:
        return text
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise ValueError(
        f"{source} must be a positive integer, 'auto' or 'default', got {str(value)!r}"
    )


def resolve_setting(option: str | int | None) -> int | str:
    """The setting in force: ``option``, else :data:`ENV_VAR`, else ``"auto"``.

    Examples
    --------
    >>> resolve_setting("1")
    1
    """
    chosen = parse_setting(option, "--blas-threads")
    if chosen is None:
        chosen = parse_setting(os.environ.get(ENV_VAR), f"environment variable {ENV_VAR}")
    return "auto" if chosen is None else chosen


def threads_for(setting: int | str, n: int) -> int | None:
    """BLAS threads per pool for matrices of order up to ``n``; None leaves the default.

    Examples
    --------
    >>> threads_for("auto", 82), threads_for("auto", 12288)
    (1, None)
    >>> threads_for(3, 5), threads_for("default", 5)
    (3, None)
    """
    if setting == "default":
        return None
    if setting == "auto":
        return 1 if n <= SMALL_N else None
    return int(setting)


def _mlp_size(widths: Sequence[int]) -> int:
    return sum(a * b + b for a, b in itertools.pairwise(widths))


def _npy_order(path: Any) -> int:
    """The largest dimension of a ``.npy`` file, read from its header only (0 if unreadable)."""
    try:
        with open(Path(path), "rb") as handle:
            shape, _ = _io.npy_header(handle, "matrix")  # the header only, no data
    except (OSError, ValueError, TypeError):
        return 0  # the command reports the bad file itself
    return max(shape, default=0)


def command_order(args: Any) -> int:
    """Order of the largest matrix a ``hsc-ref`` command will decompose (its parsed ``args``).

    ``gan``: the larger player's parameter count (2-D data, noise width 2); ``style``: the
    pixel count ``3 size^2``; ``correct``: the matrix file's order; other commands work on
    small matrices (0).

    Examples
    --------
    >>> import argparse
    >>> command_order(argparse.Namespace(command="gan", hidden=(16,), data="ring"))
    82
    >>> command_order(argparse.Namespace(command="style", size=64))
    12288
    """
    command = getattr(args, "command", None)
    if command == "gan":
        hidden = tuple(getattr(args, "hidden", ()) or ())
        if getattr(args, "data", None) == "dirac":
            return 1
        return max(_mlp_size((2, *hidden, 2)), _mlp_size((2, *hidden, 1)))
    if command == "style":
        return 3 * int(getattr(args, "size", 0)) ** 2
    if command == "correct":
        return _npy_order(getattr(args, "matrix", ""))
    return 0


def _threadpoolctl() -> Any | None:
    if "threadpoolctl" in sys.modules and sys.modules["threadpoolctl"] is None:
        return None  # hidden, as in tests
    try:
        import threadpoolctl  # noqa: PLC0415  (optional extra)
    except ImportError:
        return None
    return threadpoolctl


def blas_thread_counts() -> dict[str, int]:
    """Threads of each loaded BLAS pool, by library file name (empty without threadpoolctl).

    Examples
    --------
    >>> all(n >= 1 for n in blas_thread_counts().values())
    True
    """
    tpc = _threadpoolctl()
    if tpc is None:
        return {}
    return {
        Path(p["filepath"]).name: int(p["num_threads"])
        for p in tpc.threadpool_info()
        if p.get("user_api") == "blas"
    }


@contextlib.contextmanager
def limited(threads: int | None, *, explicit: bool = False) -> Iterator[int | None]:
    """Run the block with every loaded BLAS pool (NumPy's and SciPy's) at ``threads``.

    ``threads=None`` changes nothing. Without threadpoolctl nothing changes either; when the
    setting was ``explicit`` one line on stderr says so. Yields the threads in force (None:
    the libraries' default).

    Examples
    --------
    >>> with limited(1) as threads:
    ...     inside = blas_thread_counts()
    >>> threads in (1, None) and all(n == 1 for n in inside.values())
    True
    """
    tpc = _threadpoolctl() if threads is not None else None
    if threads is not None and tpc is None:
        if explicit:
            print(
                "(BLAS threads left at their default: threadpoolctl, a core dependency, "
                "does not import; reinstall hsc-ref to size them)",
                file=sys.stderr,
            )
        threads = None
    if tpc is None:
        yield threads
        return
    import scipy.linalg  # noqa: F401, PLC0415  (load SciPy's own OpenBLAS before limiting it)

    with tpc.threadpool_limits(limits=threads, user_api="blas"):
        yield threads


def for_command(args: Any) -> contextlib.AbstractContextManager[int | None]:
    """:func:`limited` for a parsed ``hsc-ref`` command (``args.blas_threads``, the env, auto).

    Examples
    --------
    >>> import argparse
    >>> with for_command(argparse.Namespace(command="demo", blas_threads="1")) as threads:
    ...     pass
    >>> threads in (1, None)
    True
    """
    option = getattr(args, "blas_threads", None)
    explicit = option is not None or os.environ.get(ENV_VAR) is not None
    threads = threads_for(resolve_setting(option), command_order(args))
    return limited(threads, explicit=explicit)
