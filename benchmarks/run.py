"""Benchmarks of hsc_ref's fast routes against their peers, with machine facts.

Usage::

    python benchmarks/run.py                 # full run (about 15 minutes on 2 cores)
    python benchmarks/run.py --quick         # seconds: small sizes, for a smoke test
    python benchmarks/run.py --no-peers      # hsc_ref, autograd and SciPy only

Sections: exact Hessians of the generator loss (hsc_ref's batched route, plain
``autograd.hessian``, ``torch.func.hessian``, ``jax.jit(jax.hessian)``; peers are skipped with
a note when not importable), the HSC step from a given ``H`` by every route, and the cost of
alternating between NumPy's and SciPy's OpenBLAS. Methods are timed in turns (round robin,
so that load from other processes spreads over them); each time is the median (and min) of
the repeats; peak memory is the rise of the resident-set high-water mark during one call.
Results go to ``<out-dir>/<name>.json`` and ``<out-dir>/<name>.md``; ``docs/benchmarks.md``
quotes them.

The thread count (default 2) is set through ``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS``
before NumPy is imported, unless they are already set.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

FULL_WIDTHS = [13, 29, 60]  # n = 249, 1017, 3962
FULL_STEP_SIZES = [500, 1000, 2000, 4000]
QUICK_WIDTHS = [3, 5]  # n = 29, 57
QUICK_STEP_SIZES = [40, 80]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    p.add_argument("--widths", type=int, nargs="*", help="hidden widths h (n = h^2 + 6h + 2)")
    p.add_argument("--step-sizes", type=int, nargs="*", help="orders n of the step benchmark")
    p.add_argument("--threads", type=int, default=2, help="BLAS/OpenMP threads (default 2)")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per case")
    p.add_argument("--literal-max", type=int, default=4000, help="largest n for the literal route")
    p.add_argument("--no-peers", action="store_true", help="skip torch and jax")
    p.add_argument("--sections", nargs="*", default=["hessian", "steps", "blas"])
    p.add_argument(
        "--allocator",
        choices=["default", "keep"],
        default="default",
        help="'keep': call hsc_ref.derivatives.keep_freed_memory() first (glibc; process-wide, "
        "so every method and peer runs with it)",
    )
    p.add_argument("--out-dir", type=Path, default=HERE / "results")
    p.add_argument("--name", default=None, help="result file stem (default: a timestamp)")
    p.add_argument("--force", action="store_true", help="overwrite existing result files")
    return p


def _set_threads(threads: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))


def _ratio_rows(records: list[dict[str, Any]], base: str, key: str = "n") -> list[str]:
    """Markdown rows: each method's median time and its ratio to ``base`` at the same size."""
    by_size: dict[int, dict[str, dict[str, Any]]] = {}
    for r in records:
        by_size.setdefault(r[key], {})[r["method"]] = r
    rows = []
    for size, methods in sorted(by_size.items()):
        ref = methods.get(base, {}).get("median_s")
        for name, r in methods.items():
            if "median_s" not in r:
                rows.append(f"| {size} | {name} | — | — | — | — | — | {r.get('note', '')} |")
                continue
            ratio = r["median_s"] / ref if ref else float("nan")
            peak = r.get("peak_bytes")
            peak_s = f"{peak / 2**20:.0f}" if peak is not None else "n/a"
            faults = r.get("minor_faults_per_call")
            faults_s = f"{faults:.0f}" if faults is not None else "n/a"
            err = r.get("rel_diff_vs_hsc_ref", r.get("rel_err_vs_spectral"))
            rows.append(
                f"| {size} | {name} | {r['median_s']:.4g} | {r['min_s']:.4g} | {ratio:.3g} | "
                f"{peak_s} | {faults_s} | {err:.1e} |"
            )
    return rows


def _markdown(result: dict[str, Any]) -> str:
    facts = result["machine"]
    lines = [
        f"# Benchmark run {result['name']}",
        "",
        f"- CPU: {facts['cpu_model']}, {facts['logical_cpus']} logical CPUs; "
        f"load average (1, 5, 15 min) before / after: {result['load_before']} / "
        f"{result['load_after']}",
        f"- threads: {result['threads']}; allocator: {result.get('allocator', 'default')} "
        f"({facts.get('libc', '?')}; transparent huge pages: "
        f"{facts.get('transparent_hugepages')}); env: {facts['env']}",
        f"- versions: {facts['versions']}",
        "- BLAS pools: "
        + "; ".join(
            f"{p.get('owner')}: {p.get('internal_api')} {p.get('version')} "
            f"({p.get('architecture')}, {p.get('num_threads')} threads)"
            for p in facts["blas_pools"]
        ),
        "",
    ]
    if "hessian" in result:
        lines += [
            "## Exact Hessian of the generator loss",
            "",
            "| n | method | median s | min s | median / hsc_ref's | peak MiB | page faults "
            "| max rel. diff |",
            "|---|---|---|---|---|---|---|---|",
            *_ratio_rows(result["hessian"], "hsc_ref.hessian (batched)"),
            "",
        ]
    if "steps" in result:
        lines += [
            f"## HSC step from a given H (dgemm {result['dgemm_gflops']:.1f} GFLOP/s)",
            "",
            "| n | route | median s | min s | median / cholesky's | peak MiB | page faults "
            "| max rel. err |",
            "|---|---|---|---|---|---|---|---|",
            *_ratio_rows(result["steps"], "hsc_ref cholesky"),
            "",
        ]
        floors = [r for r in result["steps"] if "flop_floor_s" in r]
        if floors:
            lines += ["| n | cholesky s | flop floor s | ratio |", "|---|---|---|---|"]
            lines += [
                f"| {r['n']} | {r['median_s']:.4g} | {r['flop_floor_s']:.4g} | "
                f"{r['median_s'] / r['flop_floor_s']:.2f} |"
                for r in floors
            ]
            lines.append("")
    if "blas" in result:
        b = result["blas"]
        lines += [
            f"## Two OpenBLAS pools (n = {b['n']})",
            "",
            f"numpy `@` {b['numpy_per_call_s'] * 1e3:.1f} ms, scipy dgemm "
            f"{b['scipy_per_call_s'] * 1e3:.1f} ms, alternating pair "
            f"{b['alternating_per_pair_s'] * 1e3:.1f} ms: extra "
            f"{b['extra_per_call_s'] * 1e3:+.1f} ms per call.",
        ]
        if "one_thread_extra_per_call_s" in b:
            lines.append(
                f"With both pools limited to 1 thread: extra "
                f"{b['one_thread_extra_per_call_s'] * 1e3:+.1f} ms per call "
                f"(numpy {b['one_thread_numpy_per_call_s'] * 1e3:.1f} ms, scipy "
                f"{b['one_thread_scipy_per_call_s'] * 1e3:.1f} ms)."
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _set_threads(args.threads)
    sys.path.insert(0, str(HERE))
    import bench_blas
    import bench_hessian
    import bench_steps
    import numpy as np  # noqa: F401  (import before facts() so the BLAS pools are listed)
    import scipy.linalg  # noqa: F401
    from machine import facts

    from hsc_ref import _io

    widths = args.widths or (QUICK_WIDTHS if args.quick else FULL_WIDTHS)
    step_sizes = args.step_sizes or (QUICK_STEP_SIZES if args.quick else FULL_STEP_SIZES)
    repeats = 2 if args.quick else args.repeats
    name = args.name or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    paths = [args.out_dir / f"{name}.json", args.out_dir / f"{name}.md"]
    for path in paths:
        if path.exists() and not args.force:
            print(f"error: {path} exists; pass --force or another --name", file=sys.stderr)
            return 2

    def log(msg: str) -> None:
        print(msg, flush=True)

    if args.allocator == "keep":
        from hsc_ref._engine import keep_freed_memory

        keep_freed_memory()
    result: dict[str, Any] = {
        "name": name,
        "threads": args.threads,
        "quick": args.quick,
        "allocator": args.allocator,
    }
    result["load_before"] = list(os.getloadavg())
    if "hessian" in args.sections:
        log("Exact Hessians (generator loss):")
        result["hessian"] = bench_hessian.run(
            widths,
            threads=args.threads,
            repeats=repeats,
            peers=not args.no_peers,
            log=log,
        )
    if "steps" in args.sections:
        log("HSC step from a given H:")
        result["steps"], result["dgemm_gflops"] = bench_steps.run(
            step_sizes,
            threads=args.threads,
            repeats=repeats,
            peers=not args.no_peers,
            literal_max=args.literal_max,
            log=log,
        )
    if "blas" in args.sections:
        log("Two OpenBLAS pools:")
        result["blas"] = bench_blas.run(200 if args.quick else 1000, 3 if args.quick else 10, log)
    result["machine"] = facts()  # after every import, so every BLAS pool is listed
    result["load_after"] = result["machine"]["load_average_1_5_15"]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    _io.atomic_write_json(paths[0], result, overwrite=args.force)
    text = _markdown(result)
    _io.atomic_write_text(paths[1], text + "\n", overwrite=args.force)
    print()
    print(text)
    print(f"wrote {paths[0]} and {paths[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
