"""Command line: ``hsc-ref demo | info | correct | gan | style | golden``; ``main(argv) -> int``.

Each command parses its options, calls one library function and prints: ``demo`` the
sections of :data:`DEMO_SECTIONS`, ``correct`` :func:`hsc_ref.correct_files.correct_to_folder`,
``gan`` :func:`hsc_ref.gan.report.run_to_folder`, ``style`` :func:`hsc_ref.style.run.run_to_folder`,
``golden`` :mod:`hsc_ref.golden`. ``python -m hsc_ref`` runs the same :func:`main`.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from hsc_ref import __version__
from hsc_ref.correct_files import correct_to_folder
from hsc_ref.demo import core_report
from hsc_ref.gan import cli as gan_cli
from hsc_ref.gan.demo import gan_demo
from hsc_ref.golden import cli as golden_cli
from hsc_ref.style import cli as style_cli
from hsc_ref.style.demo import style_demo

__all__ = ["main", "build_parser", "DEMO_SECTIONS", "SUBCOMMANDS"]

DEMO_SECTIONS: list[tuple[str, Callable[[int], str]]] = [
    ("core", core_report),
    ("gan", gan_demo),
    ("style", style_demo),
]
"""Sections of ``hsc-ref demo``, each ``(name, function(seed) -> report text)``."""


def _cmd_demo(args: argparse.Namespace) -> int:
    unknown = sorted(set(args.only or ()) - {name for name, _ in DEMO_SECTIONS})
    if unknown:
        names = [name for name, _ in DEMO_SECTIONS]
        raise ValueError(f"--only sections must be among {names}, got {unknown}")
    for name, section in DEMO_SECTIONS:
        if args.only and name not in args.only:
            continue
        print(section(args.seed))
        print()
    return 0


def _blas_facts() -> list[str]:
    try:
        from threadpoolctl import threadpool_info  # noqa: PLC0415  (optional)
    except ImportError:
        return ["  BLAS: install threadpoolctl (extra 'bench') to list the loaded BLAS libraries"]
    return [
        f"  BLAS: {p.get('internal_api')} {p.get('version')} ({p.get('threading_layer', '?')}), "
        f"{p.get('num_threads')} threads, arch {p.get('architecture', '?')}, {p.get('filepath')}"
        for p in threadpool_info()
        if p.get("user_api") == "blas"
    ]


def _cmd_info(args: argparse.Namespace) -> int:
    import scipy  # noqa: PLC0415

    lines = [
        f"hsc_ref {__version__}",
        f"  Python {platform.python_version()} on {platform.platform()}",
        f"  numpy {np.__version__}, scipy {scipy.__version__}, "
        f"autograd {importlib.metadata.version('autograd')}",
        *_blas_facts(),
        "Tolerance policy (scipy.linalg.pinvh): eigenvalue lam is kept when "
        "|lam| > atol + rtol * max|lam|;",
        "  defaults atol = 0, rtol = n * eps(dtype) (float64 eps = 2.2e-16, float32 eps = 1.2e-7);",
        "  negative tolerances raise; symmetric input is checked with "
        "max|H - H.T| <= sqrt(eps) * max|H|, then symmetrized.",
    ]
    print("\n".join(lines))
    return 0


def _parse_params(items: Sequence[str] | None) -> dict[str, float]:
    """``["mu=0.1", ...]`` to ``{"mu": 0.1}``; each item must be NAME=NUMBER, names unique."""
    params: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or not name.isidentifier() or number is None:
            raise ValueError(f"--param must be NAME=NUMBER (e.g. mu=0.1), got {item!r}")
        if name in params:
            raise ValueError(f"--param {name} must be given once, got it twice")
        params[name] = number
    return params


def _cmd_correct(args: argparse.Namespace) -> int:
    summary = correct_to_folder(
        args.matrix,
        args.out,
        method=args.method,
        params=_parse_params(args.param),
        atol=args.atol,
        rtol=args.rtol,
        grad=args.grad,
        lr=args.lr,
        overwrite=args.force,
    )
    print(json.dumps(summary, indent=2))
    out = Path(args.out)
    print(f"wrote {out / 'correction.npz'} and {out / 'summary.json'}")
    return 0


def _add_core_parsers(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="run the demonstration (a few minutes at most)")
    demo.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    demo.add_argument(
        "--only",
        nargs="*",
        metavar="SECTION",
        help="run only these sections: " + ", ".join(n for n, _ in DEMO_SECTIONS),
    )
    demo.set_defaults(func=_cmd_demo)
    info = sub.add_parser("info", help="versions, BLAS and the tolerance policy")
    info.set_defaults(func=_cmd_info)
    corr = sub.add_parser("correct", help="correct a matrix read from a .npy file")
    corr.add_argument("matrix", help="symmetric matrix H as .npy (no pickles)")
    corr.add_argument("--grad", help="gradient g as .npy: also write the HSC step")
    corr.add_argument("--lr", type=float, default=1.0, help="step size (default 1)")
    corr.add_argument("--method", default="hsc", help="correction name (default hsc)")
    corr.add_argument(
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="parameter of the correction, e.g. --method damped --param mu=0.1 (repeatable)",
    )
    corr.add_argument("--atol", type=float, default=0.0, help="absolute cutoff (default 0)")
    corr.add_argument("--rtol", type=float, default=None, help="relative cutoff (default n*eps)")
    corr.add_argument("--out", required=True, help="output folder")
    corr.add_argument("--force", action="store_true", help="replace existing output files")
    corr.set_defaults(func=_cmd_correct)


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_core_parsers,
    gan_cli.add_parser,
    golden_cli.add_parser,
    style_cli.add_parser,
]
"""Functions that add subcommands to the ``hsc-ref`` parser."""


def build_parser() -> argparse.ArgumentParser:
    """The ``hsc-ref`` argument parser, with every subcommand of :data:`SUBCOMMANDS`.

    Examples
    --------
    >>> build_parser().parse_args(["demo", "--only", "core"]).only
    ['core']
    """
    parser = argparse.ArgumentParser(
        prog="hsc-ref",
        description="Reference implementation of the Hessian singularity correction.",
    )
    parser.add_argument("--version", action="version", version=f"hsc_ref {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``hsc-ref`` with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    Errors in the input (bad files, bad matrices, existing outputs) print one line to stderr
    and return 2.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments after the program name, e.g. ``["correct", "H.npy", "--out", "out"]``.

    Returns
    -------
    int
        0 on success, 2 on bad input (argparse exits with 2 itself on bad syntax).

    Examples
    --------
    >>> main(["correct", "no-such-file.npy", "--out", "out"])
    2
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, TypeError, OSError, ImportError) as exc:
        # OSError: missing, existing, unwritable files; ImportError: an extra a file needs
        print(f"hsc-ref {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
