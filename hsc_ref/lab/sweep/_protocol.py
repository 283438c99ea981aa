"""Tune, then confirm: pick each method's step size on tuning seeds, rerun it on fresh seeds.

The protocol of optimizer benchmarks (DeepOBS, AlgoPerf), as ``hsc-ref sweep`` applies it in
``mode = "tune-confirm"``: for every kind, setting (data set and model size, or image size)
and method, each step size of the method's grid runs on the tuning seeds; the chosen step
size is the one whose **median over the tuning seeds** of the criterion's first metric is
best, ties broken by the next metric's median, then by the smaller step size, among the step
sizes none of whose tuning runs diverged or failed (a step size with one is never chosen;
when every step size has one, none is and the method is not confirmed). A run that diverged
(``diverged_at`` set), failed, or has no finite value counts as the worst possible value.
The chosen step size then runs on the confirmation seeds (at least 10, none shared with the
tuning seeds), and only those runs are reported as the method's result.

:func:`plan` gives the runs of each phase from the spec and the runs stored so far: the
confirmation runs of a method are known once all its tuning runs are stored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hsc_ref.lab.sweep._spec import METRIC_GOALS, RunSpec, Section, SweepSpec

__all__ = ["STATISTIC", "Selection", "Plan", "run_value", "select_step_size", "plan"]

STATISTIC = "median"
"""How the tuning seeds' values of one step size are summarized."""


def run_value(metrics: Mapping[str, Any] | None, metric: str, kind: str) -> float:
    """A run's value of ``metric``, oriented so that higher is better; ``-inf`` when worst.

    A missing run, a diverged run (``diverged_at`` set) and a missing or non-finite value
    count as the worst possible value.

    Examples
    --------
    >>> run_value({"reverse_kl": 0.25, "diverged_at": None}, "reverse_kl", "gan")
    -0.25
    >>> run_value({"modes_captured": 8, "diverged_at": 12}, "modes_captured", "gan")
    -inf
    """
    if not metrics or metrics.get("diverged_at") is not None:  # a failed run has none
        return -math.inf
    value = metrics.get(metric)
    if value is None or not math.isfinite(float(value)):
        return -math.inf
    return float(value) if METRIC_GOALS[kind][metric] == "max" else -float(value)


@dataclass(frozen=True)
class Selection:
    """The step size chosen for one kind, setting and method, and how.

    Attributes
    ----------
    kind, setting, method : str
    grid : tuple of float or None
        The step sizes tried (None: the method's default).
    tune_seeds : tuple of int
    criterion : tuple of str
        Metrics in order of precedence.
    scores : tuple of tuple of float
        Per step size, the median over the tuning seeds of each criterion metric, oriented so
        that higher is better (``-inf``: worst).
    chosen : float or None
        The chosen step size; None while tuning runs are missing (or for a method tuned on
        its default).
    missing : int
        Tuning runs not stored yet; the choice is made only when this is 0.
    failed : tuple of int
        Per step size, its tuning runs that diverged or failed: a step size with any is
        never chosen (:attr:`none_viable` when every step size has some).
    """

    kind: str
    setting: str
    method: str
    grid: tuple[float | None, ...]
    tune_seeds: tuple[int, ...]
    criterion: tuple[str, ...]
    scores: tuple[tuple[float, ...], ...]
    chosen: float | None
    missing: int
    failed: tuple[int, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether every tuning run is stored (so the choice is made)."""
        return self.missing == 0

    @property
    def none_viable(self) -> bool:
        """Whether every step size has a diverged or failed tuning run (so none is chosen)."""
        return bool(self.failed) and all(self.failed)

    def criterion_text(self) -> str:
        """The criterion in words, as the result table states it.

        Examples
        --------
        >>> s = Selection("gan", "ring h16", "hsc", (0.1, 1.0), (7, 8), ("reverse_kl",),
        ...               ((-0.5,), (-0.2,)), 1.0, 0)
        >>> s.criterion_text()
        'median reverse_kl (lower is better); ties: smaller lr; diverged = worst'
        """
        parts = [
            f"{STATISTIC} {m} ({'higher' if METRIC_GOALS[self.kind][m] == 'max' else 'lower'} "
            "is better)"
            for m in self.criterion
        ]
        return ", then ".join(parts) + "; ties: smaller lr; diverged = worst"


def select_step_size(
    section: Section, runs: Sequence[RunSpec], stored: Mapping[str, Mapping[str, Any]]
) -> Selection:
    """Choose the step size of one method and setting from its tuning runs.

    Parameters
    ----------
    section : Section
        The spec's table of the runs' kind (its tuning seeds and criterion).
    runs : sequence of RunSpec
        The tuning runs of one setting and method (every step size, every tuning seed).
    stored : mapping
        Run key to stored record (``record["metrics"]``).

    Returns
    -------
    Selection

    Examples
    --------
    >>> from hsc_ref.lab.sweep._spec import parse_spec
    >>> spec = parse_spec('''mode = "tune-confirm"
    ... [gan]
    ... data = ["dirac"]
    ... methods = ["sgd"]
    ... tune_seeds = [0]
    ... confirm_seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    ... [gan.lr]
    ... sgd = [0.1, 0.2]''')
    >>> runs = spec.grid_runs()
    >>> fake = {r.key: {"metrics": {"distance_to_equilibrium": 1 / r.lr, "diverged_at": None}}
    ...         for r in runs}
    >>> select_step_size(spec.section("gan"), runs, fake).chosen
    0.2
    """
    first = runs[0]
    criterion = section.criterion_for(first)
    grid = tuple(dict.fromkeys(r.lr for r in runs))
    missing = sum(r.key not in stored for r in runs)
    scores, failed = [], []
    for lr in grid:
        records = [stored.get(r.key) for r in runs if r.lr == lr]
        metrics = [None if rec is None else rec["metrics"] for rec in records]
        failed.append(sum(rec is not None and _failed(rec) for rec in records))
        scores.append(
            tuple(
                float(np.median([run_value(m, c, first.kind) for m in metrics])) for c in criterion
            )
        )
    chosen = None
    viable = [i for i in range(len(grid)) if failed[i] == 0]
    if missing == 0 and viable:  # never a step size with a diverged or failed run
        best = max(viable, key=lambda i: (scores[i], -_lr_order(grid[i])))
        chosen = grid[best]
    return Selection(
        first.kind,
        first.setting,
        first.method,
        grid,
        section.tune_seeds,
        criterion,
        tuple(scores),
        chosen,
        missing,
        tuple(failed),
    )


def _failed(record: Mapping[str, Any]) -> bool:
    """A run that diverged or failed (a record with a status, or an older one without)."""
    if record.get("status") in ("diverged", "failed", "lost"):
        return True
    return (record.get("metrics") or {}).get("diverged_at") is not None


def _lr_order(lr: float | None) -> float:
    return 0.0 if lr is None else float(lr)


@dataclass(frozen=True)
class Plan:
    """The runs of each phase and the step-size choices made so far.

    Attributes
    ----------
    phases : tuple of (str, tuple of RunSpec)
        ``("grid", runs)`` in grid mode; ``("tune", runs), ("confirm", runs)`` in tune-confirm
        mode, the confirmation runs of the methods whose tuning is complete.
    selections : tuple of Selection
        One per kind, setting and method (tune-confirm mode only).
    """

    phases: tuple[tuple[str, tuple[RunSpec, ...]], ...]
    selections: tuple[Selection, ...]

    def phase_of(self) -> dict[str, str]:
        """Run key to phase, for every planned run."""
        return {run.key: phase for phase, runs in self.phases for run in runs}

    @property
    def pending_confirmations(self) -> int:
        """Methods whose confirmation runs wait for tuning runs."""
        return sum(not s.complete for s in self.selections)


def _groups(runs: Sequence[RunSpec]) -> dict[tuple[str, str, str], list[RunSpec]]:
    groups: dict[tuple[str, str, str], list[RunSpec]] = {}
    for run in runs:
        groups.setdefault((run.kind, run.setting, run.method), []).append(run)
    return groups


def plan(spec: SweepSpec, stored: Mapping[str, Mapping[str, Any]]) -> Plan:
    """The runs of each phase of ``spec`` given the runs ``stored`` (key to record).

    Parameters
    ----------
    spec : SweepSpec
    stored : mapping
        Run key to stored record; only the tuning runs' metrics are read.

    Returns
    -------
    Plan

    Examples
    --------
    >>> from hsc_ref.lab.sweep._spec import parse_spec
    >>> spec = parse_spec('[gan]\\ndata = ["dirac"]\\nseeds = [0, 1]')
    >>> [(phase, len(runs)) for phase, runs in plan(spec, {}).phases]
    [('grid', 2)]
    """
    if spec.mode == "grid":
        return Plan((("grid", tuple(spec.grid_runs())),), ())
    tune, confirm, selections = [], [], []
    for section in spec.sections:
        runs = list(section.runs(section.tune_seeds))
        tune += runs
        for (_, setting, method), group in _groups(runs).items():
            selection = select_step_size(section, group, stored)
            selections.append(selection)
            if selection.complete and not selection.none_viable:
                chosen = {(setting, method): (selection.chosen,)}
                confirm += section.runs(section.confirm_seeds, chosen)
    return Plan((("tune", tuple(tune)), ("confirm", tuple(confirm))), tuple(selections))
