"""The feed-forward stylizer: batch polymorphism, exact derivatives, the article's loop."""

from __future__ import annotations

import numpy as np
import pytest
from strategies import EPS

from hsc_ref.derivatives import gradient, hessian
from hsc_ref.rules import adam, clip_grad_norm
from hsc_ref.steps import hsc_step
from hsc_ref.style.images import bundled_image
from hsc_ref.style.stylizer import stylizer_objective, train_stylizer


def _objective(hidden=2, size=4):
    contents = [bundled_image("shapes", size, seed=s) for s in range(2)]
    return stylizer_objective(contents, bundled_image("stripes", size, seed=9), hidden=hidden)


def test_objective_is_batch_polymorphic_in_parameter_copies():
    obj = _objective()
    other = obj.x0 + 0.1 * np.random.default_rng(0).normal(size=obj.n)
    values = obj(np.stack([obj.x0, other]))
    # Batched and single matmuls may round differently: relative few-eps agreement.
    np.testing.assert_allclose(values, [obj(obj.x0), obj(other)], rtol=1e3 * EPS)
    out = obj.stylize(obj.x0)
    assert out.shape == (2, 4, 4, 3) and out.min() > 0.0 and out.max() < 1.0
    # The stylizer is convolutional: it applies to new images of any size.
    assert obj.stylize(obj.x0, [bundled_image("waves", 7)]).shape == (1, 7, 7, 3)
    np.testing.assert_allclose(obj.stylize(obj.x0, obj.contents), out, rtol=0, atol=0)


def test_parameter_hessian_times_vectors_matches_differences_of_exact_gradients():
    obj = _objective()
    x = obj.x0
    H = hessian(obj, x, batched=True)
    rng = np.random.default_rng(1)
    h = 1e-5
    for _ in range(3):
        v = rng.normal(size=obj.n)
        v /= np.linalg.norm(v)
        fd = (gradient(obj, x + h * v) - gradient(obj, x - h * v)) / (2 * h)
        # Central-difference error h^2 |third derivative| / 6 + eps |g| / h; the third
        # derivative is bounded by a multiple of the Hessian's scale here.
        bound = h**2 * np.abs(H).max() + EPS * np.abs(gradient(obj, x)).max() / h
        np.testing.assert_allclose(H @ v, fd, rtol=0, atol=10 * bound)


def test_article_loop_is_clipped_adam_with_unused_hessian_diagnostics():
    obj = _objective()
    r = train_stylizer(obj, "article", steps=3)
    rule = adam(2e-4, b1=0.5, b2=0.999)  # the article's optimizer, written out by hand
    x, state = obj.x0.copy(), rule.init(obj.x0)
    for _ in range(3):
        step, state = rule.update(clip_grad_norm(gradient(obj, x), 1.0), state, params=x)
        x = x + step
    assert np.array_equal(r.params, x)  # the Hessians computed along the way change nothing
    h = r.history  # the spectrum was recorded every step: Hc keeps H's rank and inertia
    assert np.isfinite(h["rank"]).all() and h["rank"].shape == (3,)
    np.testing.assert_array_equal(h["rank_corrected"], h["rank"])
    np.testing.assert_array_equal(h["negative_corrected"], h["negative"])
    np.testing.assert_array_equal(h["zero_corrected"], h["zero"])
    assert r.settings["lr"] == 2e-4 and r.settings["b1"] == 0.5


def test_hsc_training_step_is_the_core_hsc_step_on_the_parameter_hessian():
    obj = _objective()
    r = train_stylizer(obj, "hsc", steps=1, lr=0.5)
    x = obj.x0
    expected = x + hsc_step(hessian(obj, x, batched=True), gradient(obj, x), lr=0.5)
    np.testing.assert_allclose(r.params, expected, rtol=0, atol=64 * EPS * np.abs(x).max())


def test_bad_stylizer_arguments_get_clear_errors():
    style = bundled_image("stripes", 4)
    with pytest.raises(ValueError, match="contents must be a non-empty batch"):
        stylizer_objective([bundled_image("shapes", 5)], style)
    with pytest.raises(ValueError, match="contents must be a non-empty batch"):
        stylizer_objective([], style)
    with pytest.raises(ValueError, match="hidden must be a positive integer"):
        stylizer_objective([style], style, hidden=0)
    obj = _objective()
    with pytest.raises(ValueError, match="method must be one of"):
        train_stylizer(obj, "sgd")
    with pytest.raises(ValueError, match="line_search applies"):
        train_stylizer(obj, "article", line_search=True)
    with pytest.raises(ValueError, match="steps must be"):
        train_stylizer(obj, "article", steps=-2)
    with pytest.raises(TypeError, match="StylizerObjective"):
        train_stylizer(None)
