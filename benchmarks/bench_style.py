"""Exact pixel Hessians of the style-transfer objective: the hand-derived route and autograd's.

The objective is :func:`hsc_ref.style.loss.transfer_objective` (default extractor, weights
and convention) on a seeded content and style image of side ``s``, at a seeded point; the
number of unknowns is ``n = 3 s^2``. No peer framework is timed here (the extractor exists only
in hsc_ref); the autograd batched route is the reference and the ratio's denominator. It runs
once (no repeats) above :data:`SLOW_N`, where one call takes seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from timing import measure_round_robin

EXACT = "hsc_ref exact (style, by hand)"
AUTOGRAD = "hsc_ref.hessian (autograd, batched)"
SLOW_N = 1000


def _problem(side: int, seed: int = 0) -> tuple[Any, np.ndarray]:
    from hsc_ref.style.loss import transfer_objective

    rng = np.random.default_rng(seed)
    content, style = rng.uniform(size=(side, side, 3)), rng.uniform(size=(side, side, 3))
    return transfer_objective(content, style), rng.uniform(size=3 * side * side)


def run(sides: list[int], *, repeats: int, log: Any) -> list[dict[str, Any]]:
    """Time both routes at every side; one record per (route, n)."""
    from hsc_ref.derivatives import hessian
    from hsc_ref.style._exact import transfer_value_grad_hessian

    records = []
    for side in sides:
        objective, x = _problem(side)
        fns = {
            EXACT: lambda o=objective, x=x: transfer_value_grad_hessian(o, x).hessian,
            AUTOGRAD: lambda o=objective, x=x: hessian(o, x, batched=True),
        }
        slow = frozenset({AUTOGRAD}) if x.shape[0] > SLOW_N else frozenset()
        timed = measure_round_robin(fns, repeats=repeats, slow=slow)
        reference = timed[AUTOGRAD]["result"]
        for name in fns:
            m = timed[name]
            H = m.pop("result")
            m["rel_diff_vs_autograd"] = float(np.abs(H - reference).max() / np.abs(reference).max())
            records.append({"n": x.shape[0], "side": side, "method": name, **m})
            log(
                f"  n={x.shape[0]:5d} {name:36s} {m['median_s']:9.4f} s  "
                f"diff {m['rel_diff_vs_autograd']:.1e}"
            )
    return records
