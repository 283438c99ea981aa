"""Sweep a cutoff ``k`` x the golden one through the checker: which factors it catches.

Usage (from the repository root)::

    python tests/golden/cutoff_sweep.py                  # the table
    python tests/golden/cutoff_sweep.py --record docs/tables/records/validating-cutoff-sweep.json

writes a fresh golden set to a temporary folder, checks the independent implementation
(``reference_impl.py``) with its cutoff scaled by each ``k`` of :data:`FACTORS` at float64 and
at float32, and prints the Markdown table: ``k``, the verdict at each precision, and the rank
reported for the ``matrix_cutoff_tight*`` case of each precision. ``--record PATH`` also
writes what the table shows as JSON, atomically (an existing record is kept unless
``--force``). ``docs/tables/validating_tables.py`` renders the table of ``docs/validating.md``
from that record with :func:`sweep_table`, and ``tests/golden/test_cutoff_band.py`` asserts
the verdicts and that a rerun gives the record.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mutants import Mutant
from mutation_table import FAIL, PASSES, PRECISIONS, Verdict, check, one_blas_thread, verdict

if TYPE_CHECKING:
    from hsc_ref import golden

FACTORS = (
    0.5,
    0.6,
    0.7,
    1 / 1.3,
    0.8,
    0.82,
    0.85,
    0.9,
    0.95,
    1.05,
    1.1,
    1.15,
    1.22,
    1.25,
    1.3,
    1.4,
    1.59,
    2.0,
)
"""The factors swept: every one outside ``[1/1.2, 1.2]`` must fail, every one inside pass."""

PASS_BAND = (1 / 1.2, 1.2)
"""Where a scaled cutoff keeps every golden kept set: between the ``matrix_cutoff_tight*``
cases' eigenvalues at ``1/1.2`` and ``1.2`` x the cutoff. Their rounding (``<= n eps ||H|| =
0.01`` x the cutoff) decides the ends themselves, so every factor of :data:`FACTORS` lies more
than 0.01 away from both."""


TIGHT = {"float64": "matrix_cutoff_tight", "float32": "matrix_cutoff_tight_float32"}
"""The case whose kept set each precision's cutoff decides by design."""


def scaled(k: float) -> Mutant:
    """The independent implementation with every cutoff ``k`` x the golden one."""
    return Mutant(f"cutoff_k{k:.4g}", f"cutoff rtol {k:.4g} x the policy", {"cutoff_scale": k}, "")


@dataclass(frozen=True)
class Point:
    """The checker's verdict on one factor at one precision, and the rank it reported for the
    precision's ``matrix_cutoff_tight*`` case (whose eigenvalues, unlike those of the older
    cases at exactly 0.5, 1.6 and 2 x the cutoff, no factor of the grid meets)."""

    verdict: Verdict
    tight_rank: int


def sweep(gold: golden.GoldenSet) -> dict[float, dict[str, Point]]:
    """``{k: {precision: Point}}`` for every ``k`` of :data:`FACTORS`."""
    from reference_impl import Config, implement

    out: dict[float, dict[str, Point]] = {}
    with one_blas_thread():
        for k in FACTORS:
            out[k] = {}
            for p in PRECISIONS:
                rank = implement(gold.cases[TIGHT[p]], Config(dtype=p, cutoff_scale=k))
                point = Point(verdict(check(gold, scaled(k), p)), int(rank[f"{TIGHT[p]}/rank"]))
                out[k][p] = point
    return out


@dataclass(frozen=True)
class SweepRow:
    """One factor: per precision, the verdict and the tight case's reported rank."""

    k: float
    verdicts: Mapping[str, str]
    tight_ranks: Mapping[str, int]


def summarize(points: Mapping[float, Mapping[str, Point]]) -> tuple[SweepRow, ...]:
    """The table's rows from :func:`sweep`'s points."""
    return tuple(
        SweepRow(
            float(k),
            {p: FAIL if pt.verdict.failed else PASSES for p, pt in by_precision.items()},
            {p: pt.tight_rank for p, pt in by_precision.items()},
        )
        for k, by_precision in points.items()
    )


def golden_ranks(gold: golden.GoldenSet) -> dict[str, int]:
    """The golden rank of each precision's tight case."""
    return {p: int(gold.cases[name].outputs["rank"]) for p, name in TIGHT.items()}


def record_json(rows: tuple[SweepRow, ...], ranks: Mapping[str, int]) -> dict[str, Any]:
    """The rows, and the tight cases' golden ranks, as JSON types."""
    factors = [
        {"k": row.k, "verdicts": dict(row.verdicts), "tight_ranks": dict(row.tight_ranks)}
        for row in rows
    ]
    return {"golden_ranks": dict(ranks), "factors": factors}


def _precisions(entry: Any, where: str) -> None:
    if not isinstance(entry, dict) or set(entry) != set(PRECISIONS):
        raise ValueError(f"{where}: must be given for exactly {list(PRECISIONS)}")


def record_from_json(
    data: Any, where: str = "the record"
) -> tuple[tuple[SweepRow, ...], dict[str, int]]:
    """The rows and golden ranks of :func:`record_json`'s output (checked: a clear error)."""
    if not isinstance(data, dict) or set(data) != {"golden_ranks", "factors"}:
        raise ValueError(f"{where}: a cutoff sweep record holds exactly golden_ranks and factors")
    _precisions(data["golden_ranks"], f"{where}, golden_ranks")
    rows = []
    for i, entry in enumerate(data["factors"]):
        keys = {"k", "verdicts", "tight_ranks"}
        if not isinstance(entry, dict) or set(entry) != keys:
            raise ValueError(f"{where}, factor {i}: holds exactly the keys {sorted(keys)}")
        _precisions(entry["verdicts"], f"{where}, factor {i}, verdicts")
        _precisions(entry["tight_ranks"], f"{where}, factor {i}, tight_ranks")
        if not all(v in (FAIL, PASSES) for v in entry["verdicts"].values()):
            raise ValueError(f"{where}, factor {i}: a verdict is {FAIL!r} or {PASSES!r}")
        rows.append(
            SweepRow(float(entry["k"]), dict(entry["verdicts"]), dict(entry["tight_ranks"]))
        )
    return tuple(rows), dict(data["golden_ranks"])


def read_record(path: str | Path) -> tuple[tuple[SweepRow, ...], dict[str, int]]:
    """The sweep record written by ``--record PATH``."""
    return record_from_json(json.loads(Path(path).read_text(encoding="utf-8")), str(path))


def sweep_table(rows: tuple[SweepRow, ...], ranks: Mapping[str, int]) -> str:
    """The Markdown table of the rows (from :func:`summarize` or :func:`read_record`)."""
    head = [f"rank of `{TIGHT[p]}` at {p} (golden {ranks[p]})" for p in PRECISIONS]
    lines = [f"| k | float64 | float32 | {' | '.join(head)} |", "|---|---|---|---|---|"]
    for row in rows:
        cells = [f"{row.k:.3g}", *(row.verdicts[p] for p in PRECISIONS)]
        cells += [str(row.tight_ranks[p]) for p in PRECISIONS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the sweep's table (and with ``--record PATH`` write its record)."""
    from hsc_ref import _io, golden

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", metavar="PATH", help="also write the table's content as JSON")
    parser.add_argument("--force", action="store_true", help="replace an existing --record")
    args = parser.parse_args(argv)
    if args.record is not None and Path(args.record).exists() and not args.force:
        parser.error(f"--record {args.record} exists; pass --force to replace it")
    with tempfile.TemporaryDirectory(prefix="hsc_ref_cutoff_sweep_") as folder:
        golden.write_golden(folder)
        gold = golden.read_golden(folder)
        rows, ranks = summarize(sweep(gold)), golden_ranks(gold)
    print(sweep_table(rows, ranks))
    if args.record is not None:
        _io.atomic_write_json(args.record, record_json(rows, ranks), overwrite=args.force)
        print(f"wrote {args.record}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
