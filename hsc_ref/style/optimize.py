"""Optimize an image for a style-transfer objective under the box constraint ``0 <= x <= 1``.

Methods and how each handles the box:

``"lbfgs"``
    ``scipy.optimize.minimize(method="L-BFGS-B")`` with bounds ``[0, 1]`` on every pixel (the
    standard since Gatys et al.); one "step" is one L-BFGS-B iteration (it may evaluate the
    objective several times in its line search).
``"adam"``
    :func:`hsc_ref.rules.adam` followed by the Euclidean projection ``clip(x, 0, 1)``.
``"hsc"``, ``"newton"``, ``"saddle_free"``, ``"damped"``, ``"clip"``, ``"fill"``
    :func:`hsc_ref.rules.newton_type` with the exact, dense pixel Hessian, in the active-set
    form of projected Newton methods (Bertsekas 1982): a pixel at a bound whose gradient
    points out of the box is held fixed, the step is computed from the gradient and Hessian
    restricted to the other ("free") pixels, then the iterate is projected with
    ``clip(x, 0, 1)``. Plain projection of a full Newton step can increase the objective even
    for convex problems; holding the active pixels fixed avoids the worst of that, but this
    is a heuristic with a fixed ``lr`` and no line search, not a globally convergent method.

``"hsc_cg"``
    the HSC step without forming ``H``: conjugate gradients on ``(I + H^2) s = -lr H g`` with
    exact Hessian-vector products (:func:`hsc_ref.steps.matrix_free_hsc_step`), same active
    set and projection as above. For images of any size.

Every method but L-BFGS-B is a :func:`~hsc_ref.rules.chain` of the method's rule and the box
(``project_box(0, 1)``, or ``backtracking_line_search(box=(0, 1))`` with ``line_search=True``)
run by the package's one loop, :func:`hsc_ref.loop.minimize`.

The dense Hessian has ``n^2`` entries, ``n = H W C``; it is refused above ``max_unknowns``
(default 768 = 16 x 16 x 3) with a clear error; use ``"hsc_cg"``, ``"lbfgs"`` or ``"adam"``
for larger images.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import autograd
import numpy as np
import scipy.optimize

from hsc_ref import _validation
from hsc_ref.corrections import ALIASES, CORRECTIONS
from hsc_ref.loop import LoopProgress, MinimizeOptions, ProgressFn, _check_start, minimize
from hsc_ref.rules import (
    Context,
    StepRule,
    adam,
    backtracking_line_search,
    chain,
    newton_type,
    project_box,
    rule_from,
)
from hsc_ref.steps import matrix_free_hsc_step
from hsc_ref.style import _exact
from hsc_ref.style.loss import TransferObjective, check_image

__all__ = [
    "IMAGE_METHODS",
    "ImageOptResult",
    "optimize_image",
    "matrix_free_rule",
]

MAX_DENSE_UNKNOWNS = 768
"""Largest number of pixel unknowns (16 x 16 x 3) for which a dense Hessian is formed."""

NEWTON_METHODS = tuple(sorted(CORRECTIONS))
IMAGE_METHODS = ("lbfgs", "adam", "hsc_cg", *NEWTON_METHODS)
"""Accepted ``method`` names of :func:`optimize_image`."""


@dataclass(frozen=True, eq=False)
class ImageOptResult:
    """An optimized image with its history.

    Attributes
    ----------
    image : ndarray, shape (H, W, C)
        Final image, in ``[0, 1]``.
    method : str
    losses : ndarray, shape (steps + 1,)
        Objective at the start and after every step (L-BFGS-B may stop before ``steps``
        iterations, e.g. when its line search fails; then the array is shorter).
    times : ndarray, shape (steps + 1,)
        Wall-clock seconds since the start at which each loss was reached (0 first).
    evaluations : int
        Objective evaluations, with or without gradient (L-BFGS-B's and the Armijo line
        searches use several per step); Hessian evaluations are not counted.
    components : dict
        Final unweighted content, style and tv terms.
    history : dict of str to ndarray
        Per step (from the package's loop, :func:`hsc_ref.loop.minimize`): ``grad_norm``,
        ``step_norm``, ``wall_time``; for the Newton-type methods the
        :data:`~hsc_ref.corrections.SUMMARY_FIELDS` of the restricted Hessian (``n`` is the
        free-pixel count); for ``"hsc_cg"`` ``free_pixels``, ``cg_iterations`` and
        ``cg_relative_residual``. Empty for L-BFGS-B.
    settings : dict
        Method parameters.
    """

    image: np.ndarray
    method: str
    losses: np.ndarray
    times: np.ndarray
    evaluations: int
    components: dict[str, float]
    history: dict[str, np.ndarray] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


def free_mask(x: Any, grad: Any) -> np.ndarray:
    """Pixels not held at a bound: False where ``x <= 0, g > 0`` or ``x >= 1, g < 0``.

    Examples
    --------
    >>> import numpy as np
    >>> free_mask(np.array([0.0, 0.0, 0.5, 1.0]), np.array([1.0, -1.0, 1.0, -1.0]))
    array([False,  True,  True, False])
    """
    x, grad = _validation.as_real_array(x, "x"), _validation.as_real_array(grad, "grad")
    if x.shape != grad.shape:
        raise ValueError(f"x and grad must have one shape, got {x.shape} and {grad.shape}")
    return _free(x, grad)


def _free(x: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """:func:`free_mask` of arrays the loop made (checked where they came in)."""
    return ~(((x <= 0.0) & (grad > 0.0)) | ((x >= 1.0) & (grad < 0.0)))


def check_dense_size(n: int, max_unknowns: int, shape: tuple[int, ...]) -> None:
    """Raise ``ValueError`` for a dense Hessian of more than ``max_unknowns`` unknowns.

    Examples
    --------
    >>> check_dense_size(768, 768, (16, 16, 3))     # fine: returns None
    """
    if n > max_unknowns:
        raise ValueError(
            f"image must have at most {max_unknowns} unknowns for a dense pixel Hessian "
            f"({n * n * 8 / 2**20:.0f} MiB, one reverse pass per row), got {shape} = {n}; "
            f"use method 'hsc_cg' (matrix-free), 'lbfgs' or 'adam' for larger images"
        )


def _finish(
    objective: TransferObjective,
    x: np.ndarray,
    method: str,
    losses_and_times: tuple[Any, Any],
    evaluations: int,
    **extra: Any,
) -> ImageOptResult:
    parts = {k: float(v) for k, v in objective.components(x).items()}
    return ImageOptResult(
        image=objective.image(x).copy(),
        method=method,
        losses=np.asarray(losses_and_times[0]),
        times=np.asarray(losses_and_times[1]),
        evaluations=evaluations,
        components=parts,
        **extra,
    )


def _run_lbfgs(objective, x0, steps, callback):
    value_and_grad = autograd.value_and_grad(objective)
    count = [0]

    def fun(x):
        count[0] += 1
        value, grad = value_and_grad(x)
        return float(value), np.asarray(grad, dtype=np.float64)

    start = time.perf_counter()
    losses, times = [float(objective(x0))], [0.0]

    def on_iteration(intermediate_result):
        losses.append(float(intermediate_result.fun))
        times.append(time.perf_counter() - start)
        if callback is not None:
            callback(len(losses) - 1, losses[-1])

    if steps == 0:
        return x0, (losses, times), 0
    result = scipy.optimize.minimize(
        fun,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.0, 1.0)] * x0.shape[0],
        callback=on_iteration,
        options={"maxiter": steps, "maxfun": 20 * steps, "ftol": 0.0, "gtol": 0.0},
    )
    return np.clip(result.x, 0.0, 1.0), (losses, times), count[0]


class MatrixFreeState(NamedTuple):
    """State of the matrix-free HSC rule: the last step's CG facts.

    Attributes
    ----------
    free : int
        Free pixels of the last step.
    iterations : int
        CG iterations of the last step.
    relative_residual : float
        Its relative residual (see :func:`hsc_ref.steps.matrix_free_hsc_step`).
    """

    free: int
    iterations: int
    relative_residual: float


def active_set_rule(inner: StepRule) -> StepRule:
    """Projected Newton's active set around a Newton-type rule (Bertsekas 1982).

    Pixels at a bound whose gradient points out of the box are held fixed; ``inner`` steps on
    the gradient and Hessian restricted to the others (one ``eigh`` of the restricted
    Hessian, kept in ``inner``'s state). Chain a projection or a projected line search after
    it. ``inner`` must keep no per-coordinate state (the free set changes between steps).

    Examples
    --------
    >>> import numpy as np
    >>> from hsc_ref.rules import newton_type
    >>> rule = active_set_rule(newton_type("newton"))
    >>> x, g = np.array([0.0, 0.5]), np.array([1.0, 1.0])   # pixel 0 sits at 0, pushed out
    >>> rule.update(g, rule.init(x), params=x, hessian=np.diag([2.0, 4.0]))[0]
    array([ 0.  , -0.25])
    """

    def apply(updates: np.ndarray, state: Any, context: Context):
        x = context.params
        free = _free(x, updates)
        step = np.zeros_like(x)
        if free.any():
            H = np.asarray(context.hessian)[np.ix_(free, free)]
            step[free], state = inner.update(updates[free], state, params=x[free], hessian=H)
        return step, state

    return rule_from(inner.init, apply, needs_hessian=True)


def matrix_free_rule(objective: Callable[[np.ndarray], Any], lr: float) -> StepRule:
    """The HSC step by CG on exact HVPs, on the free pixels (no dense Hessian).

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda x: ((x - 0.25) ** 2).sum()
    >>> rule = matrix_free_rule(f, 1.0)
    >>> x = np.array([0.5, 0.75])
    >>> step, state = rule.update(2 * (x - 0.25), rule.init(x), params=x)
    >>> step, state.free                  # H = 2 I: -(I + 4 I)^{-1} 2 g = -0.4 g
    (array([-0.2, -0.4]), 2)
    """
    lr = _validation.check_positive(lr, "lr")

    def apply(updates: np.ndarray, state: Any, context: Context):
        free = _free(context.params, updates)
        mf = matrix_free_hsc_step(objective, context.params, lr=lr, free=free)
        return mf.step, MatrixFreeState(mf.free, mf.iterations, mf.relative_residual)

    return rule_from(lambda x0: MatrixFreeState(0, 0, 0.0), apply)


def _cg_facts(state: tuple) -> dict[str, float]:
    """Per-step columns of the matrix-free rule, read from the chain's first state."""
    mf = state[0]
    return {
        "free_pixels": mf.free,
        "cg_iterations": mf.iterations,
        "cg_relative_residual": mf.relative_residual,
    }


def _method_rule(objective: TransferObjective, method: str, lr: float, params: dict) -> StepRule:
    """The rule of a method before the box: Adam, matrix-free HSC or active-set Newton."""
    if method == "adam":
        return adam(lr)
    if method == "hsc_cg":
        return matrix_free_rule(objective, lr)
    return active_set_rule(newton_type(method, lr=lr, **params))


def optimize_image(
    objective: TransferObjective,
    x0: Any,
    method: str = "lbfgs",
    *,
    steps: int = 20,
    lr: float | None = None,
    max_unknowns: int = MAX_DENSE_UNKNOWNS,
    line_search: bool = False,
    callback: ProgressFn | Callable[[int, float], None] | None = None,
    start: LoopProgress | None = None,
    **params: float,
) -> ImageOptResult:
    """Minimize a style-transfer objective over the image, ``0 <= x <= 1``.

    Parameters
    ----------
    objective : TransferObjective
        From :func:`hsc_ref.style.transfer_objective`.
    x0 : array, shape (H, W, C)
        Start image in ``[0, 1]``, usually the content image. (A uniform grey ``0.5`` is a
        critical point of the style loss: the centered input is 0, every feature is
        ``tanh(0) = 0`` and the gradient vanishes.)
    method : str, default "lbfgs"
        One of :data:`IMAGE_METHODS` (see the module docstring for the box handling).
    steps : int, default 20
        Iterations.
    lr : float, optional
        Step size: Adam's (default 0.02) or the Newton-type rule's (default 1.0); not used by
        L-BFGS-B.
    max_unknowns : int, default 768
        Size limit of the dense Hessian for the Newton-type methods.
    line_search : bool, default False
        Adam and Newton-type methods: backtrack ``t = 1, 1/2, ...`` (at most 30 halvings) on
        the projected step ``clip(x + t s, 0, 1)`` until
        ``f(x_t) <= f(x) + 1e-4 min(0, g.(x_t - x))`` holds
        (:func:`hsc_ref.rules.backtracking_line_search`); no move if it never does.
    callback : callable, optional
        After every step. For the rules: ``callback(progress)`` as in
        :func:`hsc_ref.loop.minimize`, with the objective evaluations so far added to the
        progress's state, ``(x, rule_state, losses, times, evaluations)``. For ``"lbfgs"``,
        whose memory SciPy keeps inside its solver: ``callback(step, loss)``.
    start : LoopProgress, optional
        Such a progress of a run with the same settings: continue from it, bit for bit (wall
        times aside). Not for ``"lbfgs"``.
    **params
        Parameters of the correction (e.g. ``mu=0.1`` for ``"damped"``).

    Returns
    -------
    ImageOptResult

    Raises
    ------
    ValueError
        Unknown method, bad ``x0``, or a dense Hessian above ``max_unknowns``.

    Examples
    --------
    >>> import numpy as np
    >>> from hsc_ref.style import transfer_objective
    >>> rng = np.random.default_rng(0)
    >>> c, s = rng.uniform(size=(4, 4, 3)), rng.uniform(size=(4, 4, 3))
    >>> r = optimize_image(transfer_objective(c, s), c, "hsc", steps=3)
    >>> r.losses.shape, bool(r.image.min() >= 0 and r.image.max() <= 1)
    ((4,), True)
    """
    if not isinstance(objective, TransferObjective):
        raise TypeError(f"objective must be a TransferObjective, got {type(objective).__name__}")
    method = ALIASES.get(method, method)
    if method not in IMAGE_METHODS:
        raise ValueError(f"method must be one of {list(IMAGE_METHODS)}, got {method!r}")
    steps = _validation.check_count(steps, "steps")
    _validation.check_callable(callback, "callback", optional=True)
    if start is not None:
        _check_start(start)
    start_x = check_image(x0, "x0", channels=None)
    if start_x.shape != objective.shape:
        raise ValueError(f"x0 must have shape {objective.shape}, got {start_x.shape}")
    start_x = start_x.astype(np.float64).ravel()
    settings = {"method": method, "steps": steps, "line_search": bool(line_search), **params}
    if method == "lbfgs":
        if lr is not None or params or line_search:
            raise ValueError("lbfgs takes no lr, line_search or correction parameters")
        if start is not None:
            raise ValueError(
                "lbfgs cannot start from a progress (SciPy keeps L-BFGS-B's memory inside its "
                "solver): start must be None"
            )
        x, history, evaluations = _run_lbfgs(objective, start_x, steps, callback)
        return _finish(objective, x, method, history, evaluations, settings=settings)
    if method in ("adam", "hsc_cg") and params:
        raise ValueError(f"{method} takes no correction parameters, got {sorted(params)}")
    if method not in ("adam", "hsc_cg"):
        check_dense_size(objective.n, max_unknowns, objective.shape)
    default_lr = 0.02 if method == "adam" else 1.0
    lr = _validation.check_positive(default_lr if lr is None else lr, "lr")
    settings["lr"] = lr
    box = backtracking_line_search(box=(0.0, 1.0)) if line_search else project_box(0.0, 1.0)
    rule = chain(_method_rule(objective, method, lr, params), box)
    count = [0]  # objective evaluations so far, part of the progress a callback sees

    def counted(x: np.ndarray) -> Any:
        count[0] += 1
        return objective(x)

    def report(progress: LoopProgress) -> None:  # between steps: count[0] is that step's
        state = (*progress.state, count[0])
        callback(LoopProgress(progress.steps_completed, state, progress.history))

    carry = None
    if start is not None:
        *state, evaluations = start.state
        count[0] = _validation.check_count(evaluations, "evaluations")
        carry = LoopProgress(start.steps_completed, tuple(state), start.history)
    options = MinimizeOptions(
        steps,
        hessian_of=lambda x: _exact.value_grad_hessian(objective, x).hessian,
        observe=_cg_facts if method == "hsc_cg" else None,
    )
    report_to = None if callback is None else report
    run = minimize(counted, start_x, rule, options, callback=report_to, start=carry)
    history = (run.losses, run.times)
    return _finish(
        objective, run.x, method, history, count[0], history=run.history, settings=settings
    )
