"""Run every mutant against a golden set and print the mutation table of docs/validating.md.

Usage (from the repository root)::

    python tests/golden/mutation_table.py                    # the table
    python tests/golden/mutation_table.py --report cutoff_x3 float64   # one mutant's report
    python tests/golden/mutation_table.py --usage            # the clean run's tolerance use

writes a fresh golden set to a temporary folder, checks the clean independent
implementation and each mutant at float64 and at float32, and prints the Markdown table
(mutant, the bug, verdict at each precision, the diagnosis of its first root failure).
``tests/golden/test_mutation.py`` asserts every verdict and that the table in the docs is
the one this prints.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mutants import MUTANTS, Mutant
from reference_impl import Config, implement_all

from hsc_ref import golden

PRECISIONS = ("float64", "float32")


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """One BLAS thread when threadpoolctl is installed: small eighs are 40x slower under
    contention for two cores (measured here), and none of these matrices needs threads."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1):
        yield


def check(gold: golden.GoldenSet, mutant: Mutant | None, precision: str) -> golden.CheckReport:
    """The checker's report on the (mutated) independent implementation at ``precision``."""
    config = replace(Config(dtype=precision), **(mutant.changes if mutant else {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflows of the naive mutants
        results = implement_all(gold, config)
    return golden.check_results(gold, results)


@dataclass(frozen=True)
class Verdict:
    """What the checker said about one mutant at one precision."""

    failed: bool
    roots: tuple[golden.CheckRow, ...]

    def diagnosed(self, words: str) -> golden.CheckRow | None:
        """The first root failure whose cause contains ``words``."""
        return next((r for r in self.roots if words in r.cause), None)


def verdict(report: golden.CheckReport) -> Verdict:
    return Verdict(not report.passed, report.roots())


def _clause(cause: str, words: str) -> str:
    """The cause's first clause, and the expected words when they come later."""
    first = cause.split(": ", maxsplit=1)[0].split("; ", maxsplit=1)[0]
    return first if words in first else f"{first} ... {words}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table_row(mutant: Mutant, verdicts: dict[str, Verdict]) -> str:
    cells = []
    for precision in PRECISIONS:
        v = verdicts[precision]
        if v.failed:
            cells.append("FAIL")
        else:
            cells.append(f"passes: {mutant.float32_blind}" if mutant.float32_blind else "passes")
    root = verdicts["float64"].diagnosed(mutant.diagnosis)
    diagnosis = f"`{root.key}`: {_clause(root.cause, mutant.diagnosis)}" if root else "-"
    row = [f"`{mutant.name}`", mutant.description, *cells, diagnosis]
    return "| " + " | ".join(_cell(c) for c in row) + " |"


def markdown(rows: list[str]) -> str:
    head = [
        "| mutant | the bug | float64 | float32 | diagnosis of the first root failure (float64) |",
        "|---|---|---|---|---|",
    ]
    return "\n".join(head + rows)


def all_verdicts(gold: golden.GoldenSet) -> dict[str, dict[str, Verdict]]:
    """``{mutant name: {precision: Verdict}}`` for every mutant (and ``"clean"``)."""
    out: dict[str, dict[str, Verdict]] = {}
    with one_blas_thread():
        for mutant in (None, *MUTANTS):
            name = mutant.name if mutant else "clean"
            out[name] = {p: verdict(check(gold, mutant, p)) for p in PRECISIONS}
    return out


def mutation_table(verdicts: dict[str, dict[str, Verdict]]) -> str:
    return markdown([table_row(m, verdicts[m.name]) for m in MUTANTS])


def tolerance_usage(gold: golden.GoldenSet) -> dict[str, float]:
    """The largest ``max|actual - desired| / atol`` of the clean implementation, per precision."""
    usage = {}
    for precision in PRECISIONS:
        report = check(gold, None, precision)
        ratios = [
            r.max_abs_err / r.atol
            for r in report.rows
            if r.status == "pass" and r.atol > 0 and r.max_abs_err is not None
        ]
        usage[precision] = max(ratios)
    return usage


def main(argv: list[str] | None = None) -> int:
    """Print the mutation table; ``--report MUTANT PRECISION`` prints that check's report,
    ``--usage`` how much of its tolerances the clean implementation uses."""
    args = sys.argv[1:] if argv is None else argv
    folder = tempfile.mkdtemp(prefix="hsc_ref_mutation_")
    golden.write_golden(folder)
    gold = golden.read_golden(folder)
    if args[:1] == ["--report"]:
        mutant = next(m for m in MUTANTS if m.name == args[1])
        with one_blas_thread():
            print(check(gold, mutant, args[2]).format_table(failures_only=True))
    elif args[:1] == ["--usage"]:
        for precision, ratio in tolerance_usage(gold).items():
            print(f"{precision}: at most {100 * ratio:.2g}% of a tolerance")
    else:
        print(mutation_table(all_verdicts(gold)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
