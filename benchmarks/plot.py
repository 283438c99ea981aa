"""The figure of ``docs/benchmarks.md``: exact-Hessian time against n, per method, from one result.

Usage::

    python benchmarks/plot.py runs/benchmarks/NAME.json --out docs/images/benchmarks/hessian.png

Reads the ``hessian`` section of a result written by ``run.py`` (medians, with the min to
median range as a bar) and draws one log-log panel. Needs matplotlib (the ``plot`` extra);
without it, it says so and exits with status 3. An existing figure is kept unless ``--force``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

STYLE = {  # method: (label, marker)
    "hsc_ref exact (gan.game, route='exact')": ("hsc_ref, hand-derived (exact route)", "o"),
    "hsc_ref.hessian, package tanh": ("hsc_ref.hessian, package tanh", "s"),
    "hsc_ref.hessian, anp.tanh, workers=2": ("hsc_ref.hessian, anp.tanh, 2 threads", "^"),
    "torch.func.hessian": ("torch.func.hessian", "v"),
    "jax.jit(jax.hessian)": ("jax.jit(jax.hessian)", "D"),
}


def series(result: dict[str, Any]) -> dict[str, list[tuple[int, float, float]]]:
    """``method -> [(n, median_s, min_s), ...]`` for the methods drawn, sorted by n."""
    out: dict[str, list[tuple[int, float, float]]] = {}
    for r in result.get("hessian", []):
        if r.get("method") in STYLE and "median_s" in r:
            out.setdefault(r["method"], []).append((r["n"], r["median_s"], r["min_s"]))
    return {m: sorted(points) for m, points in out.items()}


def draw(result: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for method, points in series(result).items():
        label, marker = STYLE[method]
        n, median, low = (list(col) for col in zip(*points, strict=True))
        below = [m - lo for m, lo in zip(median, low, strict=True)]
        ax.errorbar(n, median, yerr=[below, [0.0] * len(n)], marker=marker, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    sizes = sorted({n for points in series(result).values() for n, _, _ in points})
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.minorticks_off()
    ax.set_xlabel("n (generator parameters)")
    ax.set_ylabel("seconds per dense Hessian (median; bar: min)")
    ax.set_title(f"Exact Hessian of the generator loss, run {result.get('name', '?')}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("result", type=Path, help="a result JSON written by run.py")
    p.add_argument("--out", type=Path, required=True, help="PNG to write")
    p.add_argument("--force", action="store_true", help="replace an existing figure")
    args = p.parse_args(argv)
    if args.out.exists() and not args.force:
        print(f"error: {args.out} exists; pass --force to replace it", file=sys.stderr)
        return 2
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("plot skipped: matplotlib is not installed (pip install 'hsc-ref[plot]')")
        return 3
    draw(json.loads(args.result.read_text(encoding="utf-8")), args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
