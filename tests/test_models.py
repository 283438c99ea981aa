"""Functional MLPs: initialization, the forward pass, parameter copies and activations."""

from __future__ import annotations

import numpy as np
import pytest
from strategies import EPS

from hsc_ref.models import ACTIVATIONS, Model, mlp


def test_init_shapes_glorot_bounds_and_zero_biases():
    sizes = [3, 7, 4, 2]
    params = mlp(sizes).init(np.random.default_rng(0))
    assert [(W.shape, b.shape) for W, b in params] == [
        ((3, 7), (7,)),
        ((7, 4), (4,)),
        ((4, 2), (2,)),
    ]
    for (W, b), (fan_in, fan_out) in zip(params, [(3, 7), (7, 4), (4, 2)], strict=True):
        assert W.dtype == np.float64 and b.dtype == np.float64
        assert np.abs(W).max() <= np.sqrt(6.0 / (fan_in + fan_out))
        np.testing.assert_array_equal(b, 0.0)


def test_same_seed_gives_bit_identical_parameters():
    model = mlp([2, 5, 1])
    a = model.init(np.random.default_rng(42))
    b = model.init(np.random.default_rng(42))
    c = model.init(np.random.default_rng(43))
    for (Wa, ba), (Wb, bb) in zip(a, b, strict=True):
        assert np.array_equal(Wa, Wb) and np.array_equal(ba, bb)
    assert not np.array_equal(a[0][0], c[0][0])


def test_apply_matches_handwritten_forward_pass():
    rng = np.random.default_rng(1)
    model = mlp([3, 4, 2], activation="tanh", output_activation="sigmoid")
    params = [(W, rng.standard_normal(b.shape)) for W, b in model.init(rng)]
    x = rng.standard_normal((6, 3))
    (W1, b1), (W2, b2) = params
    expected = 1.0 / (1.0 + np.exp(-(np.tanh(x @ W1 + b1) @ W2 + b2)))
    # the same products and sums; sigmoid as exp(-logaddexp(0,-z)) vs 1/(1+e^-z): a few ulps of 1
    np.testing.assert_allclose(model.apply(params, x), expected, rtol=0, atol=8 * EPS)


def test_apply_with_parameter_copies_equals_each_copy_alone():
    rng = np.random.default_rng(2)
    model = mlp([2, 3, 1], activation="relu")
    copies = [[(W, rng.standard_normal(b.shape)) for W, b in model.init(rng)] for _ in range(4)]
    stacked = [
        (np.stack([c[i][0] for c in copies]), np.stack([c[i][1] for c in copies])) for i in range(2)
    ]
    x = rng.standard_normal((5, 2))
    out = model.apply(stacked, x)
    assert out.shape == (4, 5, 1)
    for k, params in enumerate(copies):
        # matmul over a stack runs the same dot products per copy (length <= 3): 4 eps |terms|
        np.testing.assert_allclose(out[k], model.apply(params, x), rtol=16 * EPS, atol=16 * EPS)


@pytest.mark.parametrize(
    ("name", "inputs", "expected"),
    [
        ("relu", [-2.0, 0.0, 3.0], [0.0, 0.0, 3.0]),
        ("leaky_relu", [-2.0, 0.0, 3.0], [-0.4, 0.0, 3.0]),
        ("identity", [-2.0, 0.0, 3.0], [-2.0, 0.0, 3.0]),
        ("sigmoid", [0.0], [0.5]),
        ("tanh", [0.0], [0.0]),
    ],
)
def test_activation_values(name, inputs, expected):
    np.testing.assert_array_equal(ACTIVATIONS[name](np.array(inputs)), expected)


def test_sigmoid_has_relative_accuracy_in_both_tails():
    # exp(-y) with y = logaddexp(0, -z) carrying a relative rounding error of a few eps has
    # relative error about (|y| + 2) eps, and |y| <= |z| + log 2; reference: mpmath, 30 digits.
    mpmath = pytest.importorskip("mpmath")
    z = np.linspace(-700, 700, 141)
    with mpmath.workdps(30):
        reference = np.array([float(1 / (1 + mpmath.exp(-mpmath.mpf(float(t))))) for t in z])
    bound = (np.abs(z) + 4) * EPS
    assert np.all(np.abs(ACTIVATIONS["sigmoid"](z) - reference) <= bound * reference)


def test_model_is_a_named_pair():
    model = mlp([1, 1])
    assert isinstance(model, Model) and model._fields == ("init", "apply")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"sizes": [3]},
            ValueError,
            r"sizes must list at least two positive layer widths, got \[3\]",
        ),
        ({"sizes": [3, 0]}, ValueError, r"at least two positive layer widths, got \[3, 0\]"),
        ({"sizes": [2.5, 3]}, TypeError, r"sizes must be a sequence of integers, got \[2\.5, 3\]"),
        ({"sizes": [True, 3]}, TypeError, "sizes must be a sequence of integers"),
        ({"sizes": "23"}, TypeError, "sizes must be a sequence of integers, got '23'"),
        (
            {"sizes": [2, 3], "activation": "gelu"},
            ValueError,
            "activation must be one of .* 'gelu'",
        ),
        ({"sizes": [2, 3], "output_activation": "x"}, ValueError, "activation must be one of"),
    ],
)
def test_mlp_rejects_bad_configuration(kwargs, error, match):
    with pytest.raises(error, match=match):
        mlp(**kwargs)


def test_init_requires_a_generator_and_apply_checks_input_width():
    model = mlp([2, 3, 1])
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator, got int"):
        model.init(0)
    params = model.init(np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"x must have last axis 2, got shape \(4, 3\)"):
        model.apply(params, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="x must be finite"):
        model.apply(params, [[np.nan, 0.0]])
