"""Gram matrices, style, content and TV losses, published normalizations, pixel derivatives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import EPS, random_orthogonal

from hsc_ref.derivatives import gradient, hessian
from hsc_ref.style.loss import (
    CONVENTIONS,
    check_image,
    content_loss,
    convention_factor,
    feature_extractor,
    gram,
    layer_style_loss,
    patches3x3,
    style_loss,
    total_variation_loss,
    transfer_objective,
)
from hsc_ref.testing import central_difference_gradient, central_difference_hessian

feature_shapes = st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 6))  # (h, w, C)


def _features(shape, seed):
    return np.random.default_rng(seed).normal(size=shape)


@given(feature_shapes, st.integers(0, 2**32 - 1))
def test_gram_is_symmetric_and_psd(shape, seed):
    F = _features(shape, seed)
    G = gram(F)
    m = shape[0] * shape[1]
    scale = float(np.sum(F * F))  # ||F||_F^2 bounds every |G_cd|
    # Each entry is a sum of M products: rounding at most M * eps * scale per entry.
    np.testing.assert_allclose(G, G.T, rtol=0, atol=2 * m * EPS * scale)
    lam = np.linalg.eigvalsh(0.5 * (G + G.T))
    # eigvalsh is backward stable: eigenvalues move by at most ~C * eps * ||G||.
    assert lam.min() >= -4 * (m + shape[2]) * EPS * scale


@given(feature_shapes, st.integers(0, 2**32 - 1))
def test_gram_is_invariant_to_permuting_spatial_positions(shape, seed):
    F = _features(shape, seed)
    rng = np.random.default_rng(seed + 1)
    flat = F.reshape(-1, shape[2])
    permuted = flat[rng.permutation(flat.shape[0])].reshape(shape)
    m = shape[0] * shape[1]
    # Only the summation order changes: |difference| <= 2 M eps sum|F_c||F_d|.
    np.testing.assert_allclose(
        gram(permuted), gram(F), rtol=0, atol=2 * m * EPS * float(np.sum(F * F))
    )


@given(feature_shapes, st.integers(0, 2**32 - 1), st.floats(-8.0, 8.0))
@example((5, 5, 6), 0, 3.18e-161)  # thorough profile: a^2 is subnormal (found in 1002 tests)
@example((5, 5, 6), 1, -1e-155)
def test_gram_scales_as_a_squared(shape, seed, a):
    F = _features(shape, seed)
    G = gram(F)
    # (aF)^T(aF) = a^2 F^T F; rounding of the scaled sum adds ~(M + 2) eps relative per entry.
    m = shape[0] * shape[1]
    relative = 4 * (m + 2) * EPS * a * a * float(np.sum(F * F))
    # Underflow floor: where products and a^2 are subnormal, each rounding errs by up to half
    # the smallest subnormal s, absolutely: m products and m additions in gram(aF), and
    # fl(a^2) times |G| in the reference, so 2m s + (|G| + 1) s, doubled for safety.
    s = float(np.finfo(np.float64).smallest_subnormal)
    underflow = 2 * (2 * m + float(np.abs(G).max()) + 1) * s
    np.testing.assert_allclose(gram(a * F), a * a * G, rtol=0, atol=relative + underflow)


def test_gram_scaling_by_a_power_of_two_is_exact():
    F = _features((3, 4, 5), 0)
    assert np.array_equal(gram(4.0 * F), 16.0 * gram(F))


def test_style_loss_is_zero_when_grams_match_even_for_different_features():
    rng = np.random.default_rng(0)
    F = rng.normal(size=(4, 4, 3))
    flat = F.reshape(16, 3)
    q = random_orthogonal(1, 16)  # orthogonal mixing of the positions
    other = (q @ flat).reshape(4, 4, 3)
    assert not np.allclose(other, F)
    assert float(layer_style_loss(F, gram(F))) == 0.0
    # Same Gram up to rounding: loss = sum (dG)^2 / (4 C^2 M^2) with |dG| <~ M eps ||F||^2.
    bound = (16 * 16 * EPS * float(np.sum(F * F))) ** 2 * 9 / (4 * 9 * 16**2)
    assert float(layer_style_loss(other, gram(F))) <= bound


@given(feature_shapes, st.integers(0, 2**32 - 1))
def test_style_loss_is_positive_when_grams_differ_and_matches_gatys_formula(shape, seed):
    F = _features(shape, seed)
    A = gram(_features(shape, seed + 1))
    c, m = shape[2], shape[0] * shape[1]
    direct = np.sum((F.reshape(m, c).T @ F.reshape(m, c) - A) ** 2) / (4.0 * c * c * m * m)
    value = float(layer_style_loss(F, A))
    assert value > 0.0
    np.testing.assert_allclose(value, direct, rtol=8 * (m + c * c) * EPS)


# --------------------------------------------------------------------------- conventions
# Each convention written independently from its published code (batch 1, style image of the
# output's size); the library computes k * E_l. Inputs are NHWC-like (h, w, C) feature maps.


def _gatys(F, S):
    """Gatys et al. (2016) eq. 4: F^l in R^{N_l x M_l}, E_l = sum (G - A)^2 / (4 N^2 M^2)."""
    n, m = F.shape[2], F.shape[0] * F.shape[1]
    Fl, Sl = F.reshape(m, n).T, S.reshape(m, n).T
    G, A = Fl @ Fl.T, Sl @ Sl.T
    return float(np.sum((G - A) ** 2) / (4.0 * n**2 * m**2))


def _pytorch_tutorial(F, S):
    """PyTorch neural-transfer tutorial: gram_matrix divides by a*b*c*d, then F.mse_loss."""
    torch = pytest.importorskip("torch")

    def gram_matrix(tensor):
        a, b, c, d = tensor.size()
        features = tensor.view(a * b, c * d)
        G = torch.mm(features, features.t())
        return G.div(a * b * c * d)

    def nchw(x):
        return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)[None]))

    target = gram_matrix(nchw(S)).detach()
    return float(torch.nn.functional.mse_loss(gram_matrix(nchw(F)), target))


def _pytorch_tutorial_numpy(F, S):
    """The PyTorch tutorial's two lines in NumPy: G = F F^T / (a b c d), mean squared error."""
    a, b, c, d = 1, F.shape[2], F.shape[0], F.shape[1]

    def gram_matrix(x):
        features = x.transpose(2, 0, 1).reshape(a * b, c * d)
        return features @ features.T / (a * b * c * d)

    return float(np.mean((gram_matrix(F) - gram_matrix(S)) ** 2))


@pytest.mark.parametrize("shape", [(4, 4, 8), (3, 5, 2)])
def test_pytorch_tutorial_convention_in_pytorch_itself(shape):
    rng = np.random.default_rng(sum(shape))
    F, S = rng.normal(size=shape), rng.normal(size=shape)
    c, m = shape[2], shape[0] * shape[1]
    ours = float(layer_style_loss(F, gram(S), convention="pytorch_tutorial"))
    # Same bound as below: (M + C^2) eps relative, no cancellation between independent G, A.
    np.testing.assert_allclose(ours, _pytorch_tutorial(F, S), rtol=8 * (m + c * c) * EPS)


def _jcjohnson(F, S):
    """jcjohnson/neural-style: G = x_flat x_flat^T, G:div(input:nElement()), MSECriterion (mean)."""
    C, H, W = F.shape[2], F.shape[0], F.shape[1]

    def lua_gram(x_chw):
        x_flat = x_chw.reshape(C, H * W)
        return (x_flat @ x_flat.T) / x_chw.size

    G, target = lua_gram(F.transpose(2, 0, 1)), lua_gram(S.transpose(2, 0, 1))
    return float(np.mean((G - target) ** 2))


def _tensorflow_tutorial(F, S):
    """TensorFlow tutorial: einsum('bijc,bijd->bcd') / num_locations, reduce_mean of squares."""

    def gram_matrix(t):
        result = np.einsum("bijc,bijd->bcd", t, t)
        return result / (t.shape[1] * t.shape[2])

    return float(np.mean((gram_matrix(F[None]) - gram_matrix(S[None])) ** 2))


def _keras_example(F, S, img_nrows, img_ncols):
    """Keras example: sum (S - C)^2 / (4 * channels^2 * size^2), channels = 3, size = rows*cols."""

    def gram_matrix(x):
        features = np.transpose(x, (2, 0, 1)).reshape(x.shape[2], -1)
        return features @ features.T

    channels = 3
    size = img_nrows * img_ncols
    return float(np.sum((gram_matrix(S) - gram_matrix(F)) ** 2) / (4.0 * channels**2 * size**2))


@pytest.mark.parametrize("shape", [(4, 4, 8), (2, 2, 16), (3, 5, 2)])
def test_each_convention_is_its_published_formula_and_an_exact_multiple_of_gatys(shape):
    rng = np.random.default_rng(sum(shape))
    F, S = rng.normal(size=shape), rng.normal(size=shape)
    image_rows, image_cols = 4 * shape[0], 4 * shape[1]  # a layer after two 2x2 poolings
    pixels = image_rows * image_cols
    references = {
        "gatys": _gatys(F, S),
        "jcjohnson": _jcjohnson(F, S),
        "tensorflow_tutorial": _tensorflow_tutorial(F, S),
        "keras_example": _keras_example(F, S, image_rows, image_cols),
    }
    references["pytorch_tutorial"] = _pytorch_tutorial_numpy(F, S)
    assert set(references) == set(CONVENTIONS)
    c, m = shape[2], shape[0] * shape[1]
    # Each side sums C^2 squares of Gram differences, each Gram entry a sum of M products;
    # G and A are independent, so there is no cancellation: relative error <= ~(M + C^2) eps.
    rtol = 8 * (m + c * c) * EPS
    expected_factor = {
        "gatys": 1.0,
        "pytorch_tutorial": 4.0 / c**2,
        "jcjohnson": 4.0 / c**2,
        "tensorflow_tutorial": 4.0,
        "keras_example": c**2 * m**2 / (9.0 * pixels**2),
    }
    for name, reference in references.items():
        ours = float(layer_style_loss(F, gram(S), convention=name, image_pixels=pixels))
        np.testing.assert_allclose(ours, reference, rtol=rtol, err_msg=name)
        np.testing.assert_allclose(
            reference / references["gatys"], expected_factor[name], rtol=2 * rtol, err_msg=name
        )
        assert convention_factor(name, c, m, pixels) == pytest.approx(
            expected_factor[name], rel=4 * EPS
        )


def test_unknown_convention_and_missing_pixels_raise():
    F = np.ones((2, 2, 1))
    with pytest.raises(ValueError, match="convention must be one of"):
        layer_style_loss(F, gram(F), convention="vgg")
    with pytest.raises(ValueError, match="image_pixels must be given"):
        layer_style_loss(F, gram(F), convention="keras_example")
    with pytest.raises(ValueError, match="target_gram must have shape"):
        layer_style_loss(F, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="equal length"):
        style_loss([F], [])


# --------------------------------------------------------------------------- content, TV


def test_content_and_tv_losses_have_their_closed_forms():
    F = np.full((2, 3, 4), 2.0)
    assert float(content_loss(F, np.zeros_like(F))) == 0.5 * 4.0 * 24
    ramp = np.broadcast_to((0.1 * np.arange(5))[:, None, None], (5, 4, 3))
    # Vertical differences 0.1 on (5-1)*4*3 entries, no horizontal ones.
    assert float(total_variation_loss(ramp)) == pytest.approx(48 * 0.01, rel=1e-14)
    assert float(total_variation_loss(np.full((3, 3, 3), 0.7))) == 0.0


# --------------------------------------------------------------------------- features


def test_extractor_is_seeded_and_batch_polymorphic():
    a, b, c = feature_extractor(seed=3), feature_extractor(seed=3), feature_extractor(seed=4)
    for (Wa, ba), (Wb, bb) in zip(a.layers, b.layers, strict=True):
        assert np.array_equal(Wa, Wb) and np.array_equal(ba, bb)
    assert not np.array_equal(a.layers[0][0], c.layers[0][0])
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(3, 8, 8, 3))
    stacked = a.apply(images)
    for i in range(3):
        for f_stack, f_one in zip(stacked, a.apply(images[i]), strict=True):
            # batched and single matmuls may round differently: a few eps of O(1) tanh values.
            np.testing.assert_allclose(f_stack[i], f_one, rtol=0, atol=64 * EPS)


def test_patches_are_periodic_neighbourhoods():
    x = np.random.default_rng(0).normal(size=(4, 5, 2))
    p = patches3x3(x).reshape(4, 5, 3, 3, 2)
    for i in range(4):
        for j in range(5):
            for a in range(3):
                for b in range(3):
                    assert np.array_equal(p[i, j, a, b], x[(i + a - 1) % 4, (j + b - 1) % 5])


def test_bad_images_get_clear_errors():
    fx = feature_extractor()
    with pytest.raises(ValueError, match="must be 3-D"):
        check_image(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="3 channels"):
        check_image(np.zeros((4, 4, 4)))
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        check_image(np.full((4, 4, 3), -0.1))
    with pytest.raises(ValueError, match="finite"):
        check_image(np.full((4, 4, 3), np.nan))
    with pytest.raises(TypeError, match="floating-point"):
        check_image(np.zeros((4, 4, 3), dtype=complex))
    with pytest.raises(ValueError, match="shape"):
        fx.apply(np.zeros((8, 8, 1)))
    with pytest.raises(ValueError, match="at least 4"):
        fx.apply(np.zeros((3, 8, 3)))
    c = np.full((8, 8, 3), 0.5)
    with pytest.raises(ValueError, match="content's shape"):
        transfer_objective(c, np.full((6, 6, 3), 0.5))
    with pytest.raises(ValueError, match="style_weight"):
        transfer_objective(c, c, style_weight=-1.0)
    with pytest.raises(TypeError, match="FeatureExtractor"):
        transfer_objective(c, c, extractor="vgg")


# --------------------------------------------------------------------------- derivatives


def _small_objective():
    rng = np.random.default_rng(1)
    content, style = rng.uniform(size=(4, 4, 3)), rng.uniform(size=(4, 4, 3))
    obj = transfer_objective(content, style, style_weight=1e3, tv_weight=0.1)
    x = np.clip(content + 0.1 * rng.normal(size=content.shape), 0.05, 0.95).ravel()
    return obj, x


def test_pixel_gradient_matches_central_differences():
    obj, x = _small_objective()
    g = gradient(obj, x)
    h = 1e-5
    fd = central_difference_gradient(obj, x, h=h)
    # Error of central differences: h^2 |f'''| / 6 + eps |f| / h; f''' is of the Hessian's
    # scale (the loss is a smooth function of pixels in [0, 1]).
    bound = h**2 * np.abs(hessian(obj, x, batched=True)).max() + EPS * abs(float(obj(x))) / h
    np.testing.assert_allclose(g, fd, rtol=0, atol=10 * bound)


def test_pixel_hessian_matches_central_differences_and_both_routes_agree():
    obj, x = _small_objective()
    H = hessian(obj, x, batched=True)
    H_plain = hessian(obj, x, batched=False)
    # Two exact routes differ only by rounding in their reverse passes.
    np.testing.assert_allclose(H, H_plain, rtol=0, atol=1e3 * EPS * np.abs(H).max())
    h = 1e-4
    fd = central_difference_hessian(obj, x, h=h)
    # Truncation h^2 |f''''| / 6 (f'''' of the Hessian's scale) plus rounding eps |f| / h^2.
    bound = h**2 * np.abs(H).max() + EPS * abs(float(obj(x))) / h**2
    np.testing.assert_allclose(H, fd, rtol=0, atol=10 * bound)
    assert np.array_equal(H, H.T)
