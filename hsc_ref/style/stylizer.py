"""The article's style-transfer loop made coherent: a small feed-forward stylizer.

The origin article (section 4.2) trains three networks, "content", "style" and "synthesis",
with Adam(2e-4, betas (0.5, 0.999)) and gradient clipping, and computes ``H``, ``H^{-1}`` and
``Hc = H + H^{-1}`` each step without using them. As written it cannot run and does not
describe style transfer (see ``docs/style.md``). hsc_ref implements the coherent reading
(Johnson et al. 2016): a feed-forward *stylizer* maps a content image to an output image and
is trained with the same content + Gram style + TV loss as image optimization, on the fixed
feature extractor of :mod:`hsc_ref.style`, which is never trained.

Stylizer: a per-pixel MLP on periodic 3x3 patches of the content image,
``y(i, j) = sigmoid(W2 tanh(W1 patch(i, j) + b1) + b2)``, i.e. a 3x3 convolution, ``tanh``,
a 1x1 convolution and a sigmoid that keeps the output in ``(0, 1)``. It is
:func:`hsc_ref.models.mlp` ``[9 C, hidden, C]`` applied to every patch, so its parameters use
the flat layout of :mod:`hsc_ref.layout` and may carry a leading axis of parameter copies (the
batched exact Hessian route).

Training, per step on the same batch of content images (the loss is a *mean* over them):

``"article"``
    :func:`hsc_ref.rules.article_optimizer`: gradient-norm clipping at 1.0 (as
    ``torch.nn.utils.clip_grad_norm_``), then Adam(2e-4, betas (0.5, 0.999)); the spectrum of
    ``H`` and of ``Hc = H + pinv(H)`` of the loss with respect to the parameters is computed
    every ``diagnostics_every`` steps and only recorded (rank, inertia, eigenvalue ranges),
    never used, as in the article.
``"hsc"`` and the other corrections of :data:`hsc_ref.corrections.CORRECTIONS`
    :func:`hsc_ref.rules.newton_type` on the exact parameter Hessian; for ``"hsc"`` the step
    ``-lr pinv(Hc) g`` uses ``Hc``, which the article computes but ignores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import autograd.numpy as anp
import numpy as np

from hsc_ref import _limits, _validation
from hsc_ref.corrections import CORRECTIONS
from hsc_ref.derivatives import hessian
from hsc_ref.layout import flatten
from hsc_ref.loop import LoopProgress, MinimizeOptions, minimize
from hsc_ref.models import mlp
from hsc_ref.rules import (
    ARTICLE_BETAS,
    ARTICLE_LR,
    article_optimizer,
    backtracking_line_search,
    chain,
    newton_type,
)
from hsc_ref.style.loss import (
    CONVENTIONS,
    FeatureExtractor,
    _weighted_total,
    check_image,
    feature_extractor,
    gram,
    patches3x3,
    transfer_terms,
)

__all__ = [
    "TRAIN_METHODS",
    "stylizer_objective",
    "StylizerResult",
    "train_stylizer",
]

TRAIN_METHODS = ("article", *sorted(CORRECTIONS))
"""Accepted ``method`` names of :func:`train_stylizer`."""


@dataclass(frozen=True, eq=False)
class StylizerObjective:
    """Mean content + style + TV loss of the stylizer over a batch, as a function of flat params.

    Calling it on a flat parameter vector ``(n,)`` returns a scalar; on ``(k, n)`` parameter
    copies, ``k`` values. Build it with :func:`stylizer_objective`.

    Attributes
    ----------
    contents : ndarray, shape (B, H, W, C)
        Training content images.
    x0 : ndarray, shape (n,)
        Seeded initial parameters (flat layout).
    hidden : int
        Hidden width of the stylizer.
    """

    contents: np.ndarray
    x0: np.ndarray
    hidden: int
    extractor: FeatureExtractor
    content_features: np.ndarray
    style_grams: tuple[np.ndarray, ...]
    content_weight: float
    style_weight: float
    tv_weight: float
    convention: str
    _patch_rows: np.ndarray = field(repr=False)
    _apply: Callable[[Any, Any], Any] = field(repr=False)
    _unflatten: Callable[[Any], Any] = field(repr=False)

    @property
    def n(self) -> int:
        """Number of parameters."""
        return int(self.x0.shape[0])

    def stylize(self, flat: Any, images: Any = None) -> Any:
        """Output images ``(..., B, H, W, C)`` of the stylizer with parameters ``flat``.

        ``images`` defaults to the training contents; other images must have the same
        channel count (any size).
        """
        if flat.shape[-1:] != (self.n,):
            raise ValueError(f"flat params must have last axis {self.n}, got {flat.shape}")
        if images is None:
            rows, shape = self._patch_rows, self.contents.shape
        else:
            images = np.stack([check_image(im, "images") for im in images])
            rows = np.asarray(patches3x3(images)).reshape(-1, 9 * images.shape[-1])
            shape = images.shape
        out = self._apply(self._unflatten(flat), rows)
        return anp.reshape(out, (*flat.shape[:-1], *shape))

    def components(self, flat: Any) -> dict[str, Any]:
        """Unweighted batch means of the content, style and TV terms."""
        terms = transfer_terms(
            self.extractor,
            self.stylize(flat),
            self.content_features,
            self.style_grams,
            convention=self.convention,
        )
        return {name: anp.mean(value, axis=-1) for name, value in terms.items()}

    def __call__(self, flat: Any) -> Any:
        return _weighted_total(self, self.components(flat))


def stylizer_objective(
    contents: Any,
    style: Any,
    *,
    hidden: int = 8,
    seed: int = 0,
    extractor: FeatureExtractor | None = None,
    content_weight: float = 1.0,
    style_weight: float = 1e5,
    tv_weight: float = 1.0,
    convention: str = "gatys",
) -> StylizerObjective:
    """Build the stylizer's training loss on a batch of content images and one style image.

    Parameters
    ----------
    contents : sequence of arrays (H, W, C) or array (B, H, W, C)
        Content images in ``[0, 1]``, all of the style image's shape.
    style : array, shape (H, W, C)
        Style image in ``[0, 1]``.
    hidden : int, default 8
        Hidden width; the stylizer has ``9 C hidden + hidden + hidden C + C`` parameters
        (251 for ``C = 3``, ``hidden = 8``).
    seed : int, default 0
        Seed of the initial parameters (Glorot uniform, zero biases, as ``models.mlp``).
    extractor, content_weight, style_weight, tv_weight, convention
        As in :func:`hsc_ref.style.transfer_objective`.

    Returns
    -------
    StylizerObjective

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> obj = stylizer_objective([rng.uniform(size=(4, 4, 3))], rng.uniform(size=(4, 4, 3)))
    >>> obj.n, obj(np.stack([obj.x0, obj.x0])).shape
    (251, (2,))
    """
    extractor = feature_extractor() if extractor is None else extractor
    if not isinstance(extractor, FeatureExtractor):
        raise TypeError(
            f"extractor must be a FeatureExtractor (from feature_extractor), got "
            f"{type(extractor).__name__}"
        )
    seed = _validation.check_count(seed, "seed")
    hidden = _validation.check_count(hidden, "hidden", minimum=1)
    style = check_image(style, "style", channels=extractor.in_channels)
    if not isinstance(contents, (list, tuple, np.ndarray)):
        raise TypeError(
            f"contents must be a list of images or an array (B, H, W, C), got "
            f"{type(contents).__name__}"
        )
    images = (
        np.stack([check_image(c, f"contents[{i}]", channels=None) for i, c in enumerate(contents)])
        if len(contents)
        else None
    )
    if images is None or images.shape[1:] != style.shape:
        raise ValueError(
            f"contents must be a non-empty batch of images of the style's shape {style.shape}, "
            f"got {None if images is None else images.shape}"
        )
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {sorted(CONVENTIONS)}, got {convention!r}")
    c = style.shape[-1]
    _limits.require_memory(  # the parameters, and the hidden layer on every content pixel
        8 * (10 * c + 1 + len(images) * style.shape[0] * style.shape[1]) * hidden,
        f"hidden = {hidden} (the stylizer's parameters and activations)",
        hint="pass a smaller hidden width",
    )
    weights = [
        _validation.check_tolerance(w, name)
        for w, name in (
            (content_weight, "content_weight"),
            (style_weight, "style_weight"),
            (tv_weight, "tv_weight"),
        )
    ]
    model = mlp([9 * c, hidden, c], activation="tanh", output_activation="sigmoid")
    x0, unflatten = flatten(model.init(np.random.default_rng(seed)))
    rows = np.asarray(patches3x3(images)).reshape(-1, 9 * c)
    return StylizerObjective(
        contents=images,
        x0=x0,
        hidden=int(hidden),
        extractor=extractor,
        content_features=np.asarray(extractor.apply(images)[-1]),
        style_grams=tuple(np.asarray(gram(f)) for f in extractor.apply(style)),
        content_weight=weights[0],
        style_weight=weights[1],
        tv_weight=weights[2],
        convention=convention,
        _patch_rows=rows,
        _apply=model.apply,
        _unflatten=unflatten,
    )


@dataclass(frozen=True, eq=False)
class StylizerResult:
    """A trained stylizer with its history.

    Attributes
    ----------
    params : ndarray, shape (n,)
        Final flat parameters.
    method : str
    losses, times : ndarray, shape (steps + 1,)
        Loss at the start and after every step; wall-clock seconds since the start.
    history : dict of str to ndarray
        Per step (the package's loop, :func:`hsc_ref.loop.minimize`): ``grad_norm`` (before
        clipping), ``step_norm``, ``wall_time``, and the
        :data:`~hsc_ref.corrections.SUMMARY_FIELDS` of the parameter Hessian and of
        ``Hc = H + pinv(H)`` (NaN where not computed): every step from the Newton-type step's
        own decomposition, every ``diagnostics_every`` steps for ``"article"``, whose loop
        computes them and does not use them.
    settings : dict
    """

    params: np.ndarray
    method: str
    losses: np.ndarray
    times: np.ndarray
    history: dict[str, np.ndarray]
    settings: dict[str, Any]


def _check_train_args(
    objective: Any,
    method: str,
    steps: Any,
    diagnostics_every: Any,
    line_search: bool,
    *,
    callback: Any,
) -> None:
    if not isinstance(objective, StylizerObjective):
        raise TypeError(f"objective must be a StylizerObjective, got {type(objective).__name__}")
    if method not in TRAIN_METHODS:
        raise ValueError(f"method must be one of {list(TRAIN_METHODS)}, got {method!r}")
    _validation.check_count(steps, "steps")
    _validation.check_count(diagnostics_every, "diagnostics_every")
    _validation.check_callable(callback, "callback", optional=True)
    if method == "article" and line_search:
        raise ValueError("line_search applies to Newton-type methods, not to 'article'")


def train_stylizer(
    objective: StylizerObjective,
    method: str = "article",
    *,
    steps: int = 50,
    lr: float | None = None,
    max_grad_norm: float = 1.0,
    diagnostics_every: int = 1,
    line_search: bool = False,
    callback: Callable[[int, float], None] | None = None,
    **params: float,
) -> StylizerResult:
    """Train the stylizer's parameters.

    Parameters
    ----------
    objective : StylizerObjective
    method : str, default "article"
        ``"article"`` (clipped Adam, Hessians unused) or a correction name (Newton-type step
        on the exact parameter Hessian, e.g. ``"hsc"``).
    steps : int, default 50
    lr : float, optional
        Default 2e-4 for ``"article"`` (the article's value), 1.0 for Newton-type steps.
    max_grad_norm : float, default 1.0
        Gradient-norm clipping of the article's loop (not applied to Newton-type steps, whose
        HSC step already satisfies ``||s|| <= lr ||g|| / 2``).
    diagnostics_every : int, default 1
        For ``"article"``: compute and record ``H``, ``pinv(H)``, ``Hc`` every this many steps
        (the article does it every step; 0 disables it).
    line_search : bool, default False
        Newton-type methods only: Armijo backtracking on the step
        (:func:`hsc_ref.rules.backtracking_line_search`).
    callback : callable, optional
        ``callback(step, loss)`` after every step.
    **params
        Parameters of the correction.

    Returns
    -------
    StylizerResult

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> obj = stylizer_objective([rng.uniform(size=(4, 4, 3))], rng.uniform(size=(4, 4, 3)))
    >>> r = train_stylizer(obj, "article", steps=2)
    >>> r.losses.shape, r.history["n"]           # H of the 251 parameters, twice
    ((3,), array([251., 251.]))
    """
    _check_train_args(objective, method, steps, diagnostics_every, line_search, callback=callback)
    article = method == "article"
    if article:
        lr = ARTICLE_LR if lr is None else lr
        max_grad_norm = _validation.check_positive(max_grad_norm, "max_grad_norm")
        rule = article_optimizer(lr, max_grad_norm)
    else:
        lr = 1.0 if lr is None else lr
        rule = newton_type(method, lr=lr, **params)
        rule = chain(rule, backtracking_line_search()) if line_search else rule
    options = MinimizeOptions(
        int(steps),
        diagnose_every=int(diagnostics_every) if article else 0,
        hessian_of=lambda x: hessian(objective, x, batched=True),
    )
    report = None
    if callback is not None:  # (step, the loss where it was taken), from the loop's progress

        def report(progress: LoopProgress) -> None:
            callback(progress.steps_completed, progress.state[2][-1])

    run = minimize(objective, objective.x0, rule, options, callback=report)
    settings = {"method": method, "steps": int(steps), "lr": float(lr), **params}
    settings["line_search"] = bool(line_search)
    if article:
        settings.update(
            max_grad_norm=max_grad_norm,
            diagnostics_every=int(diagnostics_every),
            b1=ARTICLE_BETAS[0],
            b2=ARTICLE_BETAS[1],
        )
    return StylizerResult(
        params=run.x,
        method=method,
        losses=run.losses,
        times=run.times,
        history=run.history,
        settings=settings,
    )
