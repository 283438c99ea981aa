"""The measured tables of ``docs/gan.md``: the GAN comparison under the tune-then-confirm protocol.

The full experiment is a sweep per data set (``docs/sweeps/gan-DATA-protocol.toml``), whose
report is committed in ``docs/sweeps/results/gan-DATA-protocol/``. Its quick version trains
every method at its chosen step size on confirmation seed 0 for :data:`QUICK_STEPS` steps,
with the spec's settings (what ``hsc-ref gan`` and the sweep compute for that config).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import tomllib
from tables import ROOT, Table

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
MODES = {"ring": 8, "grid": 25}


def _folder(data: str) -> Path:
    return ROOT / "docs" / "sweeps" / "results" / f"gan-{data}-protocol"


def _protocol_rows(data: str) -> list[dict[str, str]]:
    with (_folder(data) / "protocol.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _interval(row: dict[str, str], metric: str, scale: float = 1.0) -> str:
    median, low, high = (
        float(row[f"{metric}_{part}"]) * scale for part in ("median", "ci_low", "ci_high")
    )
    return f"{median:.4g} [{low:.4g}, {high:.4g}]"


def render_protocol(data: str) -> str:
    """The confirmation medians per method, from the sweep's ``protocol.csv``."""
    header = (
        f"| method | chosen lr | diverged | modes captured (of {MODES[data]}) "
        "| high-quality fraction | reverse KL | wall ms/step |"
    )
    lines = [header, "|---|---|---|---|---|---|---|"]
    for row in _protocol_rows(data):
        edge = " (grid edge)" if row["chosen_at_grid_edge"] == "yes" else ""
        cells = [
            row["method"],
            f"{float(row['chosen_lr']):g}{edge}",
            f"{row['diverged']}/{row['confirm_runs']}",
            _interval(row, "modes_captured"),
            _interval(row, "high_quality_fraction"),
            _interval(row, "reverse_kl"),
            _interval(row, "wall_time_per_step", scale=1e3),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def quick_protocol(data: str) -> dict[str, Any]:
    """Every method at its chosen step size, confirmation seed 0, :data:`QUICK_STEPS` steps."""
    spec = tomllib.loads((_folder(data) / "spec.toml").read_text())["gan"]
    seed = spec["confirm_seeds"][0]
    numbers: dict[str, Any] = {}
    for row in _protocol_rows(data):
        config = TrainConfig(
            data=data,
            method=row["method"],
            steps=QUICK_STEPS,
            lr=float(row["chosen_lr"]),
            seed=seed,
            hidden=tuple(spec["hidden"][0]),
            batch=spec["batch"],
        )
        metrics = train(config).metrics
        numbers[row["method"]] = {name: metrics[name] for name in QUICK_METRICS}
    return numbers


def _protocol_table(data: str) -> Table:
    folder = f"docs/sweeps/results/gan-{data}-protocol"
    return Table(
        id=f"gan-{data}-protocol",
        page="docs/gan.md",
        command=(
            f"hsc-ref sweep docs/sweeps/gan-{data}-protocol.toml "
            f"--out runs/sweep-gan-{data}-protocol"
        ),
        record=(f"{folder}/protocol.csv", f"{folder}/spec.toml"),
        render=lambda: render_protocol(data),
        quick=lambda: quick_protocol(data),
    )


TABLES = [_protocol_table("ring")]
