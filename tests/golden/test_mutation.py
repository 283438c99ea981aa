"""Mutation testing of the golden checker: its power, measured.

An independent implementation of every golden output (``reference_impl.py``, NumPy, SciPy
and autograd, nothing of hsc_ref) passes at float64 and float32; each realistic bug of
``mutants.py`` planted into it fails at float64, and at float32 unless float32 cannot see it
(then the mutant says why, and it must pass there). The checker's diagnosis of a root
failure names the bug, and no root failure lies outside the outputs the bug can reach
(a Gram normalization is not blamed on the cutoff). The table in docs/validating.md is the
one ``python tests/golden/mutation_table.py`` prints.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mutants import MUTANTS, Mutant
from mutation_table import PRECISIONS, Verdict, all_verdicts, mutation_table

from hsc_ref import golden
from hsc_ref.golden.diagnosis import _split

DOC = Path(__file__).resolve().parents[2] / "docs" / "validating.md"


@pytest.fixture(scope="module")
def verdicts(session_gold: golden.GoldenSet) -> dict[str, dict[str, Verdict]]:
    """Every mutant's verdicts at both precisions, computed once (about 10 s)."""
    return all_verdicts(session_gold)


def test_there_are_at_least_30_named_mutants() -> None:
    names = [m.name for m in MUTANTS]
    assert len(names) >= 30 and len(set(names)) == len(names)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_the_clean_independent_implementation_passes(verdicts, precision: str) -> None:
    clean = verdicts["clean"][precision]
    assert not clean.failed, [r.key for r in clean.roots]


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
@pytest.mark.parametrize("precision", PRECISIONS)
def test_every_mutant_fails_with_its_diagnosis(verdicts, mutant: Mutant, precision: str) -> None:
    v = verdicts[mutant.name][precision]
    if precision == "float32" and mutant.float32_blind:
        assert not v.failed, f"{mutant.name} is listed as invisible at float32, yet it fails"
        return
    assert v.failed, f"{mutant.name} passes the checker at {precision}"
    causes = "\n".join(f"{r.key}: {r.cause}" for r in v.roots)
    assert v.diagnosed(mutant.diagnosis), f"no root cause names {mutant.diagnosis!r}:\n{causes}"
    if mutant.roots is not None:
        stray = {r.key for r in v.roots if _split(r.output)[0] not in mutant.roots}
        assert not stray, f"root failures outside {sorted(mutant.roots)}: {stray}\n{causes}"


def test_the_docs_show_the_mutation_table_this_code_produces(verdicts) -> None:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(
        r"<!-- table: validating-mutation -->\n(.*?)\n<!-- end table: validating-mutation -->",
        text,
        re.S,
    )
    assert match, "docs/validating.md needs the mutation table between its markers"
    assert match.group(1) == mutation_table(verdicts), (
        "the table is stale: regenerate it with 'python tests/golden/mutation_table.py'"
    )
