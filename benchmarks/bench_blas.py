"""Two OpenBLAS copies in one process: the cost of alternating between them.

NumPy and SciPy wheels each bundle their own OpenBLAS, each with its own thread pool whose
idle threads busy-wait for a while before sleeping. A loop that alternates NumPy ``@`` with
``scipy.linalg`` calls makes the two pools fight for the cores. This measures, at order
``n``, a NumPy-only loop, a SciPy-only loop and the alternating loop; the extra cost per call
is ``(t_alternating - t_numpy - t_scipy) / (2 * calls)``. Then the same alternating loop
with each pool limited to one thread by ``threadpoolctl``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np


def _loop(calls: list[Any], rounds: int) -> float:
    t0 = time.perf_counter()
    for _ in range(rounds):
        for call in calls:
            call()
    return time.perf_counter() - t0


def run(n: int, rounds: int, log: Any) -> dict[str, Any]:
    """Time the three loops (best of three) and return the per-call extra cost."""
    from scipy.linalg.blas import dgemm

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    af, bf = np.asfortranarray(a), np.asfortranarray(b)

    def numpy_call() -> None:
        a @ b

    def scipy_call() -> None:
        dgemm(1.0, af, bf)

    def best(calls: list[Any]) -> float:
        _loop(calls, 1)
        return min(_loop(calls, rounds) for _ in range(3))

    t_np, t_sp = best([numpy_call]), best([scipy_call])
    t_alt = best([numpy_call, scipy_call])
    out = {
        "n": n,
        "rounds": rounds,
        "numpy_per_call_s": t_np / rounds,
        "scipy_per_call_s": t_sp / rounds,
        "alternating_per_pair_s": t_alt / rounds,
        "extra_per_call_s": (t_alt - t_np - t_sp) / (2 * rounds),
    }
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        out["limited_note"] = "threadpoolctl not installed"
    else:
        with threadpool_limits(limits=1, user_api="blas"):
            t_np1, t_sp1 = best([numpy_call]), best([scipy_call])
            t_alt1 = best([numpy_call, scipy_call])
        out["one_thread_numpy_per_call_s"] = t_np1 / rounds
        out["one_thread_scipy_per_call_s"] = t_sp1 / rounds
        out["one_thread_alternating_per_pair_s"] = t_alt1 / rounds
        out["one_thread_extra_per_call_s"] = (t_alt1 - t_np1 - t_sp1) / (2 * rounds)
    log(
        f"  n={n}: numpy {out['numpy_per_call_s'] * 1e3:.1f} ms, scipy "
        f"{out['scipy_per_call_s'] * 1e3:.1f} ms, alternating pair "
        f"{out['alternating_per_pair_s'] * 1e3:.1f} ms -> extra "
        f"{out['extra_per_call_s'] * 1e3:+.1f} ms per call"
    )
    return out
