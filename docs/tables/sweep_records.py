"""Reading the committed sweep records of ``docs/sweeps/results/NAME/`` for the tables.

A tune-then-confirm sweep's record is its report: ``spec.toml`` (the spec as run),
``protocol.csv`` (per setting and method: the chosen step size and the confirmation medians
with their intervals), ``runs.csv`` (every run's metrics) and ``summary.csv``. The quick
version of such a sweep reruns, shortened, the runs the sweep would make at each chosen step
size: built by the sweep's own spec code, so they are what ``hsc-ref gan`` and
``hsc-ref style`` compute for those configs.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from tables import ROOT

from hsc_ref.lab.sweep._spec import RunSpec, parse_spec

__all__ = [
    "folder",
    "protocol_rows",
    "all_runs",
    "confirmation_runs",
    "chosen_runs",
    "interval_cell",
]


def folder(name: str) -> Path:
    """The committed record of the sweep ``name``."""
    return ROOT / "docs" / "sweeps" / "results" / name


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def protocol_rows(name: str) -> list[dict[str, str]]:
    """The sweep's ``protocol.csv``, one row per setting and method."""
    return _read_csv(folder(name) / "protocol.csv")


def all_runs(name: str) -> list[dict[str, str]]:
    """The sweep's ``runs.csv``: every stored run, tuning and confirmation."""
    return _read_csv(folder(name) / "runs.csv")


def confirmation_runs(name: str) -> list[dict[str, str]]:
    """The rows of ``runs.csv`` from the confirmation phase."""
    return [r for r in all_runs(name) if r["phase"] == "confirm"]


def chosen_runs(name: str, **changes: Any) -> dict[str, RunSpec]:
    """Per method, the run the sweep makes at its chosen step size on its first confirmation
    seed, with ``changes`` applied to its options (e.g. fewer ``steps``)."""
    spec = parse_spec((folder(name) / "spec.toml").read_text(encoding="utf-8"))
    runs: dict[str, RunSpec] = {}
    for row in protocol_rows(name):
        section = spec.section(row["kind"])
        lr = float(row["chosen_lr"]) if row["chosen_lr"] else None
        matching = [
            run
            for run in section.runs(section.confirm_seeds[:1])
            if run.method == row["method"] and run.setting == row["setting"] and run.lr == lr
        ]
        assert len(matching) == 1, (name, row["method"], lr, matching)
        runs[row["method"]] = RunSpec.build(row["kind"], {**matching[0].config, **changes})
    return runs


def interval_cell(row: dict[str, str], metric: str, scale: float = 1.0) -> str:
    """``median [low, high]`` of a metric's confirmation runs, 4 significant digits."""
    median, low, high = (
        float(row[f"{metric}_{part}"]) * scale for part in ("median", "ci_low", "ci_high")
    )
    return f"{median:.4g} [{low:.4g}, {high:.4g}]"
