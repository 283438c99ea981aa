"""Mutation testing of the golden checker: its power, measured.

An independent implementation of every golden output (``reference_impl.py``, NumPy, SciPy
and autograd, nothing of hsc_ref) passes at float64 and float32; each realistic bug of
``mutants.py`` planted into it fails at float64, and at float32 unless float32 cannot see it
(then the mutant says why, and it must pass there). The checker's diagnosis of the *first*
root failure (the one a user reads first) names the bug, and no root failure lies outside
the outputs the bug can reach (a Gram normalization is not blamed on the cutoff). The rerun
gives the committed record of
``python tests/golden/mutation_table.py --record docs/tables/records/validating-mutation.json``
(every verdict and diagnosis the table shows), and the table in docs/validating.md is the
one that record renders to.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from mutants import MUTANTS, Mutant
from mutation_table import (
    PRECISIONS,
    MutantRow,
    MutationRecord,
    Verdict,
    all_verdicts,
    counts_table,
    mutation_table,
    read_record,
    record_from_json,
    record_json,
    summarize,
)

from hsc_ref import golden
from hsc_ref.golden._diagnosis import _split

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "validating.md"
RECORD = ROOT / "docs" / "tables" / "records" / "validating-mutation.json"
REGENERATE = (
    "regenerate it: python tests/golden/mutation_table.py --force --record "
    "docs/tables/records/validating-mutation.json, then "
    "python docs/tables/tables.py render validating-mutation"
)


@pytest.fixture(scope="module")
def verdicts(session_gold: golden.GoldenSet) -> dict[str, dict[str, Verdict]]:
    """Every mutant's verdicts at both precisions, computed once (about 10 s)."""
    return all_verdicts(session_gold)


def test_there_are_at_least_30_named_mutants() -> None:
    names = [m.name for m in MUTANTS]
    assert len(names) >= 30 and len(set(names)) == len(names)


def test_a_diagnosis_is_judged_against_its_mutant() -> None:
    """right / partly / none / wrong, each reachable (the judge can say each of them)."""
    ridge = next(m for m in MUTANTS if m.name == "pinv_ridge")
    assert ridge.judge("a ridge (Tikhonov) inverse (H^2 + delta I)^-1 H ...") == "right"
    assert ridge.judge("eigenvalues kept or dropped near the cutoff: 11 kept ...") == "partly"
    assert ridge.judge("no known cause matches: pinv is not ...") == "none"
    assert ridge.judge("") == "none"
    assert ridge.judge("differences at float32 rounding: ...") == "wrong"


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
    expected = mutant.expected(precision)
    assert v.first is not None and expected in v.first.cause, (
        f"the first root failure's diagnosis does not name {expected!r}:\n{causes}"
    )
    assert mutant.judge(v.first.cause) in ("right", "partly")
    if mutant.roots is not None:
        stray = {r.key for r in v.roots if _split(r.output)[0] not in mutant.roots}
        assert not stray, f"root failures outside {sorted(mutant.roots)}: {stray}\n{causes}"


def _row_differences(committed: MutantRow, now: MutantRow) -> list[str]:
    fields = ("bug", "verdicts", "root", "diagnosis", "judged")
    return [
        f"{now.name}.{f}: committed {getattr(committed, f)!r}, now {getattr(now, f)!r}"
        for f in fields
        if getattr(committed, f) != getattr(now, f)
    ]


def _stale(committed: MutationRecord, now: MutationRecord) -> list[str]:
    """Where a rerun's record differs from the committed one, one line each."""
    if [r.name for r in committed.mutants] != [r.name for r in now.mutants]:
        return ["the mutants (or their order) differ"]
    differences = [
        line
        for old, new in zip(committed.mutants, now.mutants, strict=True)
        for line in _row_differences(old, new)
    ]
    if committed.clean != now.clean:
        differences.insert(0, f"clean: committed {committed.clean}, now {now.clean}")
    return differences


def test_a_rerun_gives_the_committed_record(verdicts) -> None:
    """Every verdict and diagnosis of the page's table, recomputed: a change fails here."""
    differences = _stale(read_record(RECORD), summarize(verdicts))
    assert not differences, "the record is stale: " + "; ".join(differences) + "; " + REGENERATE
    assert record_json(summarize(verdicts)) == json.loads(RECORD.read_text(encoding="utf-8"))


def test_an_edited_diagnosis_or_verdict_is_caught(verdicts) -> None:
    """The comparison can fail: one diagnosis, one verdict, the clean run's verdict moved."""
    now = summarize(verdicts)
    first = now.mutants[0]
    edits = [
        replace(first, diagnosis=f"{first.diagnosis} (edited)"),
        replace(first, verdicts={**first.verdicts, "float32": "passes"}),
    ]
    for edited in edits:
        committed = replace(now, mutants=(edited, *now.mutants[1:]))
        assert len(_stale(committed, now)) == 1
    assert _stale(replace(now, clean={**now.clean, "float64": "FAIL"}), now)
    assert _stale(replace(now, mutants=now.mutants[::-1]), now)


def test_a_malformed_record_is_refused(verdicts) -> None:
    data = record_json(summarize(verdicts))
    assert record_from_json(json.loads(json.dumps(data))) == summarize(verdicts)
    del data["mutants"][0]["diagnosis"]
    with pytest.raises(ValueError, match="exactly the keys"):
        record_from_json(data)
    data = record_json(summarize(verdicts))
    data["clean"]["float64"] = "ok"
    with pytest.raises(ValueError, match="a verdict is 'FAIL' or starts with 'passes'"):
        record_from_json(data)


def test_the_docs_show_the_table_of_the_committed_record() -> None:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(
        r"<!-- table: validating-mutation -->\n(.*?)\n<!-- end table: validating-mutation -->",
        text,
        re.S,
    )
    assert match, "docs/validating.md needs the mutation table between its markers"
    assert match.group(1) == mutation_table(read_record(RECORD)), (
        "the table is stale: python docs/tables/tables.py render validating-mutation"
    )
    counts = re.search(
        r"<!-- table: validating-diagnosis -->\n(.*?)\n<!-- end table: validating-diagnosis -->",
        text,
        re.S,
    )
    assert counts and counts.group(1) == counts_table(read_record(RECORD)), (
        "the counts are stale: python docs/tables/tables.py render validating-diagnosis"
    )
