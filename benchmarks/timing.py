"""Wall-clock timing (median of repeats) and peak resident memory of one call.

Peak memory is the rise of the process's resident-set high-water mark (``VmHWM``) over the
resident set before the call, after resetting the mark through ``/proc/self/clear_refs``
(Linux). It counts every allocator (NumPy, PyTorch, XLA), unlike ``tracemalloc``. Where the
reset is unavailable the peak is recorded as ``None``.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from typing import Any


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_bytes(fn: Callable[[], Any]) -> tuple[Any, int | None]:
    """Run ``fn`` once; return its result and the peak memory it added, in bytes."""
    gc.collect()
    ok = _reset_peak()
    before = _status_kib("VmRSS")
    out = fn()
    after = _status_kib("VmHWM")
    if not ok or before is None or after is None:
        return out, None
    return out, max(0, after - before) * 1024


def measure(
    fn: Callable[[], Any], *, repeats: int = 3, warmup: int = 1, budget_s: float | None = None
) -> dict[str, Any]:
    """Median and min wall time of ``fn`` over ``repeats`` runs after ``warmup`` runs.

    The first run also records the peak memory; with ``warmup=0`` it is also the first
    timed run (for routes too slow to run twice). With ``budget_s``, repeats stop
    early once that much time has been spent (at least one timed run is kept).
    """
    t0 = time.perf_counter()
    result, peak = peak_bytes(fn)
    first = time.perf_counter() - t0
    for _ in range(max(0, warmup - 1)):
        fn()
    times: list[float] = [] if warmup > 0 else [first]  # warmup=0: the first run counts
    spent = sum(times)
    for _ in range(repeats - len(times)):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
        if budget_s is not None and spent >= budget_s:
            break
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "times_s": times,
        "peak_bytes": peak,
        "result": result,
    }
