"""Step rules: composition equals the manual computation, the context keywords, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import EPS, gradients, symmetric_cases

from hsc_ref.rules import (
    ARTICLE_BETAS,
    ARTICLE_LR,
    ARTICLE_MAX_GRAD_NORM,
    NewtonState,
    adam,
    article_curvature,
    article_optimizer,
    backtracking_line_search,
    bfgs,
    chain,
    clip_by_global_norm,
    clip_grad_norm,
    newton_type,
    optimistic,
    project_box,
    sgd,
    spectrum_in,
    sr1,
)
from hsc_ref.spectral import decompose
from hsc_ref.steps import spectral_step


def _run(rule, grads, x0, **context):
    state, steps = rule.init(x0), []
    for g in grads:
        step, state = rule.update(g, state, params=x0, **context)
        steps.append(step)
    return steps, state


def test_the_article_settings_are_the_articles():
    # optim.Adam(..., lr=0.0002, betas=(0.5, 0.999)); clip_grad_norm_(..., 1.0)
    assert (ARTICLE_LR, ARTICLE_BETAS, ARTICLE_MAX_GRAD_NORM) == (2e-4, (0.5, 0.999), 1.0)


def test_article_optimizer_is_clip_then_adam_step_by_step():
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=5) * s for s in (0.1, 3.0, 40.0, 0.01)]
    composed, _ = _run(article_optimizer(), grads, np.zeros(5))
    manual, _ = _run(
        adam(2e-4, b1=0.5, b2=0.999), [clip_grad_norm(g, 1.0) for g in grads], np.zeros(5)
    )
    for a, b in zip(composed, manual, strict=True):
        np.testing.assert_array_equal(a, b)
    unclipped, _ = _run(article_optimizer(max_grad_norm=None), grads, np.zeros(5))
    plain, _ = _run(adam(2e-4, b1=0.5, b2=0.999), grads, np.zeros(5))
    np.testing.assert_array_equal(unclipped[2], plain[2])


def test_clip_grad_norm_matches_torch_semantics():
    torch = pytest.importorskip("torch")
    for scale in (0.1, 3.0):
        g = np.random.default_rng(0).normal(size=7) * scale
        p = torch.nn.Parameter(torch.zeros(7, dtype=torch.float64))
        p.grad = torch.from_numpy(g.copy())
        torch.nn.utils.clip_grad_norm_([p], 1.0)
        # both compute coef = 1 / (||g|| + 1e-6) and one product: a few ulps apart at most
        np.testing.assert_allclose(clip_grad_norm(g, 1.0), p.grad.numpy(), rtol=4 * EPS)
    small = np.array([0.1, 0.2])
    assert clip_grad_norm(small, 1.0) is small  # below the clip: untouched, as PyTorch


@given(symmetric_cases(), st.data())
def test_newton_rule_on_a_spectrum_equals_the_rule_on_the_matrix(case, data):
    g = data.draw(gradients(case.n))
    rule = newton_type("hsc", lr=0.3)
    from_matrix, state = rule.update(g, rule.init(np.zeros(case.n)), hessian=case.H)
    spectrum = decompose(case.H)
    from_spectrum, state2 = rule.update(g, rule.init(np.zeros(case.n)), hessian=spectrum)
    np.testing.assert_array_equal(from_matrix, from_spectrum)
    assert state2.spectrum is spectrum and isinstance(state, NewtonState)
    np.testing.assert_array_equal(state.spectrum.eigenvalues, spectrum.eigenvalues)


def test_newton_rule_refuses_a_spectrum_with_another_policy():
    rule = newton_type("hsc", rtol=1e-6)
    with pytest.raises(ValueError, match="decompose with the rule's policy"):
        rule.update(np.ones(2), rule.init(np.zeros(2)), hessian=decompose(np.eye(2)))


def test_chain_of_newton_and_projection_equals_the_projected_newton_step():
    H, g, x = np.diag([2.0, -1.0, 0.5]), np.array([1.0, -3.0, 0.2]), np.array([0.5, 0.9, 0.0])
    rule = chain(newton_type("saddle_free"), project_box(0.0, 1.0))
    step, state = rule.update(g, rule.init(x), params=x, hessian=H)
    manual = np.clip(x + spectral_step(decompose(H), g, "saddle_free"), 0.0, 1.0) - x
    np.testing.assert_array_equal(step, manual)
    assert spectrum_in(state).rank == 3 and spectrum_in((adam(1.0).init(x),)) is None


def test_article_curvature_passes_updates_through_and_keeps_the_spectrum():
    rule = article_curvature()
    g = np.array([1.0, -2.0])
    out, state = rule.update(g, rule.init(np.zeros(2)), hessian=np.diag([3.0, 0.0]))
    assert out is g and state.spectrum.rank == 1 and rule.needs_hessian


def test_chain_needs_a_hessian_when_any_member_does():
    assert not chain(clip_by_global_norm(1.0), adam(0.1)).needs_hessian
    assert chain(newton_type(), project_box()).needs_hessian
    with pytest.raises(TypeError, match="StepRule"):
        chain(sgd(0.1), lambda g: g)


@given(st.floats(-2.0, 2.0), st.floats(-2.0, 2.0), st.floats(0.01, 100.0))
def test_line_search_never_accepts_an_increase(x0, y0, lr):
    def saddle(p):
        return float(p[0] ** 2 - p[1] ** 2 + 0.25 * p[1] ** 4)

    x = np.array([x0, y0])
    g = np.array([2 * x0, -2 * y0 + y0**3])
    rule = chain(newton_type("hsc", lr=lr), backtracking_line_search())
    H = np.diag([2.0, -2.0 + 3 * y0**2])
    step, _ = rule.update(g, rule.init(x), params=x, value=saddle(x), grad=g, fun=saddle, hessian=H)
    assert saddle(x + step) <= saddle(x)


def test_line_search_and_projection_need_their_context():
    x = np.zeros(2)
    with pytest.raises(ValueError, match="needs value=, grad= and fun="):
        search = backtracking_line_search()
        search.update(np.ones(2), search.init(x), params=x)
    with pytest.raises(ValueError, match="project_box needs params="):
        project_box().update(np.ones(2), project_box().init(x))
    with pytest.raises(ValueError, match="box must have lower < upper"):
        project_box(1.0, 0.0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: sgd(0.1),
        lambda: adam(0.1),
        lambda: clip_by_global_norm(1.0),
        lambda: optimistic(0.1),
    ],
)
def test_first_order_rules_check_the_gradient_length(make):
    rule = make()
    with pytest.raises(ValueError, match=r"must have shape \(3,\) like x0, got \(2,\)"):
        rule.update(np.ones(2), rule.init(np.zeros(3)))


@pytest.mark.parametrize(
    "make", [lambda: sgd(1e308), lambda: adam(1e308, eps=1e-300), lambda: optimistic(1e308)]
)
def test_an_overflowing_step_raises_instead_of_returning_inf(make):
    rule = make()
    with pytest.raises(FloatingPointError, match="lr or the gradient is too large"):
        rule.update(np.array([1e300, 1.0]), rule.init(np.zeros(2)))


@pytest.mark.parametrize("make", [sr1, bfgs])
def test_quasi_newton_rules_need_the_iterate(make):
    rule = make()
    with pytest.raises(ValueError, match="needs params="):
        rule.update(np.ones(2), rule.init(np.zeros(2)))


def test_optimistic_steps_are_twice_the_gradient_minus_the_previous_one():
    rule = optimistic(0.25)
    grads = [np.array([1.0, -2.0]), np.array([0.5, 4.0]), np.array([-3.0, 0.0])]
    state, steps = rule.init(np.zeros(2)), []
    for g in grads:
        step, state = rule.update(g, state)
        steps.append(step)
    # x_{t+1} = x_t - 2 lr g_t + lr g_{t-1}, the first with g_{-1} = g_0: exact in binary
    np.testing.assert_array_equal(steps[0], -0.25 * grads[0])
    np.testing.assert_array_equal(steps[1], -0.5 * grads[1] + 0.25 * grads[0])
    np.testing.assert_array_equal(steps[2], -0.5 * grads[2] + 0.25 * grads[1])
    np.testing.assert_array_equal(state[1].previous, grads[2])
