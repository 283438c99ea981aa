"""Optimizers as ``(init, update)`` step rules: SGD, Adam, Newton-type and quasi-Newton.

A step rule is a NamedTuple of two pure functions, ``init(x0) -> state`` and
``update(grad, state, *, params=None, hessian=None) -> (step, state)``; the caller applies
``x <- x + step``. Newton-type rules take the exact Hessian and apply a spectral correction
through :func:`hsc_ref.steps.spectral_step`.
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

import numpy as np
import scipy.linalg
import scipy.linalg.blas
import scipy.linalg.lapack
import scipy.optimize

from hsc_ref import _validation
from hsc_ref.corrections import Correction, get_correction
from hsc_ref.spectral import decompose
from hsc_ref.steps import _check_lr, spectral_step

__all__ = [
    "StepRule",
    "sgd",
    "AdamState",
    "adam",
    "NewtonInfo",
    "newton_type",
    "QuasiNewtonState",
    "sr1",
    "bfgs",
]


class StepRule(NamedTuple):
    """An optimizer as two pure functions.

    ``init(x0) -> state`` and ``update(grad, state, *, params=None, hessian=None) ->
    (step, new_state)``; the caller applies ``x <- x + step``. ``params`` is the current flat
    parameter vector (needed by quasi-Newton rules), ``hessian`` the current exact Hessian
    (needed by Newton-type rules).
    """

    init: Any
    update: Any


def _as_vector(x: Any, name: str) -> np.ndarray:
    return _validation.as_real_array(x, name, ndim=1)


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

    def init(x0: Any) -> tuple:
        _as_vector(x0, "x0")
        return ()

    def update(grad: Any, state: tuple, *, params: Any = None, hessian: Any = None):
        return -lr * _as_vector(grad, "grad"), state

    return StepRule(init, update)


class AdamState(NamedTuple):
    """Adam's state: the step ``count``, first (``mu``) and second (``nu``) moment estimates."""

    count: int
    mu: np.ndarray
    nu: np.ndarray


def adam(lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> StepRule:
    """Adam (Kingma & Ba) with bias correction, as in ``torch.optim.Adam`` (no weight decay).

    ``step = -lr * m_hat / (sqrt(v_hat) + eps)``. The article's loop uses
    ``adam(2e-4, b1=0.5, b2=0.999)``.

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

    def update(grad: Any, state: AdamState, *, params: Any = None, hessian: Any = None):
        grad = _as_vector(grad, "grad")
        if grad.shape != state.mu.shape:
            raise ValueError(f"grad must have shape {state.mu.shape} like x0, got {grad.shape}")
        count = state.count + 1
        mu = b1 * state.mu + (1.0 - b1) * grad
        nu = b2 * state.nu + (1.0 - b2) * grad * grad
        mu_hat = mu / (1.0 - b1**count)
        nu_hat = nu / (1.0 - b2**count)
        return -lr * mu_hat / (np.sqrt(nu_hat) + eps), AdamState(count, mu, nu)

    return StepRule(init, update)


class NewtonInfo(NamedTuple):
    """State of a Newton-type rule: ``steps`` taken, and the last spectrum's ``rank``, ``cutoff``,
    ``min_eigenvalue`` and ``max_eigenvalue``."""

    steps: int
    rank: int
    cutoff: float
    min_eigenvalue: float
    max_eigenvalue: float


def newton_type(
    method: str | Correction = "hsc",
    *,
    lr: float = 1.0,
    atol: float = 0.0,
    rtol: float | None = None,
    **params: float,
) -> StepRule:
    """A Newton-type rule ``step = -lr * Q diag(c^+) Q^T g`` for a spectral correction.

    ``update`` needs ``hessian=``; its state records the last spectrum's diagnostics.

    Examples
    --------
    >>> import numpy as np
    >>> rule = newton_type("abs")
    >>> H = np.diag([2.0, -4.0])
    >>> step, info = rule.update(np.array([2.0, 4.0]), rule.init(np.zeros(2)), hessian=H)
    >>> step                             # -|H|^{-1} g: descends along the negative curvature
    array([-1., -1.])
    """
    lr = _check_lr(lr)
    correction = get_correction(method, **params)
    atol = _validation.check_tolerance(atol, "atol")  # refuse bad tolerances now, not at update
    rtol = None if rtol is None else _validation.check_tolerance(rtol, "rtol")

    def init(x0: Any) -> NewtonInfo:
        _as_vector(x0, "x0")
        return NewtonInfo(0, 0, 0.0, np.nan, np.nan)

    def update(grad: Any, state: NewtonInfo, *, params: Any = None, hessian: Any = None):
        if hessian is None:
            raise ValueError(f"{correction.name} step needs hessian=, got None")
        spectrum = decompose(hessian, atol=atol, rtol=rtol)
        step = spectral_step(spectrum, _as_vector(grad, "grad"), correction, lr=lr)
        lam = spectrum.eigenvalues
        info = NewtonInfo(
            state.steps + 1, spectrum.rank, spectrum.cutoff, float(lam[0]), float(lam[-1])
        )
        return step, info

    return StepRule(init, update)


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

    def update(grad: Any, state: QuasiNewtonState, *, params: Any = None, hessian: Any = None):
        if params is None:
            raise ValueError("quasi-Newton step needs params= (the current iterate), got None")
        grad = _as_vector(grad, "grad")
        x = _as_vector(params, "params")
        n = state.strategy.n
        if grad.shape != (n,) or x.shape != (n,):
            raise ValueError(
                f"grad and params must have shape ({n},) like x0, got {grad.shape}, {x.shape}"
            )
        strategy = copy.deepcopy(state.strategy)  # keep the caller's state untouched
        if state.x is not None:
            strategy.update(x - state.x, grad - state.g)
        return -lr * strategy.dot(grad), QuasiNewtonState(strategy, x.copy(), grad.copy())

    return StepRule(init, update)


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
