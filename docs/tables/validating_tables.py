"""The measured table of ``docs/validating.md``: what the golden checker catches (mutants).

The mutation table is what ``python tests/golden/mutation_table.py`` prints: every mutant of
``tests/golden/mutants.py`` planted into the independent implementation
``tests/golden/reference_impl.py``, checked against a fresh golden set at float64 and float32.
Its record is that code: the run is deterministic, so :func:`render_mutation` reruns it (about
10 s) through the same module rather than reading a copy of its output.
``tests/golden/test_mutation.py`` reruns it too, asserting every verdict and diagnosis.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from types import ModuleType

from tables import ROOT, Table

from hsc_ref import golden

GOLDEN_TESTS = "tests/golden"


def _mutation_module() -> ModuleType:
    """``tests/golden/mutation_table.py`` (it puts its folder on ``sys.path`` for its helpers)."""
    folder = str(ROOT / GOLDEN_TESTS)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module("mutation_table")


def render_mutation() -> str:
    """The mutation table, from a fresh golden set in a temporary folder."""
    module = _mutation_module()
    with tempfile.TemporaryDirectory(prefix="hsc_ref_mutation_") as folder:
        golden.write_golden(folder)
        verdicts = module.all_verdicts(golden.read_golden(folder))
        return module.mutation_table(verdicts)


TABLES = [
    Table(
        id="validating-mutation",
        page="docs/validating.md",
        command="python tests/golden/mutation_table.py",
        record=tuple(
            f"{GOLDEN_TESTS}/{name}.py" for name in ("mutation_table", "mutants", "reference_impl")
        ),
        render=render_mutation,
        rerun_by=(
            "tests/golden/test_mutation.py::test_the_docs_show_the_mutation_table_this_code_produces"
        ),
    ),
]
