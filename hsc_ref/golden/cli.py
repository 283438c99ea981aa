"""``hsc-ref golden write DIR`` and ``hsc-ref golden check DIR RESULTS.npz``."""

from __future__ import annotations

import argparse
from pathlib import Path

from hsc_ref import _io

__all__ = ["add_parser"]


def _cmd_write(args: argparse.Namespace) -> int:
    from hsc_ref import golden  # noqa: PLC0415  (keep the CLI import cheap)

    path = golden.write_golden(args.dir, seed=args.seed, only=args.only, overwrite=args.force)
    manifest = golden.read_golden(args.dir).manifest
    for name, spec in manifest["cases"].items():
        print(f"  {name:<28} {spec['kind']:<7} {spec['description']}")
    print(f"wrote {len(manifest['cases'])} cases and {path} (schema {golden.files.SCHEMA_VERSION})")
    return 0


def _refuse_overwriting_inputs(report_path: Path, golden_dir: Path, results: Path) -> None:
    """The report must not replace the results file or anything in the golden folder."""
    target = report_path.resolve()
    if target == results.resolve():
        raise ValueError(
            f"--json {report_path} is the results file being checked: the report never "
            f"overwrites an input (not even with --force); choose another path"
        )
    if target.parent == golden_dir.resolve():
        raise ValueError(
            f"--json {report_path} is in the golden folder {golden_dir}: the report never "
            f"overwrites or adds to the golden set (not even with --force); choose another path"
        )


def _cmd_check(args: argparse.Namespace) -> int:
    from hsc_ref import golden  # noqa: PLC0415

    results = Path(args.results)
    if results.is_dir():
        raise ValueError(f"results file {results} is a folder, not an .npz file")
    json_path = Path(args.json) if args.json else results.with_suffix(".check.json")
    _refuse_overwriting_inputs(json_path, Path(args.dir), Path(args.results))
    gold = golden.read_golden(args.dir)
    report = golden.check_results(gold, args.results, precision=args.precision, only=args.only)
    _io.atomic_write_json(json_path, report.to_json(), overwrite=args.force)
    print(report.format_table(failures_only=args.failures_only))
    if gold.regeneration is not None:
        print(gold.regeneration.summary())
    print(f"wrote {json_path}")
    return 0 if report.passed else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``golden write`` and ``golden check`` to the ``hsc-ref`` parser.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="hsc-ref")
    >>> add_parser(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["golden", "check", "DIR", "R.npz", "--precision", "float32"])
    >>> args.golden_command, args.precision
    ('check', 'float32')
    """
    parser = sub.add_parser("golden", help="golden reference files and their checker")
    actions = parser.add_subparsers(dest="golden_command", required=True)
    write = actions.add_parser("write", help="write the golden cases to DIR")
    write.add_argument("dir", help="output folder")
    write.add_argument("--seed", type=int, default=0, help="global seed (default 0)")
    write.add_argument("--only", nargs="+", metavar="CASE", help="write only these cases")
    write.add_argument("--force", action="store_true", help="replace existing files")
    write.set_defaults(func=_cmd_write)
    check = actions.add_parser(
        "check",
        help="compare RESULTS.npz ('<case>/<output>' arrays) with the golden set in DIR "
        "(verified against this machine's regeneration: exact files, flags and integers, values "
        "within 0.25 of each tolerance); exit 1 on any failure, missing output or "
        "case, or when nothing was compared",
    )
    check.add_argument("dir", help="golden folder written by 'hsc-ref golden write'")
    check.add_argument("results", help="results .npz with keys '<case>/<output>' (no pickles)")
    check.add_argument(
        "--precision",
        choices=["auto", "float64", "float32"],
        default="auto",
        help="the one precision of the result set (default auto: the highest among its "
        "arrays); a floating array below it fails",
    )
    check.add_argument(
        "--only",
        nargs="+",
        metavar="SELECTOR",
        help="check only these: case names, output names (e.g. step) or CASE/OUTPUT keys; the "
        "report lists what it did not check",
    )
    check.add_argument("--json", help="report path (default RESULTS with suffix .check.json)")
    check.add_argument("--failures-only", action="store_true", help="print failing rows only")
    check.add_argument("--force", action="store_true", help="replace an existing JSON report")
    check.set_defaults(func=_cmd_check)
