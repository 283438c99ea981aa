"""Optimizers as ``(init, update)`` step rules, and a ``chain`` that composes them.

A step rule is a NamedTuple of two pure functions (the shape of optax's
``GradientTransformation``)::

    state = rule.init(x0)
    updates, state = rule.update(updates, state, params=x, value=f(x), grad=g, fun=f,
                                 hessian=H)
    x = x + updates

``updates`` enters as the gradient and leaves as the step. The keywords are the context a
rule may read: the iterate ``params``, the loss ``value``, the raw gradient ``grad``, the loss
function ``fun`` (for line searches) and the curvature ``hessian`` (a matrix, or a
:class:`~hsc_ref.spectral.Spectrum` already computed from it). A rule ignores what it does
not need; ``needs_hessian`` tells the caller whether to compute ``H`` at all.

:func:`chain` feeds the output of one rule to the next, so the article's optimizer is one
expression, ``chain(clip_by_global_norm(1.0), adam(2e-4, b1=0.5, b2=0.999))``
(:func:`article_optimizer`), and a projected Newton step with a line search is
``chain(newton_type("hsc"), backtracking_line_search(box=(0.0, 1.0)))``.

Newton-type rules compute one :class:`~hsc_ref.spectral.Spectrum` per Hessian and keep it
in their state (:class:`NewtonState`), so a trainer reads its diagnostics from the very
decomposition the step used (:func:`spectrum_in`) instead of decomposing ``H`` again.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import numpy as np
import scipy.optimize

from hsc_ref import _validation
from hsc_ref.corrections import Correction, correct, get_correction
from hsc_ref.spectral import Spectrum, decompose
from hsc_ref.steps import _spectral_step, spectral_step

__all__ = [
    "StepRule",
    "rule_from",
    "chain",
    "sgd",
    "optimistic",
    "adam",
    "article_optimizer",
    "clip_by_global_norm",
    "project_box",
    "backtracking_line_search",
    "newton_type",
    "spectrum_in",
    "sr1",
    "bfgs",
]

ARTICLE_LR = 2e-4
"""The article's Adam step size (``optim.Adam(..., lr=0.0002, betas=(0.5, 0.999))``)."""

ARTICLE_BETAS = (0.5, 0.999)
"""The article's Adam ``betas``."""

ARTICLE_MAX_GRAD_NORM = 1.0
"""The article's gradient-norm clip (``torch.nn.utils.clip_grad_norm_(..., 1.0)``)."""


class InitFn(Protocol):
    """``init(x0) -> state``: the rule's state for a flat starting point ``x0``.

    Parameters
    ----------
    x0 : ndarray, shape (n,)
        The starting point; rules check later inputs against its length.
    """

    def __call__(self, x0: np.ndarray, /) -> Any: ...


class UpdateFn(Protocol):
    """``update(updates, state, **context) -> (updates, state)``.

    Parameters
    ----------
    updates : ndarray, shape (n,)
        The gradient, or the previous rule's output in a :func:`chain`.
    state : object
        The rule's state, from ``init`` or the previous ``update``.
    params, value, grad, fun, hessian
        The context a rule may read (see :class:`Context`); all default to ``None``.
    """

    def __call__(
        self,
        updates: np.ndarray,
        state: Any,
        /,
        *,
        params: np.ndarray | None = None,
        value: float | None = None,
        grad: np.ndarray | None = None,
        fun: Callable[[np.ndarray], Any] | None = None,
        hessian: np.ndarray | Spectrum | None = None,
    ) -> tuple[np.ndarray, Any]: ...


class StepRule(NamedTuple):
    """An optimizer as two pure functions, ``init`` and ``update`` (see the module docstring).

    Attributes
    ----------
    init : InitFn
        ``init(x0) -> state``.
    update : UpdateFn
        ``update(updates, state, *, params, value, grad, fun, hessian) -> (updates, state)``.
    needs_hessian : bool
        Whether ``update`` reads ``hessian=`` (the caller computes ``H`` only then).
    """

    init: InitFn
    update: UpdateFn
    needs_hessian: bool = False


class Context(NamedTuple):
    """What a rule may read besides its incoming ``updates``.

    Attributes
    ----------
    params : ndarray or None
        The current iterate.
    value : float or None
        The loss at ``params``.
    grad : ndarray or None
        The raw gradient at ``params`` (before any rule of a chain transformed it).
    fun : callable or None
        The loss function (line searches evaluate it).
    hessian : ndarray, Spectrum or None
        The exact Hessian at ``params``, or its decomposition.
    """

    params: np.ndarray | None = None
    value: float | None = None
    grad: np.ndarray | None = None
    fun: Callable[[np.ndarray], Any] | None = None
    hessian: np.ndarray | Spectrum | None = None


def rule_from(
    init: InitFn,
    apply: Callable[[np.ndarray, Any, Context], tuple[np.ndarray, Any]],
    *,
    needs_hessian: bool = False,
) -> StepRule:
    """A :class:`StepRule` from ``init`` and ``apply(updates, state, context)``.

    ``update``'s keywords reach ``apply`` as one :class:`Context`; this is how every rule of
    this module is written, and how to write a rule of your own.

    Examples
    --------
    >>> import numpy as np
    >>> halve = rule_from(lambda x0: None, lambda u, s, ctx: (0.5 * u, s))
    >>> rule = chain(sgd(1.0), halve)
    >>> rule.update(np.array([2.0]), rule.init(np.zeros(1)))[0]
    array([-1.])
    """

    def update(
        updates: np.ndarray,
        state: Any,
        /,
        *,
        params: np.ndarray | None = None,
        value: float | None = None,
        grad: np.ndarray | None = None,
        fun: Callable[[np.ndarray], Any] | None = None,
        hessian: np.ndarray | Spectrum | None = None,
    ) -> tuple[np.ndarray, Any]:
        return apply(updates, state, Context(params, value, grad, fun, hessian))

    return StepRule(init, update, needs_hessian)


def _check_lr(lr: float) -> float:
    return _validation.check_positive(lr, "lr")


def _as_vector(x: Any, name: str) -> np.ndarray:
    return _validation.as_real_array(x, name, ndim=1)


def _vector_like(x: Any, n: int, name: str) -> np.ndarray:
    """A finite 1-D float vector of length ``n`` (the length the rule was initialized with)."""
    x = _as_vector(x, name)
    if x.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) like x0, got {x.shape}")
    return x


def _finite_step(step: np.ndarray, what: str) -> np.ndarray:
    """Refuse a step that overflowed: an infinite step is a silently wrong number."""
    if not np.all(np.isfinite(step)):
        raise FloatingPointError(
            f"{what} is not finite (overflow): lr or the gradient is too large to represent "
            f"the step in {step.dtype}"
        )
    return step


def _context_params(context: Context, n: int, who: str) -> np.ndarray:
    if context.params is None:
        raise ValueError(f"{who} needs params= (the current iterate), got None")
    return _vector_like(context.params, n, "params")


# --------------------------------------------------------------------------- composition


def chain(*rules: StepRule) -> StepRule:
    """Compose rules: each one's ``updates`` output is the next one's input.

    The state is the tuple of the rules' states; every rule sees the same context keywords.

    Examples
    --------
    >>> import numpy as np
    >>> rule = chain(clip_by_global_norm(1.0), sgd(0.5))
    >>> step, _ = rule.update(np.array([3.0, 4.0]), rule.init(np.zeros(2)))
    >>> step.round(6)                        # clipped to norm 1, then -0.5 * g
    array([-0.3, -0.4])
    """
    if not rules or not all(isinstance(r, StepRule) for r in rules):
        raise TypeError("chain takes one or more StepRule objects")

    def init(x0: np.ndarray) -> tuple:
        return tuple(r.init(x0) for r in rules)

    def update(updates, state, /, **context):
        states = []
        for r, s in zip(rules, state, strict=True):
            updates, new_state = r.update(updates, s, **context)
            states.append(new_state)
        return updates, tuple(states)

    return StepRule(init, update, any(r.needs_hessian for r in rules))


# --------------------------------------------------------------------------- first order


class _Size(NamedTuple):
    """Stateless rules remember only the length ``n`` of ``x0``, to check every input's."""

    n: int


def _size_of(x0: Any) -> _Size:
    return _Size(_as_vector(x0, "x0").shape[0])


def sgd(lr: float) -> StepRule:
    """Plain gradient descent, ``step = -lr * g``.

    Examples
    --------
    >>> import numpy as np
    >>> rule = sgd(0.1)
    >>> step, state = rule.update(np.array([1.0, -2.0]), rule.init(np.zeros(2)))
    >>> step
    array([-0.1,  0.2])
    """
    lr = _check_lr(lr)

    def apply(updates: Any, state: _Size, context: Context):
        g = _vector_like(updates, state.n, "grad")
        with np.errstate(over="ignore"):  # checked: an overflow raises with its cause
            return _finite_step(-lr * g, "the SGD step"), state

    return rule_from(_size_of, apply)


class OptimisticState(NamedTuple):
    """Optimistic gradient descent's state: the previous gradient (None before the first)."""

    previous: np.ndarray | None


def optimistic(lr: float) -> StepRule:
    """Optimistic gradient descent (Daskalakis et al. 2018): ``step = -2 lr g_t + lr g_{t-1}``.

    ``x_{t+1} = x_t - 2 lr g_t + lr g_{t-1}``, with ``g_{t-1}`` the previous update's gradient;
    the first update, with no previous gradient, takes ``g_{-1} = g_0``: a plain gradient step.

    Examples
    --------
    >>> import numpy as np
    >>> rule = optimistic(0.1)
    >>> s1, state = rule.update(np.array([1.0, 0.0]), rule.init(np.zeros(2)))
    >>> s2, state = rule.update(np.array([0.0, 1.0]), state)
    >>> s1, s2                                  # -0.1 g_0, then -0.2 g_1 + 0.1 g_0
    (array([-0.1,  0. ]), array([ 0.1, -0.2]))
    """
    lr = _check_lr(lr)

    def init(x0: Any) -> tuple[_Size, OptimisticState]:
        return _size_of(x0), OptimisticState(None)

    def apply(updates: Any, state: tuple[_Size, OptimisticState], context: Context):
        size, memory = state
        g = _vector_like(updates, size.n, "grad")
        previous = g if memory.previous is None else memory.previous
        with np.errstate(over="ignore", invalid="ignore"):  # checked: an overflow raises
            step = _finite_step(-2.0 * lr * g + lr * previous, "the optimistic step")
        return step, (size, OptimisticState(np.array(g, dtype=np.float64)))

    return rule_from(init, apply)


class AdamState(NamedTuple):
    """Adam's state: the step ``count``, first (``mu``) and second (``nu``) moment estimates."""

    count: int
    mu: np.ndarray
    nu: np.ndarray


def adam(lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> StepRule:
    """Adam (Kingma & Ba) with bias correction, as in ``torch.optim.Adam`` (no weight decay).

    ``step = -lr * m_hat / (sqrt(v_hat) + eps)``. The article uses
    ``adam(2e-4, b1=0.5, b2=0.999)`` (see :func:`article_optimizer`).

    Examples
    --------
    >>> import numpy as np
    >>> rule = adam(0.1)
    >>> step, _ = rule.update(np.array([3.0, -1e-3]), rule.init(np.zeros(2)))
    >>> np.allclose(step, [-0.1, 0.1], rtol=1e-4)   # first step is lr * sign(g)
    True
    """
    lr = _check_lr(lr)
    for name, beta in (("b1", b1), ("b2", b2)):
        if not 0.0 <= _validation.check_tolerance(beta, name) < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {beta}")
    eps = _validation.check_positive(eps, "eps")

    def init(x0: Any) -> AdamState:
        x0 = _as_vector(x0, "x0")
        return AdamState(0, np.zeros_like(x0), np.zeros_like(x0))

    def apply(updates: Any, state: AdamState, context: Context):
        grad = _vector_like(updates, state.mu.shape[0], "grad")
        count = state.count + 1
        with np.errstate(over="ignore", invalid="ignore"):  # checked: overflow raises below
            mu = b1 * state.mu + (1.0 - b1) * grad
            nu = b2 * state.nu + (1.0 - b2) * grad * grad
            mu_hat = mu / (1.0 - b1**count)
            nu_hat = nu / (1.0 - b2**count)
            step = -lr * mu_hat / (np.sqrt(nu_hat) + eps)
        return _finite_step(step, "the Adam step"), AdamState(count, mu, nu)

    return rule_from(init, apply)


def clip_grad_norm(g: np.ndarray, max_norm: float) -> np.ndarray:
    """Scale ``g`` as ``torch.nn.utils.clip_grad_norm_`` does (2-norm, ``eps = 1e-6``).

    ``coef = max_norm / (||g|| + 1e-6)``; ``g * coef`` if ``coef < 1``, else ``g`` unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> clip_grad_norm(np.array([3.0, 4.0]), 1.0)
    array([0.59999988, 0.79999984])
    >>> clip_grad_norm(np.array([0.3, 0.4]), 1.0)
    array([0.3, 0.4])
    """
    max_norm = _validation.check_positive(max_norm, "max_norm")
    coef = max_norm / (float(np.linalg.norm(g)) + 1e-6)
    return g * coef if coef < 1.0 else g


def clip_by_global_norm(max_norm: float) -> StepRule:
    """A rule that clips its input as :func:`clip_grad_norm` (PyTorch's ``clip_grad_norm_``).

    Examples
    --------
    >>> import numpy as np
    >>> rule = clip_by_global_norm(1.0)
    >>> rule.update(np.array([3.0, 4.0]), rule.init(np.zeros(2)))[0].round(6)
    array([0.6, 0.8])
    """
    max_norm = _validation.check_positive(max_norm, "max_norm")

    def apply(updates: Any, state: _Size, context: Context):
        return clip_grad_norm(_vector_like(updates, state.n, "updates"), max_norm), state

    return rule_from(_size_of, apply)


def article_optimizer(
    lr: float = ARTICLE_LR, max_grad_norm: float | None = ARTICLE_MAX_GRAD_NORM
) -> StepRule:
    """The article's optimizer: ``clip_grad_norm_`` at 1.0, then Adam(2e-4, betas (0.5, 0.999)).

    Parameters
    ----------
    lr : float, default 2e-4
        Adam's step size.
    max_grad_norm : float or None, default 1.0
        The clip; ``None`` leaves the gradient unclipped (the article clips only the
        generator's).

    Returns
    -------
    StepRule

    Examples
    --------
    >>> import numpy as np
    >>> rule = article_optimizer()
    >>> step, _ = rule.update(np.array([30.0, -40.0]), rule.init(np.zeros(2)))
    >>> np.allclose(step, [-2e-4, 2e-4], rtol=1e-4)  # Adam's first step: lr * sign(g)
    True
    """
    opt = adam(lr, b1=ARTICLE_BETAS[0], b2=ARTICLE_BETAS[1])
    return opt if max_grad_norm is None else chain(clip_by_global_norm(max_grad_norm), opt)


# --------------------------------------------------------------------------- constraints


def project_box(lower: float = 0.0, upper: float = 1.0) -> StepRule:
    """Make the step land in the box: ``step <- clip(x + step, lower, upper) - x``.

    Needs ``params=``. Chained after a step rule, this is the projection of projected
    gradient and projected Newton methods.

    Examples
    --------
    >>> import numpy as np
    >>> rule = project_box(0.0, 1.0)
    >>> x = np.array([0.2, 0.9])
    >>> rule.update(np.array([-0.5, 0.05]), rule.init(x), params=x)[0]
    array([-0.2 ,  0.05])
    """
    lower, upper = _check_box((lower, upper))

    def apply(updates: Any, state: _Size, context: Context):
        x = _context_params(context, state.n, "project_box")
        step = _vector_like(updates, state.n, "updates")
        return np.clip(x + step, lower, upper) - x, state

    return rule_from(_size_of, apply)


def _check_box(box: Any) -> tuple[float, float]:
    if not isinstance(box, tuple) or len(box) != 2:
        raise TypeError(f"box must be a (lower, upper) tuple, got {box!r}")
    lower, upper = (float(b) for b in box)
    if not lower < upper:
        raise ValueError(f"box must have lower < upper, got {box}")
    return lower, upper


def backtracking_line_search(
    *, box: tuple[float, float] | None = None, max_halvings: int = 30, c: float = 1e-4
) -> StepRule:
    """Armijo backtracking on the incoming step: ``t = 1, 1/2, ...`` until sufficient decrease.

    The accepted point is the first ``x_t = x + t s`` (projected onto ``box`` if given) with
    ``f(x_t) <= f(x) + c min(0, g.(x_t - x))``: Armijo's condition for a descent direction,
    plain decrease otherwise. Newton-type steps on an indefinite Hessian (the HSC step
    included) need not be descent directions: ``g.s = -lr sum phi(lam_i) (q_i.g)^2`` has a
    positive term for every negative ``lam_i``, and the ``min`` keeps the search from
    accepting an increase then. The step is 0 when no trial qualifies. Needs ``params=``,
    ``value=``, ``grad=`` and ``fun=``.

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda x: float(x @ x)
    >>> x = np.array([1.0])
    >>> rule = backtracking_line_search()
    >>> step, _ = rule.update(np.array([-4.0]), rule.init(x), params=x, value=f(x),
    ...                       grad=2 * x, fun=f)
    >>> step                              # t = 1 and 1/2 fail, t = 1/4 lands on 0
    array([-1.])
    """
    bounds = None if box is None else _check_box(box)
    c = _validation.check_positive(c, "c")
    _validation.check_count(max_halvings, "max_halvings", minimum=1)

    def apply(updates: Any, state: _Size, context: Context):
        if context.fun is None or context.value is None or context.grad is None:
            raise ValueError("backtracking_line_search needs value=, grad= and fun=")
        x = _context_params(context, state.n, "backtracking_line_search")
        step = _vector_like(updates, state.n, "updates")
        grad = _vector_like(context.grad, state.n, "grad")
        t = 1.0
        for _ in range(max_halvings):
            trial = x + t * step
            if bounds is not None:
                trial = np.clip(trial, *bounds)
            decrease = c * min(0.0, float(grad @ (trial - x)))
            if float(context.fun(trial)) <= float(context.value) + decrease:
                return trial - x, state
            t *= 0.5
        return np.zeros_like(x), state

    return rule_from(_size_of, apply)


# --------------------------------------------------------------------------- second order


class NewtonState(NamedTuple):
    """State of a Newton-type rule: ``steps`` taken and the ``spectrum`` the last step used.

    The spectrum (``None`` before the first step) carries the rank, cutoff, inertia and
    eigenvalues of the last Hessian: diagnostics read it instead of decomposing ``H`` again.
    """

    steps: int
    spectrum: Spectrum | None


def newton_type(
    method: str | Correction = "hsc",
    *,
    lr: float = 1.0,
    atol: float = 0.0,
    rtol: float | None = None,
    **params: float,
) -> StepRule:
    """A Newton-type rule ``step = -lr * Q diag(c^+) Q^T g`` for a spectral correction.

    ``update`` needs ``hessian=``: a matrix (decomposed once, with this rule's ``atol`` and
    ``rtol``) or a :class:`~hsc_ref.spectral.Spectrum` already computed (used as it is; its
    own tolerances then apply, and passing different ones to the rule raises).

    Examples
    --------
    >>> import numpy as np
    >>> rule = newton_type("saddle_free")
    >>> H = np.diag([2.0, -4.0])
    >>> step, state = rule.update(np.array([2.0, 4.0]), rule.init(np.zeros(2)), hessian=H)
    >>> step                             # -|H|^{-1} g: descends along the negative curvature
    array([-1., -1.])
    >>> state.spectrum.rank
    2
    """
    lr = _check_lr(lr)
    correction = get_correction(method, **params)
    atol = _validation.check_tolerance(atol, "atol")  # refuse bad tolerances now, not at update
    rtol = None if rtol is None else _validation.check_tolerance(rtol, "rtol")

    def init(x0: Any) -> NewtonState:
        _as_vector(x0, "x0")
        return NewtonState(0, None)

    def apply(updates: Any, state: NewtonState, context: Context):
        if context.hessian is None:
            raise ValueError(f"{correction.name} step needs hessian=, got None")
        spectrum = _spectrum(context.hessian, atol, rtol)
        grad = _as_vector(updates, "grad")
        if getattr(spectrum, "_array_kind", None) is None:  # NumPy: grad is checked once, here
            grad = _validation.vector_shape_for(grad, spectrum.n, spectrum.dtype, "grad")
            step = _spectral_step(spectrum, grad, correction, lr)
        else:  # another library's spectrum: the public step converts and checks
            step = spectral_step(spectrum, grad, correction, lr=lr)
        return step, NewtonState(state.steps + 1, spectrum)

    return rule_from(init, apply, needs_hessian=True)


def article_curvature(*, atol: float = 0.0, rtol: float | None = None) -> StepRule:
    """The article's curvature, computed and not used: ``H``, ``pinv(H)`` and ``Hc = H + pinv(H)``.

    The article's loop forms these three matrices every step and then takes an Adam step
    that ignores them. This rule does the same work (one ``eigh``, then the dense
    pseudo-inverse and ``Hc``) and passes its input through unchanged; its state keeps the
    spectrum, so diagnostics read it without a second decomposition. Chained before
    :func:`article_optimizer`, it reproduces the article's loop and its cost.

    Examples
    --------
    >>> import numpy as np
    >>> rule = chain(article_curvature(), sgd(1.0))
    >>> step, state = rule.update(np.ones(2), rule.init(np.zeros(2)), hessian=np.diag([2.0, 0.0]))
    >>> step, spectrum_in(state).rank          # the step ignores H; the spectrum is kept
    (array([-1., -1.]), 1)
    """
    atol = _validation.check_tolerance(atol, "atol")
    rtol = None if rtol is None else _validation.check_tolerance(rtol, "rtol")

    def init(x0: Any) -> NewtonState:
        _as_vector(x0, "x0")
        return NewtonState(0, None)

    def apply(updates: Any, state: NewtonState, context: Context):
        if context.hessian is None:
            raise ValueError("article_curvature needs hessian=, got None")
        spectrum = _spectrum(context.hessian, atol, rtol)
        _unused = (spectrum.pinv(), correct(spectrum, "hsc").matrix)  # the article's H^+, Hc
        return updates, NewtonState(state.steps + 1, spectrum)

    return rule_from(init, apply, needs_hessian=True)


def _spectrum(hessian: Any, atol: float, rtol: float | None) -> Spectrum:
    """Decompose a matrix, or take a Spectrum whose policy matches the rule's."""
    if not isinstance(hessian, Spectrum):
        return decompose(hessian, atol=atol, rtol=rtol)
    if hessian.atol != atol or (rtol is not None and hessian.rtol != rtol):
        raise ValueError(
            f"hessian= is a Spectrum with atol={hessian.atol}, rtol={hessian.rtol}, but the "
            f"rule was built with atol={atol}, rtol={rtol}: decompose with the rule's policy"
        )
    return hessian


def spectrum_in(state: Any) -> Spectrum | None:
    """The spectrum the last Newton-type step used, found in a rule's (or a chain's) state.

    Examples
    --------
    >>> import numpy as np
    >>> rule = chain(newton_type("hsc"), project_box(-1.0, 1.0))
    >>> x = np.zeros(2)
    >>> _, state = rule.update(np.ones(2), rule.init(x), params=x, hessian=np.eye(2))
    >>> spectrum_in(state).rank
    2
    """
    if isinstance(state, NewtonState):
        return state.spectrum
    if isinstance(state, tuple) and not hasattr(state, "_fields"):
        found = [s for s in map(spectrum_in, state) if s is not None]
        return found[-1] if found else None
    return None


# --------------------------------------------------------------------------- quasi-Newton


class QuasiNewtonState(NamedTuple):
    """A SciPy Hessian-update ``strategy`` with the previous iterate ``x`` and gradient ``g``."""

    strategy: scipy.optimize.HessianUpdateStrategy
    x: np.ndarray | None
    g: np.ndarray | None


def _quasi_newton(strategy_factory: Any, lr: float) -> StepRule:
    lr = _check_lr(lr)

    def init(x0: Any) -> QuasiNewtonState:
        x0 = _as_vector(x0, "x0")
        strategy = strategy_factory()
        strategy.initialize(x0.shape[0], "inv_hess")
        return QuasiNewtonState(strategy, None, None)

    def apply(updates: Any, state: QuasiNewtonState, context: Context):
        n = state.strategy.n
        grad = _vector_like(updates, n, "grad")
        x = _context_params(context, n, "quasi-Newton step")
        strategy = copy.deepcopy(state.strategy)  # keep the caller's state untouched
        if state.x is not None:
            strategy.update(x - state.x, grad - state.g)
        with np.errstate(over="ignore"):  # checked: an overflow raises with its cause
            step = _finite_step(-lr * strategy.dot(grad), "the quasi-Newton step")
        return step, QuasiNewtonState(strategy, x.copy(), grad.copy())

    return rule_from(init, apply)


def sr1(lr: float = 1.0) -> StepRule:
    """Symmetric rank-1 quasi-Newton steps via :class:`scipy.optimize.SR1` (inverse form).

    This is what "rank-1 correction" means in the optimization literature, and a different
    method from HSC. The first step is ``-lr * g``; SciPy rescales its initial matrix at the
    first update (``init_scale="auto"``).

    Examples
    --------
    >>> import numpy as np
    >>> rule = sr1()
    >>> step, state = rule.update(np.array([1.0, 2.0]), rule.init(np.zeros(2)), params=np.zeros(2))
    >>> step
    array([-1., -2.])
    """
    return _quasi_newton(scipy.optimize.SR1, lr)


def bfgs(lr: float = 1.0) -> StepRule:
    """BFGS quasi-Newton steps via :class:`scipy.optimize.BFGS` (inverse form).

    Examples
    --------
    >>> import numpy as np
    >>> rule = bfgs()
    >>> step, state = rule.update(np.array([1.0, 2.0]), rule.init(np.zeros(2)), params=np.zeros(2))
    >>> step                             # the first step is -lr * g
    array([-1., -2.])
    """
    return _quasi_newton(scipy.optimize.BFGS, lr)
