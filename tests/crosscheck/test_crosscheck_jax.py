"""JAX against the golden set (matrix and MLP cases), float64 and float32; skips without JAX."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax")

from hsc_ref import golden  # noqa: E402
from hsc_ref.golden.check import assert_matches_golden  # noqa: E402

# JAX compiles every shape (about 2 s each here): a few cases keep the test-time budget
CASES = {
    np.float64: ["matrix_exact_zeros", "mlp_tanh"],
    np.float32: ["matrix_between_cutoffs"],  # its H^+, Hc, rank are not comparable at float32
}


@pytest.fixture(scope="module")
def gold_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("golden_jax")
    golden.write_golden(folder, only=[c for cases in CASES.values() for c in cases])
    return folder


@pytest.fixture(scope="module")
def x64():
    """Enable float64 in JAX for this module only, then restore the setting."""
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", before)


def spectral_outputs(h, g, lr: float) -> dict:
    """Eigenvalues, pinv, Hc, rank and the three HSC step routes with jax.numpy."""
    import jax.numpy as jnp
    import jax.scipy.linalg as jsl

    n = h.shape[0]
    rtol = 100 * n * jnp.finfo(h.dtype).eps  # the golden cutoff policy, explicit
    lam, q = jnp.linalg.eigh(h)
    pinv = jnp.linalg.pinv(h, rtol=rtol, hermitian=True)
    hc = h + pinv
    phi = jnp.where(
        jnp.abs(lam) > 1, 1 / (lam + 1 / jnp.where(lam == 0, 1, lam)), lam / (1 + lam**2)
    )
    factor = jsl.cho_factor(jnp.eye(n, dtype=h.dtype) + h @ h)
    return {
        "eigenvalues": lam,
        "pinv": pinv,
        "hc": hc,
        "rank": jnp.sum(jnp.abs(lam) > rtol * jnp.abs(lam).max()),
        "step": -lr * (q @ (phi * (q.T @ g))),
        "step_cholesky": jsl.cho_solve(factor, -lr * (h @ g)),
        "step_literal": -lr * (jnp.linalg.pinv(hc, rtol=rtol, hermitian=True) @ g),
    }


def mlp_outputs(case: golden.GoldenCase, dtype) -> dict:
    """Loss, gradient and Hessian of the case's MLP over hsc_ref's flat layout (x @ W + b)."""
    import jax.numpy as jnp

    act = {"tanh": jnp.tanh, "relu": lambda t: jnp.maximum(t, 0)}[case.meta["activation"]]
    x, y = jnp.asarray(case.inputs["x"], dtype), jnp.asarray(case.inputs["y"], dtype)
    layers = case.meta["layers"]

    def loss(theta):
        h, offset = x, 0
        for i, (fan_in, fan_out) in enumerate(layers):
            W = theta[offset : offset + fan_in * fan_out].reshape(fan_in, fan_out)
            offset += fan_in * fan_out
            h = h @ W + theta[offset : offset + fan_out]
            offset += fan_out
            h = act(h) if i < len(layers) - 1 else h
        return jnp.mean((h - y) ** 2)

    def outputs(theta):
        h = jax.hessian(loss)(theta)
        g = jax.grad(loss)(theta)
        out = {"loss": loss(theta), "grad": g, "hessian": (h + h.T) / 2}
        return out | spectral_outputs(out["hessian"], g, float(case.inputs["lr"]))

    return jax.jit(outputs)(jnp.asarray(case.inputs["theta"], dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_jax_passes_the_matrix_and_mlp_cases(gold_dir: Path, x64, dtype) -> None:
    import jax.numpy as jnp

    gold = golden.read_golden(gold_dir)
    results = {}
    for name in CASES[dtype]:
        case = gold.cases[name]
        if case.kind == "matrix":
            h, g = jnp.asarray(case.inputs["H"], dtype), jnp.asarray(case.inputs["g"], dtype)
            out = jax.jit(spectral_outputs, static_argnums=2)(h, g, float(case.inputs["lr"]))
        else:
            out = mlp_outputs(case, dtype)
        results |= {f"{name}/{k}": np.asarray(v) for k, v in out.items()}
    report = assert_matches_golden(results, gold_dir, only=CASES[dtype])
    assert {r.precision for r in report.rows} == {np.dtype(dtype).name}
    status = {(r.case, r.output): r.status for r in report.rows}
    assert all(status[(c, "step")] == "pass" for c in CASES[dtype])
    if dtype == np.float32:
        assert status[("matrix_between_cutoffs", "hc")] == "not comparable"
    else:
        assert status[("matrix_exact_zeros", "hc")] == status[("mlp_tanh", "hessian")] == "pass"
