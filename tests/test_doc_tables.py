"""Every table of measured numbers in docs/ still comes out of the code (docs/tables/tables.py).

For each registered table: the page's table is what its committed record renders to, the page
states the command that made the record beside it, and the experiment's quick version still
gives the committed quick numbers (or a named test reruns it). A table of measured numbers
that is not registered fails here too, unless it is listed in :data:`STATIC` with the reason
it needs no record.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "tables"))

import tables  # noqa: E402  (docs/tables/tables.py, not a package module)

REGISTRY = tables.registry()
IDS = sorted(REGISTRY)
PAGES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))

STATIC = {
    ("docs/gan.md", "| module | what it holds |"): "what each module holds, in words",
    ("docs/gan.md", "| method | update (per player) | default lr |"): "the methods' definitions",
    ("docs/validating.md", "| case | what it exercises |"): "the cases' designed inputs",
    ("docs/validating.md", "| | float32 |"): "what float32 can match, in words",
    ("docs/benchmarks.md", "| operation | dense `n x n` arrays | note |"): (
        "working memory by design: arrays per operation and the routes' block limits"
    ),
    ("docs/design.md", "| the article claims | what holds |"): (
        "the article's claims against the measured tables of gan.md and style.md, in words"
    ),
}
"""Tables whose numbers are definitions or designed inputs, not measurements (page, header)."""

MEASURED = re.compile(
    r"(?<![\w.])[-+]?\d+\.\d+|\d(\.\d+)?e[-+]?\d+"
    r"|\b\d+(\.\d+)?\s?(ms|s|[KMG]i?B|%)(?!\w)|\b\d+(\.\d+)?x\b"
)
"""A cell holding a measured-looking number: a decimal, an exponent, a time, a memory size,
a percentage, a ratio (``3x``)."""


def _tables_outside_markers(text: str) -> list[tuple[int, list[str]]]:
    """(line number, lines) of every Markdown table not between table markers."""
    lines, found, inside, i = text.splitlines(), [], False, 0
    while i < len(lines):
        line = lines[i]
        inside = line.startswith("<!-- table:") or (inside and not line.startswith("<!-- end"))
        if line.startswith("|") and not inside:
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            found.append((i + 1, lines[i:j]))
            i = j
            continue
        i += 1
    return found


def _looks_measured(table: list[str]) -> bool:
    cells = (c for row in table[2:] for c in row.split("|"))
    return any(MEASURED.search(re.sub(r"`[^`]*`", "", cell)) for cell in cells)


@pytest.mark.parametrize("table_id", IDS)
def test_the_pages_table_is_what_its_record_renders_to(table_id):
    table = REGISTRY[table_id]
    for path in table.record:
        assert (ROOT / path).is_file(), f"{table_id}: record {path} is not committed"
    assert tables.page_table(table) == table.render(), (
        f"{table.page}: the table {table_id} differs from its record; "
        f"run python docs/tables/tables.py render {table_id}"
    )


@pytest.mark.parametrize("table_id", IDS)
def test_the_page_states_the_command_beside_the_table(table_id):
    table = REGISTRY[table_id]
    assert tables.command_is_stated(table), (
        f"{table.page} must state `{table.command}` within {tables.COMMAND_WINDOW} lines "
        f"before the table {table_id}"
    )


@pytest.mark.parametrize("table_id", IDS)
def test_the_quick_version_gives_the_committed_quick_numbers(table_id):
    table = REGISTRY[table_id]
    if table.quick is None:
        path, _, name = table.rerun_by.partition("::")
        source = (ROOT / path).read_text(encoding="utf-8")
        assert re.search(rf"^def {re.escape(name)}\(", source, re.M), table.rerun_by
        return
    committed = json.loads(tables.quick_path(table).read_text())
    differences = tables.compare_numbers(committed, tables.quick_numbers(table))
    assert not differences, (
        f"{table_id}: the quick version no longer gives the committed numbers "
        f"({'; '.join(differences[:5])}); rerun `{table.command}`, then "
        f"python docs/tables/tables.py render {table_id} and quick --write {table_id}"
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_table_of_measured_numbers_is_registered(page):
    name = page.relative_to(ROOT).as_posix()
    unregistered = [
        f"{name}:{line}: {table[0]}"
        for line, table in _tables_outside_markers(page.read_text(encoding="utf-8"))
        if _looks_measured(table) and (name, table[0].strip()) not in STATIC
    ]
    assert not unregistered, "tables of measured numbers without a record: " + "; ".join(
        unregistered
    )


def test_every_registered_table_sits_on_its_page_once():
    for table in REGISTRY.values():
        tables.page_table(table)  # raises unless both markers are there, once, in order


def test_a_page_whose_numbers_drifted_from_its_record_is_caught(tmp_path, monkeypatch):
    """The check can fail: one digit changed in a copy of a page is reported."""
    table = REGISTRY[IDS[0]]
    page = tmp_path / table.page
    page.parent.mkdir(parents=True)
    rendered = table.render()
    digit = re.search(r"\d", rendered.splitlines()[2])
    line = rendered.splitlines()[2]
    changed = line[: digit.start()] + str((int(digit.group()) + 1) % 10) + line[digit.end() :]
    text = (ROOT / table.page).read_text(encoding="utf-8").replace(line, changed)
    page.write_text(text, encoding="utf-8")
    monkeypatch.setattr(tables, "ROOT", tmp_path)
    assert tables.page_table(table) != table.render()
    assert tables.replace_table(table) is True  # render mends it
    assert tables.page_table(table) == table.render()


def test_a_moved_quick_number_is_caught():
    """The comparison can fail: a float moved past the tolerance, a changed count, a new key."""
    committed = {"hsc": {"modes_captured": 2, "reverse_kl": 0.5, "diverged_at": None}}
    assert tables.compare_numbers(committed, committed) == []
    moved = {"hsc": {"modes_captured": 2, "reverse_kl": 0.5 * (1 + 1e-6), "diverged_at": None}}
    assert tables.compare_numbers(committed, moved) == [
        "hsc.reverse_kl: committed 0.5, now 0.5000005"
    ]
    assert tables.compare_numbers(committed, {"hsc": {**committed["hsc"], "modes_captured": 3}})
    assert tables.compare_numbers(committed, {"hsc": {**committed["hsc"], "diverged_at": 7}})
    assert tables.compare_numbers(committed, {"hsc": {**committed["hsc"], "new": 1.0}})
    assert tables.compare_numbers({"a": 1}, {"a": 1.0})  # an int turned float is a change


def test_an_unregistered_measured_table_is_caught():
    text = "intro\n\n| method | time |\n|---|---|\n| hsc | 1.25 s |\n"
    assert [_looks_measured(t) for _, t in _tables_outside_markers(text)] == [True]
    marked = "<!-- table: x -->\n" + text.split("\n\n")[1] + "<!-- end table: x -->\n"
    assert _tables_outside_markers(marked) == []
    static = "| name | meaning |\n|---|---|\n| `hsc` | the correction `λ + 1/λ` |\n"
    assert [_looks_measured(t) for _, t in _tables_outside_markers(static)] == [False]


@pytest.mark.parametrize(("data", "same_choice"), [("ring", 1), ("grid", 2)])
def test_the_step_sizes_two_gan_sweeps_share_gave_the_same_runs(data, same_choice):
    # docs/gan.md reads the small-step sweep's choice as the choice over both grids, because a
    # run is fixed by its configuration and seed: every run the two records share (same
    # method, lr and seed) must hold the same metrics, the timings aside.
    import csv

    def runs(name):
        with open(ROOT / "docs" / "sweeps" / "results" / name / "runs.csv", newline="") as f:
            return {(r["method"], float(r["lr"]), r["seed"]): r for r in csv.DictReader(f)}

    first, second = runs(f"gan-{data}-protocol"), runs(f"gan-{data}-small-lr-protocol")
    shared = sorted(set(first) & set(second))
    # Tuning: 3 methods x 2 shared step sizes x 3 seeds; confirmation: 10 seeds for each method
    # that chose the same step size in both (Newton; on the grid saddle-free too).
    assert len(shared) == 3 * 2 * 3 + 10 * same_choice
    timing = {"wall_time_per_step", "wall_s", "worker"}
    for key in shared:
        columns = (set(first[key]) & set(second[key])) - timing
        assert {c: first[key][c] for c in columns} == {c: second[key][c] for c in columns}, key
