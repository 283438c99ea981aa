"""Gram-matrix style transfer with exact pixel Hessians.

Modules: :mod:`~hsc_ref.style.loss` (the feature extractor, Gram matrices, the Gatys loss
and its conventions), :mod:`~hsc_ref.style.images` (bundled and loaded images),
:mod:`~hsc_ref.style.optimize` (image optimization: L-BFGS-B, Adam, Newton-type and
HSC steps), :mod:`~hsc_ref.style.stylizer` (the article's stylizer network loop) and
:mod:`~hsc_ref.style.cli` (``hsc-ref style``). The names users call are re-exported here.
"""

from __future__ import annotations

from hsc_ref.style.images import (
    BUNDLED_IMAGES,
    bundled_image,
    load_image,
    resolve_image,
    save_png,
    side_by_side,
    to_uint8,
    upscale,
)
from hsc_ref.style.loss import (
    CONVENTIONS,
    FeatureExtractor,
    TransferObjective,
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
    transfer_terms,
)
from hsc_ref.style.optimize import (
    IMAGE_METHODS,
    MAX_DENSE_UNKNOWNS,
    ImageOptResult,
    MatrixFreeState,
    active_set_rule,
    check_dense_size,
    free_mask,
    matrix_free_rule,
    optimize_image,
)
from hsc_ref.style.stylizer import (
    TRAIN_METHODS,
    StylizerObjective,
    StylizerResult,
    stylizer_objective,
    train_stylizer,
)

__all__ = [
    "CONVENTIONS",
    "FeatureExtractor",
    "feature_extractor",
    "patches3x3",
    "check_image",
    "gram",
    "convention_factor",
    "layer_style_loss",
    "style_loss",
    "content_loss",
    "total_variation_loss",
    "transfer_terms",
    "TransferObjective",
    "transfer_objective",
    "BUNDLED_IMAGES",
    "bundled_image",
    "load_image",
    "resolve_image",
    "to_uint8",
    "save_png",
    "upscale",
    "side_by_side",
    "MAX_DENSE_UNKNOWNS",
    "IMAGE_METHODS",
    "ImageOptResult",
    "optimize_image",
    "free_mask",
    "check_dense_size",
    "active_set_rule",
    "MatrixFreeState",
    "matrix_free_rule",
    "TRAIN_METHODS",
    "StylizerObjective",
    "stylizer_objective",
    "StylizerResult",
    "train_stylizer",
]
