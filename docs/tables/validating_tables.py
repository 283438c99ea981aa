"""The measured tables of ``docs/validating.md``: what the golden checker catches.

:data:`COMMAND` runs every mutant of ``tests/golden/mutants.py`` planted into the independent
implementation ``tests/golden/reference_impl.py`` against a fresh golden set at float64 and
float32, and writes what the table shows to :data:`RECORD` (per mutant: its name, its bug,
its verdict at each precision, the first root failure's diagnosis and how it names the bug;
and the clean run's verdicts). A second table counts those judgements. The table is
rendered from that committed record by the script's own :func:`mutation_table`, so reading
it costs no rerun. ``tests/golden/test_mutation.py`` reruns the suite once (about 10 s),
asserting every verdict and diagnosis, and that the rerun gives the committed record.

:data:`SWEEP_COMMAND` checks the same implementation with its cutoff ``k`` x the golden one
for a grid of ``k`` (``tests/golden/cutoff_sweep.py``) and writes :data:`SWEEP_RECORD`;
``tests/golden/test_cutoff_band.py`` reruns it (about a second) against the record.
"""

from __future__ import annotations

import importlib
import sys
from functools import cache
from types import ModuleType

from tables import ROOT, Table

GOLDEN_TESTS = "tests/golden"
RECORD = "docs/tables/records/validating-mutation.json"
COMMAND = f"python {GOLDEN_TESTS}/mutation_table.py --record {RECORD}"
SWEEP_RECORD = "docs/tables/records/validating-cutoff-sweep.json"
SWEEP_COMMAND = f"python {GOLDEN_TESTS}/cutoff_sweep.py --record {SWEEP_RECORD}"


@cache
def _mutation_module() -> ModuleType:
    """``tests/golden/mutation_table.py`` (it puts its folder on ``sys.path`` for its helpers)."""
    folder = str(ROOT / GOLDEN_TESTS)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module("mutation_table")


def render_mutation() -> str:
    """The mutation table, from the committed record."""
    module = _mutation_module()
    return module.mutation_table(module.read_record(ROOT / RECORD))


def render_diagnosis_counts() -> str:
    """How many mutants' first root failure names the bug (right, partly, wrong, none)."""
    module = _mutation_module()
    return module.counts_table(module.read_record(ROOT / RECORD))


def render_cutoff_sweep() -> str:
    """The cutoff sweep's table, from the committed record."""
    _mutation_module()  # puts tests/golden on sys.path
    module = importlib.import_module("cutoff_sweep")
    return module.sweep_table(*module.read_record(ROOT / SWEEP_RECORD))


TABLES = [
    Table(
        id="validating-mutation",
        page="docs/validating.md",
        command=COMMAND,
        record=(RECORD,),
        render=render_mutation,
        rerun_by="tests/golden/test_mutation.py::test_a_rerun_gives_the_committed_record",
    ),
    Table(
        id="validating-diagnosis",
        page="docs/validating.md",
        command=COMMAND,
        record=(RECORD,),
        render=render_diagnosis_counts,
        rerun_by="tests/golden/test_mutation.py::test_a_rerun_gives_the_committed_record",
    ),
    Table(
        id="validating-cutoff-sweep",
        page="docs/validating.md",
        command=SWEEP_COMMAND,
        record=(SWEEP_RECORD,),
        render=render_cutoff_sweep,
        rerun_by="tests/golden/test_cutoff_band.py::test_a_rerun_gives_the_committed_sweep",
    ),
]
