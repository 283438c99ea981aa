"""Benchmarks of hsc_ref's fast routes against their peers, judged against the speed targets.

Usage::

    python benchmarks/run.py                 # the targets' sections (about 5 minutes on 2 cores)
    python benchmarks/run.py --quick         # seconds: small sizes, a smoke test
    python benchmarks/run.py --sections hessian steps blas   # any of the sections below

Sections: ``hessian`` (exact Hessians of the generator loss: hsc_ref's hand-derived and
generic routes, ``torch.func.hessian``, ``jax.jit(jax.hessian)``; peers are skipped with a note
when not importable), ``style`` (the style objective's pixel Hessian, hand-derived against
autograd), ``gan`` (per-step wall time of the GAN trainer, HSC against Adam), ``steps`` (the
HSC step from a given ``H`` by every route) and ``blas`` (the cost of alternating between
NumPy's and SciPy's OpenBLAS). Methods are timed in turns (round robin, so that load from
other processes spreads over them); each time is the median (and min) of the repeats.

Results go to ``<out>/<name>.json`` (every record, the machine facts) and ``<out>/<name>.md``
(the targets table first, then every section's table); the default ``--out`` is
``runs/benchmarks/`` of the repository, which git ignores. Existing files are kept unless
``--force``. The targets table (``targets.py``) says for each target whether it was reached,
with the measured ratio.

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
DEFAULT_OUT = HERE.parent / "runs" / "benchmarks"

SECTIONS = ("hessian", "style", "gan", "steps", "blas")
DEFAULT_SECTIONS = ("hessian", "style", "gan")
FULL = {"widths": [13, 29, 60], "sides": [16, 32], "gan_steps": 200, "step_sizes": [1000, 4000]}
QUICK = {"widths": [3, 5], "sides": [8], "gan_steps": 3, "step_sizes": [40, 80]}
"""Sizes: widths h give n = h^2 + 6h + 2 (249, 1017, 3962); sides s give n = 3 s^2."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    p.add_argument("--sections", nargs="*", choices=SECTIONS, default=list(DEFAULT_SECTIONS))
    p.add_argument("--widths", type=int, nargs="*", help="hidden widths h (n = h^2 + 6h + 2)")
    p.add_argument("--sides", type=int, nargs="*", help="image sides of the style section")
    p.add_argument("--gan-steps", type=int, help="trainer steps per run of the gan section")
    p.add_argument("--step-sizes", type=int, nargs="*", help="orders n of the steps section")
    p.add_argument("--threads", type=int, default=2, help="BLAS/OpenMP threads (default 2)")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per case")
    p.add_argument("--literal-max", type=int, default=4000, help="largest n for the literal route")
    p.add_argument("--no-peers", action="store_true", help="skip torch and jax")
    p.add_argument(
        "--allocator",
        choices=["default", "keep"],
        default="default",
        help="'keep': call hsc_ref.derivatives.keep_freed_memory() first (glibc; process-wide, "
        "so every method and peer runs with it)",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"folder (default {DEFAULT_OUT})")
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
                rows.append(f"| {size} | {name} | — | — | — | — | {r.get('note', '')} |")
                continue
            ratio = r["median_s"] / ref if ref else float("nan")
            peak = r.get("peak_bytes")
            peak_s = f"{peak / 2**20:.0f}" if peak is not None else "n/a"
            err = r.get("rel_diff_vs_autograd", r.get("rel_err_vs_spectral"))
            rows.append(
                f"| {size} | {name} | {r['median_s']:.4g} | {r['min_s']:.4g} | {ratio:.3g} | "
                f"{peak_s} | {err:.1e} |"
            )
    return rows


def _facts_lines(result: dict[str, Any]) -> list[str]:
    facts = result["machine"]
    pools = "; ".join(
        f"{p.get('owner')}: {p.get('internal_api')} {p.get('version')} "
        f"({p.get('architecture')}, {p.get('num_threads')} threads)"
        for p in facts["blas_pools"]
    )
    return [
        f"- CPU: {facts['cpu_model']}, {facts['logical_cpus']} logical CPUs; load average "
        f"(1, 5, 15 min) before / after: {result['load_before']} / {result['load_after']}",
        f"- threads: {result['threads']}; allocator: {result.get('allocator', 'default')}; "
        f"env: {facts['env']}",
        f"- versions: {facts['versions']}",
        f"- BLAS pools: {pools}",
    ]


_HEADER = (
    "| n | method | median s | min s | ratio | peak MiB | max rel. diff |\n"
    "|---|---|---|---|---|---|---|"
)


def _section_lines(result: dict[str, Any]) -> list[str]:
    lines = []
    if "hessian" in result:
        lines += [
            "## Exact Hessian of the generator loss (ratio to the generic route, package tanh)"
        ]
        lines += ["", _HEADER, *_ratio_rows(result["hessian"], "hsc_ref.hessian, package tanh"), ""]
    if "style" in result:
        lines += ["## Exact pixel Hessian of the style objective (ratio to autograd's route)"]
        lines += ["", _HEADER, *_ratio_rows(result["style"], "hsc_ref.hessian (autograd, batched)")]
        lines.append("")
    if "gan" in result:
        lines += ["## GAN trainer, per-step wall time (ring, BLAS 1 thread)", ""]
        lines.append("| method | median ms | vs adam |")
        lines.append("|---|---|---|")
        for r in result["gan"]:
            shown = f"{r['median_s'] * 1e3:.3g}" if "median_s" in r else r["note"]
            ratio = f"{r['vs_adam']:.3g}x" if "vs_adam" in r else "—"
            lines.append(f"| {r['method']} | {shown} | {ratio} |")
        lines.append("")
    if "steps" in result:
        lines += [f"## HSC step from a given H (dgemm {result['dgemm_gflops']:.1f} GFLOP/s)", ""]
        lines += [_HEADER.replace("max rel. diff", "max rel. err")]
        lines += [*_ratio_rows(result["steps"], "hsc_ref cholesky"), ""]
    if "blas" in result:
        b = result["blas"]
        lines += [
            f"## Two OpenBLAS pools (n = {b['n']})",
            "",
            f"numpy `@` {b['numpy_per_call_s'] * 1e3:.1f} ms, scipy dgemm "
            f"{b['scipy_per_call_s'] * 1e3:.1f} ms, alternating pair "
            f"{b['alternating_per_pair_s'] * 1e3:.1f} ms: extra "
            f"{b['extra_per_call_s'] * 1e3:+.1f} ms per call.",
            "",
        ]
    return lines


def markdown(result: dict[str, Any], command: str) -> str:
    """The run's page: command, targets table, machine facts, then every section's table."""
    import targets

    return "\n".join(
        [
            f"# Benchmark run {result['name']}",
            "",
            f"Command: `{command}`",
            "",
            "## Targets",
            "",
            targets.table(result),
            "",
            "## Machine",
            "",
            *_facts_lines(result),
            "",
            *_section_lines(result),
        ]
    )


def _run_sections(args: argparse.Namespace, sizes: dict[str, Any], log: Any) -> dict[str, Any]:
    import bench_blas
    import bench_gan
    import bench_hessian
    import bench_steps
    import bench_style

    repeats = 2 if args.quick else args.repeats
    peers = not args.no_peers
    out: dict[str, Any] = {}
    if "hessian" in args.sections:
        log("Exact Hessians (generator loss):")
        out["hessian"] = bench_hessian.run(
            sizes["widths"], threads=args.threads, repeats=repeats, peers=peers, log=log
        )
    if "style" in args.sections:
        log("Exact pixel Hessians (style objective):")
        out["style"] = bench_style.run(sizes["sides"], repeats=repeats, log=log)
    if "gan" in args.sections:
        log("GAN trainer, per-step wall time:")
        out["gan"] = bench_gan.run(steps=sizes["gan_steps"], repeats=min(repeats, 3), log=log)
    if "steps" in args.sections:
        log("HSC step from a given H:")
        out["steps"], out["dgemm_gflops"] = bench_steps.run(
            sizes["step_sizes"],
            threads=args.threads,
            repeats=repeats,
            peers=peers,
            literal_max=args.literal_max,
            log=log,
        )
    if "blas" in args.sections:
        log("Two OpenBLAS pools:")
        out["blas"] = bench_blas.run(200 if args.quick else 1000, 3 if args.quick else 10, log)
    return out


def _sizes(args: argparse.Namespace) -> dict[str, Any]:
    base = QUICK if args.quick else FULL
    given = {
        "widths": args.widths,
        "sides": args.sides,
        "gan_steps": args.gan_steps,
        "step_sizes": args.step_sizes,
    }
    return {key: given[key] if given[key] else base[key] for key in base}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    _set_threads(args.threads)
    sys.path.insert(0, str(HERE))
    import numpy as np  # noqa: F401  (import before facts() so the BLAS pools are listed)
    import scipy.linalg  # noqa: F401
    from machine import facts

    from hsc_ref import _io

    name = args.name or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    paths = [args.out / f"{name}.json", args.out / f"{name}.md"]
    for path in paths:
        if path.exists() and not args.force:
            print(f"error: {path} exists; pass --force or another --name", file=sys.stderr)
            return 2
    if args.allocator == "keep":
        from hsc_ref.derivatives import keep_freed_memory

        keep_freed_memory()
    result: dict[str, Any] = {
        "name": name,
        "command": " ".join(["python benchmarks/run.py", *argv]),
        "threads": args.threads,
        "quick": args.quick,
        "allocator": args.allocator,
        "load_before": list(os.getloadavg()),
    }
    result.update(_run_sections(args, _sizes(args), lambda msg: print(msg, flush=True)))
    result["machine"] = facts()  # after every import, so every BLAS pool is listed
    result["load_after"] = result["machine"]["load_average_1_5_15"]
    text = markdown(result, result["command"])
    args.out.mkdir(parents=True, exist_ok=True)
    _io.atomic_write_json(paths[0], result, overwrite=args.force)
    _io.atomic_write_text(paths[1], text + "\n", overwrite=args.force)
    print()
    print(text)
    print(f"wrote {paths[0]} and {paths[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
