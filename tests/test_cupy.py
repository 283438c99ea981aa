"""CuPy arrays through the linear algebra, compared with the NumPy path.

See docs/design.md, "Arrays on the GPU".

Skipped where CuPy or a CUDA device is missing (this includes every CPU-only machine). Each
comparison's tolerance is ``rounding_tol`` of ``strategies`` in the dtype at hand: cuSOLVER
and LAPACK are both backward stable, so their results differ by a few ``n * eps`` times the
scale of the quantity compared.
"""

from __future__ import annotations

import numpy as np
import pytest
from strategies import ROUNDING_FACTOR, SEPARATED_RTOL, matrix_with_spectrum

cp = pytest.importorskip("cupy")
try:
    if cp.cuda.runtime.getDeviceCount() < 1:
        pytest.skip("no CUDA device", allow_module_level=True)
except cp.cuda.runtime.CUDARuntimeError as exc:  # driver or device missing
    pytest.skip(f"no usable CUDA device: {exc}", allow_module_level=True)

from hsc_ref import _backend  # noqa: E402
from hsc_ref.corrections import CORRECTIONS, correct  # noqa: E402
from hsc_ref.rules import newton_type  # noqa: E402
from hsc_ref.spectral import decompose  # noqa: E402
from hsc_ref.steps import HSC_ROUTES, auto_route, hsc_step  # noqa: E402

N = 40
PARAMS = {"damped": {"mu": 0.1}, "clip": {"delta": 0.5}, "fill": {"mu": 1.0}}
RTOL = SEPARATED_RTOL  # explicit cutoff far from the rounding noise of the zero eigenvalues
# Spectrum: 10 negatives in [-4, -0.5], 20 positives in [0.5, 4], 10 exact zeros.
LAM = np.concatenate([-np.linspace(0.5, 4.0, 10), np.linspace(0.5, 4.0, 20), np.zeros(10)])
NORM, LAM_MIN, GAP = 4.0, 0.5, 3.5 / 19
# First-order perturbation of a spectral function c(H) under ||dH|| <= c n eps ||H||:
# ||dc(H)|| <= (max|c| / gap + max|c'|) ||dH||; every correction here has max|c| <= 4.25 and
# max|c'| <= 1 / LAM_MIN^2 = 4.
SPECTRAL_SCALE = NORM * (4.25 / GAP + 1.0 / LAM_MIN**2)


def _case(dtype=np.float64):
    H = matrix_with_spectrum(LAM, seed=3).astype(dtype)
    g = np.random.default_rng(4).standard_normal(N).astype(dtype)
    return H, g


def _tol(dtype, scale: float) -> float:
    return ROUNDING_FACTOR * N * float(np.finfo(dtype).eps) * scale


def test_backend_namespace_round_trip():
    x = cp.arange(3.0)
    assert _backend.namespace(x) is cp and _backend.is_cupy_array(x)
    assert isinstance(_backend.to_numpy(x), np.ndarray)
    assert _backend.is_cupy_array(_backend.like(np.ones(2), x))
    assert _backend.available_memory(cp) > 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_decompose_returns_cupy_and_matches_numpy(dtype):
    H, _ = _case(dtype)
    s_np, s_cp = decompose(H, rtol=RTOL), decompose(cp.asarray(H), rtol=RTOL)
    assert _backend.is_cupy_array(s_cp.eigenvalues) and _backend.is_cupy_array(s_cp.eigenvectors)
    assert decompose(cp.asarray(H)).rtol == N * float(np.finfo(dtype).eps)  # per dtype
    diff = np.abs(cp.asnumpy(s_cp.eigenvalues) - s_np.eigenvalues).max()
    assert diff <= _tol(dtype, NORM)  # Weyl: eigenvalues move by the backward error
    assert s_cp.rank == s_np.rank == 30 and s_cp.inertia == s_np.inertia
    assert np.abs(cp.asnumpy(s_cp.dense()) - H).max() <= _tol(dtype, NORM)


@pytest.mark.parametrize("method", sorted(CORRECTIONS))
def test_corrections_return_cupy_and_match_numpy(method):
    H, _ = _case()
    r_np = correct(H, method, rtol=RTOL, **PARAMS.get(method, {}))
    r_cp = correct(cp.asarray(H), method, rtol=RTOL, **PARAMS.get(method, {}))
    assert _backend.is_cupy_array(r_cp.matrix)
    diff = np.abs(cp.asnumpy(r_cp.matrix) - r_np.matrix).max()
    assert diff <= _tol(np.float64, SPECTRAL_SCALE)
    assert (r_cp.rank_before, r_cp.rank_after) == (r_np.rank_before, r_np.rank_after)


@pytest.mark.parametrize("route", HSC_ROUTES)
def test_hsc_step_routes_return_cupy_and_match_numpy(route):
    H, g = _case()
    expected = hsc_step(H, g, lr=0.5, rtol=RTOL)
    s = hsc_step(cp.asarray(H), cp.asarray(g), lr=0.5, route=route, rtol=RTOL)
    assert _backend.is_cupy_array(s)
    # the Cholesky route's bound n * eps * (1 + ||H||^2) relative to lr * ||g||, which also
    # covers the spectral map phi (|phi'| <= 1) and the literal route with RTOL's cutoff
    bound = _tol(np.float64, (1.0 + NORM**2) * 0.5 * float(np.linalg.norm(g)))
    assert np.abs(cp.asnumpy(s) - expected).max() <= bound


def test_auto_route_decides_the_same_on_both_kinds():
    H, _ = _case()
    assert auto_route(cp.asarray(H)) == auto_route(H) == "cholesky"
    assert auto_route(cp.asarray(H * 1e8)) == "spectral"


def test_newton_type_rule_on_cupy():
    H, g = _case()
    rule = newton_type("abs", rtol=RTOL)
    step, _info = rule.update(cp.asarray(g), rule.init(cp.zeros(N)), hessian=cp.asarray(H))
    expected, _ = rule.update(g, rule.init(np.zeros(N)), hessian=H)
    assert _backend.is_cupy_array(step)
    # ||d(|H|^+)|| <= ||H^+||^2 ||dH|| = ||dH|| / LAM_MIN^2, times ||g||
    bound = _tol(np.float64, NORM / LAM_MIN**2 * float(np.linalg.norm(g)))
    assert np.abs(cp.asnumpy(step) - expected).max() <= bound


def test_non_finite_cupy_input_is_refused():
    H, _ = _case()
    H[0, 0] = np.nan
    with pytest.raises(ValueError, match="must be finite"):
        decompose(cp.asarray(H))


def test_gram_matrix_accepts_cupy():
    style = pytest.importorskip("hsc_ref.style")
    F = np.random.default_rng(5).standard_normal((4, 4, 3))
    G = style.gram(cp.asarray(F))
    assert _backend.is_cupy_array(G)
    assert np.abs(cp.asnumpy(G) - style.gram(F)).max() <= _tol(np.float64, 16.0 * 9.0)
