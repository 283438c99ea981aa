"""Tune, then confirm: the criterion, its ties, the plan of each phase, and a real protocol run."""

from __future__ import annotations

import csv
import math
import statistics

import pytest

from hsc_ref.lab.sweep._protocol import plan, run_value, select_step_size
from hsc_ref.lab.sweep._report import load_stored, write_report
from hsc_ref.lab.sweep._spec import parse_spec

SPEC = parse_spec(
    'mode = "tune-confirm"\n[gan]\ndata = ["ring"]\nhidden = [[3]]\nmethods = ["hsc"]\n'
    "tune_seeds = [20, 21, 22]\nconfirm_seeds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
    "[gan.lr]\nhsc = [0.1, 1.0, 10.0]\n"
)


def _fake(runs, values):
    """Stored records whose metrics come from ``values(run)`` (a dict)."""
    return {r.key: {"metrics": {"diverged_at": None, **values(r)}} for r in runs}


def test_run_value_orients_every_metric_and_counts_failures_as_worst():
    assert run_value({"modes_captured": 3, "diverged_at": None}, "modes_captured", "gan") == 3
    assert run_value({"reverse_kl": 0.5, "diverged_at": None}, "reverse_kl", "gan") == -0.5
    assert run_value({"final_loss": 2.0}, "final_loss", "style") == -2.0
    for worst in (None, {"modes_captured": 8, "diverged_at": 3}, {"reverse_kl": None},
                  {"reverse_kl": math.nan}):  # fmt: skip
        assert run_value(worst, "reverse_kl", "gan") == -math.inf


def test_the_best_median_wins_ties_go_to_the_next_metric_then_the_smaller_lr():
    runs = SPEC.grid_runs()
    section = SPEC.section("gan")
    # modes: lr 0.1 -> 2, 1 -> 5, 10 -> 5 (tie); high quality: 1 -> 0.3, 10 -> 0.6
    modes = {0.1: 2, 1.0: 5, 10.0: 5}
    hq = {0.1: 0.9, 1.0: 0.3, 10.0: 0.6}
    stored = _fake(
        runs, lambda r: {"modes_captured": modes[r.lr], "high_quality_fraction": hq[r.lr]}
    )
    assert select_step_size(section, runs, stored).chosen == 10.0
    stored = _fake(runs, lambda r: {"modes_captured": 5, "high_quality_fraction": 0.5})
    assert select_step_size(section, runs, stored).chosen == 0.1  # full tie: smaller lr


def test_the_median_over_tuning_seeds_decides_and_divergence_is_worst():
    runs = SPEC.grid_runs()
    section = SPEC.section("gan")

    # lr 10 has the best single run (8 modes) but diverges on two of three seeds
    def values(r):
        if r.lr == 10.0:
            return {"modes_captured": 8, "high_quality_fraction": 1.0,
                    "diverged_at": None if r.seed == 20 else 5}  # fmt: skip
        return {"modes_captured": 4 if r.lr == 1.0 else 3, "high_quality_fraction": 0.5}

    selection = select_step_size(section, runs, _fake(runs, values))
    assert selection.chosen == 1.0
    assert selection.scores[2] == (-math.inf, -math.inf)


def test_confirmation_runs_wait_for_every_tuning_run_and_use_fresh_seeds():
    runs = SPEC.grid_runs()
    stored = _fake(runs[:-1], lambda r: {"modes_captured": 1, "high_quality_fraction": 0.1})
    waiting = plan(SPEC, stored)
    assert dict(waiting.phases)["confirm"] == ()
    assert waiting.selections[0].missing == 1 and waiting.selections[0].chosen is None
    stored |= _fake(runs[-1:], lambda r: {"modes_captured": 7, "high_quality_fraction": 0.1})
    ready = plan(SPEC, stored)
    confirm = dict(ready.phases)["confirm"]
    assert [r.seed for r in confirm] == list(range(10))
    assert {r.lr for r in confirm} == {ready.selections[0].chosen}
    assert not {r.key for r in confirm} & {r.key for r in runs}


def test_a_real_protocol_run_chooses_what_the_stored_medians_say(tuned_sweep, tiny):
    spec = parse_spec(tiny["tune"])
    stored = load_stored(tuned_sweep)
    # independent recomputation: the median distance to equilibrium of each sgd step size
    medians = {}
    for record in stored.values():
        if record["phase"] == "tune" and record["method"] == "sgd":
            medians.setdefault(record["lr"], []).append(
                record["metrics"]["distance_to_equilibrium"]
                if record["metrics"]["diverged_at"] is None else math.inf
            )  # fmt: skip
    assert sorted(len(v) for v in medians.values()) == [3, 3, 3]
    best = min(medians, key=lambda lr: (statistics.median(medians[lr]), lr))
    (sgd,) = [s for s in plan(spec, stored).selections if s.method == "sgd"]
    assert sgd.chosen == best
    confirmed = [r for r in stored.values() if r["phase"] == "confirm"]
    assert len(confirmed) == 2 * len(tiny["confirm_seeds"])
    assert {r["lr"] for r in confirmed if r["method"] == "sgd"} == {best}


def test_the_result_table_states_what_was_tuned_on_which_seeds_by_which_criterion(
    tuned_sweep, tiny
):
    write_report(tuned_sweep, plots=False)
    with open(tuned_sweep / "protocol.csv", encoding="utf-8") as handle:
        rows = {row["method"]: row for row in csv.DictReader(handle)}
    sgd, hsc = rows["sgd"], rows["hsc"]
    assert sgd["tuned"] == "lr" and sgd["grid"] == "0.05 0.5 2"
    assert sgd["tune_seeds"] == "100 101 102"
    assert sgd["criterion"] == (
        "median distance_to_equilibrium (lower is better); ties: smaller lr; diverged = worst"
    )
    assert sgd["status"] == "chosen" and float(sgd["chosen_lr"]) in (0.05, 0.5, 2.0)
    assert sgd["confirm_seeds"] == " ".join(str(s) for s in tiny["confirm_seeds"])
    edge = "yes" if float(sgd["chosen_lr"]) in (0.05, 2.0) else "no"
    assert sgd["chosen_at_grid_edge"] == edge  # a choice at the edge asks for a wider grid
    assert hsc["tuned"] == "nothing (one step size)" and float(hsc["chosen_lr"]) == 1.0
    assert hsc["chosen_at_grid_edge"] == ""
    assert int(sgd["distance_to_equilibrium_n"]) == 10
    assert float(sgd["distance_to_equilibrium_ci_coverage"]) == pytest.approx(1 - 22 / 1024)
    md = (tuned_sweep / "summary.md").read_text(encoding="utf-8")
    assert "## gan: tuned, then confirmed" in md and "100 101 102" in md
