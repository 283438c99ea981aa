"""hsc_ref.testing.reference_outputs: a golden matrix case's outputs for the user's own matrix.

The outputs and tolerances must be those of the golden files bit for bit (one derivation serves
both), for NumPy and PyTorch input alike, and bad input must be refused by name.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from strategies import matrix_with_spectrum

from hsc_ref import golden
from hsc_ref.spectral import golden_rtol
from hsc_ref.testing import ReferenceOutput, reference_outputs

GOLDEN_ORDER = ["eigenvalues", "pinv", "hc", "rank", "step", "step_cholesky", "step_literal"]


@pytest.fixture(scope="module")
def matrix_cases() -> list[golden.GoldenCase]:
    return [c for c in golden.build_cases() if c.kind == "matrix"]


def test_every_golden_matrix_case_is_reproduced_bit_for_bit(matrix_cases) -> None:
    assert len(matrix_cases) >= 8
    for case in matrix_cases:
        h, g, lr = case.inputs["H"], case.inputs["g"], float(case.inputs["lr"])
        precision = case.meta["cutoff_policy"]["H"]["reference_policy"]
        ref = reference_outputs(h, g, lr, dtype=precision)
        assert list(ref) == GOLDEN_ORDER == list(case.outputs)
        for name, out in ref.items():
            assert np.array_equal(out.value, case.outputs[name]), (case.name, name)
            assert out.value.dtype == case.outputs[name].dtype
            tol = case.tolerances[name][precision]
            fields = (out.rtol, out.atol, out.comparable, out.reason)
            assert fields == (tol.rtol, tol.atol, tol.comparable, tol.reason), (case.name, name)
            assert out.precision == precision and out.name == name


def test_without_a_gradient_only_the_matrix_outputs_are_given(matrix_cases) -> None:
    case = matrix_cases[0]
    ref = reference_outputs(case.inputs["H"])
    assert list(ref) == GOLDEN_ORDER[:4]
    for name, out in ref.items():
        assert np.array_equal(out.value, case.outputs[name])


def test_the_float32_reference_applies_the_float32_golden_cutoff() -> None:
    # 1e-6 ||H|| lies between the float64 cutoff (2.7e-13 ||H||) and the float32 one (1.4e-4)
    h = matrix_with_spectrum(
        np.array([2.0, -1.0, 0.5, 2e-6, 0.3, 1.0, 0.7, 0.2, 1.5, 0.1, 0.4, 0.9]), seed=3
    )
    at64, at32 = reference_outputs(h, dtype="float64"), reference_outputs(h, dtype=np.float32)
    assert int(at64["rank"].value) == 12 and int(at32["rank"].value) == 11
    assert at32["pinv"].comparable and at64["pinv"].comparable
    assert at32["eigenvalues"].atol == pytest.approx(10 * 12 * np.finfo(np.float32).eps * 2.0)
    assert 2e-6 < 0.9 * golden_rtol(12, "float32") * 2.0  # below the band around the cutoff


def test_an_eigenvalue_at_the_cutoff_makes_pinv_hc_rank_not_comparable_but_not_the_step() -> None:
    n = 6
    near = 1.02 * golden_rtol(n, "float64") * 3.0  # inside the eigenvalue tolerance 0.1 x
    h = matrix_with_spectrum(np.array([3.0, -2.0, 1.0, 0.5, near, 0.0]), seed=1)
    ref = reference_outputs(h, np.ones(n), 0.5)
    for name in ("pinv", "hc", "rank", "step_literal"):
        assert not ref[name].comparable, name
        assert "cutoff" in ref[name].reason or "rounding" in ref[name].reason, name
    assert ref["step"].comparable and ref["eigenvalues"].comparable


def test_reference_output_compares_a_users_array_under_its_tolerance() -> None:
    h = np.diag([2.0, -1.0, 0.0])
    ref = reference_outputs(h)["pinv"]
    assert isinstance(ref, ReferenceOutput) and dataclasses.is_dataclass(ref)
    exact = np.diag([0.5, -1.0, 0.0])
    assert ref.compare(exact).ok
    assert ref.compare(exact + 2 * ref.atol).ok is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.atol = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        reference_outputs(h)["pinv"] = ref  # type: ignore[index]


def test_torch_tensors_that_require_grad_give_the_numpy_reference() -> None:
    torch = pytest.importorskip("torch")
    h = matrix_with_spectrum(np.array([2.0, -1.0, 0.0, 0.5]), seed=0)
    g = np.arange(1.0, 5.0)
    mine = reference_outputs(
        torch.tensor(h, requires_grad=True), torch.from_numpy(g), 0.5, dtype=torch.float32
    )
    theirs = reference_outputs(h, g, 0.5, dtype="float32")
    for name in theirs:
        assert np.array_equal(mine[name].value, theirs[name].value)
        assert mine[name].atol == theirs[name].atol
    assert mine["step"].compare(torch.from_numpy(theirs["step"].value)).ok


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"H": np.ones((2, 3))}, ValueError, "H must be square"),
        ({"H": np.array([[1.0, 2.0], [0.0, 1.0]])}, ValueError, "H must be symmetric"),
        ({"H": np.array([[np.nan, 0.0], [0.0, 1.0]])}, ValueError, "H must be finite"),
        ({"H": np.eye(2), "g": np.ones(3)}, ValueError, r"g must have shape \(2,\)"),
        ({"H": np.eye(2), "g": np.ones((2, 2))}, ValueError, r"g must have shape \(2,\)"),
        ({"H": np.eye(2), "lr": 0.0}, ValueError, "lr must be positive"),
        ({"H": np.eye(2), "dtype": "float16"}, ValueError, "dtype must be one of"),
        ({"H": "eye"}, TypeError, "H must be a real floating-point array"),
    ],
)
def test_bad_input_is_refused_by_name(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        reference_outputs(**kwargs)


def test_jax_arrays_give_the_numpy_reference() -> None:
    jnp = pytest.importorskip("jax.numpy")
    h = matrix_with_spectrum(np.array([2.0, -1.0, 0.0, 0.5]), seed=0).astype(np.float32)
    mine = reference_outputs(jnp.asarray(h), dtype=jnp.float32)
    theirs = reference_outputs(h, dtype="float32")
    for name in theirs:
        assert np.array_equal(mine[name].value, theirs[name].value)
    assert mine["pinv"].compare(jnp.asarray(theirs["pinv"].value)).ok
