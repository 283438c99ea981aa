"""One training-loop driver for every trainer, and one update of a rule on a loss.

:func:`run_loop` is the loop: it calls a step function ``steps`` times, gathers each step's
record into per-step history columns, stops at the first step whose outcome is not finite,
and reports progress. :func:`rule_step` is one update of a :class:`~hsc_ref.rules.StepRule`
on a loss: value and gradient, the exact Hessian only when the rule needs it, at most one
``eigh`` (the Newton-type rule's own, reused for the diagnostics). :func:`minimize` puts the
two together for a single objective; the GAN trainer calls :func:`rule_step` once per player
inside its own step function.

The functions take plain values and hand back plain values, in the shape of
``jax.example_libraries.optimizers``: after every completed step ``callback(progress)`` receives
the loop's whole state as a :class:`LoopProgress` (steps completed; the state, with the
parameters, the rules' states and any random generator's state; the history so far), and
``start=progress`` continues from such a state, bit for bit. What to keep of it, and when
(periodic checkpoints, one at Ctrl-C), is the caller's business: the lab's
``hsc_ref.lab._checkpoint`` does it for the commands.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import autograd
import numpy as np

from hsc_ref import _limits, _validation
from hsc_ref._typing import ArrayLike
from hsc_ref.corrections import SUMMARY_FIELDS, summarize
from hsc_ref.derivatives import ValueGradHessian, hessian
from hsc_ref.rules import StepRule, spectrum_in
from hsc_ref.spectral import Spectrum, decompose

__all__ = [
    "LoopResult",
    "run_loop",
    "MinimizeResult",
    "MinimizeOptions",
    "minimize",
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


class LoopProgress(NamedTuple):
    """Where a loop stands after whole steps: what a callback sees and ``start`` continues.

    Plain data only (nested tuples, NamedTuples, dicts with string keys, arrays, numbers), so
    that it can be written as arrays and JSON and read back exactly.

    Attributes
    ----------
    steps_completed : int
        Steps completed and applied.
    state : object
        The state after them.
    history : dict of str to ndarray
        The columns so far (length ``steps``; NaN from ``steps_completed`` on). These are the
        loop's own arrays, filled in by the later steps: copy them to keep this moment's rows
        (writing them to a file does).
    """

    steps_completed: int
    state: Any
    history: dict[str, np.ndarray]


ProgressFn = Callable[[LoopProgress], None]
"""``callback(progress)``, called after every completed step with the loop's state."""


def run_loop(
    step: StepFn,
    state: Any,
    steps: int,
    *,
    names: tuple[str, ...] = (),
    callback: ProgressFn | None = None,
    start: LoopProgress | None = None,
) -> LoopResult:
    """Run ``state, record = step(t, state)`` for ``t = 0 .. steps - 1``.

    Parameters
    ----------
    step : callable
        ``step(t, state) -> (new_state, record)`` with ``record`` a mapping of names to
        floats, or ``None`` when the step's outcome was not finite: the loop then stops and
        keeps the previous state.
    state : object
        The initial state (ignored with ``start``).
    steps : int
        Number of steps (non-negative).
    names : tuple of str, optional
        Columns to create even if no step records them (NaN-filled).
    callback : callable, optional
        ``callback(progress)`` with the :class:`LoopProgress` after each completed step
        (progress bars, checkpoints). When Ctrl-C stops the loop inside a step, the rows that
        step began to write are reset to NaN before the ``KeyboardInterrupt`` propagates, so
        the last progress a callback saw stays whole.
    start : LoopProgress, optional
        A progress a callback saw: the loop runs steps ``steps_completed .. steps - 1`` and
        returns what an uninterrupted run returns (given a ``step`` whose outcome depends
        only on ``t`` and the state).

    Returns
    -------
    LoopResult

    Raises
    ------
    Exception
        Whatever ``step`` or ``callback`` raises, with the attribute ``steps_completed`` set
        to the steps completed before it (the step a failed run reached).

    Examples
    --------
    >>> res = run_loop(lambda t, x: (x / 2, {"x": x / 2}), 8.0, 3)
    >>> res.state, res.history["x"], res.stopped_at
    (1.0, array([4., 2., 1.]), None)
    >>> saved = []
    >>> _ = run_loop(lambda t, x: (x / 2, {"x": x / 2}), 8.0, 3, callback=saved.append)
    >>> [p.steps_completed for p in saved], saved[0].state
    ([1, 2, 3], 4.0)
    >>> resumed = run_loop(lambda t, x: (x / 2, {"x": x / 2}), None, 3, start=saved[0])
    >>> resumed.state, resumed.history["x"]
    (1.0, array([4., 2., 1.]))
    >>> try:
    ...     run_loop(lambda t, x: (x / t, {"x": x / t}), 8.0, 3)   # fails at t = 0
    ... except ZeroDivisionError as exc:
    ...     print(exc.steps_completed)
    0
    """
    steps = _validation.check_count(steps, "steps")
    _validation.check_callable(step, "step")
    _validation.check_callable(callback, "callback", optional=True)
    _check_history_memory(steps, len(names))
    progress = _start(state, steps, names, start)
    history = progress.history
    try:
        for t in range(progress.steps_completed, steps):
            outcome = step(t, progress.state)
            if outcome is None:
                return LoopResult(progress.state, history, t, t)
            new_state, record = outcome
            for name, value in record.items():
                history.setdefault(name, np.full(steps, np.nan))[t] = value
            progress = LoopProgress(t + 1, new_state, history)  # one store: whole steps only
            if callback is not None:
                callback(progress)
    except KeyboardInterrupt:
        for column in history.values():  # a row the interrupted step began to write
            column[progress.steps_completed :] = np.nan
        raise
    except Exception as exc:  # where the run got: the step reached of a failed run
        if not hasattr(exc, "steps_completed"):
            exc.steps_completed = progress.steps_completed  # type: ignore[attr-defined]
        raise
    return LoopResult(progress.state, history, steps, None)


def _check_history_memory(steps: int, columns: int) -> None:
    """Refuse, before the first step, a history of ``steps`` rows that cannot fit in memory.

    Each recorded column is one float64 per step; ``columns`` (at least one) are counted,
    those a step adds later cannot be known in advance.

    Examples
    --------
    >>> _check_history_memory(100, 3)          # fits: returns None
    >>> try:
    ...     _check_history_memory(10**15, 1)
    ... except MemoryError as exc:
    ...     print(str(exc)[:53])
    steps = 1000000000000000 (the per-step history) needs
    """
    _limits.require_memory(
        8 * steps * max(columns, 1),
        f"steps = {steps} (the per-step history)",
        hint="run fewer steps",
    )


def _check_start(start: Any) -> None:
    """Refuse a ``start`` that is not a :class:`LoopProgress` (what a callback saw)."""
    if not isinstance(start, LoopProgress):
        raise TypeError(
            f"start must be a LoopProgress (the progress a callback saw), got "
            f"{type(start).__name__}"
        )


def _start(
    state: Any, steps: int, names: tuple[str, ...], start: LoopProgress | None
) -> LoopProgress:
    """The progress a loop starts from: step 0 with NaN columns, or a copy of ``start``."""
    if start is None:
        return LoopProgress(0, state, {name: np.full(steps, np.nan) for name in names})
    _check_start(start)
    done = _validation.check_count(start.steps_completed, "steps_completed")
    history = {name: np.array(column, dtype=np.float64) for name, column in start.history.items()}
    wrong = sorted(name for name, column in history.items() if column.shape != (steps,))
    if done > steps or wrong:
        raise ValueError(
            f"start must come from a loop of {steps} steps, got steps_completed = {done} "
            f"and history columns {wrong} of another length"
        )
    for column in history.values():  # rows a later step of the run it came from filled in
        column[done:] = np.nan
    for name in names:
        history.setdefault(name, np.full(steps, np.nan))
    return LoopProgress(done, start.state, history)


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
    derivatives_of: Callable[[np.ndarray], ValueGradHessian] | None = None,
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
    derivatives_of : callable, optional
        ``derivatives_of(x) -> (value, grad, H)`` in one call (e.g. a hand-derived exact
        route that shares the primal): used instead of autograd and ``hessian_of`` whenever
        the Hessian is needed.

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
    if derivatives_of is not None:
        hessian_of = lambda p: derivatives_of(p).hessian  # noqa: E731
    hessian_of = hessian_of or (lambda p: hessian(fun, p))
    start = time.perf_counter()
    try:
        if rule.needs_hessian and derivatives_of is not None:
            value, grad, H = derivatives_of(x)
        else:
            value, grad = autograd.value_and_grad(fun)(x)
            H = hessian_of(x) if rule.needs_hessian and _finite(value, grad) else None
    except FloatingPointError:  # a non-finite loss or Hessian, named where it arose: diverged
        return None
    grad = np.asarray(grad)
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
        try:
            H = hessian_of(x)
        except FloatingPointError:  # overflow: nothing to record
            H = np.array(np.nan)
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


def _resumed_minimize(progress: LoopProgress) -> tuple[tuple, list, list, LoopProgress]:
    """Split a progress :func:`minimize` reported into the loop's progress and the losses."""
    if not isinstance(progress, LoopProgress) or len(progress.state) != 4:
        raise TypeError("start must be a LoopProgress of minimize, state (x, s, losses, times)")
    x, state, losses, times = progress.state
    k = progress.steps_completed
    if len(losses) != k or len(times) != k:
        raise ValueError(f"start must hold {k} losses and times, got {len(losses)}, {len(times)}")
    carry = (np.asarray(x, dtype=np.float64), state)
    return carry, list(losses), list(times), LoopProgress(k, carry, progress.history)


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


@dataclass(frozen=True)
class MinimizeOptions:
    """How :func:`minimize` runs, besides the loss, the start and the rule.

    Attributes
    ----------
    steps : int
        Number of steps.
    diagnose_every : int, default 0
        For rules that need no Hessian: record the spectrum summary of ``H`` every this many
        steps (0: never). Rules that need one record it every step, from their own ``eigh``.
    hessian_of : callable, optional
        ``hessian_of(x) -> H``; default :func:`hsc_ref.derivatives.hessian` of ``fun``.
    observe : callable, optional
        ``observe(state) -> mapping`` of extra per-step columns read from the rule's state.

    Examples
    --------
    >>> MinimizeOptions(5, diagnose_every=2).steps
    5
    """

    steps: int
    diagnose_every: int = 0
    hessian_of: Callable[[np.ndarray], np.ndarray] | None = None
    observe: Callable[[Any], Mapping[str, float]] | None = None

    def __post_init__(self) -> None:
        _validation.check_count(self.steps, "steps")
        _validation.check_count(self.diagnose_every, "diagnose_every")


def minimize(
    fun: Callable[[np.ndarray], Any],
    x0: ArrayLike,
    rule: StepRule,
    options: MinimizeOptions | int,
    *,
    callback: ProgressFn | None = None,
    start: LoopProgress | None = None,
) -> MinimizeResult:
    """Apply ``rule`` to ``fun`` from ``x0`` (``x <- x + step``) for ``options.steps`` steps.

    Parameters
    ----------
    fun : callable
        The loss (autograd-traceable).
    x0 : array_like, shape (n,)
        The start.
    rule : StepRule
        E.g. ``chain(newton_type("hsc"), backtracking_line_search())``.
    options : MinimizeOptions or int
        The number of steps and the diagnostics; an int ``n`` is ``MinimizeOptions(n)``.
    callback : callable, optional
        ``callback(progress)`` after every step (:func:`run_loop`); the progress's state is
        ``(x, rule_state, losses, times)`` with the losses (at the points where the steps
        were taken) and the times (tuples) of the completed steps.
    start : LoopProgress, optional
        Such a progress: continue from it (``x0`` is then only checked).

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
    _validation.check_callable(fun, "fun")
    _validation.check_callable(callback, "callback", optional=True)
    x = _validation.as_real_array(x0, "x0", ndim=1).astype(np.float64).copy()
    if not isinstance(options, MinimizeOptions):
        options = MinimizeOptions(options)
    diagnose_every, hessian_of, observe = (
        options.diagnose_every,
        options.hessian_of,
        options.observe,
    )
    clock = [0.0]  # the clock starts with the first step, at the start point's loss
    losses: list[float] = []
    times: list[float] = []
    carry: tuple[np.ndarray, Any] = (x, None)
    if start is not None:
        _check_start(start)
        carry, losses, times, start = _resumed_minimize(start)
        clock[0] = time.perf_counter() - (times[-1] if times else 0.0)

    def step(t: int, carry: tuple[np.ndarray, Any]):
        x, state = carry
        now = time.perf_counter()
        clock[0] = now if t == 0 and not times else clock[0]
        reached = now - clock[0]
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
        return (x + out.step, out.state), record

    def report(progress: LoopProgress) -> None:
        k = progress.steps_completed
        state = (*progress.state, tuple(losses[:k]), tuple(times[:k]))
        callback(LoopProgress(k, state, progress.history))

    res = run_loop(
        step,
        carry if start is not None else (x, rule.init(x)),
        options.steps,
        callback=None if callback is None else report,
        start=start,
    )
    x, state = res.state
    losses.append(float(fun(x)))
    times.append(time.perf_counter() - clock[0] if times else 0.0)
    return MinimizeResult(
        x=x,
        state=state,
        losses=np.asarray(losses),
        times=np.asarray(times),
        history=res.history,
        steps_completed=res.steps_completed,
        stopped_at=res.stopped_at,
    )
