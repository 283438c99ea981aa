"""The measured tables of ``docs/gan.md``: the GAN comparison under the tune-then-confirm protocol.

The full experiment is a sweep per data set (``docs/sweeps/gan-DATA-protocol.toml``), whose
report is committed in ``docs/sweeps/results/gan-DATA-protocol/``, and one per data set for the
game-aware methods (``gan-DATA-game-protocol``), and one per data set that tunes the three
Hessian-based methods whose first choice was the smallest step size of their grids on grids
two decades lower (``gan-DATA-small-lr-protocol``), all tuned and confirmed the same way. Its quick
version trains every method at its chosen step size on confirmation seed 0 for
:data:`QUICK_STEPS` steps, with the spec's settings (what ``hsc-ref gan`` and the sweep compute
for that config).
"""

from __future__ import annotations

import functools
import statistics
from typing import Any

import sweep_records
from tables import Table

from hsc_ref.gan.train import TrainConfig, train

QUICK_STEPS = 30
QUICK_METRICS = (
    "modes_captured",
    "high_quality_fraction",
    "reverse_kl",
    "final_loss_d",
    "final_loss_g",
    "diverged_at",
)
"""The quick version's numbers: every metric of the table but the timings, and the losses."""
SPECTRUM_METRICS = tuple(
    f"{name}_{player}"
    for name in (
        "spectra_recorded",
        "indefinite_fraction",
        "rank_deficient_fraction",
        "rank_changes_under_hc",
    )
    for player in ("g", "d")
)
"""Per player: how many steps had their Hessian's spectrum recorded, the fraction of them where
it was indefinite, or rank-deficient under its cutoff, and the count where rank(Hc) != rank(H)."""
METHOD_ORDER = ("article", "hsc", "newton", "saddle_free", "damped", "adam", "sgd")
MODES = {"ring": 8, "grid": 25}


def _name(data: str, sweep: str = "") -> str:
    return f"gan-{data}{sweep}-protocol"


def render_protocol(data: str, sweep: str = "") -> str:
    """The confirmation medians per method, from the sweep's ``protocol.csv``."""
    header = (
        f"| method | chosen lr | diverged | modes captured (of {MODES[data]}) "
        "| high-quality fraction | reverse KL | wall ms/step |"
    )
    lines = [header, "|---|---|---|---|---|---|---|"]
    for row in sweep_records.protocol_rows(_name(data, sweep)):
        edge = " (grid edge)" if row["chosen_at_grid_edge"] == "yes" else ""
        cells = [
            row["method"],
            f"{float(row['chosen_lr']):g}{edge}",
            f"{row['diverged']}/{row['confirm_runs']}",
            sweep_records.interval_cell(row, "modes_captured"),
            sweep_records.interval_cell(row, "high_quality_fraction"),
            sweep_records.interval_cell(row, "reverse_kl"),
            sweep_records.interval_cell(row, "wall_time_per_step", scale=1e3),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fraction_cell(rows: list[dict[str, str]], column: str) -> str:
    values = sorted(float(r[column]) for r in rows if r[column] != "")
    if not values:
        return "not computed"
    median = statistics.median(values)
    return f"{median:.3g} [{values[0]:.3g}, {values[-1]:.3g}]"


def _count_cell(rows: list[dict[str, str]], player: str) -> str:
    recorded = sum(int(r[f"spectra_recorded_{player}"]) for r in rows)
    if not recorded:
        return "not computed"
    changed = sum(int(r[f"rank_changes_under_hc_{player}"]) for r in rows)
    return f"{changed} of {recorded}"


def render_spectra(datasets: tuple[str, ...] = ("ring", "grid")) -> str:
    """The players' Hessian spectra along the confirmation runs, from the sweeps' ``runs.csv``.

    Fractions of the steps whose spectrum was recorded: median [smallest, largest] over the
    confirmation runs; the last columns count steps, over all those runs.
    """
    lines = [
        "| data | method | indefinite H_G | indefinite H_D | rank-deficient H_G "
        "| rank-deficient H_D | rank(Hc) ≠ rank(H), G | rank(Hc) ≠ rank(H), D |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for data in datasets:
        runs = sweep_records.confirmation_runs(_name(data))
        for method in METHOD_ORDER:
            rows = [r for r in runs if r["method"] == method]
            cells = [
                data,
                method,
                _fraction_cell(rows, "indefinite_fraction_g"),
                _fraction_cell(rows, "indefinite_fraction_d"),
                _fraction_cell(rows, "rank_deficient_fraction_g"),
                _fraction_cell(rows, "rank_deficient_fraction_d"),
                _count_cell(rows, "g"),
                _count_cell(rows, "d"),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@functools.cache
def _quick_runs(data: str, sweep: str = "") -> dict[str, dict[str, Any]]:
    """Every method at its chosen step size, first confirmation seed, :data:`QUICK_STEPS` steps."""
    runs = sweep_records.chosen_runs(_name(data, sweep), steps=QUICK_STEPS)
    return {method: train(TrainConfig(**run.config)).metrics for method, run in runs.items()}


def quick_protocol(data: str, sweep: str = "") -> dict[str, Any]:
    """The quick runs' metrics of the protocol table (:data:`QUICK_METRICS`)."""
    runs = _quick_runs(data, sweep)
    return {method: {name: m[name] for name in QUICK_METRICS} for method, m in runs.items()}


def quick_spectra(datasets: tuple[str, ...] = ("ring", "grid")) -> dict[str, Any]:
    """The quick runs' spectrum counts (:data:`SPECTRUM_METRICS`), per data set and method."""
    return {
        data: {
            method: {name: m[name] for name in SPECTRUM_METRICS}
            for method, m in _quick_runs(data).items()
        }
        for data in datasets
    }


def _protocol_table(data: str, sweep: str = "") -> Table:
    name = _name(data, sweep)
    folder = f"docs/sweeps/results/{name}"
    return Table(
        id=name,
        page="docs/gan.md",
        command=f"hsc-ref sweep docs/sweeps/{name}.toml --out runs/sweep-{name}",
        record=(f"{folder}/protocol.csv", f"{folder}/spec.toml"),
        render=lambda: render_protocol(data, sweep),
        quick=lambda: quick_protocol(data, sweep),
    )


SPECTRA_COMMAND = " && ".join(_protocol_table(data).command for data in ("ring", "grid"))

TABLES = [
    _protocol_table("ring"),
    _protocol_table("grid"),
    _protocol_table("ring", "-game"),
    _protocol_table("grid", "-game"),
    _protocol_table("ring", "-small-lr"),
    _protocol_table("grid", "-small-lr"),
    Table(
        id="gan-protocol-spectra",
        page="docs/gan.md",
        command=SPECTRA_COMMAND,
        record=tuple(f"docs/sweeps/results/gan-{d}-protocol/runs.csv" for d in ("ring", "grid")),
        render=render_spectra,
        quick=quick_spectra,
    ),
]
