"""No blind band around the cutoff: the ``matrix_cutoff_tight*`` cases and the cutoff sweep.

Their eigenvalues at ``1/1.2`` and ``1.2`` x the cutoff sit where the design puts them (robust
to rounding), every output that a cutoff off by more than 1.2, or scaled by another norm of
``H``, changes is comparable and moves beyond its tolerance, a correct implementation that
rounds differently passes, and the sweep of ``k`` x the golden cutoff gives the committed
record of ``python tests/golden/cutoff_sweep.py --record
docs/tables/records/validating-cutoff-sweep.json`` (the table of docs/validating.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
from cutoff_sweep import (
    FACTORS,
    PASS_BAND,
    SweepRow,
    golden_ranks,
    read_record,
    record_from_json,
    record_json,
)
from cutoff_sweep import summarize as summarize_sweep
from cutoff_sweep import sweep as run_sweep
from mutation_table import PRECISIONS
from reference_impl import OTHER_NORMS

from hsc_ref import golden
from hsc_ref.golden.cases import TIGHT_CUTOFF_RATIO, TIGHT_PINV_MARGIN, cutoff_rtol

ROOT = Path(__file__).resolve().parents[2]
RECORD = ROOT / "docs" / "tables" / "records" / "validating-cutoff-sweep.json"
TIGHT = {"matrix_cutoff_tight": "float64", "matrix_cutoff_tight_float32": "float32"}
CUTOFF_OUTPUTS = ("pinv", "hc", "rank")
BAND = "kept or dropped near the cutoff"  # the checker's diagnosis of a wrong kept set


def _tight(gold: golden.GoldenSet, name: str) -> tuple[golden.GoldenCase, str, float]:
    """The case, the precision whose cutoff its reference applies, and that cutoff."""
    case = gold.cases[name]
    policy = case.meta["cutoff_policy"]["H"]["reference_policy"]
    lam = case.outputs["eigenvalues"]
    return case, policy, cutoff_rtol(lam.shape[0], policy) * float(np.abs(lam).max())


def test_the_tight_cases_come_last_in_the_case_list() -> None:
    assert golden.CASE_NAMES[-2:] == tuple(TIGHT)


@pytest.mark.parametrize("name", TIGHT)
def test_eigenvalues_sit_at_their_designed_place_far_from_every_decision(
    session_gold: golden.GoldenSet, name: str
) -> None:
    """Each computed eigenvalue lies within eigh's ``n eps ||H||`` of the constructed one, and
    those next to the cutoff lie outside the rounding band ``[0.9, 1.1] c`` and inside ``(c /
    1.3, 1.3 c)`` with at least 5 x that rounding to spare on each side."""
    case, _, c = _tight(session_gold, name)
    lam = case.outputs["eigenvalues"]
    n, eps = lam.shape[0], float(np.finfo(np.float64).eps)
    rounding = n * eps * float(np.abs(lam).max())  # the reference computes in float64
    assert np.abs(lam - np.sort(case.meta["constructed_eigenvalues"])).max() <= rounding
    near = np.sort(np.abs(lam[(np.abs(lam) > 0.5 * c) & (np.abs(lam) < 2 * c)])) / c
    assert near == pytest.approx([1 / TIGHT_CUTOFF_RATIO, TIGHT_CUTOFF_RATIO], abs=0.01)
    low, high = near
    width = 0.01  # n eps ||H|| / c: how far an implementation's eigenvalue may round, in c
    assert 1 / 1.3 + 5 * width < low < 0.9 - 5 * width
    assert 1.1 + 5 * width < high < 1.3 - 5 * width


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", TIGHT)
def test_other_norms_of_h_move_the_cutoff_past_an_eigenvalue(name: str, seed: int) -> None:
    """``||H||_F``, ``|trace H|`` and ``sum |lam|`` are 1.5 to 1.8, 2 to 3 and 3.5 to 4.5 x
    ``max|lam|`` for any seed (the bulk's bounds, docs/validating.md): a cutoff scaled by one
    lies above the eigenvalue at 1.2 c and below the one at 5 c."""
    case = golden.build_case(name, seed)
    h, lam = case.inputs["H"], case.outputs["eigenvalues"]
    scale = float(np.abs(lam).max())
    matrix = {
        "frobenius": np.linalg.norm(h),  # what torch.linalg.norm(H) computes
        "trace": abs(np.trace(h)),
        "nuclear": np.linalg.norm(h, "nuc"),
    }
    bounds = {"frobenius": (1.5, 1.8), "trace": (2.0, 3.0), "nuclear": (3.5, 4.5)}
    for rule, norm in OTHER_NORMS.items():
        ratio = float(norm(lam)) / scale
        assert matrix[rule] / scale == pytest.approx(ratio, rel=1e-12), rule
        low, high = bounds[rule]
        assert TIGHT_CUTOFF_RATIO < low <= ratio <= high < 5, (rule, ratio)


@pytest.mark.parametrize("name", TIGHT)
def test_cutoff_outputs_are_comparable_at_the_reference_precision_only(
    session_gold: golden.GoldenSet, name: str
) -> None:
    case, policy, _ = _tight(session_gold, name)
    for output in CUTOFF_OUTPUTS:
        for precision in PRECISIONS:
            assert case.tolerances[output][precision].comparable == (precision == policy)
    for output in ("eigenvalues", "step", "step_cholesky"):
        assert all(case.tolerances[output][p].comparable for p in PRECISIONS), output


@pytest.mark.parametrize("name", TIGHT)
def test_keeping_or_dropping_either_eigenvalue_moves_pinv_and_hc_beyond_their_tolerance(
    session_gold: golden.GoldenSet, name: str
) -> None:
    """The change ``q q^T / lam`` of ``H^+`` (and ``Hc``) has an entry at least
    ``TIGHT_PINV_MARGIN`` x its tolerance, for each of the two eigenvalues next to the cutoff;
    the rank moves by one and is compared exactly."""
    case, policy, c = _tight(session_gold, name)
    lam, q = np.linalg.eigh(case.inputs["H"])
    for j in np.where((np.abs(lam) > 0.5 * c) & (np.abs(lam) < 2 * c))[0]:
        change = np.abs(np.outer(q[:, j], q[:, j]) / lam[j]).max()
        for output in ("pinv", "hc"):
            assert change >= TIGHT_PINV_MARGIN * case.tolerances[output][policy].atol, output


@pytest.mark.parametrize("name", TIGHT)
def test_correct_implementations_that_round_differently_pass(
    session_gold: golden.GoldenSet, name: str
) -> None:
    """SciPy's ``pinvh`` and NumPy's SVD ``pinv`` with the golden policy, and ``eigh`` of ``H``
    perturbed by a backward error ``n eps ||H||`` (what a correct ``eigh`` may make), at the
    precision whose cutoff the case's reference applies: every cutoff output passes."""
    case, policy, _ = _tight(session_gold, name)
    dtype = np.dtype(policy)
    h = case.inputs["H"].astype(dtype)
    n = h.shape[0]
    rtol = cutoff_rtol(n, policy)
    rng = np.random.default_rng(18)
    lam = np.linalg.eigvalsh(h)
    rank = np.int64((np.abs(lam) > rtol * np.abs(lam).max()).sum())
    candidates = [
        (scipy.linalg.pinvh(h, atol=0.0, rtol=rtol), rank),
        (np.linalg.pinv(h, rtol=rtol), rank),  # SVD
    ]
    for _ in range(8):
        e = rng.standard_normal((n, n))
        e = (e + e.T) / 2
        e *= n * float(np.finfo(dtype).eps) * float(np.abs(lam).max()) / np.linalg.norm(e, 2)
        lam, q = np.linalg.eigh(h + e.astype(dtype))
        kept = np.abs(lam) > rtol * np.abs(lam).max()
        candidates.append(((q[:, kept] / lam[kept]) @ q[:, kept].T, np.int64(kept.sum())))
    for pinv, rank in candidates:
        results = {f"{name}/pinv": pinv, f"{name}/hc": h + pinv, f"{name}/rank": rank}
        report = golden.check_results(
            session_gold, results, only=[f"{name}/{o}" for o in CUTOFF_OUTPUTS], precision=policy
        )
        assert report.passed, report.format_table(failures_only=True)


# ------------------------------------------------------------------------------------ the sweep


@pytest.fixture(scope="module")
def sweep(session_gold: golden.GoldenSet):
    """The verdicts of every factor of the sweep at both precisions (about a second)."""
    return run_sweep(session_gold)


def test_every_factor_outside_the_band_fails_and_every_one_inside_passes(
    session_gold: golden.GoldenSet, sweep
) -> None:
    """At both precisions: the verdict, a diagnosis that names the kept set at every root
    failure, and the tight case's rank one above the golden one below the band, one below it
    above the band."""
    low, high = PASS_BAND
    ranks = golden_ranks(session_gold)
    assert any(low < k < high for k in FACTORS) and any(not low <= k <= high for k in FACTORS)
    for k, by_precision in sweep.items():
        assert min(abs(k - low), abs(k - high)) > 0.01, k  # off the ends rounding decides
        for precision, point in by_precision.items():
            v = point.verdict
            assert v.failed == (not low < k < high), (k, precision)
            assert all(BAND in r.cause for r in v.roots), (k, precision)
            assert point.tight_rank - ranks[precision] == (k <= low) - (k >= high), (k, precision)


def test_the_grid_holds_the_factors_a_user_gets_wrong() -> None:
    """1.3 and 2 either way and 1.59 (below the 1.6 of gan_player_cutoffs) must fail; 0.95
    and 1.05 must pass."""
    for k in (0.5, 1 / 1.3, 1.3, 1.59, 2.0, 0.95, 1.05):
        assert k in FACTORS


def test_a_rerun_gives_the_committed_sweep(session_gold: golden.GoldenSet, sweep) -> None:
    """Every verdict and rank of the page's table, recomputed."""
    now = summarize_sweep(sweep), golden_ranks(session_gold)
    assert now == read_record(RECORD), (
        "the record is stale: python tests/golden/cutoff_sweep.py --force --record "
        "docs/tables/records/validating-cutoff-sweep.json, then python docs/tables/tables.py "
        "render validating-cutoff-sweep"
    )
    assert record_json(*now) == json.loads(RECORD.read_text(encoding="utf-8"))


def test_a_malformed_or_edited_sweep_record_is_caught(
    session_gold: golden.GoldenSet, sweep
) -> None:
    rows, ranks = summarize_sweep(sweep), golden_ranks(session_gold)
    data = record_json(rows, ranks)
    assert record_from_json(json.loads(json.dumps(data))) == (rows, ranks)
    edited = SweepRow(rows[0].k, {**rows[0].verdicts, "float64": "passes"}, rows[0].tight_ranks)
    assert (edited, *rows[1:]) != rows
    del data["factors"][0]["tight_ranks"]
    with pytest.raises(ValueError, match="exactly the keys"):
        record_from_json(data)
    data = record_json(rows, ranks)
    data["factors"][0]["verdicts"]["float32"] = "ok"
    with pytest.raises(ValueError, match="a verdict is"):
        record_from_json(data)
