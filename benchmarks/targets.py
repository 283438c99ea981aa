"""Issue 6's speed targets against recorded benchmark results, as a Markdown table.

Usage::

    python benchmarks/targets.py --hessian A.json [B.json ...] --steps C.json

Each Hessian result file gives one block of rows (its allocator setting is named in the
rows); the step file gives the four step targets. Every figure is a median from the files,
so the table in ``docs/benchmarks.md`` can be regenerated, not retyped.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HSC = "hsc_ref.hessian (batched)"
TORCH = "torch.func.hessian"
JAX = "jax.jit(jax.hessian)"
JAX_STEP = "jax eigh step (jit)"


def _medians(records: list[dict[str, Any]]) -> dict[tuple[int, str], float]:
    return {(r["n"], r["method"]): r["median_s"] for r in records if "median_s" in r}


def _verdict(ratio: float, limit: float | None) -> str:
    return "—" if limit is None else ("yes" if ratio <= limit else "no")


def hessian_rows(result: dict[str, Any]) -> list[str]:
    """Rows for the Hessian targets of one run (1 thread and every ``workers=`` row)."""
    times = _medians(result["hessian"])
    setting = f"allocator {result.get('allocator', 'default')}"
    if result.get("name"):
        setting += f", run {result['name']}"
    rows = []
    for n in sorted({n for n, _ in times}):
        ours = [
            m for (size, m) in times if size == n and m.startswith("hsc_ref") and "anp" not in m
        ]
        for method in sorted(ours, key=lambda m: (m != HSC, m)):
            label = "1 thread" if method == HSC else method.split(", ", 1)[-1]
            t = times[(n, method)]
            for peer, name, limit in ((TORCH, "torch.func", 1.0), (JAX, "JAX", 1.5)):
                if (n, peer) not in times:
                    continue
                target = limit if (peer == TORCH or n > 3000) else None
                goal = {1.0: "no slower than", 1.5: "within 1.5x of"}[limit]
                what = f"{goal} {name}" if target else f"vs {name} (no target at this n)"
                ratio = t / times[(n, peer)]
                rows.append(
                    f"| n = {n}, {what}; hsc_ref {label}, {setting} | "
                    f"{t:.3g} s vs {times[(n, peer)]:.3g} s: ratio {ratio:.2f} | "
                    f"{_verdict(ratio, target)} |"
                )
    return rows


def step_rows(result: dict[str, Any]) -> list[str]:
    """Rows for the four step targets."""
    times = _medians(result["steps"])
    rows = []
    for n, factor in ((1000, 10), (4000, 50)):
        auto, literal = times[(n, "hsc_ref auto")], times[(n, "literal: scipy pinvh twice")]
        speedup = literal / auto
        rows.append(
            f"| step >= {factor}x faster than literal SciPy, n = {n} | auto {auto:.3g} s, "
            f"literal {literal:.3g} s: {speedup:.0f}x | {'yes' if speedup >= factor else 'no'} |"
        )
    peers = ("numpy eigh (syevd) step", "scipy eigh evd step", "torch eigh step", JAX_STEP)
    best_name = min((m for m in peers if (4000, m) in times), key=lambda m: times[(4000, m)])
    auto, best = times[(4000, "hsc_ref auto")], times[(4000, best_name)]
    rows.append(
        f"| step >= 5x faster than the best peer's eigh step, n = 4000 | auto {auto:.3g} s, "
        f"best peer ({best_name}) {best:.3g} s: {best / auto:.1f}x | "
        f"{'yes' if best / auto >= 5 else 'no'} |"
    )
    floor = next(r for r in result["steps"] if r.get("n") == 4000 and "flop_floor_s" in r)
    ratio = floor["median_s"] / floor["flop_floor_s"]
    rows.append(
        f"| Cholesky step within 1.5x of the flop floor, n = 4000 | {floor['median_s']:.3g} s "
        f"vs floor {floor['flop_floor_s']:.3g} s ((4/3) n^3 at "
        f"{result['dgemm_gflops']:.1f} GFLOP/s): {ratio:.2f}x | {'yes' if ratio <= 1.5 else 'no'} |"
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hessian", type=Path, nargs="*", default=[], help="Hessian result JSONs")
    p.add_argument("--steps", type=Path, help="step result JSON")
    args = p.parse_args(argv)
    lines = ["| target | measured here | reached? |", "|---|---|---|"]
    for path in args.hessian:
        lines += hessian_rows(json.loads(path.read_text(encoding="utf-8")))
    if args.steps:
        lines += step_rows(json.loads(args.steps.read_text(encoding="utf-8")))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
