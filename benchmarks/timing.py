"""Wall-clock timing (median of repeats) and peak resident memory of one call.

Peak memory is the rise of the process's resident-set high-water mark (``VmHWM``) over the
resident set before the call, after resetting the mark through ``/proc/self/clear_refs``
(Linux). It counts every allocator (NumPy, PyTorch, XLA), unlike ``tracemalloc``. Where the
reset is unavailable the peak is recorded as ``None``. Minor page faults per timed call (all
threads; ``getrusage``) show how much of a time is the kernel handing memory back.
"""

from __future__ import annotations

import gc
import resource
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


def measure_round_robin(
    fns: dict[str, Callable[[], Any]],
    *,
    repeats: int = 3,
    slow: frozenset[str] = frozenset(),
    warmups: dict[str, int] | None = None,
    pause_s: float = 0.2,
) -> dict[str, dict[str, Any]]:
    """Time several callables in turns (A, B, C, A, B, C, ...), for a machine shared with others.

    A burst of load from another process then lands on one repeat of several methods instead
    of every repeat of one. Each callable first runs once alone (its peak memory and result;
    ``warmups`` adds more untimed runs, e.g. for JIT compilation); ``slow`` ones run only that
    once, and it is their timing. ``pause_s`` lets busy-waiting BLAS threads of the previous
    call go idle before the next.
    """
    warmups = warmups or {}
    out: dict[str, dict[str, Any]] = {}
    for name, fn in fns.items():
        time.sleep(pause_s)
        t0 = time.perf_counter()
        result, peak = peak_bytes(fn)
        first = time.perf_counter() - t0
        for _ in range(warmups.get(name, 0)):
            fn()
        out[name] = {"result": result, "peak_bytes": peak, "times_s": [], "faults": []}
        if name in slow:
            out[name]["times_s"].append(first)
    for _ in range(repeats):
        for name, fn in fns.items():
            if name in slow:
                continue
            time.sleep(pause_s)
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            fn()
            out[name]["times_s"].append(time.perf_counter() - t0)
            out[name]["faults"].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults)
    for rec in out.values():
        rec["median_s"] = statistics.median(rec["times_s"])
        rec["min_s"] = min(rec["times_s"])
        faults = rec.pop("faults")
        rec["minor_faults_per_call"] = statistics.median(faults) if faults else None
    return out
