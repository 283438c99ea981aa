"""Gram-matrix style transfer losses on a fixed, seeded feature extractor (``docs/design.md``).

Everything here is written with ``autograd.numpy`` and is *batch-polymorphic*: an image has
shape ``(H, W, C)`` with values in ``[0, 1]``, and every function also accepts leading axes of
image copies ``(*lead, H, W, C)`` and then returns ``lead``-shaped results. That is what the
vectorized exact pixel Hessian (``hessian(..., batched=True)``) relies on.

Feature extractor (no pretrained weights can be downloaded, so the features are random but
fixed by a seed): the image is centered, ``2 x - 1``; each layer is a 3x3 convolution with
periodic (circular) padding (an explicit patch extraction and one ``einsum``), weights drawn from
``N(0, 2 / fan_in)`` with ``fan_in = 9 C_in`` and zero biases, followed by ``tanh``
(smooth, so that pixel Hessians have no kinks); a 2x2 average pooling precedes every layer
after the first (VGG's pattern). The output of every layer is a feature map; style uses all
of them, content the last.

Style loss, pinned to Gatys et al. (2016): per layer the feature map is reshaped to
``F`` of shape ``C x M`` (``M = h w`` positions), ``G = F F^T`` and

    E_l = sum_ij (G_ij - A_ij)^2 / (4 C^2 M^2),     L_style = sum_l w_l E_l

with ``A`` the style image's Gram matrix at the same layer (the style image is used at the
output's size). Other published conventions are exact multiples ``k E_l`` (see
:data:`CONVENTIONS` and :func:`convention_factor`). Content loss is Gatys' eq. (1),
``L_content = 1/2 sum (F - P)^2`` on the content layer; total variation is the sum of
squared differences of neighbouring pixels.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import autograd.numpy as anp
import numpy as np

from hsc_ref import _limits, _validation

__all__ = [
    "CONVENTIONS",
    "FeatureExtractor",
    "feature_extractor",
    "gram",
    "convention_factor",
    "style_loss",
    "content_loss",
    "total_variation_loss",
    "transfer_objective",
]

CONVENTIONS: dict[str, str] = {
    "gatys": "sum (G - A)^2 / (4 C^2 M^2) with G = F F^T (Gatys et al. 2016); factor 1",
    "pytorch_tutorial": "mse_loss(G / (C M), A / (C M)) (PyTorch neural-transfer tutorial); "
    "factor 4 / C^2",
    "jcjohnson": "MSECriterion(G / nElement, A / nElement), nElement = C M "
    "(jcjohnson/neural-style); factor 4 / C^2",
    "tensorflow_tutorial": "reduce_mean((G / M - A / M)^2) (TensorFlow style-transfer tutorial); "
    "factor 4",
    "keras_example": "sum (G - A)^2 / (4 * 3^2 * P^2), P = image pixels (Keras example); "
    "factor C^2 M^2 / (9 P^2)",
}
"""Style-loss normalizations by name, each an exact multiple of Gatys' ``E_l`` (per layer)."""


# --------------------------------------------------------------------------- images


def check_image(image: Any, name: str = "image", *, channels: int | None = 3) -> np.ndarray:
    """Validate one image: a finite float array of shape ``(H, W, C)`` with values in ``[0, 1]``.

    Parameters
    ----------
    image : array_like
        The image; integer arrays are converted to float64 (then they must already lie in
        ``[0, 1]``: 8-bit images are not rescaled silently).
    name : str
        Used in error messages.
    channels : int or None, default 3
        Required channel count (``None``: any).

    Returns
    -------
    ndarray, shape (H, W, C)

    Raises
    ------
    TypeError, ValueError
        Wrong dtype, rank or channel count, non-finite values or values outside ``[0, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> check_image(np.full((2, 2, 3), 0.5)).shape
    (2, 2, 3)
    >>> check_image(np.full((2, 2, 3), 2.0))
    Traceback (most recent call last):
    ...
    ValueError: image must have values in [0, 1], got range [2, 2]
    """
    image = _validation.as_real_array(image, name, ndim=3)
    if channels is not None and image.shape[-1] != channels:
        raise ValueError(
            f"{name} must have {channels} channels (shape (H, W, {channels})), got shape "
            f"{image.shape}"
        )
    low, high = float(image.min()), float(image.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(f"{name} must have values in [0, 1], got range [{low:.3g}, {high:.3g}]")
    return image


# --------------------------------------------------------------------------- features


def _feature_map(x: Any, name: str) -> Any:
    """``x`` as a map of shape ``(..., h, w, C)``: a real array, or autograd's box of one.

    Only the dtype and the shape are read (a traced value's entries are not inspected);
    nested lists are converted and checked as :func:`hsc_ref._validation.as_real_array` does.
    """
    if not (hasattr(x, "shape") and hasattr(x, "dtype")):
        x = _validation.as_real_array(x, name)
    kind = np.dtype(x.dtype).kind
    if kind not in "fiu":
        raise TypeError(f"{name} must be a real floating-point array, got dtype {x.dtype}")
    shape = tuple(x.shape)
    if len(shape) < 3 or 0 in shape[-3:]:
        raise ValueError(f"{name} must have shape (..., h, w, C) with h, w, C >= 1, got {shape}")
    return x


def patches3x3(x: Any) -> Any:
    """``(..., h, w, c) -> (..., h, w, 9 c)``: periodic 3x3 neighbourhoods.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(9.0).reshape(3, 3, 1)
    >>> patches3x3(x)[0, 0]          # rows 2, 0, 1 and columns 2, 0, 1 of x
    array([8., 6., 7., 2., 0., 1., 5., 3., 4.])

    Entry ``(i, j, (a, b, c))`` is ``x[(i + a - 1) % h, (j + b - 1) % w, c]``: the patch axis is
    ordered (row offset, column offset, channel). Built from ``roll`` (whose gradient is a
    roll back) rather than slicing, whose autograd gradient (``np.add.at``) is slow.
    """
    x = _feature_map(x, "x")
    rows = [anp.roll(x, 1 - a, axis=-3) for a in range(3)]
    shifted = [anp.roll(r, 1 - b, axis=-2) for r in rows for b in range(3)]
    return anp.concatenate(shifted, axis=-1)


def _avg_pool2(x: Any) -> Any:
    """2x2 average pooling of ``(..., h, w, c)``; an odd last row or column is dropped."""
    h, w, c = x.shape[-3] // 2, x.shape[-2] // 2, x.shape[-1]
    if (2 * h, 2 * w) != x.shape[-3:-1]:
        x = x[..., : 2 * h, : 2 * w, :]
    x = anp.reshape(x, (*x.shape[:-3], h, 2, w, 2, c))
    return anp.mean(anp.mean(x, axis=-2), axis=-3)


class FeatureExtractor(NamedTuple):
    """A fixed convolutional feature extractor.

    Attributes
    ----------
    layers : tuple of (W, b)
        ``W`` of shape ``(9 C_in, C_out)`` acting on 3x3 patches (see :func:`feature_extractor`),
        ``b`` of shape ``(C_out,)``.
    in_channels : int
        Channels of the input image.
    seed : int
        Seed the weights were drawn with.
    """

    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    in_channels: int
    seed: int

    @property
    def channels(self) -> tuple[int, ...]:
        """Output channels of each layer."""
        return tuple(int(W.shape[1]) for W, _ in self.layers)

    def min_size(self) -> int:
        """Smallest image side for which every layer sees at least 2x2 positions."""
        return 2 ** len(self.layers)

    def apply(self, image: Any) -> list[Any]:
        """Feature maps ``[(..., h_l, w_l, C_l)]`` of an image ``(..., H, W, C_in)``."""
        if image.ndim < 3 or image.shape[-1] != self.in_channels:
            raise ValueError(
                f"image must have shape (..., H, W, {self.in_channels}), got {image.shape}"
            )
        if min(image.shape[-3], image.shape[-2]) < self.min_size():
            raise ValueError(
                f"image sides must be at least {self.min_size()} for {len(self.layers)} layers, "
                f"got {image.shape[-3:-1]}"
            )
        h = 2.0 * image - 1.0
        features = []
        for i, (W, b) in enumerate(self.layers):
            if i > 0:
                h = _avg_pool2(h)
            h = anp.tanh(anp.matmul(patches3x3(h), W) + b)
            features.append(h)
        return features


def feature_extractor(
    channels: Sequence[int] = (8, 16), *, in_channels: int = 3, seed: int = 0
) -> FeatureExtractor:
    """Build the fixed feature extractor with weights drawn from ``numpy.random.default_rng(seed)``.

    Layer ``l`` maps ``C_{l-1}`` to ``C_l`` channels with a 3x3 convolution (periodic
    padding: the image is treated as a torus, as in texture synthesis), weights
    ``N(0, 2 / (9 C_{l-1}))`` drawn in layer order as one ``(9 C_{l-1}, C_l)`` matrix each
    (rows in the patch order of :func:`patches3x3`), zero biases, ``tanh``; layers after
    the first are preceded by 2x2 average pooling. The input is centered as ``2 x - 1``.

    Parameters
    ----------
    channels : sequence of int, default (8, 16)
        Output channels per layer.
    in_channels : int, default 3
        Image channels.
    seed : int, default 0
        Seed of the weights.

    Returns
    -------
    FeatureExtractor

    Examples
    --------
    >>> import numpy as np
    >>> fx = feature_extractor((4, 6))
    >>> [f.shape for f in fx.apply(np.full((8, 8, 3), 0.5))]
    [(8, 8, 4), (4, 4, 6)]
    >>> [f.shape for f in fx.apply(np.full((5, 8, 8, 3), 0.5))]    # 5 image copies
    [(5, 8, 8, 4), (5, 4, 4, 6)]
    """
    if isinstance(channels, (str, bytes)) or not isinstance(channels, Sequence) or not channels:
        raise ValueError(f"channels must list at least one positive width, got {channels!r}")
    sizes = [
        _validation.check_count(in_channels, "in_channels", minimum=1),
        *(_validation.check_count(c, f"channels[{i}]", minimum=1) for i, c in enumerate(channels)),
    ]
    seed = _validation.check_count(seed, "seed")
    weights = sum(9 * c_in * c_out for c_in, c_out in itertools.pairwise(sizes))
    _limits.require_memory(
        8 * weights, f"channels = {list(channels)} (the weights)", hint="pass fewer channels"
    )
    rng = np.random.default_rng(seed)
    layers = []
    for c_in, c_out in itertools.pairwise(sizes):
        fan_in = 9 * c_in
        layers.append((rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, c_out)), np.zeros(c_out)))
    return FeatureExtractor(tuple(layers), sizes[0], seed)


# --------------------------------------------------------------------------- losses


def gram(features: Any) -> Any:
    """Unnormalized Gram matrix ``G = F F^T`` of a feature map, ``F`` of shape ``C x M``.

    Parameters
    ----------
    features : array, shape (..., h, w, C)
        Feature map (leading axes are copies).

    Returns
    -------
    array, shape (..., C, C)
        ``G_cd = sum_m F_cm F_dm`` over the ``M = h w`` positions.

    Examples
    --------
    >>> import numpy as np
    >>> F = np.arange(8.0).reshape(2, 2, 2)       # h = w = 2, C = 2
    >>> gram(F)
    array([[56., 68.],
           [68., 84.]])
    """
    features = _feature_map(features, "features")
    flat = anp.reshape(features, (*features.shape[:-3], -1, features.shape[-1]))
    return anp.matmul(anp.swapaxes(flat, -1, -2), flat)


def convention_factor(convention: str, channels: int, positions: int, image_pixels: int) -> float:
    """Exact factor ``k`` with ``loss_convention = k * E_l`` for one layer.

    Parameters
    ----------
    convention : str
        A key of :data:`CONVENTIONS`.
    channels : int
        ``C``, the layer's channel count.
    positions : int
        ``M = h w``, the layer's spatial positions.
    image_pixels : int
        ``P = H W``, the input image's pixel count (only the Keras example uses it).

    Returns
    -------
    float

    Notes
    -----
    Each factor follows from the convention's own formula (same-size style image, batch 1):
    the PyTorch tutorial and jcjohnson/neural-style divide ``G`` by ``C M`` and take the mean
    of ``C^2`` squared entries, ``sum (G - A)^2 / (C^4 M^2) = (4 / C^2) E_l``; the TensorFlow
    tutorial divides by ``M`` and takes the mean, ``sum (G - A)^2 / (C^2 M^2) = 4 E_l``; the
    Keras example divides the raw sum by ``4 * 3^2 * P^2`` (``channels = 3`` hard-coded,
    ``size`` = the image's pixel count), ``= C^2 M^2 / (9 P^2) E_l``. Weights
    (``style_weight / num_layers`` etc.) are left out of every convention.

    Examples
    --------
    >>> convention_factor("pytorch_tutorial", 8, 256, 256)
    0.0625
    >>> convention_factor("keras_example", 3, 16, 16)
    1.0
    """
    if not isinstance(convention, str) or convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {sorted(CONVENTIONS)}, got {convention!r}")
    c, m, p = (
        float(_validation.check_count(value, name, minimum=1))
        for value, name in (
            (channels, "channels"),
            (positions, "positions"),
            (image_pixels, "image_pixels"),
        )
    )
    return {
        "gatys": 1.0,
        "pytorch_tutorial": 4.0 / c**2,
        "jcjohnson": 4.0 / c**2,
        "tensorflow_tutorial": 4.0,
        "keras_example": (c * m) ** 2 / (9.0 * p**2),
    }[convention]


def layer_style_loss(
    features: Any, target_gram: Any, *, convention: str = "gatys", image_pixels: int | None = None
) -> Any:
    """One layer's style loss ``k * E_l``, ``E_l = sum (G - A)^2 / (4 C^2 M^2)``.

    Parameters
    ----------
    features : array, shape (..., h, w, C)
        Feature map of the image being optimized.
    target_gram : array, shape (C, C)
        ``A``, the style image's unnormalized Gram matrix at this layer (same ``M``).
    convention : str, default "gatys"
        See :data:`CONVENTIONS`.
    image_pixels : int, optional
        ``P`` for the ``"keras_example"`` convention (required there).

    Returns
    -------
    array, shape (...)

    Examples
    --------
    >>> import numpy as np
    >>> F = np.ones((2, 2, 1))                      # C = 1, M = 4, G = [[4]]
    >>> float(layer_style_loss(F, np.zeros((1, 1))))   # 16 / (4 * 1 * 16)
    0.25
    """
    features = _feature_map(features, "features")
    c = features.shape[-1]
    m = features.shape[-3] * features.shape[-2]
    if not hasattr(target_gram, "shape"):
        target_gram = _validation.as_real_array(target_gram, "target_gram")
    if target_gram.shape != (c, c):
        raise ValueError(f"target_gram must have shape ({c}, {c}), got {target_gram.shape}")
    if convention == "keras_example" and image_pixels is None:
        raise ValueError("image_pixels must be given for the keras_example convention, got None")
    factor = convention_factor(convention, c, m, m if image_pixels is None else image_pixels)
    diff = gram(features) - target_gram
    return factor * anp.sum(diff * diff, axis=(-2, -1)) / (4.0 * c**2 * m**2)


def style_loss(
    features: Sequence[Any],
    target_grams: Sequence[Any],
    *,
    weights: Sequence[float] | None = None,
    convention: str = "gatys",
    image_pixels: int | None = None,
) -> Any:
    """Weighted style loss ``sum_l w_l k_l E_l`` over layers (Gatys eq. 5).

    ``weights`` default to ``1 / L`` for each of the ``L`` layers, as in Gatys et al.

    Examples
    --------
    >>> import numpy as np
    >>> F = np.ones((2, 2, 1))
    >>> float(style_loss([F, F], [np.zeros((1, 1))] * 2))
    0.25
    """
    for value, name in ((features, "features"), (target_grams, "target_grams")):
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{name} must be a list of arrays (one per layer), got {value!r:.60}")
    if weights is not None and not isinstance(weights, (list, tuple, np.ndarray)):
        raise TypeError(f"weights must be a list of numbers (one per layer), got {weights!r:.60}")
    if len(features) != len(target_grams) or not features:
        raise ValueError(
            f"features and target_grams must be non-empty and of equal length, got "
            f"{len(features)} and {len(target_grams)}"
        )
    if weights is None:
        weights = [1.0 / len(features)] * len(features)
    if len(weights) != len(features):
        raise ValueError(f"weights must have {len(features)} entries, got {len(weights)}")
    total = 0.0
    for F, A, w in zip(features, target_grams, weights, strict=True):
        total = total + w * layer_style_loss(F, A, convention=convention, image_pixels=image_pixels)
    return total


def content_loss(features: Any, target: Any) -> Any:
    """Gatys' content loss ``1/2 sum (F - P)^2`` over one feature map, ``(..., h, w, C)``.

    Examples
    --------
    >>> import numpy as np
    >>> float(content_loss(np.ones((2, 2, 1)), np.zeros((2, 2, 1))))
    2.0
    """
    features, target = _feature_map(features, "features"), _feature_map(target, "target")
    diff = features - target
    return 0.5 * anp.sum(diff * diff, axis=(-3, -2, -1))


def total_variation_loss(image: Any) -> Any:
    """Squared total variation ``sum (x[i+1,j] - x[i,j])^2 + (x[i,j+1] - x[i,j])^2``.

    Summed over both spatial axes and the channels of ``(..., H, W, C)``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((2, 2, 1)); x[0, 0, 0] = 1.0
    >>> float(total_variation_loss(x))
    2.0
    """
    image = _feature_map(image, "image")
    dv = anp.diff(image, axis=-3)
    dh = anp.diff(image, axis=-2)
    return anp.sum(dv * dv, axis=(-3, -2, -1)) + anp.sum(dh * dh, axis=(-3, -2, -1))


# --------------------------------------------------------------------------- objective


def transfer_terms(
    extractor: FeatureExtractor,
    images: Any,
    content_features: Any,
    style_grams: Sequence[Any],
    *,
    convention: str = "gatys",
) -> dict[str, Any]:
    """Unweighted ``content``, ``style`` and ``tv`` terms of images ``(..., H, W, C)``.

    ``content_features`` (the last layer's target ``P``) broadcasts against the images'
    features, so a stack of different content images may carry its own targets.

    Examples
    --------
    >>> import numpy as np
    >>> fx = feature_extractor((4,))
    >>> x = np.full((4, 4, 3), 0.25)
    >>> P, A = fx.apply(x)[-1], [gram(f) for f in fx.apply(x)]
    >>> {k: float(v) for k, v in transfer_terms(fx, x, P, A).items()}
    {'content': 0.0, 'style': 0.0, 'tv': 0.0}
    """
    features = extractor.apply(images)
    pixels = images.shape[-3] * images.shape[-2]
    return {
        "content": content_loss(features[-1], content_features),
        "style": style_loss(features, style_grams, convention=convention, image_pixels=pixels),
        "tv": total_variation_loss(images),
    }


def _weighted_total(weights: Any, parts: dict[str, Any]) -> Any:
    """``a * content + b * style + t * tv`` with the weights of an objective.

    ``weights`` has ``content_weight``, ``style_weight`` and ``tv_weight`` attributes (a
    :class:`TransferObjective` or a stylizer objective); ``parts`` maps the term names to
    values, as :func:`transfer_terms` returns them.
    """
    return (
        weights.content_weight * parts["content"]
        + weights.style_weight * parts["style"]
        + weights.tv_weight * parts["tv"]
    )


@dataclass(frozen=True, eq=False)
class TransferObjective:
    """``L(x) = a L_content + b L_style + t TV`` as a function of a flat image.

    Build it with :func:`transfer_objective`. Calling it on a flat image of shape ``(n,)``
    (``n = H W C``, C order of the ``(H, W, C)`` image) returns a scalar; on ``(k, n)``
    it returns ``k`` values, one per image copy (the batched exact Hessian route).

    Attributes
    ----------
    shape : tuple of int
        ``(H, W, C)``.
    extractor : FeatureExtractor
    content_features : array
        ``P``, the content image's features at the last layer.
    style_grams : tuple of arrays
        ``A_l`` for every layer.
    content_weight, style_weight, tv_weight : float
        ``a``, ``b`` and ``t``.
    convention : str
        Style-loss normalization.
    """

    shape: tuple[int, int, int]
    extractor: FeatureExtractor
    content_features: np.ndarray
    style_grams: tuple[np.ndarray, ...]
    content_weight: float
    style_weight: float
    tv_weight: float
    convention: str

    @property
    def n(self) -> int:
        """Number of unknowns ``H W C``."""
        return int(np.prod(self.shape))

    def image(self, flat: Any) -> Any:
        """Reshape ``(..., n)`` to ``(..., H, W, C)``."""
        if flat.shape[-1:] != (self.n,):
            raise ValueError(f"flat image must have last axis {self.n}, got shape {flat.shape}")
        return anp.reshape(flat, (*flat.shape[:-1], *self.shape))

    def components(self, flat: Any) -> dict[str, Any]:
        """Unweighted ``content``, ``style`` and ``tv`` terms."""
        return transfer_terms(
            self.extractor,
            self.image(flat),
            self.content_features,
            self.style_grams,
            convention=self.convention,
        )

    def __call__(self, flat: Any) -> Any:
        return _weighted_total(self, self.components(flat))


def transfer_objective(
    content: Any,
    style: Any,
    *,
    extractor: FeatureExtractor | None = None,
    content_weight: float = 1.0,
    style_weight: float = 1e5,
    tv_weight: float = 1.0,
    convention: str = "gatys",
) -> TransferObjective:
    """The style-transfer objective for a content and a style image of the same size.

    Parameters
    ----------
    content, style : array, shape (H, W, C)
        Images with values in ``[0, 1]`` (resize the style image to the content's size first).
    extractor : FeatureExtractor, optional
        Default ``feature_extractor()`` (channels (8, 16), seed 0).
    content_weight, style_weight, tv_weight : float
        Non-negative weights ``a``, ``b``, ``t`` (Gatys' alpha and beta, and TV). The
        defaults ``1, 1e5, 1`` were chosen by looking at 16x16 L-BFGS results on the bundled
        images (style visible, content recognizable, little pixel noise); the ratio
        ``a / b = 1e-5`` is of the order Gatys et al. used (1e-3 to 1e-4) for other features.
    convention : str, default "gatys"
        Style-loss normalization (:data:`CONVENTIONS`).

    Returns
    -------
    TransferObjective

    Raises
    ------
    TypeError, ValueError
        Bad images (rank, channels, range), shapes that differ, unknown convention,
        negative weights.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> c, s = rng.uniform(size=(8, 8, 3)), rng.uniform(size=(8, 8, 3))
    >>> obj = transfer_objective(c, s)
    >>> float(obj.components(c.ravel())["content"])    # the content image has zero content loss
    0.0
    >>> obj(np.stack([c.ravel(), s.ravel()])).shape        # two image copies
    (2,)
    """
    extractor = feature_extractor() if extractor is None else extractor
    if not isinstance(extractor, FeatureExtractor):
        raise TypeError(f"extractor must be a FeatureExtractor, got {type(extractor).__name__}")
    content = check_image(content, "content", channels=extractor.in_channels)
    style = check_image(style, "style", channels=extractor.in_channels)
    if content.shape != style.shape:
        raise ValueError(
            f"style must have the content's shape {content.shape} (resize it), got {style.shape}"
        )
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {sorted(CONVENTIONS)}, got {convention!r}")
    weights = [
        _validation.check_tolerance(w, name)
        for w, name in (
            (content_weight, "content_weight"),
            (style_weight, "style_weight"),
            (tv_weight, "tv_weight"),
        )
    ]
    content_features = np.asarray(extractor.apply(content)[-1])
    style_grams = tuple(np.asarray(gram(f)) for f in extractor.apply(style))
    return TransferObjective(
        tuple(content.shape), extractor, content_features, style_grams, *weights, convention
    )
