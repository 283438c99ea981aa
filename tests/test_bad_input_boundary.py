"""Bad arguments that used to fail inside NumPy, SciPy, autograd or the loop now fail at the
public boundary, with a ``TypeError``/``ValueError`` (``MemoryError`` for a size) naming the
argument and the rule, raised from hsc_ref's own code before any work.

Each row is one call of a public function of hsc_ref, hsc_ref.gan, hsc_ref.style,
hsc_ref.golden or hsc_ref.testing with one bad argument. The raising frame is checked too:
the innermost frame of the traceback is in hsc_ref, not in a library it calls.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import hsc_ref
from hsc_ref import gan, golden, layout, style, testing
from hsc_ref.loop import minimize, run_loop
from hsc_ref.rules import sgd

HUGE = 10**12  # any size this large cannot fit: refused before anything is allocated
IMAGE = np.full((8, 8, 3), 0.5)
EXTRACTOR = style.feature_extractor((2,))
MAP = np.ones((3, 3, 2))
GAME = gan.init_game(gan.mlp_game("ring", hidden=(2,)), np.random.default_rng(0))
BATCH = (np.zeros((4, 2)), np.zeros((4, 2)))
OBJECTIVE = style.transfer_objective(IMAGE, IMAGE, extractor=EXTRACTOR)
STYLIZER = style.stylizer_objective([IMAGE], IMAGE, hidden=2, extractor=EXTRACTOR)
TINY_GAN = gan.TrainConfig(steps=1, batch=4, hidden=(2,), n_eval=10)


def _f(x):
    return (x**2).sum(axis=-1)


CASES = [
    # exact derivatives and finite differences: fun not callable (was autograd's wrap_util)
    (
        "gradient-fun",
        lambda: hsc_ref.gradient("f", np.ones(2)),
        TypeError,
        r"fun must be callable, got str",
    ),
    (
        "hessian-fun",
        lambda: hsc_ref.hessian(None, np.ones(2)),
        TypeError,
        r"fun must be callable, got NoneType",
    ),
    (
        "hessian-plain-fun",
        lambda: hsc_ref.hessian(3, np.ones(2), batched=False),
        TypeError,
        r"fun must be callable",
    ),
    (
        "hvp-fun",
        lambda: hsc_ref.hvp([1], np.ones(2), np.ones(2)),
        TypeError,
        r"fun must be callable, got list",
    ),
    (
        "vgh-fun",
        lambda: hsc_ref.value_grad_hessian(1.0, np.ones(2)),
        TypeError,
        r"fun must be callable",
    ),
    (
        "cd-gradient-fun",
        lambda: testing.central_difference_gradient("f", np.ones(2)),
        TypeError,
        r"fun must be callable",
    ),
    (
        "cd-hessian-fun",
        lambda: testing.central_difference_hessian("f", np.ones(2)),
        TypeError,
        r"fun must be callable",
    ),
    # the loop: callback, step and start (was "'str' object is not callable" after a step)
    (
        "run_loop-step",
        lambda: run_loop("step", 0.0, 2),
        TypeError,
        r"step must be callable, got str",
    ),
    (
        "run_loop-callback",
        lambda: run_loop(lambda t, x: (x, {}), 0.0, 2, callback="cb"),
        TypeError,
        r"callback must be callable or None, got str",
    ),
    (
        "minimize-callback",
        lambda: minimize(_f, np.ones(2), sgd(0.1), 2, callback=1),
        TypeError,
        r"callback must be callable or None, got int",
    ),
    (
        "minimize-start",
        lambda: minimize(_f, np.ones(2), sgd(0.1), 2, start=(0, 1)),
        TypeError,
        r"start must be a LoopProgress .*got tuple",
    ),
    (
        "gan-train-callback",
        lambda: gan.train(TINY_GAN, callback="cb"),
        TypeError,
        r"callback must be callable or None, got str",
    ),
    (
        "gan-train-start",
        lambda: gan.train(TINY_GAN, start="s"),
        TypeError,
        r"start must be a LoopProgress .*got str",
    ),
    (
        "optimize_image-callback",
        lambda: style.optimize_image(OBJECTIVE, IMAGE, "adam", steps=1, callback=True),
        TypeError,
        r"callback must be callable or None, got bool",
    ),
    (
        "optimize_image-start",
        lambda: style.optimize_image(OBJECTIVE, IMAGE, "adam", steps=1, start={}),
        TypeError,
        r"start must be a LoopProgress .*got dict",
    ),
    (
        "train_stylizer-callback",
        lambda: style.train_stylizer(STYLIZER, steps=1, callback="cb"),
        TypeError,
        r"callback must be callable or None, got str",
    ),
    # history sizes: refused before the first step (was NumPy's allocation after it)
    (
        "run_loop-steps",
        lambda: run_loop(lambda t, x: (x, {"x": 1.0}), 0.0, HUGE),
        MemoryError,
        r"steps = 1000000000000 \(the per-step history\) needs about",
    ),
    (
        "optimize_image-steps",
        lambda: style.optimize_image(OBJECTIVE, IMAGE, "adam", steps=HUGE),
        MemoryError,
        r"steps = 1000000000000",
    ),
    (
        "train_stylizer-steps",
        lambda: style.train_stylizer(STYLIZER, steps=HUGE),
        MemoryError,
        r"steps = 1000000000000",
    ),
    # seeds (was numpy.random's SeedSequence)
    (
        "bundled_image-seed",
        lambda: style.bundled_image("stripes", 8, seed=-1),
        ValueError,
        r"seed must be a non-negative integer, got -1",
    ),
    (
        "bundled_image-seed-str",
        lambda: style.bundled_image("stripes", 8, seed="1"),
        ValueError,
        r"seed must be a non-negative integer, got '1'",
    ),
    (
        "resolve_image-seed",
        lambda: style.images.resolve_image("noise", 8, seed=1.5),
        ValueError,
        r"seed must be a non-negative integer, got 1.5",
    ),
    (
        "feature_extractor-seed",
        lambda: style.feature_extractor((2,), seed=-3),
        ValueError,
        r"seed must be a non-negative integer, got -3",
    ),
    (
        "stylizer_objective-seed",
        lambda: style.stylizer_objective([IMAGE], IMAGE, extractor=EXTRACTOR, seed="0"),
        ValueError,
        r"seed must be a non-negative integer",
    ),
    # sizes (was NumPy's allocation)
    (
        "bundled_image-size",
        lambda: style.bundled_image("noise", HUGE),
        MemoryError,
        r"size = 1000000000000 \(the image\) needs about",
    ),
    (
        "upscale-factor",
        lambda: style.images.upscale(IMAGE, HUGE),
        MemoryError,
        r"factor = 1000000000000 \(the upscaled image\)",
    ),
    (
        "side_by_side-gap",
        lambda: style.images.side_by_side([IMAGE], gap=-1),
        ValueError,
        r"gap must be a non-negative integer, got -1",
    ),
    (
        "side_by_side-gap-float",
        lambda: style.images.side_by_side([IMAGE, IMAGE], gap=2.5),
        ValueError,
        r"gap must be a non-negative integer, got 2.5",
    ),
    (
        "side_by_side-gap-huge",
        lambda: style.images.side_by_side([IMAGE, IMAGE], gap=HUGE),
        MemoryError,
        r"gap = 1000000000000 and factor = 8 \(the joined image\)",
    ),
    (
        "side_by_side-images",
        lambda: style.images.side_by_side(True),
        ValueError,
        r"images must be a non-empty list of images, got True",
    ),
    (
        "sample-n",
        lambda: gan.sample(gan.mixture("ring"), HUGE, np.random.default_rng(0)),
        MemoryError,
        r"n = 1000000000000 \(the samples\)",
    ),
    (
        "stylizer_objective-hidden",
        lambda: style.stylizer_objective([IMAGE], IMAGE, extractor=EXTRACTOR, hidden=HUGE),
        MemoryError,
        r"hidden = 1000000000000",
    ),
    (
        "feature_extractor-channels",
        lambda: style.feature_extractor((HUGE,)),
        MemoryError,
        r"channels = \[1000000000000\] \(the weights\)",
    ),
    (
        "feature_extractor-in_channels",
        lambda: style.feature_extractor((2,), in_channels=float("inf")),
        ValueError,
        r"in_channels must be a positive integer, got inf",
    ),
    (
        "feature_extractor-channels-str",
        lambda: style.feature_extractor("ab"),
        ValueError,
        r"channels must list at least one positive width, got 'ab'",
    ),
    (
        "convention_factor-zero",
        lambda: style.loss.convention_factor("keras_example", 0, 4, 4),
        ValueError,
        r"channels must be a positive integer, got 0",
    ),
    (
        "layer_style_loss-pixels",
        lambda: style.loss.layer_style_loss(
            MAP, np.eye(2), convention="keras_example", image_pixels=0
        ),
        ValueError,
        r"image_pixels must be a positive integer, got 0",
    ),
    # images and feature maps (was NumPy's axis errors)
    (
        "upscale-image",
        lambda: style.images.upscale(np.ones(4), 2),
        ValueError,
        r"image must be 3-D, got 1-D",
    ),
    (
        "upscale-image-str",
        lambda: style.images.upscale("img", 2),
        TypeError,
        r"image must be a real floating-point array, got str",
    ),
    (
        "tv-image",
        lambda: style.total_variation_loss(np.ones((3, 3))),
        ValueError,
        r"image must have shape \(\.\.\., h, w, C\)",
    ),
    (
        "tv-image-none",
        lambda: style.total_variation_loss(None),
        TypeError,
        r"image must be a real floating-point array, got NoneType",
    ),
    (
        "patches3x3-x",
        lambda: style.loss.patches3x3(np.ones(3)),
        ValueError,
        r"x must have shape \(\.\.\., h, w, C\)",
    ),
    (
        "patches3x3-complex",
        lambda: style.loss.patches3x3(MAP + 0j),
        TypeError,
        r"x must be a real floating-point array, got dtype complex128",
    ),
    (
        "gram-features",
        lambda: style.gram(np.float64(1.0)),
        ValueError,
        r"features must have shape \(\.\.\., h, w, C\)",
    ),
    (
        "gram-features-str",
        lambda: style.gram("F"),
        TypeError,
        r"features must be a real floating-point array",
    ),
    (
        "content_loss-target",
        lambda: style.content_loss(MAP, "P"),
        TypeError,
        r"target must be a real floating-point array",
    ),
    (
        "layer_style_loss-features",
        lambda: style.loss.layer_style_loss(np.ones((0, 3, 2)), np.eye(2)),
        ValueError,
        r"features must have shape \(\.\.\., h, w, C\) with h, w, C >= 1",
    ),
    (
        "layer_style_loss-target",
        lambda: style.loss.layer_style_loss(MAP, "A"),
        TypeError,
        r"target_gram must be a real floating-point array",
    ),
    (
        "style_loss-features",
        lambda: style.style_loss(None, [np.eye(2)]),
        TypeError,
        r"features must be a list of arrays \(one per layer\), got None",
    ),
    (
        "style_loss-weights",
        lambda: style.style_loss([MAP], [np.eye(2)], weights=True),
        TypeError,
        r"weights must be a list of numbers",
    ),
    (
        "free_mask-x",
        lambda: style.optimize.free_mask("x", np.ones(2)),
        TypeError,
        r"x must be a real floating-point array, got str",
    ),
    (
        "free_mask-shapes",
        lambda: style.optimize.free_mask(np.ones(2), np.ones(3)),
        ValueError,
        r"x and grad must have one shape, got \(2,\) and \(3,\)",
    ),
    (
        "resolve_image-spec",
        lambda: style.images.resolve_image(None, 8),
        TypeError,
        r"image must be a bundled name or a file path \(str\), got NoneType",
    ),
    (
        "stylizer_objective-extractor",
        lambda: style.stylizer_objective([IMAGE], IMAGE, extractor="vgg"),
        TypeError,
        r"extractor must be a FeatureExtractor .*got str",
    ),
    (
        "stylizer_objective-contents",
        lambda: style.stylizer_objective(None, IMAGE, extractor=EXTRACTOR),
        TypeError,
        r"contents must be a list of images or an array .*got NoneType",
    ),
    # the GAN's game and losses (was AttributeError, NumPy's axis errors, autograd's tracer)
    (
        "player_losses-fg",
        lambda: gan.player_losses("fg", *BATCH),
        TypeError,
        r"fg must be a FlatGame \(from init_game\), got str",
    ),
    (
        "player_hessians-fg",
        lambda: gan.player_hessians(None, GAME.theta, GAME.phi, *BATCH),
        TypeError,
        r"fg must be a FlatGame .*got NoneType",
    ),
    (
        "game_matrices-fg",
        lambda: gan.game_matrices(GAME.game, GAME.theta, GAME.phi, *BATCH),
        TypeError,
        r"fg must be a FlatGame .*got Game",
    ),
    (
        "discriminator_loss-real",
        lambda: gan.discriminator_loss(np.ones(3), np.ones((3, 1))),
        ValueError,
        r"real_logits must have shape \(\.\.\., batch, 1\) with batch >= 1, got \(3,\)",
    ),
    (
        "discriminator_loss-fake",
        lambda: gan.discriminator_loss(np.ones((3, 1)), "f"),
        TypeError,
        r"fake_logits must be a real floating-point array, got str",
    ),
    (
        "generator_loss-fake",
        lambda: gan.generator_loss(np.ones((3, 2))),
        ValueError,
        r"fake_logits must have shape \(\.\.\., batch, 1\)",
    ),
    (
        "generator_loss-object",
        lambda: gan.generator_loss(np.ones((3, 1), object)),
        TypeError,
        r"fake_logits must be a real floating-point array, got dtype object",
    ),
    # golden helpers (was AttributeError, IndexError)
    (
        "declared_precision-arrays",
        lambda: golden.check.declared_precision("auto", [np.ones(2)]),
        TypeError,
        r"arrays must be a mapping of result names to arrays, got list",
    ),
    (
        "torch_parameter_order-layers",
        lambda: layout.torch_parameter_order("ab"),
        TypeError,
        r"layers must be a non-empty list of \(fan_in, fan_out\) pairs",
    ),
    (
        "torch_parameter_order-pair",
        lambda: layout.torch_parameter_order([3, 4]),
        TypeError,
        r"layers\[0\] must be a \(fan_in, fan_out\) pair, got 3",
    ),
    (
        "torch_parameter_order-size",
        lambda: layout.torch_parameter_order([(3, 0)]),
        ValueError,
        r"layers\[0\] fan_out must be a positive integer, got 0",
    ),
]


def _innermost_file(exc: BaseException) -> str:
    tb = exc.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename


@pytest.mark.parametrize(
    ("call", "error", "match"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_argument_is_refused_at_the_boundary_naming_it(call, error, match):
    with pytest.raises(error, match=match) as info:
        call()
    package = Path(hsc_ref.__file__).parent
    assert Path(_innermost_file(info.value)).is_relative_to(package), info.traceback[-1]


def test_good_arguments_of_the_rows_still_work():
    """The checks refuse only the bad value: the same calls with good values run."""
    assert style.images.upscale(IMAGE, 2).shape == (16, 16, 3)
    assert style.images.side_by_side([IMAGE, IMAGE], factor=1, gap=0).shape == (8, 16, 3)
    assert style.feature_extractor((2,), seed=np.int64(3)).seed == 3
    assert np.isfinite(style.total_variation_loss([[[0.0], [1.0]]]))  # nested lists convert
    assert layout.torch_parameter_order(np.array([[2, 3]])).tolist() == [0, 3, 1, 4, 2, 5, 6, 7, 8]
    assert gan.discriminator_loss(np.zeros((2, 4, 1)), np.zeros((2, 4, 1))).shape == (2,)
