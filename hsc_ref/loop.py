"""One training-loop driver for every trainer, and one update of a rule on a loss.

:func:`run_loop` is the loop: it calls a step function ``steps`` times, gathers each step's
record into per-step history columns, stops at the first step whose outcome is not finite,
and reports progress. :func:`rule_step` is one update of a :class:`~hsc_ref.rules.StepRule`
on a loss: value and gradient, the exact Hessian only when the rule needs it, at most one
``eigh`` (the Newton-type rule's own, reused for the diagnostics). :func:`minimize` puts the
two together for a single objective; the GAN trainer calls :func:`rule_step` once per player
inside its own step function.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import autograd
import numpy as np

from hsc_ref import _validation
from hsc_ref._typing import ArrayLike
from hsc_ref.corrections import SUMMARY_FIELDS, summarize
from hsc_ref.derivatives import hessian
from hsc_ref.rules import StepRule, spectrum_in
from hsc_ref.spectral import Spectrum, decompose

__all__ = [
    "LoopResult",
    "run_loop",
    "RuleStep",
    "rule_step",
    "MinimizeResult",
    "minimize",
    "summary_record",
]

StepFn = Callable[[int, Any], "tuple[Any, Mapping[str, float]] | None"]


class LoopResult(NamedTuple):
    """What :func:`run_loop` returns.

    Attributes
    ----------
    state : object
        The state after the last completed step.
    history : dict of str to ndarray
        One column of length ``steps`` per recorded name, NaN where a step did not record it.
    steps_completed : int
        Steps whose outcome was finite and applied.
    stopped_at : int or None
        The step whose outcome was not finite (nothing of it was applied), or None.
    """

    state: Any
    history: dict[str, np.ndarray]
    steps_completed: int
    stopped_at: int | None


def run_loop(
    step: StepFn,
    state: Any,
    steps: int,
    *,
    names: tuple[str, ...] = (),
    callback: Callable[[int, Mapping[str, float]], None] | None = None,
) -> LoopResult:
    """Run ``state, record = step(t, state)`` for ``t = 0 .. steps - 1``.

    Parameters
    ----------
    step : callable
        ``step(t, state) -> (new_state, record)`` with ``record`` a mapping of names to
        floats, or ``None`` when the step's outcome was not finite: the loop then stops and
        keeps the previous state.
    state : object
        The initial state.
    steps : int
        Number of steps (non-negative).
    names : tuple of str, optional
        Columns to create even if no step records them (NaN-filled).
    callback : callable, optional
        ``callback(t + 1, record)`` after each completed step (progress bars).

    Returns
    -------
    LoopResult

    Examples
    --------
    >>> res = run_loop(lambda t, x: (x / 2, {"x": x / 2}), 8.0, 3)
    >>> res.state, res.history["x"], res.stopped_at
    (1.0, array([4., 2., 1.]), None)
    """
    steps = _validation.check_count(steps, "steps")
    history = {name: np.full(steps, np.nan) for name in names}
    for t in range(steps):
        outcome = step(t, state)
        if outcome is None:
            return LoopResult(state, history, t, t)
        state, record = outcome
        for name, value in record.items():
            history.setdefault(name, np.full(steps, np.nan))[t] = value
        if callback is not None:
            callback(t + 1, record)
    return LoopResult(state, history, steps, None)


class RuleStep(NamedTuple):
    """One update of a rule on a loss.

    Attributes
    ----------
    value : float
        The loss at the current point.
    grad : ndarray
        Its exact gradient.
    step : ndarray
        The rule's step (apply as ``x + step``).
    state : object
        The rule's new state.
    spectrum : Spectrum or None
        The one decomposition of the Hessian made in this update (the Newton-type rule's own,
        or the diagnostics' when the rule needs none and ``diagnose`` asked); None otherwise.
    wall_time : float
        Seconds spent on what the method needs (value, gradient, the Hessian if the rule
        uses it, the update); diagnostics of rules that need no Hessian are not counted.
    """

    value: float
    grad: np.ndarray
    step: np.ndarray
    state: Any
    spectrum: Spectrum | None
    wall_time: float


def _finite(*arrays: Any) -> bool:
    return all(bool(np.all(np.isfinite(a))) for a in arrays)


def rule_step(
    rule: StepRule,
    state: Any,
    fun: Callable[[np.ndarray], Any],
    x: np.ndarray,
    *,
    diagnose: bool = False,
    hessian_of: Callable[[np.ndarray], np.ndarray] | None = None,
) -> RuleStep | None:
    """Update ``rule`` once at ``x`` on the loss ``fun``; None if anything is not finite.

    Parameters
    ----------
    rule : StepRule
    state : object
        The rule's state.
    fun : callable
        The loss, ``fun(x) -> scalar`` (autograd-traceable).
    x : ndarray, shape (n,)
        The current point.
    diagnose : bool, default False
        Also return the spectrum of ``H`` when the rule itself needs no Hessian (computed
        outside the timed region).
    hessian_of : callable, optional
        ``hessian_of(x) -> H``; default :func:`hsc_ref.derivatives.hessian` of ``fun``.

    Returns
    -------
    RuleStep or None

    Examples
    --------
    >>> import numpy as np
    >>> from hsc_ref.rules import newton_type
    >>> rule = newton_type("hsc")
    >>> out = rule_step(rule, rule.init(np.zeros(2)), lambda x: (x**2).sum(), np.ones(2))
    >>> out.step, out.spectrum.rank                  # H = 2 I, phi(2) = 2/5, g = (2, 2)
    (array([-0.8, -0.8]), 2)
    """
    hessian_of = hessian_of or (lambda p: hessian(fun, p))
    start = time.perf_counter()
    value, grad = autograd.value_and_grad(fun)(x)
    grad = np.asarray(grad)
    H = hessian_of(x) if rule.needs_hessian else None
    if not _finite(value, grad, 0.0 if H is None else H):
        return None
    try:
        step, state = rule.update(grad, state, params=x, value=value, grad=grad, fun=fun, hessian=H)
    except FloatingPointError:  # the rule refused an overflowing step: the run has diverged
        return None
    wall = time.perf_counter() - start
    if not _finite(step):
        return None
    spectrum = spectrum_in(state)
    if spectrum is None and diagnose:
        H = hessian_of(x)
        spectrum = decompose(H) if _finite(H) else None  # overflow: nothing to record
    return RuleStep(float(value), grad, np.asarray(step), state, spectrum, wall)


def summary_record(spectrum: Spectrum | None, suffix: str = "") -> dict[str, float]:
    """The :data:`~hsc_ref.corrections.SUMMARY_FIELDS` of a spectrum as history columns.

    Examples
    --------
    >>> import numpy as np
    >>> from hsc_ref.spectral import decompose
    >>> record = summary_record(decompose(np.diag([0.0, 2.0])), "_g")
    >>> record["rank_g"], record["rank_corrected_g"], summary_record(None)
    (1.0, 1.0, {})
    """
    if spectrum is None:
        return {}
    summary = summarize(spectrum)
    return {f"{name}{suffix}": float(getattr(summary, name)) for name in SUMMARY_FIELDS}


class MinimizeResult(NamedTuple):
    """What :func:`minimize` returns.

    Attributes
    ----------
    x : ndarray
        The last finite iterate.
    state : object
        The rule's state there.
    losses : ndarray, shape (steps_completed + 1,)
        The loss at the start and after every completed step.
    times : ndarray, shape (steps_completed + 1,)
        Seconds since the start at which each loss was reached (0 first).
    history : dict of str to ndarray
        Per-step columns: ``grad_norm``, ``step_norm``, ``wall_time``, the spectrum summary
        fields when a spectrum was available, and what ``observe`` returned.
    steps_completed : int
    stopped_at : int or None
        The step that was not finite, or None.
    """

    x: np.ndarray
    state: Any
    losses: np.ndarray
    times: np.ndarray
    history: dict[str, np.ndarray]
    steps_completed: int
    stopped_at: int | None


def minimize(
    fun: Callable[[np.ndarray], Any],
    x0: ArrayLike,
    rule: StepRule,
    steps: int,
    *,
    diagnose_every: int = 0,
    hessian_of: Callable[[np.ndarray], np.ndarray] | None = None,
    observe: Callable[[Any], Mapping[str, float]] | None = None,
    callback: Callable[[int, float], None] | None = None,
) -> MinimizeResult:
    """Apply ``rule`` to ``fun`` for ``steps`` steps from ``x0`` (``x <- x + step``).

    Parameters
    ----------
    fun : callable
        The loss (autograd-traceable).
    x0 : array_like, shape (n,)
        The start.
    rule : StepRule
        E.g. ``chain(newton_type("hsc"), backtracking_line_search())``.
    steps : int
        Number of steps.
    diagnose_every : int, default 0
        For rules that need no Hessian: record the spectrum summary of ``H`` every this many
        steps (0: never). Rules that need one record it every step, from their own ``eigh``.
    hessian_of : callable, optional
        ``hessian_of(x) -> H``; default :func:`hsc_ref.derivatives.hessian` of ``fun``.
    observe : callable, optional
        ``observe(state) -> mapping`` of extra per-step columns read from the rule's state.
    callback : callable, optional
        ``callback(step, loss)`` after every step, with the loss at the point where that
        step was taken (progress bars).

    Returns
    -------
    MinimizeResult

    Examples
    --------
    >>> import numpy as np
    >>> from hsc_ref.rules import newton_type
    >>> f = lambda x: (x[..., 0] - 1.0) ** 2 + 2.0 * x[..., 1] ** 2
    >>> r = minimize(f, np.zeros(2), newton_type("newton"), 2)
    >>> r.x, r.losses, r.history["rank"]
    (array([1., 0.]), array([1., 0., 0.]), array([2., 2.]))
    """
    x = _validation.as_real_array(x0, "x0", ndim=1).astype(np.float64).copy()
    diagnose_every = _validation.check_count(diagnose_every, "diagnose_every")
    start = [0.0]  # the clock starts with the first step, at the start point's loss
    losses: list[float] = []
    times: list[float] = []

    def step(t: int, carry: tuple[np.ndarray, Any]):
        x, state = carry
        now = time.perf_counter()
        start[0] = now if t == 0 else start[0]
        reached = now - start[0]
        diagnose = bool(diagnose_every) and t % diagnose_every == 0
        out = rule_step(rule, state, fun, x, diagnose=diagnose, hessian_of=hessian_of)
        if out is None:
            return None
        losses.append(out.value)
        times.append(reached)
        record = {
            "grad_norm": float(np.linalg.norm(out.grad)),
            "step_norm": float(np.linalg.norm(out.step)),
            "wall_time": out.wall_time,
        }
        record |= summary_record(out.spectrum)
        record |= dict(observe(out.state)) if observe is not None else {}
        if callback is not None:
            callback(t + 1, out.value)
        return (x + out.step, out.state), record

    res = run_loop(step, (x, rule.init(x)), steps)
    x, state = res.state
    losses.append(float(fun(x)))
    times.append(time.perf_counter() - start[0] if times else 0.0)
    return MinimizeResult(
        x=x,
        state=state,
        losses=np.asarray(losses),
        times=np.asarray(times),
        history=res.history,
        steps_completed=res.steps_completed,
        stopped_at=res.stopped_at,
    )
