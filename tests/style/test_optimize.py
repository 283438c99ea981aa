"""Box-constrained image optimization: L-BFGS-B, projected Adam and Newton-type steps."""

from __future__ import annotations

import numpy as np
import pytest
from strategies import EPS

from hsc_ref.derivatives import gradient, hessian
from hsc_ref.rules import backtracking_line_search
from hsc_ref.steps import hsc_step, matrix_free_hsc_step
from hsc_ref.style.images import bundled_image
from hsc_ref.style.loss import transfer_objective
from hsc_ref.style.optimize import free_mask, optimize_image


def _case(size=6, **weights):
    content = bundled_image("shapes", size)
    style = bundled_image("checkerboard", size, seed=1)
    return content, transfer_objective(content, style, **weights)


def test_lbfgs_lowers_the_style_loss_by_at_least_90_percent():
    content, obj = _case(8, content_weight=0.0, style_weight=1.0, tv_weight=0.0)
    start = float(obj.components(content.ravel())["style"])
    r = optimize_image(obj, content, "lbfgs", steps=60)
    assert r.components["style"] <= 0.1 * start
    assert r.image.min() >= 0.0 and r.image.max() <= 1.0
    assert r.losses.shape[0] <= 61 and r.evaluations >= r.losses.shape[0] - 1


@pytest.mark.parametrize("method", ["adam", "hsc", "newton", "saddle_free", "abs"])
def test_every_method_keeps_the_image_in_the_box(method):
    content, obj = _case()
    r = optimize_image(obj, content, method, steps=3, lr=0.5 if method != "adam" else 0.2)
    assert r.image.min() >= 0.0 and r.image.max() <= 1.0
    assert np.all(np.isfinite(r.losses)) and r.losses.shape == (4,)
    if method != "adam":  # n of the restricted Hessian is the free-pixel count
        free = r.history["n"]
        assert free.shape == (3,) and np.all((free >= 1) & (free <= obj.n))


def test_one_interior_hsc_step_is_the_core_hsc_step():
    content, obj = _case()
    x0 = np.clip(content, 0.2, 0.8)  # interior: no pixel is active, no clipping at lr 1e-3
    r = optimize_image(obj, x0, "hsc", steps=1, lr=1e-3)
    x = x0.ravel()
    expected = x + hsc_step(hessian(obj, x, batched=True), gradient(obj, x), lr=1e-3)
    assert r.history["n"][0] == obj.n
    # Same eigendecomposition and step; differences are rounding of O(1) pixels.
    np.testing.assert_allclose(r.image.ravel(), expected, rtol=0, atol=64 * EPS)


def test_line_search_makes_newton_type_steps_monotone_and_runs_are_deterministic():
    content, obj = _case()
    a = optimize_image(obj, content, "newton", steps=3, line_search=True)
    b = optimize_image(obj, content, "newton", steps=3, line_search=True)
    assert np.all(np.diff(a.losses) <= 0.0)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.losses, b.losses)


def armijo_backtrack(f, y, value, g, step, *, box=False):
    """The line-search rule as a function: the accepted point."""
    rule = backtracking_line_search(box=(0.0, 1.0) if box else None)
    out, _ = rule.update(step, rule.init(y), params=y, value=value, grad=g, fun=f)
    return y + out


def test_free_mask_and_armijo_backtracking():
    x = np.array([0.0, 0.0, 1.0, 1.0, 0.5])
    g = np.array([1.0, -1.0, 1.0, -1.0, 3.0])
    assert free_mask(x, g).tolist() == [False, True, True, False, True]

    def f(y):
        return float(np.sum((y - 0.3) ** 2))

    y = np.array([0.9, 0.1])
    g = 2 * (y - 0.3)
    out = armijo_backtrack(f, y, f(y), g, -10 * g, box=True)
    assert f(out) <= f(y) + 1e-4 * float(g @ (out - y))
    assert np.array_equal(armijo_backtrack(f, y, f(y), g, g), y)  # ascent: no move

    def saddle(z):
        return float(z[0] ** 2 - z[1] ** 2)

    z = np.array([0.5, 0.1])
    gz = np.array([1.0, -0.2])
    descent = np.array([-0.5, -0.1])  # g.s = -0.48
    up = np.array([0.01, 0.0])  # g.s = 0.01 > 0 and f increases: must be refused
    assert np.array_equal(armijo_backtrack(saddle, z, saddle(z), gz, up), z)
    assert saddle(armijo_backtrack(saddle, z, saddle(z), gz, descent)) < saddle(z)


def test_dense_hessian_size_limit_and_bad_arguments():
    content, obj = _case(17)  # 17 * 17 * 3 = 867 > 768
    with pytest.raises(ValueError, match="at most 768 unknowns"):
        optimize_image(obj, content, "hsc", steps=1)
    assert optimize_image(obj, content, "lbfgs", steps=1).image.shape == (17, 17, 3)
    content, obj = _case()
    with pytest.raises(ValueError, match="method must be one of"):
        optimize_image(obj, content, "gd")
    with pytest.raises(ValueError, match="x0 must have shape"):
        optimize_image(obj, content[:4, :4], "adam")
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        optimize_image(obj, content + 1.0, "adam")
    with pytest.raises(ValueError, match="lbfgs takes no"):
        optimize_image(obj, content, "lbfgs", lr=0.1)
    with pytest.raises(ValueError, match="steps must be"):
        optimize_image(obj, content, "adam", steps=-1)
    with pytest.raises(TypeError, match="TransferObjective"):
        optimize_image(lambda x: 0.0, content)


def test_matrix_free_hsc_step_matches_the_dense_step_within_its_cg_bound():
    content, obj = _case()
    x = np.clip(content, 0.2, 0.8).ravel()
    H, g = hessian(obj, x, batched=True), gradient(obj, x)
    free = np.random.default_rng(0).uniform(size=obj.n) < 0.7
    rtol = 1e-10
    mf = matrix_free_hsc_step(obj, x, lr=0.5, free=free, rtol=rtol)
    dense = hsc_step(H[np.ix_(free, free)], g[free], lr=0.5)
    assert mf.free == int(free.sum()) and mf.relative_residual <= rtol
    assert np.all(mf.step[~free] == 0.0)
    # I + H^2 >= I, so ||error|| <= ||residual|| <= rtol ||b||, b = -lr H_ff g_f; the dense
    # reference itself is accurate to ~n eps ||H|| ||g|| (one eigh).
    b_norm = 0.5 * np.linalg.norm(H[np.ix_(free, free)] @ g[free])
    eigh_error = obj.n * EPS * np.abs(H).max() * np.linalg.norm(g)
    assert np.linalg.norm(mf.step[free] - dense) <= 2 * rtol * b_norm + 10 * eigh_error


def test_matrix_free_hsc_runs_beyond_the_dense_size_limit():
    content, obj = _case(17, style_weight=1e3)  # milder curvature: fewer CG iterations
    r = optimize_image(obj, content, "hsc_cg", steps=1, line_search=True)
    assert r.losses[-1] <= r.losses[0] and r.history["cg_iterations"][0] > 0
    with pytest.raises(ValueError, match="no correction parameters"):
        optimize_image(obj, content, "hsc_cg", steps=1, mu=1.0)
