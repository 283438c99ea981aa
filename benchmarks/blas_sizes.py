"""Why ``--blas-threads auto`` stops at 1500 rows: one and two BLAS threads against matrix size.

The measurement of ``docs/experiments.md``, section "Threads" ("Why 1500")::

    python benchmarks/blas_sizes.py --record docs/tables/records/blas-sizes.json --force

times one ``numpy.linalg.eigh`` plus one product ``H @ H`` of a random symmetric matrix ``H``
of order n (``A + A.T``, ``A`` standard normal from ``numpy.random.default_rng(0)``), with the
BLAS pools limited to one and to two threads (threadpoolctl), for each n of ``--sizes``. Each
sample repeats the pair ``max(1, int(WORK / n**3))`` times and is divided by that count, so
that small orders are timed over a similar span; the time of a row is the best of
``--samples`` samples (3), taken in turns (1 thread, 2 threads, 1 thread, ...), so that load
from other processes spreads over both. The record (JSON) holds every sample, the threads the
pools really had, the load average before each order, and the machine's facts with the git
commit; it is written once, atomically, and an existing one is kept unless ``--force``.

Quick version (a second): ``--sizes 50 --work 1e6``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from threads import (
    check_record_path,
    code_changed_since,
    code_state,
    machine_facts,
    utc_now,
    write_record,
)

__all__ = ["Timing", "repetitions", "time_order", "measure", "main"]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RECORD = ROOT / "runs" / "benchmarks" / "blas-sizes.json"
SIZES = (100, 300, 768, 1500, 2500)
THREADS = (1, 2)
WORK = 3e8
"""n^3 per sample: the pair is repeated ``WORK / n^3`` times (once from n = 670 up)."""
LARGEST = 20_000
"""Largest order accepted (an order-20000 matrix takes 3.2 GB, its eigh minutes)."""


class Timing(NamedTuple):
    """The samples of one order and thread count."""

    n: int
    threads: int
    threads_in_effect: list[int]  # num_threads of each BLAS pool inside the limit
    repetitions: int
    samples_s: list[float]  # seconds per eigh + product, one per sample
    best_s: float
    load_average_before: tuple[float, float, float]  # before this order's first sample


def repetitions(n: int, work: float = WORK) -> int:
    """How many eigh + product pairs one sample of order ``n`` times.

    Examples
    --------
    >>> repetitions(100), repetitions(768), repetitions(50, work=1e6)
    (300, 1, 8)
    """
    return max(1, int(work / n**3))


def _symmetric(n: int) -> Any:
    import numpy as np

    a = np.random.default_rng(0).standard_normal((n, n))
    return a + a.T


def _sample(matrix: Any, reps: int, threads: int) -> tuple[float, list[int]]:
    import numpy as np
    from threadpoolctl import threadpool_info, threadpool_limits

    with threadpool_limits(threads, user_api="blas"):
        in_effect = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
        start = time.perf_counter()
        for _ in range(reps):
            np.linalg.eigh(matrix)
            matrix @ matrix
        return (time.perf_counter() - start) / reps, in_effect


def time_order(n: int, samples: int, work: float) -> list[Timing]:
    """One :class:`Timing` per thread count at order ``n``, samples taken in turns."""
    load, matrix, reps = os.getloadavg(), _symmetric(n), repetitions(n, work)
    times: dict[int, list[float]] = {t: [] for t in THREADS}
    in_effect: dict[int, list[int]] = {}
    for _ in range(samples):
        for threads in THREADS:
            seconds, in_effect[threads] = _sample(matrix, reps, threads)
            times[threads].append(seconds)
    return [Timing(n, t, in_effect[t], reps, times[t], min(times[t]), load) for t in THREADS]


def measure(sizes: Sequence[int], samples: int, work: float) -> list[Timing]:
    """Every order of ``sizes``, printed as it goes."""
    timings: list[Timing] = []
    for n in sizes:
        timings += time_order(n, samples, work)
        row = ", ".join(f"{t.threads} thread(s) {t.best_s:.4g} s" for t in timings[-len(THREADS) :])
        print(f"  n = {n}: {row}")
    return timings


def _order(text: str) -> int:
    value = int(text)
    if not 1 <= value <= LARGEST:
        raise argparse.ArgumentTypeError(f"must be between 1 and {LARGEST}, got {value}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _work(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip("`"))
    p.add_argument("--sizes", type=_order, nargs="+", default=list(SIZES), help="orders n")
    p.add_argument("--samples", type=_count, default=3, help="samples per row, best kept (3)")
    p.add_argument("--work", type=_work, default=WORK, help=f"n^3 per sample ({WORK:g})")
    p.add_argument(
        "--record", type=Path, default=DEFAULT_RECORD, help=f"JSON file ({DEFAULT_RECORD})"
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing record")
    return p


def _threadpoolctl_missing() -> bool:
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return True
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python benchmarks/blas_sizes.py``."""
    args = _parser().parse_args(argv)
    if _threadpoolctl_missing():
        raise SystemExit("blas_sizes.py needs threadpoolctl (a core dependency): reinstall hsc-ref")
    check_record_path(args.record, args.force)
    started, code = utc_now(), code_state()
    try:
        timings = measure(list(dict.fromkeys(args.sizes)), args.samples, args.work)
    except KeyboardInterrupt:
        print("blas_sizes.py: interrupted; nothing written")
        return 130
    arguments = list(sys.argv[1:] if argv is None else argv)
    record = {
        "experiment": "blas-sizes",
        "command": shlex.join(["python", "benchmarks/blas_sizes.py", *arguments]),
        "options": {"sizes": args.sizes, "samples": args.samples, "work": args.work},
        "machine": machine_facts(),
        "code": code,
        "code_changed_during_measurement": code_changed_since(code),
        "started": started,
        "finished": utc_now(),
        "timings": [t._asdict() for t in timings],
    }
    write_record(args.record, record)
    print(f"wrote {args.record}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
