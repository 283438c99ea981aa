"""The one training loop: stopping, history columns, and one eigh per Hessian per step."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from problems import make_problem
from strategies import EPS

import hsc_ref.spectral
from hsc_ref.corrections import SUMMARY_FIELDS, summarize
from hsc_ref.derivatives import hessian
from hsc_ref.gan.train import TrainConfig, train
from hsc_ref.loop import LoopProgress, MinimizeOptions, minimize, rule_step, run_loop
from hsc_ref.rules import (
    adam,
    backtracking_line_search,
    chain,
    newton_type,
    sgd,
)
from hsc_ref.spectral import decompose
from hsc_ref.steps import hsc_step
from hsc_ref.style.images import bundled_image
from hsc_ref.style.loss import transfer_objective
from hsc_ref.style.optimize import optimize_image
from hsc_ref.style.stylizer import stylizer_objective, train_stylizer


@pytest.fixture
def eigh_calls(monkeypatch):
    """Count the eigendecompositions every route of the package makes (NumPy's eigh)."""
    calls = []
    real = np.linalg.eigh

    def counting(a, *args, **kwargs):
        calls.append(a.shape)
        return real(a, *args, **kwargs)

    monkeypatch.setattr(np.linalg, "eigh", counting)
    assert hsc_ref.spectral.np.linalg.eigh is counting  # spectral looks it up at call time
    return calls


def test_run_loop_stops_at_the_first_unfinished_step_and_keeps_the_state():
    def step(t, x):
        return None if t == 2 else (x + 1, {"x": x + 1, **({"odd": 1.0} if t % 2 else {})})

    res = run_loop(step, 0, 5, names=("never",))
    assert (res.state, res.steps_completed, res.stopped_at) == (2, 2, 2)
    np.testing.assert_array_equal(res.history["x"], [1, 2, np.nan, np.nan, np.nan])
    np.testing.assert_array_equal(res.history["odd"], [np.nan, 1, np.nan, np.nan, np.nan])
    assert np.isnan(res.history["never"]).all() and res.history["never"].shape == (5,)


def test_run_loop_refuses_a_bad_step_count():
    with pytest.raises(ValueError, match="steps must be a non-negative integer, got -1"):
        run_loop(lambda t, s: (s, {}), 0, -1)
    with pytest.raises(ValueError, match=r"steps must be a non-negative integer, got 2\.0"):
        run_loop(lambda t, s: (s, {}), 0, 2.0)


def test_hsc_gan_run_makes_one_eigh_per_player_per_step(eigh_calls):
    train(TrainConfig(data="ring", method="hsc", steps=3, hidden=(4,), batch=8, n_eval=10))
    assert len(eigh_calls) == 2 * 3  # was 14: a second eigh per player for the diagnostics


def test_article_gan_run_decomposes_each_players_hessian_once_per_step(eigh_calls):
    config = TrainConfig(  # spectrum_every=1: the default 0 diagnoses no player
        method="article", steps=4, hidden=(4,), batch=8, n_eval=10, spectrum_every=1
    )
    result = train(config)
    # the generator's H, pinv(H) and Hc are the article's own (one eigh); the discriminator's
    # spectrum is a diagnostic every spectrum_every = 1 steps
    assert len(eigh_calls) == 2 * 4
    assert np.isfinite(result.history["rank_g"]).all()


def test_adam_gan_run_with_spectra_off_computes_no_hessian(eigh_calls):
    train(TrainConfig(method="adam", steps=3, hidden=(4,), batch=8, n_eval=10, spectrum_every=4))
    assert len(eigh_calls) == 2  # step 0 only, one per player


def test_image_optimizer_and_stylizer_make_one_eigh_per_newton_step(eigh_calls):
    content = bundled_image("shapes", 4)
    objective = transfer_objective(content, bundled_image("checkerboard", 4, seed=1))
    r = optimize_image(objective, content, "hsc", steps=2, lr=0.5)
    assert len(eigh_calls) == 2 and np.isfinite(r.history["rank"]).all()
    eigh_calls.clear()
    contents = [bundled_image("shapes", 4, seed=s) for s in range(2)]
    obj = stylizer_objective(contents, bundled_image("stripes", 4, seed=9), hidden=2)
    train_stylizer(obj, "hsc", steps=2, lr=0.5)
    assert len(eigh_calls) == 2


def test_rule_step_reuses_the_rules_spectrum_for_its_diagnostics():
    problem = make_problem("mlp_tanh")
    fun, x = problem.loss, problem.theta
    rule = newton_type("hsc", lr=0.5)
    out = rule_step(rule, rule.init(x), fun, x, diagnose=True)
    H = hessian(fun, x)
    assert out.spectrum is out.state.spectrum  # the step's own eigh, not a second one
    np.testing.assert_array_equal(out.step, hsc_step(H, out.grad, lr=0.5))
    assert summarize(out.spectrum) == summarize(decompose(H))


def test_rule_step_times_only_what_the_method_needs():
    problem = make_problem("mlp_tanh")
    fun, x = problem.loss, problem.theta
    rule = adam(1e-3)
    plain = rule_step(rule, rule.init(x), fun, x)
    diagnosed = rule_step(rule, rule.init(x), fun, x, diagnose=True)
    assert plain.spectrum is None and diagnosed.spectrum is not None
    np.testing.assert_array_equal(plain.step, diagnosed.step)


def test_rule_step_reports_an_overflowing_step_as_unfinished():
    rule = sgd(1e308)
    assert rule_step(rule, rule.init(np.ones(2)), lambda x: (10.0 * x**2).sum(), np.ones(2)) is None


def test_minimize_records_losses_times_and_summary_columns():
    f = lambda x: (x[..., 0] - 1.0) ** 2 - 0.5 * x[..., 1] ** 2  # noqa: E731  a saddle
    r = minimize(f, np.array([0.0, 0.3]), newton_type("hsc"), 3, callback=None)
    assert r.losses.shape == r.times.shape == (4,) and r.times[0] == 0.0
    assert np.all(np.diff(r.times) >= 0)
    assert set(SUMMARY_FIELDS) <= set(r.history)
    np.testing.assert_array_equal(r.history["negative"], [1, 1, 1])  # H = diag(2, -1)
    # the HSC step contracts the offset by 1/(1 + lam^2) along each eigendirection
    np.testing.assert_allclose(r.x, [1 - 0.2**3, 0.3 * 0.5**3], rtol=0, atol=4 * EPS)


def test_minimize_with_line_search_never_increases_the_loss():
    f = lambda x: (x[..., 0] - 1.0) ** 2 - 0.5 * x[..., 1] ** 2 + x[..., 1] ** 4  # noqa: E731
    rule = chain(newton_type("hsc", lr=4.0), backtracking_line_search())
    r = minimize(f, np.array([0.0, 0.3]), rule, 5)
    assert np.all(np.diff(r.losses) <= 0.0)


def test_minimize_diagnoses_a_first_order_rule_every_k_steps():
    f = lambda x: (x**2).sum(axis=-1)  # noqa: E731
    r = minimize(f, np.ones(3), sgd(0.1), MinimizeOptions(5, diagnose_every=2))
    assert np.isfinite(r.history["rank"]).tolist() == [True, False, True, False, True]
    with pytest.raises(ValueError, match="diagnose_every must be a non-negative integer"):
        minimize(f, np.ones(3), sgd(0.1), MinimizeOptions(5, diagnose_every=-2))


def test_a_pseudo_inverse_step_that_overflows_ends_the_run_as_divergence():
    """The Newton step on a Hessian of order 1e-309 (kept by the cutoff n eps max|lam|) would
    be infinite: the rule refuses it (ReciprocalOverflowError, a FloatingPointError), and the
    loop records divergence instead of crashing or stepping to inf."""
    fun = lambda x: 1e-309 * (x**2).sum()  # noqa: E731  H = 2e-309 I, subnormal
    rule = newton_type("newton", lr=1.0)
    x = np.array([1.0, -2.0])
    assert rule_step(rule, rule.init(x), fun, x) is None
    hsc = newton_type("hsc", lr=1.0)  # phi(lam) = lam / (1 + lam^2) needs no reciprocal
    assert rule_step(hsc, hsc.init(x), fun, x) is not None


def test_run_loop_hands_its_callback_every_steps_progress_and_continues_from_one():
    seen: list[LoopProgress] = []
    step = lambda t, x: (x * 0.5 + t, {"x": x})  # noqa: E731  depends on t and the state only
    whole = run_loop(step, 3.0, 5, callback=seen.append)
    assert [p.steps_completed for p in seen] == [1, 2, 3, 4, 5]
    resumed = run_loop(step, None, 5, start=seen[1])  # its rows 3.. were filled later: reset
    assert resumed.state == whole.state
    np.testing.assert_array_equal(resumed.history["x"], whole.history["x"])


def test_ctrl_c_inside_a_step_leaves_the_last_progress_whole():
    seen: list[LoopProgress] = []

    def step(t, x):
        if t == 2:
            raise KeyboardInterrupt  # after the record of step 2 began: nothing of it kept
        return x + 1.0, {"x": x}

    with pytest.raises(KeyboardInterrupt):
        run_loop(step, 0.0, 4, names=("x",), callback=seen.append)
    assert seen[-1].steps_completed == 2
    np.testing.assert_array_equal(seen[-1].history["x"], [0.0, 1.0, np.nan, np.nan])


def test_minimize_takes_plain_values_and_continues_from_a_progress_bit_for_bit():
    assert len(inspect.signature(minimize).parameters) <= 6
    f = lambda x: (x[..., 0] - 1.0) ** 2 - 0.5 * x[..., 1] ** 2  # noqa: E731  a saddle
    seen: list[LoopProgress] = []
    whole = minimize(f, np.array([0.0, 0.3]), newton_type("hsc"), 4, callback=seen.append)
    _, _, losses, times = seen[1].state
    assert len(losses) == len(times) == 2 and losses[0] == whole.losses[0]
    again = minimize(f, np.array([0.0, 0.3]), newton_type("hsc"), 4, start=seen[1])
    np.testing.assert_array_equal(again.x, whole.x)
    np.testing.assert_array_equal(again.losses, whole.losses)
