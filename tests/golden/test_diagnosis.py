"""The diagnoses that pointed the wrong way in issue 11, each pinned.

The independent implementation (``reference_impl.py``) with one bug planted; the report's
root failure must name the bug, and must not name the wrong one.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from mutation_table import check
from reference_impl import Config

from hsc_ref import golden
from hsc_ref.golden.diagnosis import depends_on, stage_of


def report_for(gold: golden.GoldenSet, precision: str = "float64", **changes):
    mutant = type("M", (), {"changes": changes})()
    return check(gold, mutant, precision)


def test_float32_computation_saved_as_float64_is_blamed_on_float32_not_the_layout(
    session_gold: golden.GoldenSet,
) -> None:
    report = report_for(session_gold, float32_inside=True)
    causes = {r.key: r.cause for r in report.roots()}
    assert "differences at float32 rounding" in causes["mlp_tanh/loss"]
    assert not any("weight.T" in c for c in causes.values())


def test_a_sign_flip_is_named_as_such(session_gold: golden.GoldenSet) -> None:
    report = report_for(session_gold, step_sign=1.0)
    cause = next(r.cause for r in report.roots() if r.key == "matrix_spd/step")
    assert cause.startswith("actual = -reference everywhere: a sign flip")
    assert "convention" not in cause


def test_a_gram_normalization_is_not_blamed_on_the_cutoff(session_gold: golden.GoldenSet) -> None:
    report = report_for(session_gold, gram="pytorch_tutorial")
    roots = {r.output for r in report.roots()}
    assert roots == {"gram_0", "gram_1", "style_gram_0", "style_gram_1"}
    pinv = next(r for r in report.rows if r.key == "style_pixels/pinv")
    assert pinv.upstream == "style_pixels/gram_0" and not pinv.cause
    assert "after style_pixels/gram_0" in report.format_table()


def test_a_constant_factor_is_matched_to_what_it_is(session_gold: golden.GoldenSet) -> None:
    cases = {
        "lr_power": (2, "matrix_spd/step", "lr = 0.5: the learning rate applied twice"),
        "reduction": ("sum", "mlp_tanh/loss", "the batch size B = 16"),
        "clip_gradient": (1.0, "matrix_spd/step", "the gradient clipped to norm 1"),
        "gram": ("tensorflow_tutorial", "style_pixels/gram_0", "1/M = 1/16"),
    }
    for field, (value, key, words) in cases.items():
        report = report_for(session_gold, **{field: value})
        cause = next(r.cause for r in report.roots() if r.key == key)
        assert words in cause, (field, cause)


def test_a_cutoff_mistake_gives_the_range_it_implies(session_gold: golden.GoldenSet) -> None:
    report = report_for(session_gold, cutoff_scale=3.0)
    cause = next(r.cause for r in report.roots() if r.key == "matrix_cutoff_band/pinv")
    # the eigenvalue at 2 x the cutoff was dropped: the cutoff lies in [2, 20.x) x the golden one
    assert "so |lam| = " in cause and "(2 x the cutoff) dropped" in cause
    low, high = (float(x) for x in cause.split(") = [")[1].split(")")[0].split(", "))
    assert low <= 3.0 < high


def test_every_output_has_a_place_in_the_chain(session_gold: golden.GoldenSet) -> None:
    for case in session_gold.cases.values():
        for output in case.outputs:
            assert stage_of(output) < 99, output
    assert depends_on("step_literal_d", "hessian_d") and not depends_on("step_d", "hessian_g")
    assert depends_on("jacobian", "loss_g") and not depends_on("step_g", "jacobian")


def test_downstream_failures_are_not_diagnosed_again(session_gold: golden.GoldenSet) -> None:
    config = replace(Config(), weight_layout="transposed")
    assert config.changes() == {"weight_layout": "transposed"}
    report = report_for(session_gold, weight_layout="transposed")
    downstream = [r for r in report.rows if r.status == "fail" and r.upstream]
    assert downstream and all(not r.cause for r in downstream)
    assert all(np.isfinite(r.max_abs_err) for r in downstream)
