"""PyTorch against the golden set: passes at float64 and float32, catches each pitfall.

Runs ``examples/validate_pytorch.py`` once (it writes its results and checks them) and
inspects the results it wrote. Skips cleanly when PyTorch is not installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from hsc_ref import golden  # noqa: E402
from hsc_ref.style.loss import convention_factor  # noqa: E402

# torch's own modules warn about torch.jit.script when torch.func is first used
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning"
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "validate_pytorch.py"


def load_example():
    spec = importlib.util.spec_from_file_location("validate_pytorch", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("validate_pytorch")
    assert load_example().main(["--out", str(out)]) == 0  # 0: the verdicts are as expected
    return out


def report(run: Path, label: str) -> golden.CheckReport:
    gold = golden.read_golden(run / "golden")
    pitfall = label.removeprefix("pitfall_")
    only = load_example().pitfall_cases(gold, pitfall) if label.startswith("pitfall_") else None
    return golden.check_results(gold, run / f"{label}.npz", only=only)


def failing(rep: golden.CheckReport) -> dict[str, str]:
    return {
        f"{r.case}/{r.output}": r.message
        for r in rep.rows
        if r.status not in {"pass", "not comparable"}
    }


def roots(rep: golden.CheckReport) -> dict[str, str]:
    """Root failures (the earliest failing quantity of each chain) and their diagnoses."""
    return {r.key: r.cause for r in rep.roots()}


def test_float64_pytorch_passes_every_comparable_output(run: Path) -> None:
    rep = report(run, "float64")
    assert rep.passed and rep.counts()["pass"] >= 100
    assert {r.precision for r in rep.rows} == {"float64"}


def test_float32_pytorch_passes_the_step_but_not_cutoff_dependent_outputs(run: Path) -> None:
    rep = report(run, "float32")
    assert rep.passed and {r.precision for r in rep.rows} == {"float32"}
    status = {(r.case, r.output): r.status for r in rep.rows}
    assert status[("matrix_near_cutoff", "step")] == "pass"
    assert status[("matrix_near_cutoff", "hc")] == "not comparable"
    assert status[("matrix_between_cutoffs", "hc")] == "not comparable"
    assert status[("matrix_between_cutoffs", "step")] == "pass"
    assert status[("mlp_tanh", "hessian")] == "pass"
    assert status[("gan_ring_players", "step_d")] == "pass"
    assert status[("dirac_equilibrium", "hc_g")] == "pass"  # exactly 0 at both precisions
    assert status[("style_pixels", "hessian")] == "pass"
    assert status[("style_pixels", "step")] == "pass"


def test_default_rcond_in_float32_is_caught_as_inverted_noise(run: Path) -> None:
    rep = report(run, "pitfall_rcond")
    bad = failing(rep)
    assert {"matrix_exact_zeros/pinv", "matrix_exact_zeros/hc"} <= set(bad)
    cause = roots(rep)["matrix_exact_zeros/pinv"]
    assert "kept" in cause and "default rcond = 1e-15" in cause
    assert "after matrix_exact_zeros/pinv" in rep.format_table()  # hc follows from pinv
    assert not any(k.endswith("/step") for k in bad)  # the spectral step needs no cutoff


def test_untransposed_weights_are_caught_at_the_loss(run: Path) -> None:
    rep = report(run, "pitfall_layout")
    bad, causes = failing(rep), roots(rep)
    assert {"mlp_tanh/loss", "mlp_tanh/grad", "mlp_tanh/hessian"} <= set(bad)
    assert "without W = weight.T" in causes["mlp_tanh/loss"]
    assert {"gan_ring_players/loss_g", "gan_ring_players/loss_d"} <= set(causes)
    assert "without W = weight.T" in causes["gan_ring_players/loss_g"]
    assert all(k.startswith(("mlp_", "gan_")) for k in bad)  # matrices and DiracGAN unaffected


def test_pytorch_parameter_order_is_recognized(run: Path) -> None:
    rep = report(run, "pitfall_torch_order")
    bad, causes = failing(rep), roots(rep)
    assert {"mlp_tanh/grad", "mlp_tanh/hessian", "mlp_relu_dead_unit/hessian"} <= set(bad)
    assert "mlp_tanh/loss" not in bad and "mlp_tanh/eigenvalues" not in bad
    assert "PyTorch's parameter order" in causes["mlp_tanh/grad"]
    assert "PyTorch's parameter order" in causes["gan_ring_players/grad_g"]
    assert "follows from the failure of mlp_tanh/grad" in bad["mlp_tanh/hessian"]
    assert "gan_ring_players/jacobian" not in bad and "gan_ring_players/loss_d" not in bad


def test_gram_normalization_mismatch_is_named_with_its_factor(run: Path) -> None:
    rep = report(run, "pitfall_gram")
    bad, causes = failing(rep), roots(rep)
    assert {"style_pixels/gram_0", "style_pixels/gram_1", "style_pixels/loss"} <= set(bad)
    assert all(k.startswith("style_") for k in bad)
    # G / (C M): C = 4 channels and M = 16 positions at the first layer, 6 and 4 at the second
    assert "1/k = 64" in causes["style_pixels/gram_0"]
    assert "normalization convention" in causes["style_pixels/gram_0"]
    assert "1/k = 24" in causes["style_pixels/gram_1"]
    # the downstream pinv and hc are not blamed on the cutoff: they follow from the Gram
    assert set(causes) == {f"style_pixels/{g}_{i}" for g in ("gram", "style_gram") for i in (0, 1)}
    # the tutorial's per-layer loss is hsc_ref.style's "pytorch_tutorial" factor 4 / C^2 times E_l
    gold = golden.read_golden(run / "golden")
    case = gold.cases["style_pixels"]
    results = golden.load_results(run / "pitfall_gram.npz")
    for i, c in enumerate(case.meta["channels"]):
        m = 16 // 4**i
        factor = convention_factor("pytorch_tutorial", c, m, 16)
        ratio = results[f"style_pixels/layer_loss_{i}"] / case.outputs[f"layer_loss_{i}"]
        assert abs(ratio - factor) <= 1e-12 * factor


def test_module_built_with_layers_to_torch_linear_gives_the_reference_loss(run: Path) -> None:
    gold = golden.read_golden(run / "golden")
    case = gold.cases["mlp_tanh"]
    expected = float(case.outputs["loss"])
    atol = case.tolerances["loss"]["float64"].atol
    assert abs(load_example().module_loss(case) - expected) <= atol


def test_torch_linalg_pinv_default_is_caught_with_its_cutoff_range(run: Path) -> None:
    causes = roots(report(run, "pitfall_pinv_default"))
    cause = causes["matrix_cutoff_band/pinv"]
    assert "torch.linalg.pinv default rtol = n * eps" in cause and "0.5 x the cutoff" in cause


def test_torch_softplus_threshold_is_caught_at_saturated_logits(run: Path) -> None:
    causes = roots(report(run, "pitfall_softplus"))
    assert "F.softplus" in causes["gan_saturated/loss_d"]
    assert all(k.startswith("gan_saturated/") for k in causes)  # only there do logits pass 20


def test_torch_bce_loss_is_caught(run: Path) -> None:
    causes = roots(report(run, "pitfall_bce_loss"))
    assert "nn.BCELoss" in causes["gan_saturated/loss_g"]
    assert "nn.BCELoss" in causes["dirac_saturated/loss_d"]


def test_torch_logaddexp_nan_second_derivative_is_caught(run: Path) -> None:
    causes = roots(report(run, "pitfall_logaddexp"))
    assert "torch.logaddexp's second derivative is NaN" in causes["dirac_saturated/hessian_g"]
