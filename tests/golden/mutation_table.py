"""Run every mutant against a golden set and print the mutation table of docs/validating.md.

Usage (from the repository root)::

    python tests/golden/mutation_table.py                    # the table
    python tests/golden/mutation_table.py --record docs/tables/records/validating-mutation.json
    python tests/golden/mutation_table.py --report cutoff_x3 float64   # one mutant's report
    python tests/golden/mutation_table.py --usage            # the clean run's tolerance use

writes a fresh golden set to a temporary folder, checks the clean independent
implementation and each mutant at float64 and at float32, and prints the Markdown table
(mutant, the bug, verdict at each precision, the diagnosis of its first root failure, and
how that diagnosis names the bug at each precision: right, partly, wrong or none).
``--record PATH`` also writes what the table shows as JSON, atomically (an existing record is
kept unless ``--force``): per mutant its name, its bug, its verdict at each precision, the
first root failure and its diagnosis, and the judgement of that diagnosis at each precision;
and the clean run's verdicts. ``docs/tables/validating_tables.py`` renders the
page's table from that record with :func:`mutation_table`, and
``tests/golden/test_mutation.py`` asserts every verdict and that a rerun gives the record.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mutants import MUTANTS, Mutant

if TYPE_CHECKING:
    from hsc_ref import golden

# hsc_ref.golden (SciPy's stats) and reference_impl (autograd) take seconds to import: the
# functions that run the suite import them, so rendering the table from its record
# (docs/tables/validating_tables.py) imports only what formats it.

PRECISIONS = ("float64", "float32")
FAIL = "FAIL"
PASSES = "passes"


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
    from reference_impl import Config, implement_all

    from hsc_ref import golden

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

    @property
    def first(self) -> golden.CheckRow | None:
        """The first root failure of the report: the one a user reads first."""
        return self.roots[0] if self.roots else None


def verdict(report: golden.CheckReport) -> Verdict:
    return Verdict(not report.passed, report.roots())


def all_verdicts(gold: golden.GoldenSet) -> dict[str, dict[str, Verdict]]:
    """``{mutant name: {precision: Verdict}}`` for every mutant (and ``"clean"``)."""
    out: dict[str, dict[str, Verdict]] = {}
    with one_blas_thread():
        for mutant in (None, *MUTANTS):
            name = mutant.name if mutant else "clean"
            out[name] = {p: verdict(check(gold, mutant, p)) for p in PRECISIONS}
    return out


# ------------------------------------------------------------ what the table shows, and its record


@dataclass(frozen=True)
class MutantRow:
    """What the table shows of one mutant.

    ``verdicts`` holds, per precision, ``"FAIL"``, ``"passes"`` or ``"passes: why"`` (a
    mutant float32 cannot see); ``root`` and ``diagnosis`` the first float64 root failure
    and its cause's first clause (``None`` when nothing fails); ``judged`` per precision how
    the first root failure's diagnosis names the bug (:meth:`mutants.Mutant.judge`:
    ``right``, ``partly``, ``wrong``, ``none``; ``passes`` where nothing fails).
    """

    name: str
    bug: str
    verdicts: Mapping[str, str]
    root: str | None
    diagnosis: str | None
    judged: Mapping[str, str]


@dataclass(frozen=True)
class MutationRecord:
    """The mutation table's content: the clean run's verdicts and one row per mutant."""

    clean: Mapping[str, str]
    mutants: tuple[MutantRow, ...]


JUDGEMENTS = ("right", "partly", "wrong", "none")


def _clause(cause: str, words: str) -> str:
    """The cause's first clause, and the expected words when they come later."""
    first = cause.split(": ", maxsplit=1)[0].split("; ", maxsplit=1)[0]
    return first if words in first or words not in cause else f"{first} ... {words}"


def judged(mutant: Mutant, v: Verdict) -> str:
    """How the diagnosis of ``v``'s first root failure names ``mutant`` (``passes``: none)."""
    return "passes" if v.first is None else mutant.judge(v.first.cause)


def verdict_text(v: Verdict, why_it_passes: str = "") -> str:
    """``FAIL``, or ``passes`` (with the reason a blind precision gives, when there is one)."""
    if v.failed:
        return FAIL
    return f"{PASSES}: {why_it_passes}" if why_it_passes else PASSES


def mutant_row(mutant: Mutant, verdicts: Mapping[str, Verdict]) -> MutantRow:
    """The table's row of ``mutant`` from its verdicts at each precision."""
    texts = {p: verdict_text(verdicts[p], mutant.float32_blind) for p in PRECISIONS}
    judgements = {p: judged(mutant, verdicts[p]) for p in PRECISIONS}
    root = verdicts["float64"].first
    if root is None:
        return MutantRow(mutant.name, mutant.description, texts, None, None, judgements)
    clause = _clause(root.cause, mutant.diagnosis)
    return MutantRow(mutant.name, mutant.description, texts, root.key, clause, judgements)


def summarize(verdicts: Mapping[str, Mapping[str, Verdict]]) -> MutationRecord:
    """The table's content from a run's :func:`all_verdicts`."""
    clean = {p: verdict_text(verdicts["clean"][p]) for p in PRECISIONS}
    return MutationRecord(clean, tuple(mutant_row(m, verdicts[m.name]) for m in MUTANTS))


def record_json(record: MutationRecord) -> dict[str, Any]:
    """``record`` as JSON types (the mutants in the table's order)."""
    return {
        "clean": dict(record.clean),
        "mutants": [
            {
                "name": row.name,
                "bug": row.bug,
                "verdicts": dict(row.verdicts),
                "root": row.root,
                "diagnosis": row.diagnosis,
                "judged": dict(row.judged),
            }
            for row in record.mutants
        ],
    }


def _verdict_texts(data: Any, where: str) -> dict[str, str]:
    if not isinstance(data, dict) or set(data) != set(PRECISIONS):
        raise ValueError(f"{where}: verdicts must be given for exactly {list(PRECISIONS)}")
    if not all(isinstance(t, str) and (t == FAIL or t.startswith(PASSES)) for t in data.values()):
        raise ValueError(f"{where}: a verdict is {FAIL!r} or starts with {PASSES!r}, got {data}")
    return {p: data[p] for p in PRECISIONS}


def _judgements(data: Any, where: str) -> dict[str, str]:
    allowed = (*JUDGEMENTS, "passes")
    if not isinstance(data, dict) or set(data) != set(PRECISIONS):
        raise ValueError(f"{where}: judgements must be given for exactly {list(PRECISIONS)}")
    if not all(j in allowed for j in data.values()):
        raise ValueError(f"{where}: a judgement is one of {list(allowed)}, got {data}")
    return {p: data[p] for p in PRECISIONS}


def _mutant_row(data: Any, where: str) -> MutantRow:
    keys = {"name", "bug", "verdicts", "root", "diagnosis", "judged"}
    if not isinstance(data, dict) or set(data) != keys:
        raise ValueError(f"{where}: a mutant holds exactly the keys {sorted(keys)}")
    verdicts = _verdict_texts(data["verdicts"], f"{where} ({data['name']})")
    judgements = _judgements(data["judged"], f"{where} ({data['name']})")
    return MutantRow(
        data["name"], data["bug"], verdicts, data["root"], data["diagnosis"], judgements
    )


def record_from_json(data: Any, where: str = "the record") -> MutationRecord:
    """The :class:`MutationRecord` of :func:`record_json`'s output (checked: a clear error)."""
    if not isinstance(data, dict) or set(data) != {"clean", "mutants"}:
        raise ValueError(f"{where}: a mutation record holds exactly the keys clean and mutants")
    rows = tuple(_mutant_row(m, f"{where}, mutant {i}") for i, m in enumerate(data["mutants"]))
    return MutationRecord(_verdict_texts(data["clean"], f"{where}, clean"), rows)


def read_record(path: str | Path) -> MutationRecord:
    """The mutation record written by ``--record PATH``."""
    return record_from_json(json.loads(Path(path).read_text(encoding="utf-8")), str(path))


# ----------------------------------------------------------------------------------- the table


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table_row(row: MutantRow) -> str:
    """One Markdown row: mutant, the bug, verdict per precision, diagnosis (``-`` if none),
    and how the diagnosis was judged at each precision."""
    diagnosis = f"`{row.root}`: {row.diagnosis}" if row.root is not None else "-"
    judgement = " / ".join(row.judged[p] for p in PRECISIONS)
    cells = [
        f"`{row.name}`",
        row.bug,
        *(row.verdicts[p] for p in PRECISIONS),
        diagnosis,
        judgement,
    ]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def markdown(rows: list[str]) -> str:
    head = [
        "| mutant | the bug | float64 | float32 | diagnosis of the first root failure (float64) "
        "| judged (float64 / float32) |",
        "|---|---|---|---|---|---|",
    ]
    return "\n".join(head + rows)


def mutation_table(record: MutationRecord) -> str:
    """The Markdown table of ``record`` (from a run's :func:`summarize` or :func:`read_record`)."""
    return markdown([table_row(row) for row in record.mutants])


def judgement_counts(record: MutationRecord) -> dict[str, dict[str, int]]:
    """``{precision: {judgement: number of mutants}}`` (``passes``: the mutants it cannot see)."""
    return {
        p: {j: sum(row.judged[p] == j for row in record.mutants) for j in (*JUDGEMENTS, "passes")}
        for p in PRECISIONS
    }


def counts_table(record: MutationRecord) -> str:
    """The Markdown table of how the first root failure's diagnosis names each mutant."""
    counts = judgement_counts(record)
    head = [
        "| precision | mutants | right | partly | wrong | none | not seen (passes) |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = [
        f"| {p} | {len(record.mutants)} | "
        + " | ".join(str(counts[p][j]) for j in (*JUDGEMENTS, "passes"))
        + " |"
        for p in PRECISIONS
    ]
    return "\n".join(head + rows)


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


# ---------------------------------------------------------------------------------- the command


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--report", nargs=2, metavar=("MUTANT", "PRECISION"), help="one check's failures"
    )
    action.add_argument("--usage", action="store_true", help="the clean run's tolerance use")
    action.add_argument("--record", metavar="PATH", help="also write the table's content as JSON")
    parser.add_argument("--force", action="store_true", help="replace an existing --record")
    args = parser.parse_args(argv)
    if args.report is not None:
        names = [m.name for m in MUTANTS]
        if args.report[0] not in names or args.report[1] not in PRECISIONS:
            parser.error(
                f"--report takes a mutant ({', '.join(names)}) and a precision "
                f"({', '.join(PRECISIONS)}), got {' '.join(args.report)}"
            )
    if args.record is not None and Path(args.record).exists() and not args.force:
        parser.error(f"--record {args.record} exists; pass --force to replace it")
    return args


def _table(gold: golden.GoldenSet, record_path: str | None, force: bool) -> None:
    from hsc_ref import _io

    record = summarize(all_verdicts(gold))
    print(mutation_table(record))
    print()
    print(counts_table(record))
    if record_path is not None:
        _io.atomic_write_json(record_path, record_json(record), overwrite=force)
        print(f"wrote {record_path}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Print the mutation table (and with ``--record PATH`` write its record);
    ``--report MUTANT PRECISION`` prints that check's report, ``--usage`` how much of its
    tolerances the clean implementation uses."""
    from hsc_ref import golden

    args = _arguments(argv)
    with tempfile.TemporaryDirectory(prefix="hsc_ref_mutation_") as folder:
        golden.write_golden(folder)
        gold = golden.read_golden(folder)
        if args.report is not None:
            mutant = next(m for m in MUTANTS if m.name == args.report[0])
            with one_blas_thread():
                print(check(gold, mutant, args.report[1]).format_table(failures_only=True))
        elif args.usage:
            for precision, ratio in tolerance_usage(gold).items():
                print(f"{precision}: at most {100 * ratio:.2g}% of a tolerance")
        else:
            _table(gold, args.record, args.force)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
