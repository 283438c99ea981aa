"""The style comparison under the protocol (``docs/style.md``) and the cost of every protocol
sweep (``docs/experiments.md``), from the committed sweep records.

The style sweep's quick version reruns every method at its chosen step size on the first
confirmation seed with :data:`QUICK_SIZE` x :data:`QUICK_SIZE` images and :data:`QUICK_STEPS`
steps (the 16 x 16 dense Newton-type steps take a fifth of a second each, the matrix-free one
more than a second: too slow for the test suite).
"""

from __future__ import annotations

import json
import statistics
from typing import Any

import sweep_records
from tables import Table

from hsc_ref.lab.sweep._engine import execute_run
from hsc_ref.lab.sweep._spec import parse_spec

STYLE = "style-protocol"
QUICK_SIZE = 6
QUICK_STEPS = 3
SWEEPS = ("gan-ring-protocol", "gan-grid-protocol", STYLE)
"""The protocol sweeps whose cost the experiments page tables."""


def render_style() -> str:
    """The confirmation medians per method, from the style sweep's ``protocol.csv``."""
    lines = [
        "| method | chosen lr | final objective | optimizer time (s) |",
        "|---|---|---|---|",
    ]
    for row in sweep_records.protocol_rows(STYLE):
        edge = " (grid edge)" if row["chosen_at_grid_edge"] == "yes" else ""
        chosen = f"{float(row['chosen_lr']):g}{edge}" if row["chosen_lr"] else "none (no step size)"
        cells = [
            row["method"],
            chosen,
            sweep_records.interval_cell(row, "final_loss"),
            sweep_records.interval_cell(row, "time_s"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def quick_style() -> dict[str, Any]:
    """Every method's losses in the quick version (:data:`QUICK_SIZE`, :data:`QUICK_STEPS`)."""
    runs = sweep_records.chosen_runs(STYLE, size=QUICK_SIZE, steps=QUICK_STEPS)
    numbers = {}
    for method, run in runs.items():
        metrics = json.loads(execute_run(run.to_json())["files"]["metrics.json"])
        numbers[method] = {"losses": metrics["losses"], "final_loss": metrics["final_loss"]}
    return numbers


def _per_step_ms(row: dict[str, str]) -> float:
    if row["kind"] == "gan":
        return 1e3 * float(row["wall_time_per_step"])
    return 1e3 * float(row["time_s"]) / int(row["steps_completed"])


def render_costs() -> str:
    """Per sweep and method: runs, median time per step, and the runs' total wall time."""
    lines = [
        "| sweep | method | runs | time per step, median (ms) | wall time of its runs (s) |",
        "|---|---|---|---|---|",
    ]
    for name in SWEEPS:
        runs = sweep_records.all_runs(name)
        for method in dict.fromkeys(r["method"] for r in runs):
            rows = [r for r in runs if r["method"] == method]
            cells = [
                name,
                method,
                str(len(rows)),
                f"{statistics.median(_per_step_ms(r) for r in rows):.3g}",
                f"{sum(float(r['wall_s']) for r in rows):.0f}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        total = sum(float(r["wall_s"]) for r in runs)
        lines.append(f"| {name} | all | {len(runs)} | | {total:.0f} |")
    return "\n".join(lines)


def quick_costs() -> dict[str, Any]:
    """What the cost table holds that does not depend on the clock: the planned runs per
    sweep and method (tuning grid x tuning seeds + confirmation seeds), from the specs."""
    counts: dict[str, Any] = {}
    for name in SWEEPS:
        spec = parse_spec((sweep_records.folder(name) / "spec.toml").read_text(encoding="utf-8"))
        per_method: dict[str, int] = {}
        for section in spec.sections:
            for method in section.methods:
                grid = len(section.lr_grids[method]) * len(section.settings)
                tuned = len(section.tune_seeds) * grid  # a one-value grid is run too
                confirmed = len(section.confirm_seeds) * len(section.settings)
                per_method[method] = tuned + confirmed
        counts[name] = per_method
    return counts


TABLES = [
    Table(
        id=STYLE,
        page="docs/style.md",
        command=f"hsc-ref sweep docs/sweeps/{STYLE}.toml --out runs/sweep-{STYLE}",
        record=(
            f"docs/sweeps/results/{STYLE}/protocol.csv",
            f"docs/sweeps/results/{STYLE}/spec.toml",
        ),
        render=render_style,
        quick=quick_style,
    ),
    Table(
        id="protocol-costs",
        page="docs/experiments.md",
        command=" && ".join(
            f"hsc-ref sweep docs/sweeps/{name}.toml --out runs/sweep-{name}" for name in SWEEPS
        ),
        record=tuple(f"docs/sweeps/results/{name}/runs.csv" for name in SWEEPS),
        render=render_costs,
        quick=quick_costs,
    ),
]
