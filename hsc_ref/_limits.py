"""Sizes that come from users, checked against the memory they imply before any work.

Options (``--hidden``, ``--batch``, ``--steps``, ``--n-eval``, ``--size``), ``.npy`` headers,
``.npz`` entries and image headers all say how much memory a command will need before it
allocates anything. :func:`require_memory` refuses, with ``MemoryError`` (exit status 2 on
the command line), what cannot fit, by the policy of the exact-Hessian routes: compare with
the memory available now (``hsc_ref._backend.available_memory``), no check where that is
unknown, and with what the process may still map under its own limit (``RLIMIT_AS``, set by
``ulimit -v``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable

from hsc_ref import _backend

__all__: list[str] = []


def gib(nbytes: float) -> str:
    """A byte count in GiB, three significant digits.

    Examples
    --------
    >>> gib(3 * 2**30), gib(2**20)
    ('3 GiB', '0.000977 GiB')
    """
    return f"{nbytes / 2**30:.3g} GiB"


def array_bytes(shape: Iterable[int], itemsize: int) -> int:
    """Bytes of an array of ``shape`` (exact Python integers: no overflow).

    Examples
    --------
    >>> array_bytes((100000, 100000), 8)
    80000000000
    """
    return math.prod(int(d) for d in shape) * int(itemsize)


def require_memory(nbytes: int, what: str, *, hint: str) -> None:
    """Raise ``MemoryError`` before any work when ``nbytes`` cannot fit in the available memory.

    Parameters
    ----------
    nbytes : int
        Bytes the work needs.
    what : str
        What needs them, starting with the option or file that decides the size (the
        command line names the option: ``n_eval = 10**10`` reads ``--n-eval = 10**10``).
    hint : str
        How to do with less.

    Returns
    -------
    None

    Examples
    --------
    >>> require_memory(8, "x", hint="smaller x")      # fits: returns None
    >>> try:
    ...     require_memory(2**80, "n_eval = 10**23 (the samples)", hint="lower n_eval")
    ... except MemoryError as exc:
    ...     print(str(exc)[:55])
    n_eval = 10**23 (the samples) needs about 1.13e+15 GiB,
    """
    available = _backend.available_memory()
    if available is not None and nbytes > available:
        raise MemoryError(
            f"{what} needs about {gib(nbytes)}, more than the available memory "
            f"({gib(available)}); {hint}"
        )
    room = address_space_left()
    if room is not None and nbytes > room:
        raise MemoryError(
            f"{what} needs about {gib(nbytes)}, more than this process may still map under "
            f"its limit RLIMIT_AS (ulimit -v: {gib(room)} left); {hint}"
        )


def address_space_left() -> int | None:
    """Bytes the process may still map under ``RLIMIT_AS`` (``ulimit -v``), or None.

    None when there is no limit or it cannot be read (not POSIX, no ``/proc``).

    Examples
    --------
    >>> left = address_space_left()
    >>> left is None or left >= 0
    True
    """
    try:
        import resource  # noqa: PLC0415  (POSIX only)

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ImportError, OSError, ValueError):
        return None
    if limit == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            mapped = int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None
    return max(0, int(limit) - mapped)
