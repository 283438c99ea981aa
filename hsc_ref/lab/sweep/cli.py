"""``hsc-ref sweep``: run a sweep (``SPEC --out DIR``) or rebuild its report (``--report DIR``).

The sweep runs on Dask distributed (extra ``sweep``): an embedded ``LocalCluster`` with one
single-threaded worker process per core, or ``--scheduler ADDRESS`` for an existing cluster.
Rerunning the same command skips the runs already stored (resume after a crash or Ctrl-C).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hsc_ref.lab import _outputs
from hsc_ref.lab.sweep._engine import run_sweep
from hsc_ref.lab.sweep._report import ReportFiles, write_report

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` subcommand to the ``hsc-ref`` parser.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The parser's subcommand collection.

    Returns
    -------
    None
    """
    p = sub.add_parser(
        "sweep",
        help="run a sweep of gan/style runs on Dask, or rebuild a report",
        description="Run a sweep of gan/style runs on Dask distributed, or rebuild its "
        "report. Needs the extra 'sweep' (Dask distributed, threadpoolctl): "
        "pip install 'hsc-ref[sweep]'. See docs/experiments.md.",
    )
    p.add_argument("spec", nargs="?", help="the sweep's TOML spec (see docs/experiments.md)")
    p.add_argument("--out", help="the sweep folder (a rerun resumes it)")
    p.add_argument("--report", metavar="DIR", help="only rebuild the report of a sweep folder")
    p.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler, tcp://...")
    p.add_argument("--workers", type=int, help="embedded cluster processes (default: cores)")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace a different spec.toml in --out (and its report), recompute run folders "
        "that fail their check, or replace a report of more runs (--report)",
    )
    p.add_argument("--no-plots", action="store_true", help="do not make the report's plots")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_sweep)


def _print_report(report: ReportFiles) -> None:
    print(
        f"report of {report.stored} of {report.planned} planned runs: "
        + ", ".join(str(p) for p in report.paths[:4])
        + (f" and {len(report.paths) - 4} plots" if len(report.paths) > 4 else "")
    )
    if report.skipped_line is not None:
        print(f"hsc-ref sweep: {report.skipped_line}", file=sys.stderr)
    if report.lost:
        print(
            f"hsc-ref sweep: {report.lost} runs were lost with their worker; rerun the same "
            "command to compute them",
            file=sys.stderr,
        )


def _cmd_sweep(args: argparse.Namespace) -> int:
    if args.report is not None:
        if args.spec is not None or args.out is not None:
            raise ValueError("--report DIR takes no SPEC and no --out")
        if not Path(args.report).is_dir():  # nothing made, not even the lock's parent
            raise FileNotFoundError(f"--report {args.report} is not a sweep folder")
        with _outputs.folder_lock(args.report, "--report") as folder:
            _print_report(write_report(folder, plots=not args.no_plots, force=args.force))
        return 0
    if args.spec is None or args.out is None:
        raise ValueError("give a SPEC and --out DIR, or --report DIR")
    result = run_sweep(
        args.spec,
        args.out,
        scheduler=args.scheduler,
        workers=args.workers,
        progress=not args.no_progress,
        plots=not args.no_plots,
        overwrite=args.force,
    )
    print(
        f"sweep {result.folder}: {result.executed} runs computed, {result.skipped} found stored "
        f"(skipped), {result.wall_s:.1f} s"
    )
    _print_report(result.report)
    return 0
