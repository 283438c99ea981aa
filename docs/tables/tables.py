"""The measured tables of ``docs/``: where each one comes from, and the check that it still does.

Every table of measured numbers in a page sits between two markers,

    <!-- table: ID -->
    | ... |
    <!-- end table: ID -->

and is registered here under that ID (in one of the ``*_tables.py`` modules of this folder)
with three things:

``command``   the full experiment that made its record (stated in the page beside the table);
``render``    the table, built from the committed record of that command;
``quick``     a quick version of the same experiment (seconds), whose numbers are committed in
              ``docs/tables/quick/ID.json``.

``tests/test_doc_tables.py`` checks that each page's table is what its record renders to, that
the command is stated beside it, that no table of measured numbers is left unregistered, and
runs every quick version against its committed numbers: a change of the code that moves the
numbers fails there until the experiment is rerun and the tables regenerated.

Usage (from the repository root)::

    python docs/tables/tables.py list                 # the registered tables
    python docs/tables/tables.py check [ID ...]       # pages against their records (exit 1 if not)
    python docs/tables/tables.py render [ID ...]      # rewrite the pages' tables from the records
    python docs/tables/tables.py quick [ID ...]       # rerun the quick versions, compare
    python docs/tables/tables.py quick --write [ID ...]  # ... and commit their new numbers

After rerunning an experiment's full command and copying its record into place, ``render``
regenerates the page and ``quick --write`` the quick numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ROOT",
    "QUICK_DIR",
    "Table",
    "registry",
    "page_table",
    "replace_table",
    "quick_numbers",
    "compare_numbers",
    "main",
]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
QUICK_DIR = HERE / "quick"
QUICK_RTOL = 1e-9
"""Relative tolerance on floats of a quick version. The runs are deterministic: on one machine
type they agree bit for bit, and 1e-9 only absorbs the last bits that another thread count
or BLAS code path may change in short training runs, while any change of an update rule, a
loss or a metric moves them at the 1e-3 level or more. The quick numbers are those of the
machine type the suite runs on (the CI's): tables of rounding errors (``math-*``) measure the
last bits themselves, and on another CPU they must be regenerated (``quick --write``)."""


@dataclass(frozen=True)
class Table:
    """One measured table of a page.

    Parameters
    ----------
    id : str
        The name in the page's markers.
    page : str
        The page, relative to the repository root (``docs/gan.md``).
    command : str
        The command that produced the record; the page states it within
        :data:`COMMAND_WINDOW` lines before the table.
    record : tuple of str
        The committed files the table is rendered from (repository-relative).
    render : callable
        ``render() -> str``: the table's Markdown (no trailing newline), from the record.
    quick : callable, optional
        ``quick() -> dict``: the quick version's numbers (JSON types; timings left out),
        committed in ``docs/tables/quick/ID.json``.
    rerun_by : str, optional
        Instead of ``quick``: the test (``tests/...py::name``) that already reruns the quick
        version of this experiment and compares it with the record. Exactly one of the two.
    """

    id: str
    page: str
    command: str
    record: tuple[str, ...]
    render: Callable[[], str]
    quick: Callable[[], dict[str, Any]] | None = None
    rerun_by: str = ""

    def __post_init__(self) -> None:
        if (self.quick is None) == (not self.rerun_by):
            raise ValueError(f"table {self.id!r}: give exactly one of quick and rerun_by")


COMMAND_WINDOW = 40
"""Lines before a table's opening marker within which its page must state the command."""


def _begin(table_id: str) -> str:
    return f"<!-- table: {table_id} -->"


def _end(table_id: str) -> str:
    return f"<!-- end table: {table_id} -->"


def registry() -> dict[str, Table]:
    """Every registered table, by ID, from the ``*_tables.py`` modules of this folder."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    tables: dict[str, Table] = {}
    for path in sorted(HERE.glob("*_tables.py")):
        module = importlib.import_module(path.stem)
        for table in module.TABLES:
            if table.id in tables:
                raise ValueError(f"table {table.id!r} is registered twice")
            tables[table.id] = table
    return tables


def _span(lines: Sequence[str], table: Table) -> tuple[int, int]:
    begin = [i for i, line in enumerate(lines) if line.strip() == _begin(table.id)]
    end = [i for i, line in enumerate(lines) if line.strip() == _end(table.id)]
    if len(begin) != 1 or len(end) != 1 or end[0] <= begin[0]:
        raise ValueError(
            f"{table.page} must hold the markers {_begin(table.id)!r} and {_end(table.id)!r} "
            f"once each, in that order (found {len(begin)} and {len(end)})"
        )
    return begin[0], end[0]


def page_table(table: Table) -> str:
    """The table as the page has it now (the lines between its markers)."""
    lines = (ROOT / table.page).read_text(encoding="utf-8").splitlines()
    begin, end = _span(lines, table)
    return "\n".join(lines[begin + 1 : end]).strip("\n")


def command_is_stated(table: Table) -> bool:
    """Whether the page states the table's command in the lines before it."""
    lines = (ROOT / table.page).read_text(encoding="utf-8").splitlines()
    begin, _ = _span(lines, table)
    window = "\n".join(lines[max(0, begin - COMMAND_WINDOW) : begin])
    return " ".join(table.command.split()) in " ".join(window.replace("\\\n", " ").split())


def replace_table(table: Table) -> bool:
    """Rewrite the page's table from its record; return whether the page changed."""
    path = ROOT / table.page
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    begin, end = _span(lines, table)
    new = lines[: begin + 1] + table.render().splitlines() + lines[end:]
    new_text = "\n".join(new) + ("\n" if text.endswith("\n") else "")
    if new_text == text:
        return False
    path.write_text(new_text, encoding="utf-8")
    return True


def quick_path(table: Table) -> Path:
    """Where a table's committed quick numbers live."""
    return QUICK_DIR / f"{table.id}.json"


def quick_numbers(table: Table) -> dict[str, Any]:
    """Run the table's quick version; its numbers, round-tripped through JSON.

    The BLAS pools get one thread each, as in the sweeps' workers: the quick versions do
    small-matrix work, where more threads only wait on each other.
    """
    with _one_blas_thread():
        numbers = table.quick()
    return json.loads(json.dumps(numbers, sort_keys=True))


def _one_blas_thread() -> Any:
    try:
        threadpoolctl = importlib.import_module("threadpoolctl")
    except ImportError:  # the numbers do not depend on it, only the time
        return contextlib.nullcontext()
    return threadpoolctl.threadpool_limits(1, user_api="blas")


def compare_numbers(expected: Any, actual: Any, where: str = "") -> list[str]:
    """Differences between committed and recomputed quick numbers, one line each.

    Integers, strings, ``None`` and the structure must be equal; floats agree to
    :data:`QUICK_RTOL` (relative), or exactly at zero and for non-finite values.

    Examples
    --------
    >>> compare_numbers({"a": 1.0, "b": [1, 2]}, {"a": 1.0 + 1e-12, "b": [1, 2]})
    []
    >>> compare_numbers({"a": 1.0}, {"a": 1.1})
    ['a: committed 1.0, now 1.1']
    """
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key in sorted(set(expected) | set(actual)):
            here = f"{where}.{key}" if where else str(key)
            if key not in actual or key not in expected:
                side = "now missing" if key not in actual else "not committed"
                out.append(f"{here}: {side}")
            else:
                out += compare_numbers(expected[key], actual[key], here)
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{where}: committed {len(expected)} entries, now {len(actual)}"]
        return [
            line
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for line in compare_numbers(e, a, f"{where}[{i}]")
        ]
    if _is_float(expected) and _is_float(actual) and type(expected) is type(actual):
        if _floats_agree(float(expected), float(actual)):
            return []
    elif expected == actual and type(expected) is type(actual):
        return []
    return [f"{where}: committed {expected!r}, now {actual!r}"]


def _is_float(value: Any) -> bool:
    return isinstance(value, float)


def _floats_agree(expected: float, actual: float) -> bool:
    if not (math.isfinite(expected) and math.isfinite(actual)):
        return repr(expected) == repr(actual)
    return abs(actual - expected) <= QUICK_RTOL * abs(expected)


# ----------------------------------------------------------------------------- the command


def _select(tables: Mapping[str, Table], ids: Sequence[str]) -> list[Table]:
    unknown = [i for i in ids if i not in tables]
    if unknown:
        raise SystemExit(f"tables.py: unknown table {unknown[0]!r}; known: {', '.join(tables)}")
    return [tables[i] for i in ids] if ids else list(tables.values())


def _check(selected: Sequence[Table]) -> int:
    stale = [t.id for t in selected if page_table(t) != t.render() or not command_is_stated(t)]
    for table_id in stale:
        print(f"{table_id}: the page differs from its record (run: render {table_id})")
    return 1 if stale else 0


def _quick(selected: Sequence[Table], write: bool) -> int:
    failed = 0
    for table in selected:
        if table.quick is None:
            print(f"{table.id}: rerun by {table.rerun_by}")
            continue
        numbers = quick_numbers(table)
        path = quick_path(table)
        if write:
            path.parent.mkdir(exist_ok=True)
            path.write_text(json.dumps(numbers, indent=1, sort_keys=True) + "\n")
            print(f"{table.id}: wrote {path.relative_to(ROOT)}")
            continue
        differences = compare_numbers(json.loads(path.read_text()), numbers)
        failed += bool(differences)
        print(f"{table.id}: " + ("agrees" if not differences else "; ".join(differences[:5])))
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python docs/tables/tables.py``."""
    parser = argparse.ArgumentParser(prog="tables.py", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("list", "check", "render", "quick"))
    parser.add_argument("ids", nargs="*", help="table IDs (default: all)")
    parser.add_argument("--write", action="store_true", help="quick: commit the new numbers")
    args = parser.parse_intermixed_args(argv)
    selected = _select(registry(), args.ids)
    if args.action == "list":
        for t in selected:
            print(f"{t.id}\t{t.page}\t{t.command}")
        return 0
    if args.action == "check":
        return _check(selected)
    if args.action == "render":
        for t in selected:
            print(f"{t.id}: {'rewritten' if replace_table(t) else 'unchanged'} in {t.page}")
        return 0
    return _quick(selected, args.write)


if __name__ == "__main__":
    raise SystemExit(main())
