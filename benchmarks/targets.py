"""The speed targets, judged on one benchmark result: each reached or missed, with its ratio.

Usage::

    python benchmarks/targets.py runs/benchmarks/NAME.json          # one run's table
    python benchmarks/targets.py runs/benchmarks/A.json runs/benchmarks/B.json   # and a rerun

``run.py`` prints and writes the one-run table at the end of every run. A target is a ratio of
two medians measured in the same process (methods timed in turns) and a limit: reached when
the ratio is at most the limit, missed otherwise (the row says by how much). A target whose
methods were not measured in the run (a section or a peer skipped) says so. Given several
runs, the table shows each run's ratio and calls a target reached only if every run reached
it (:func:`rerun_table`); ``A.json+B.json`` counts as one run made of two result files with
different sections (e.g. ``--sections gan`` run after the rest). The step targets
(:func:`step_rows`) apply to results with a ``steps`` section.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NamedTuple

EXACT = "hsc_ref exact (gan.game, route='exact')"
USER = "hsc_ref.hessian, anp.tanh"
USER_2 = "hsc_ref.hessian, anp.tanh, workers=2"
TORCH = "torch.func.hessian"
JAX = "jax.jit(jax.hessian)"
GAN_ADAM = "trainer, --method adam"
GAN_HSC = "trainer, --method hsc"
GAN_BLOCKS = "exact route + hsc_step (building blocks)"
GAN_GAME = {
    m: f"trainer, --method {m}" for m in ("conopt", "sga", "cgd", "extragradient", "optimistic")
}
"""The game-aware methods' rows (``hsc_ref.gan.methods.GAME_METHODS``), shown against Adam's."""
JAX_STEP = "jax eigh step (jit)"


class Target(NamedTuple):
    """``time(method) / time(peer) <= limit`` in ``section`` at size ``n`` (None: no size)."""

    label: str
    section: str
    n: int | None
    method: str
    peer: str
    limit: float | None  # None: shown for information, no target


_EXACT_VS_JAX = "exact Hessian, package MLP game, vs JAX"
TARGETS = (
    Target(f"{_EXACT_VS_JAX}, n = 249", "hessian", 249, EXACT, JAX, 0.5),
    Target(f"{_EXACT_VS_JAX}, n = 1017", "hessian", 1017, EXACT, JAX, 0.5),
    Target(f"{_EXACT_VS_JAX}, n = 3962", "hessian", 3962, EXACT, JAX, 0.5),
    Target(
        "generic route, anp.tanh loss, workers=2, vs JAX, n = 3962",
        "hessian",
        3962,
        USER_2,
        JAX,
        1.5,
    ),
    *(
        Target(
            f"generic route, anp.tanh loss, vs torch.func, n = {n}", "hessian", n, USER, TORCH, 1.0
        )
        for n in (249, 1017, 3962)
    ),
    Target(
        "hsc-ref gan: --method hsc vs --method adam, per step (ring)",
        "gan",
        None,
        GAN_HSC,
        GAN_ADAM,
        3.0,
    ),
    Target(
        "HSC step by the exact route's calls vs the adam trainer step (not the trainer)",
        "gan",
        None,
        GAN_BLOCKS,
        GAN_ADAM,
        None,
    ),
)
"""The speed targets (the last row is information: the trainer is not wired to the route)."""


def _median(result: dict[str, Any], section: str, n: int | None, method: str) -> float | None:
    for r in result.get(section, []):
        if r.get("method") == method and (n is None or r.get("n") == n) and "median_s" in r:
            return float(r["median_s"])
    return None


def verdict(ratio: float, limit: float | None) -> str:
    """``yes``, ``no: Rx over the limit``, or ``—`` for a row without a target."""
    if limit is None:
        return "—"
    return "yes" if ratio <= limit else f"no: {ratio / limit:.2f}x over the limit"


def target_rows(result: dict[str, Any], targets: tuple[Target, ...] = TARGETS) -> list[str]:
    """One Markdown row per target: times, ratio, limit and the verdict."""
    rows = []
    for t in targets:
        ours, peer = (_median(result, t.section, t.n, m) for m in (t.method, t.peer))
        limit = "—" if t.limit is None else f"<= {t.limit:g}"
        if ours is None or peer is None:
            rows.append(f"| {t.label} | not measured in this run | — | {limit} | not measured |")
            continue
        ratio = ours / peer
        rows.append(
            f"| {t.label} | {_seconds(ours)} vs {_seconds(peer)} | {ratio:.3g} | {limit} | "
            f"{verdict(ratio, t.limit)} |"
        )
    return rows


def _ratio(result: dict[str, Any], t: Target) -> float | None:
    ours, peer = (_median(result, t.section, t.n, m) for m in (t.method, t.peer))
    return None if ours is None or peer is None else ours / peer


def rerun_verdict(ratios: list[float | None], limit: float | None) -> str:
    """Reached only if every run measured it and reached it; else how far the worst run was."""
    if limit is None:
        return "—"
    if any(r is None for r in ratios):
        return "not measured in every run"
    worst = max(ratios)
    if worst <= limit:
        return f"yes, in all {len(ratios)} runs" if len(ratios) > 1 else "yes"
    held = sum(r <= limit for r in ratios)
    return f"no: {worst / limit:.2f}x over the limit (held in {held} of {len(ratios)})"


def rerun_table(results: list[dict[str, Any]], targets: tuple[Target, ...] = TARGETS) -> str:
    """One row per target: each run's ratio, the limit, and reached only if every run held it."""
    names = [r.get("name", f"run {i + 1}") for i, r in enumerate(results)]
    lines = [
        "| target | " + " | ".join(f"ratio, {n}" for n in names) + " | limit | reached? |",
        "|---|" + "---|" * len(names) + "---|---|",
    ]
    for t in targets:
        ratios = [_ratio(result, t) for result in results]
        shown = ["—" if r is None else f"{r:.3g}" for r in ratios]
        limit = "—" if t.limit is None else f"<= {t.limit:g}"
        lines.append(
            f"| {t.label} | {' | '.join(shown)} | {limit} | {rerun_verdict(ratios, t.limit)} |"
        )
    return "\n".join(lines)


def _seconds(t: float) -> str:
    return f"{t * 1e3:.3g} ms" if t < 1 else f"{t:.3g} s"


def table(result: dict[str, Any]) -> str:
    """The targets table of one result (the speed targets, then the step targets if measured)."""
    lines = ["| target | measured (median) | ratio | limit | reached? |", "|---|---|---|---|---|"]
    lines += target_rows(result)
    if result.get("steps"):
        lines += ["", "| step target | measured here | reached? |", "|---|---|---|"]
        lines += step_rows(result)
    return "\n".join(lines)


def step_rows(result: dict[str, Any]) -> list[str]:
    """Rows for the four step targets (``steps`` section at n = 1000 and 4000)."""
    times = {(r["n"], r["method"]): r["median_s"] for r in result["steps"] if "median_s" in r}
    rows = _cost_rows(times) + _peer_row(times, 2000)
    if not {(1000, "hsc_ref auto"), (4000, "hsc_ref auto")} <= set(times):
        return [*rows, "| step targets | not measured at n = 1000 and 4000 in this run | — |"]
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


BARE = "numpy eigh (syevd) step"
COST_CASES = (
    ("hsc_step", "hsc_ref spectral"),
    ("rule step", "hsc_ref rule step (newton_type hsc)"),
)


def _cost_rows(times: dict[tuple[int, str], float], n: int = 10) -> list[str]:
    """hsc_step and a rule's step within 1.5x of the bare eigh formula (same run), n = 10."""
    rows = []
    for what, method in COST_CASES:
        if {(n, method), (n, BARE)} <= set(times):
            ratio = times[(n, method)] / times[(n, BARE)]
            rows.append(
                f"| {what} within 1.5x of the bare eigh formula, n = {n} | "
                f"{times[(n, method)] * 1e6:.1f} us vs {times[(n, BARE)] * 1e6:.1f} us: "
                f"{ratio:.2f}x | {'yes' if ratio <= 1.5 else 'no'} |"
            )
    return rows


def _peer_row(times: dict[tuple[int, str], float], n: int) -> list[str]:
    """Best peer eigh step / hsc_step auto at order ``n``, target >= 5x."""
    peers = [m for m in ("scipy eigh evd step", "torch eigh step", JAX_STEP) if (n, m) in times]
    if (n, "hsc_ref auto") not in times or not peers:
        return []
    best_name = min(peers, key=lambda m: times[(n, m)])
    auto, best = times[(n, "hsc_ref auto")], times[(n, best_name)]
    return [
        f"| best peer eigh step / hsc_step auto, n = {n}, >= 5x | auto {auto:.3g} s, best "
        f"peer ({best_name}) {best:.3g} s: {best / auto:.1f}x | "
        f"{'yes' if best / auto >= 5 else 'no'} |"
    ]


def merged(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One run from result files of different sections (a section in two files is refused)."""
    if len(parts) == 1:
        return parts[0]
    out: dict[str, Any] = {"name": "+".join(str(p.get("name", "?")) for p in parts)}
    for part in parts:
        for section in SECTIONS:
            if section in part:
                if section in out:
                    raise ValueError(f"section {section!r} is in more than one merged file")
                out[section] = part[section]
                if section == "steps":
                    out["dgemm_gflops"] = part["dgemm_gflops"]
    return out


SECTIONS = ("hessian", "style", "gan", "steps")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", nargs="+", help="result JSONs written by run.py (A.json+B.json: one)")
    args = p.parse_args(argv)
    results = [
        merged([json.loads(Path(f).read_text(encoding="utf-8")) for f in arg.split("+")])
        for arg in args.results
    ]
    print(table(results[0]) if len(results) == 1 else rerun_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
