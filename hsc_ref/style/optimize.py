"""Optimize an image for a style-transfer objective under the box constraint ``0 <= x <= 1``.

Methods and how each handles the box:

``"lbfgs"``
    ``scipy.optimize.minimize(method="L-BFGS-B")`` with bounds ``[0, 1]`` on every pixel (the
    standard since Gatys et al.); one "step" is one L-BFGS-B iteration (it may evaluate the
    objective several times in its line search).
``"adam"``
    :func:`hsc_ref.steps.adam` followed by the Euclidean projection ``clip(x, 0, 1)``.
``"hsc"``, ``"newton"``, ``"abs"``, ``"damped"``, ``"clip"``, ``"fill"``
    :func:`hsc_ref.steps.newton_type` with the exact, dense pixel Hessian, in the active-set
    form of projected Newton methods (Bertsekas 1982): a pixel at a bound whose gradient
    points out of the box is held fixed, the step is computed from the gradient and Hessian
    restricted to the other ("free") pixels, then the iterate is projected with
    ``clip(x, 0, 1)``. Plain projection of a full Newton step can increase the objective even
    for convex problems; holding the active pixels fixed avoids the worst of that, but this
    is a heuristic with a fixed ``lr`` and no line search, not a globally convergent method.

``"hsc_cg"``
    the HSC step without forming ``H``: conjugate gradients on ``(I + H^2) s = -lr H g`` with
    exact Hessian-vector products (:func:`matrix_free_hsc_step`), same active set and
    projection as above. For images of any size.

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
import scipy.sparse.linalg
from autograd.differential_operators import make_hvp
from scipy.sparse.linalg import LinearOperator

from hsc_ref import _validation
from hsc_ref.corrections import CORRECTIONS
from hsc_ref.derivatives import hessian
from hsc_ref.rules import adam, newton_type
from hsc_ref.style.loss import TransferObjective, check_image

__all__ = [
    "MAX_DENSE_UNKNOWNS",
    "IMAGE_METHODS",
    "ImageOptResult",
    "optimize_image",
    "free_mask",
    "armijo_backtrack",
    "check_dense_size",
    "MatrixFreeStep",
    "matrix_free_hsc_step",
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
    hessian_info : list of dict
        Newton-type methods only: per step, the free-pixel count and the rank, cutoff and
        extreme eigenvalues of the (restricted) Hessian.
    settings : dict
        Method parameters.
    """

    image: np.ndarray
    method: str
    losses: np.ndarray
    times: np.ndarray
    evaluations: int
    components: dict[str, float]
    hessian_info: list[dict[str, float]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)


def free_mask(x: Any, grad: Any) -> np.ndarray:
    """Pixels not held at a bound: False where ``x <= 0, g > 0`` or ``x >= 1, g < 0``.

    Examples
    --------
    >>> import numpy as np
    >>> free_mask(np.array([0.0, 0.0, 0.5, 1.0]), np.array([1.0, -1.0, 1.0, -1.0]))
    array([False,  True,  True, False])
    """
    x, grad = np.asarray(x), np.asarray(grad)
    return ~(((x <= 0.0) & (grad > 0.0)) | ((x >= 1.0) & (grad < 0.0)))


class MatrixFreeStep(NamedTuple):
    """A matrix-free HSC step with CG's convergence facts.

    Attributes
    ----------
    step : ndarray, shape (n,)
        The step (0 on coordinates that are not free).
    free : int
        Number of free coordinates.
    iterations : int
        CG iterations.
    relative_residual : float
        ``||(I + H^2) s + lr H g|| / ||lr H g||`` on the free coordinates.
    """

    step: np.ndarray
    free: int
    iterations: int
    relative_residual: float


def matrix_free_hsc_step(
    fun: Callable[[Any], Any],
    x: Any,
    *,
    lr: float = 1.0,
    free: Any = None,
    rtol: float = 1e-6,
    maxiter: int = 500,
) -> MatrixFreeStep:
    """The HSC step ``-lr (I + H^2)^{-1} H g`` by conjugate gradients on exact HVPs.

    No Hessian is formed: ``I + H^2`` (symmetric positive definite, eigenvalues ``>= 1``) is
    applied as ``v + H (H v)`` with two Hessian-vector products from
    :func:`autograd.differential_operators.make_hvp` (one forward trace per point). With
    ``free`` given, ``H`` and ``g`` are restricted to those coordinates (the other entries of
    the step are 0).

    Parameters
    ----------
    fun : callable
        Scalar function of a flat vector (autograd-traceable).
    x : array, shape (n,)
        Point.
    lr : float, default 1.0
        Step size.
    free : bool array, shape (n,), optional
        Coordinates to move (default all).
    rtol : float, default 1e-6
        CG stops when ``||r|| <= rtol ||b||``, ``b = -lr H g``. Because ``I + H^2 >= I``, the
        step's error is then at most ``rtol lr ||H g||`` in norm.
    maxiter : int, default 500
        CG iteration limit (CG needs about ``sqrt(1 + max lam^2)`` iterations per digit).

    Returns
    -------
    MatrixFreeStep

    Examples
    --------
    >>> import numpy as np
    >>> from hsc_ref.steps import hsc_step
    >>> f = lambda x: x[0] ** 2 - 3.0 * x[1] ** 2 + x[0] * x[1]
    >>> x = np.array([0.3, -0.2])
    >>> H = np.array([[2.0, 1.0], [1.0, -6.0]])
    >>> mf = matrix_free_hsc_step(f, x, rtol=1e-12)
    >>> bool(np.allclose(mf.step, hsc_step(H, H @ x), atol=1e-12))
    True
    """
    x = _validation.as_real_array(x, "x", ndim=1)
    lr = _validation.check_positive(lr, "lr")
    free = np.ones(x.shape[0], dtype=bool) if free is None else np.asarray(free, dtype=bool)
    if free.shape != x.shape:
        raise ValueError(f"free must have shape {x.shape}, got {free.shape}")
    hvp_full, grad = make_hvp(fun)(x)
    grad = np.asarray(grad)

    def hvp_free(v: np.ndarray) -> np.ndarray:
        full = np.zeros_like(x)
        full[free] = v.ravel()
        return np.asarray(hvp_full(full))[free]

    m = int(free.sum())
    step = np.zeros_like(x)
    if m == 0:
        return MatrixFreeStep(step, 0, 0, 0.0)
    b = -lr * hvp_free(grad[free])
    op = LinearOperator((m, m), matvec=lambda v: v.ravel() + hvp_free(hvp_free(v)), dtype=x.dtype)
    iterations = [0]

    def count(_: np.ndarray) -> None:
        iterations[0] += 1

    solution, _ = scipy.sparse.linalg.cg(
        op, b, rtol=rtol, atol=0.0, maxiter=maxiter, callback=count
    )
    b_norm = float(np.linalg.norm(b))
    residual = float(np.linalg.norm(op.matvec(solution) - b)) / b_norm if b_norm else 0.0
    step[free] = solution
    return MatrixFreeStep(step, m, iterations[0], residual)


def _check_steps(steps: Any) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    return int(steps)


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
    history: tuple[list[float], list[float]],
    evaluations: int,
    **extra: Any,
) -> ImageOptResult:
    parts = {k: float(v) for k, v in objective.components(x).items()}
    return ImageOptResult(
        image=objective.image(x).copy(),
        method=method,
        losses=np.asarray(history[0]),
        times=np.asarray(history[1]),
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


def armijo_backtrack(
    fun: Callable[[np.ndarray], Any],
    x: np.ndarray,
    value: float,
    grad: np.ndarray,
    step: np.ndarray,
    *,
    box: bool = False,
    max_halvings: int = 30,
) -> np.ndarray:
    """First ``x_t = x + t s`` (``t = 1, 1/2, ...``) with sufficient decrease.

    The condition is ``f(x_t) <= f(x) + 1e-4 min(0, g.(x_t - x))``: Armijo's for a descent
    direction, plain decrease otherwise. Newton-type steps on an indefinite Hessian (the HSC
    step included) need not be descent directions, ``g.s = -lr sum phi(lam_i) (q_i.g)^2``
    has a positive term for every negative ``lam_i``; the ``min`` keeps the search from
    accepting an increase then. With ``box=True`` the trial points are projected,
    ``x_t = clip(x + t s, 0, 1)``. Returns ``x`` unchanged when no trial point qualifies.

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda x: float(x @ x)
    >>> x = np.array([1.0])
    >>> armijo_backtrack(f, x, f(x), 2 * x, np.array([-4.0]))   # t = 1, 1/2 fail; 1/4 is taken
    array([0.])
    """
    t = 1.0
    for _ in range(max_halvings):
        trial = x + t * step
        if box:
            trial = np.clip(trial, 0.0, 1.0)
        if float(fun(trial)) <= value + 1e-4 * min(0.0, float(grad @ (trial - x))):
            return trial
        t *= 0.5
    return x


def _run_rule(objective, x0, steps, rule, *, use_hessian, callback, line_search):
    count = [0]

    def counted(x):
        count[0] += 1
        return objective(x)

    value_and_grad = autograd.value_and_grad(counted)
    x = x0.copy()
    state = None if use_hessian == "matrix_free" else rule.init(x)
    start = time.perf_counter()
    value, grad = value_and_grad(x)
    losses, times, info = [float(value)], [0.0], []
    for k in range(steps):
        grad = np.asarray(grad)
        if use_hessian == "matrix_free":
            mf = matrix_free_hsc_step(objective, x, lr=rule, free=free_mask(x, grad))
            step = mf.step
            info.append(
                {
                    "free_pixels": mf.free,
                    "cg_iterations": mf.iterations,
                    "cg_relative_residual": mf.relative_residual,
                }
            )
        elif use_hessian:
            free = free_mask(x, grad)
            H = hessian(objective, x, batched=True)[np.ix_(free, free)]
            step_free, state = _rule_update(rule, grad[free], state, x[free], H)
            step = np.zeros_like(x)
            step[free] = step_free
            info.append(_hessian_facts(state, int(free.sum())))
        else:
            step, state = rule.update(grad, state, params=x)
        if line_search:
            x = armijo_backtrack(counted, x, float(value), grad, step, box=True)
        else:
            x = np.clip(x + step, 0.0, 1.0)
        value, grad = value_and_grad(x)
        losses.append(float(value))
        times.append(time.perf_counter() - start)
        if callback is not None:
            callback(k + 1, losses[-1])
    return x, (losses, times), count[0], info


def _rule_update(rule, grad, state, x, H):
    if grad.shape[0] == 0:
        return np.zeros(0), state
    return rule.update(grad, state, params=x, hessian=H)


def _hessian_facts(state: Any, free: int) -> dict[str, float]:
    return {
        "free_pixels": free,
        "rank": int(state.rank),
        "cutoff": float(state.cutoff),
        "min_eigenvalue": float(state.min_eigenvalue),
        "max_eigenvalue": float(state.max_eigenvalue),
    }


def optimize_image(
    objective: TransferObjective,
    x0: Any,
    method: str = "lbfgs",
    *,
    steps: int = 20,
    lr: float | None = None,
    max_unknowns: int = MAX_DENSE_UNKNOWNS,
    line_search: bool = False,
    callback: Callable[[int, float], None] | None = None,
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
        ``f(x_t) <= f(x) + 1e-4 min(0, g.(x_t - x))`` holds (:func:`armijo_backtrack`); no
        move if it never does.
    callback : callable, optional
        ``callback(step, loss)`` after every step (progress bars).
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
    if method not in IMAGE_METHODS:
        raise ValueError(f"method must be one of {list(IMAGE_METHODS)}, got {method!r}")
    steps = _check_steps(steps)
    start = check_image(x0, "x0", channels=None)
    if start.shape != objective.shape:
        raise ValueError(f"x0 must have shape {objective.shape}, got {start.shape}")
    start = start.astype(np.float64).ravel()
    settings = {"method": method, "steps": steps, "line_search": bool(line_search), **params}
    if method == "lbfgs":
        if lr is not None or params or line_search:
            raise ValueError("lbfgs takes no lr, line_search or correction parameters")
        x, history, evaluations = _run_lbfgs(objective, start, steps, callback)
        return _finish(objective, x, method, history, evaluations, settings=settings)
    if method in ("adam", "hsc_cg") and params:
        raise ValueError(f"{method} takes no correction parameters, got {sorted(params)}")
    if method == "adam":
        lr = 0.02 if lr is None else lr
        rule, use_hessian = adam(lr), False
    elif method == "hsc_cg":
        lr = 1.0 if lr is None else lr
        rule, use_hessian = lr, "matrix_free"
    else:
        check_dense_size(objective.n, max_unknowns, objective.shape)
        lr = 1.0 if lr is None else lr
        rule, use_hessian = newton_type(method, lr=lr, **params), True
    settings["lr"] = _validation.check_positive(lr, "lr")
    x, history, evaluations, info = _run_rule(
        objective,
        start,
        steps,
        rule,
        use_hessian=use_hessian,
        callback=callback,
        line_search=line_search,
    )
    return _finish(objective, x, method, history, evaluations, hessian_info=info, settings=settings)
