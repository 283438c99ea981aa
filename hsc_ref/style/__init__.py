"""Gram-matrix style transfer with exact pixel Hessians.

Modules: :mod:`~hsc_ref.style.loss` (the feature extractor, Gram matrices, the Gatys loss
and its conventions), :mod:`~hsc_ref.style.images` (bundled and loaded images),
:mod:`~hsc_ref.style.optimize` (image optimization: L-BFGS-B, Adam, Newton-type and
HSC steps), :mod:`~hsc_ref.style.stylizer` (the article's stylizer network loop) and
:mod:`~hsc_ref.style.cli` (``hsc-ref style``). The names users call are re-exported here.
"""

from __future__ import annotations

from hsc_ref.style.images import bundled_image, load_image, save_png
from hsc_ref.style.loss import (
    CONVENTIONS,
    FeatureExtractor,
    content_loss,
    convention_factor,
    feature_extractor,
    gram,
    style_loss,
    total_variation_loss,
    transfer_objective,
)
from hsc_ref.style.optimize import IMAGE_METHODS, ImageOptResult, matrix_free_rule, optimize_image
from hsc_ref.style.stylizer import TRAIN_METHODS, StylizerResult, stylizer_objective, train_stylizer

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
    "bundled_image",
    "load_image",
    "save_png",
    "IMAGE_METHODS",
    "ImageOptResult",
    "optimize_image",
    "matrix_free_rule",
    "TRAIN_METHODS",
    "stylizer_objective",
    "StylizerResult",
    "train_stylizer",
]
