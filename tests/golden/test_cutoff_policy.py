"""One cutoff policy that cannot be missed: recorded in every case, printed with exact calls.

The calls the manifest records (and the checker prints) are evaluated here, as text, and
must reproduce the golden outputs: what a user copies is what the golden set holds.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import hsc_ref.corrections
import hsc_ref.steps
from hsc_ref import golden
from hsc_ref.golden.cases import RTOL_FACTOR

MATRICES = {"": "H", "_g": "H_G (generator)", "_d": "H_D (discriminator)"}


def matrices(case: golden.GoldenCase):
    """``(suffix, H, g)`` of every matrix of a case (the reference Hessians of model cases)."""
    for suffix in ("", "_g", "_d"):
        if f"eigenvalues{suffix}" not in case.outputs:
            continue
        h = case.inputs["H"] if "H" in case.inputs else case.outputs[f"hessian{suffix}"]
        g = case.inputs["g"] if "g" in case.inputs else case.outputs[f"grad{suffix}"]
        yield suffix, h, g


def test_every_case_records_the_policy_of_each_matrix(session_gold: golden.GoldenSet) -> None:
    for case in session_gold.cases.values():
        policy = case.meta["cutoff_policy"]
        for suffix, h, _ in matrices(case):
            entry = policy[MATRICES[suffix]]
            n = h.shape[0]
            assert entry["n"] == n and entry["atol"] == 0.0
            for p in golden.cases.PRECISIONS:
                rtol = float(RTOL_FACTOR * n * np.finfo(np.dtype(p)).eps)
                assert entry[f"rtol_{p}"] == rtol
                assert f"rtol={rtol!r}" in entry[f"calls_{p}"]["scipy"]
            assert entry["reference_policy"] in golden.cases.PRECISIONS


def evaluate(call: str, h: np.ndarray, g: np.ndarray, lr: float):
    namespace = {"scipy": scipy, "numpy": np, "hsc_ref": hsc_ref, "H": h, "g": g, "lr": lr}
    return eval(call, namespace)


@pytest.mark.parametrize("library", ["scipy", "numpy", "hsc_ref"])
def test_the_recorded_calls_reproduce_the_golden_outputs(
    session_gold: golden.GoldenSet, library: str
) -> None:
    checked = 0
    for case in session_gold.cases.values():
        lr = float(case.inputs["lr"])
        for suffix, h, g in matrices(case):
            entry = case.meta["cutoff_policy"][MATRICES[suffix]]
            policy = entry["reference_policy"]
            calls = entry[f"calls_{policy}"][library].split("; ")
            output = "hc" if library == "hsc_ref" else "pinv"
            tol = case.tolerances[f"{output}{suffix}"]["float64"]
            if policy != "float64" and not tol.comparable:
                tol = case.tolerances[f"{output}{suffix}"][policy]
            if not tol.comparable:
                continue
            value = evaluate(calls[0], h, g, lr)
            value = value.matrix if library == "hsc_ref" else value
            desired = case.outputs[f"{output}{suffix}"]
            assert np.abs(value - desired).max() <= tol.atol, (case.name, suffix, library)
            checked += 1
            literal = case.tolerances[f"step_literal{suffix}"]["float64"]
            if library == "hsc_ref" and literal.comparable:
                step = evaluate(calls[1], h, g, lr)
                assert np.abs(step - case.outputs[f"step_literal{suffix}"]).max() <= literal.atol
    assert checked >= 20


def test_the_recorded_torch_call_reproduces_the_golden_pinv(session_gold: golden.GoldenSet) -> None:
    torch = pytest.importorskip("torch")
    case = session_gold.cases["matrix_cutoff_band"]
    call = case.meta["cutoff_policy"]["H"]["calls_float64"]["torch"]
    value = eval(call, {"torch": torch, "H": torch.from_numpy(case.inputs["H"])})
    tol = case.tolerances["pinv"]["float64"]
    assert np.abs(value.numpy() - case.outputs["pinv"]).max() <= tol.atol


def test_the_report_prints_the_policy_and_a_cutoff_failure_prints_the_calls(
    session_gold: golden.GoldenSet,
) -> None:
    case = session_gold.cases["matrix_cutoff_band"]
    results = {f"matrix_cutoff_band/{k}": v for k, v in case.outputs.items()}
    results["matrix_cutoff_band/pinv"] = scipy.linalg.pinvh(case.inputs["H"])  # SciPy's default
    report = golden.check_results(session_gold, results, only=["matrix_cutoff_band"])
    text = report.format_table()
    rtol = case.meta["cutoff_policy"]["H"]["rtol_float64"]
    assert f"n = 12 (matrix_cutoff_band): rtol = {rtol!r}" in text
    assert "hsc_ref's correct() and hsc_step() default to SciPy's n * eps" in text
    (root,) = report.roots()
    assert (
        root.output == "pinv" and "SciPy's pinv/pinvh and torch.linalg.pinv default" in root.cause
    )
    assert f"scipy.linalg.pinvh(H, atol=0.0, rtol={rtol!r})" in root.cause


# --------------------------------------------------------------------------- policy="golden"


def float64_matrix_cases(gold: golden.GoldenSet) -> list[golden.GoldenCase]:
    """The matrix cases whose reference applies the float64 golden cutoff to a float64 H."""
    cases = [
        case
        for case in gold.cases.values()
        if case.kind == "matrix"
        and case.meta["cutoff_policy"]["H"]["reference_policy"] == "float64"
    ]
    assert len(cases) >= 6
    return cases


def test_correct_and_hsc_step_with_the_golden_policy_give_the_golden_outputs_bit_for_bit(
    session_gold: golden.GoldenSet,
) -> None:
    for case in float64_matrix_cases(session_gold):
        h, g, lr = case.inputs["H"], case.inputs["g"], float(case.inputs["lr"])
        result = hsc_ref.correct(h, policy="golden")
        assert np.array_equal(result.matrix, case.outputs["hc"]), case.name
        assert np.array_equal(result.spectrum.pinv(), case.outputs["pinv"]), case.name
        assert np.array_equal(result.spectrum.eigenvalues, case.outputs["eigenvalues"])
        assert result.rank_before == int(case.outputs["rank"]), case.name
        literal = hsc_ref.hsc_step(h, g, lr=lr, route="literal", policy="golden")
        assert np.array_equal(literal, case.outputs["step_literal"]), case.name
        assert np.array_equal(hsc_ref.hsc_step(h, g, lr=lr), case.outputs["step"]), case.name


def test_the_default_policy_is_scipys_and_differs_from_the_golden_one_on_the_band(
    session_gold: golden.GoldenSet,
) -> None:
    # the test above cannot pass by accident: on the band case the default keeps 0.5 x cutoff
    case = session_gold.cases["matrix_cutoff_band"]
    h = case.inputs["H"]
    assert hsc_ref.correct(h).rank_before == int(case.outputs["rank"]) + 1
    assert hsc_ref.decompose(h).rtol == 12 * np.finfo(np.float64).eps


def test_the_golden_policy_is_resolved_from_the_dtype_of_h() -> None:
    h = np.diag([1.0, 0.5, 0.0])
    for dtype in (np.float64, np.float32):
        spectrum = hsc_ref.decompose(h.astype(dtype), policy="golden")
        assert spectrum.rtol == hsc_ref.spectral.golden_rtol(3, dtype)
        assert spectrum.rtol == RTOL_FACTOR * 3 * float(np.finfo(dtype).eps)
        assert spectrum.atol == 0.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda h: hsc_ref.correct(h, policy="golden", rtol=1e-10), "policy='golden' fixes"),
        (lambda h: hsc_ref.decompose(h, policy="golden", atol=1e-3), "policy='golden' fixes"),
        (lambda h: hsc_ref.hsc_step(h, np.ones(2), policy="golden", rtol=0.0), "do not pass"),
        (lambda h: hsc_ref.correct(h, policy="numpy"), r"policy must be one of \('scipy'"),
        (lambda h: hsc_ref.hsc_step(h, np.ones(2), policy="Golden"), "policy must be one of"),
        (
            lambda h: hsc_ref.correct(hsc_ref.decompose(h), policy="golden"),
            "must not be passed with a Spectrum",
        ),
    ],
)
def test_a_policy_that_contradicts_its_tolerances_or_is_unknown_is_refused(call, match) -> None:
    with pytest.raises(ValueError, match=match):
        call(np.diag([1.0, 0.0]))
