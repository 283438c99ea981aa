"""The measured tables of ``docs/style.md``'s experiment (``examples/style_experiment.py``).

The full experiment writes its record with ``--record`` (:data:`COMMAND`); each table is
rendered from that record. The quick version of each table runs the part of the
experiment that makes it at the sizes of the script's ``--quick`` mode (the script's own
functions, :data:`QUICK` plan: 6x6 and 8x8 images, a few steps, no matrix-free runs) and
keeps its deterministic numbers: objectives, style terms, ranks, inertias, eigenvalues,
cosines; the wall times are left out.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import json
from types import ModuleType
from typing import Any

from tables import ROOT, Table

RECORD = "docs/tables/records/style-experiment.json"
COMMAND = (
    "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python examples/style_experiment.py "
    f"--out runs/style-docs --record {RECORD}"
)
PAGE = "docs/style.md"
START, AFTER = "start (content image)", "after L-BFGS-B"
SMALL_ROWS = (
    ("lbfgs", "L-BFGS-B"),
    ("adam", "Adam (lr 0.02, projected)"),
    ("hsc lr=1", "HSC, lr 1, no line search"),
    ("hsc + Armijo", "HSC + backtracking"),
    ("newton + Armijo", "pinv-Newton + backtracking"),
    ("abs + Armijo", "saddle-free `abs` + backtracking"),
    ("damped(1) + A.", "damped(mu = 1) + backtracking"),
    ("hsc_cg + A.", "matrix-free HSC (`hsc_cg`) + backtracking"),
)
"""The script's run labels and the page's words for them, in the page's order."""
LARGE_ROWS = (
    ("lbfgs", "L-BFGS-B"),
    ("adam", "Adam (lr 0.02)"),
    ("hsc_cg + A.", "matrix-free HSC + backtracking"),
)
STYLIZER_ROWS = (
    ("article (Adam 2e-4, clip 1)", "article: Adam 2e-4, (0.5, 0.999), clip 1"),
    ("article lr 2e-2", "same loop with lr 2e-2"),
    ("hsc + Armijo", "HSC step on the parameter Hessian + backtracking"),
)
COSINES = (("hsc", "HSC"), ("newton", "Newton"), ("abs", "abs"), ("damped", "damped"))


# ------------------------------------------------------------------------------- the record


def record() -> dict[str, Any]:
    """The committed record of :data:`COMMAND` (refused if another command made it)."""
    data = json.loads((ROOT / RECORD).read_text(encoding="utf-8"))
    if data.get("command") != COMMAND:
        raise ValueError(f"{RECORD} was made by {data.get('command')!r}, not {COMMAND!r}")
    return data


def _sci(value: float, digits: int = 2) -> str:
    """``0.00052 -> '5.2e-4'``: the page's short scientific notation."""
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _best(runs: dict[str, dict], label: str, text: str) -> str:
    """``text`` in bold when ``label``'s final objective is the lowest of ``runs``."""
    lowest = min(run["losses"][-1] for run in runs.values())
    return f"**{text}**" if runs[label]["losses"][-1] == lowest else text


def _image_table(runs: dict[str, dict], rows: tuple[tuple[str, str], ...]) -> str:
    start = runs["lbfgs"]["losses"][0]
    lines = [
        f"| method | steps | objective (start {start:.4g}) | style term | wall time |",
        "|---|---|---|---|---|",
    ]
    for label, words in rows:
        run = runs[label]
        time = _seconds(run["wall_seconds"])
        if "cg_iterations" in run:
            cg = run["cg_iterations"]
            time += f" ({min(cg)} to {max(cg)} CG iterations per step)"
        objective = _best(runs, label, f"{run['losses'][-1]:.4g}")
        cells = [words, str(run["steps"]), objective, _sci(run["components"]["style"]), time]
        lines.append(_row(cells))
    return "\n".join(lines)


def render_small() -> str:
    """Every method at 16x16: steps, final objective, style term, wall time."""
    data = record()
    return _image_table(data["runs"][str(data["sizes"][0])], SMALL_ROWS)


def render_large() -> str:
    """L-BFGS-B, Adam and the matrix-free HSC step at 32x32 (with its CG iterations)."""
    data = record()
    return _image_table(data["runs"][str(data["sizes"][1])], LARGE_ROWS)


def _inertia(inertia: dict[str, int]) -> str:
    return f"{inertia['positive']}, {inertia['negative']}, {inertia['zero']}"


def _range(values: list[float]) -> str:
    return f"[{values[0]:.4g}, {values[1]:.4g}]"


def _smallest(facts: dict[str, Any]) -> str:
    return f"{facts['lam_of_min_abs']:.2g} ({facts['c_of_min_abs']:.4g})"


SPECTRUM_ROWS = (
    ("rank `H` / `Hc`", lambda f: f"{f['rank_H']} / {f['rank_Hc']}"),
    ("inertia `H` (+, -, 0)", lambda f: _inertia(f["inertia_H"])),
    ("inertia `Hc`", lambda f: _inertia(f["inertia_Hc"])),
    ("eigenvalues of `H`", lambda f: _range(f["lam_min_max"])),
    (
        "`|lam| <= 1e-6 max|lam|` / `<= 1e-3 max|lam|` / `|lam| < 1`",
        lambda f: f"{f['near_zero_H_1e-6']} / {f['near_zero_H_1e-3']} / {f['abs_below_1']}",
    ),
    ("eigenvalue of smallest `|lam|` (its `c = lam + 1/lam`)", _smallest),
    ("eigenvalues of `Hc`", lambda f: _range(f["c_min_max"])),
    ("smallest kept `|c|`", lambda f: f"{f['min_abs_c_kept']:.5g}"),
    ("`cond(H)` / `cond(Hc)`", lambda f: f"{f['cond_H']:.4g} / {f['cond_Hc']:.3g}"),
)
"""The spectrum table's rows: words, and the cell made from one point's facts."""


def render_spectrum() -> str:
    """Rank, inertia and eigenvalues of the 16x16 pixel Hessian and of ``Hc``, two points."""
    data = record()
    start, after = data["spectra"][START], data["spectra"][AFTER]
    lbfgs_steps = data["runs"][str(data["sizes"][0])]["lbfgs"]["steps"]
    lines = [f"| | at the content image | after {lbfgs_steps} L-BFGS-B steps |", "|---|---|---|"]
    lines += [_row([words, cell(start), cell(after)]) for words, cell in SPECTRUM_ROWS]
    cosines = ", ".join(f"{w} {data['cosines_pixels'][k]:+.2g}" for k, w in COSINES)
    lines.append(f"| cos(-g, step) at the start | {cosines} | |")
    return "\n".join(lines)


def _stalled_after(losses: list[float]) -> int | None:
    """The last step that lowered the loss, when later steps did not move it; else None."""
    lowered = [k for k in range(1, len(losses)) if losses[k] < losses[k - 1]]
    last = lowered[-1] if lowered else 0
    return last if last < len(losses) - 1 else None


def _stylizer_row(runs: dict[str, dict], label: str, words: str) -> str:
    run = runs[label]
    first, last = run["first"], run["last"]
    objective = _best(runs, label, f"{run['losses'][-1]:.1f}")
    stalled = _stalled_after(run["losses"])
    if stalled is not None:
        objective += f" (stalls after step {stalled})"
    rank = f"{first['rank']:.0f}/{first['n']:.0f}"
    if last["rank"] != first["rank"]:
        rank = f"{first['rank']:.0f} -> {last['rank']:.0f} (of {first['n']:.0f})"
    inertia = (
        f"({first['positive']:.0f}, {first['negative']:.0f}) -> "
        f"({last['positive']:.0f}, {last['negative']:.0f})"
    )
    return _row(
        [words, objective, rank, inertia, _sci(last["pinv_abs_max"]), _seconds(run["wall_seconds"])]
    )


def render_stylizer() -> str:
    """The article's loop (two step sizes) and the HSC step, on the stylizer's 251 parameters."""
    runs = record()["stylizer"]
    start = runs[STYLIZER_ROWS[0][0]]["losses"][0]
    lines = [
        f"| run | mean objective (start {start:.1f}) | rank `H` | inertia `H` (+, -) at the "
        "first -> last step | `max |1/lam|` at the last step | wall time |",
        "|---|---|---|---|---|---|",
    ]
    lines += [_stylizer_row(runs, label, words) for label, words in STYLIZER_ROWS]
    return "\n".join(lines)


# ------------------------------------------------------------------------- the quick versions


@functools.cache
def _example() -> ModuleType:
    """``examples/style_experiment.py`` as a module (its functions, not its ``main``)."""
    path = ROOT / "examples" / "style_experiment.py"
    spec = importlib.util.spec_from_file_location("style_experiment", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _quietly(fun: Any, *args: Any) -> Any:
    """``fun(*args)`` with the example's progress lines swallowed."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fun(*args)


def _image_numbers(records: dict[str, dict]) -> dict[str, Any]:
    keep = ("steps", "evaluations", "components")
    out = {label: {k: run[k] for k in keep} for label, run in records.items()}
    for label, run in records.items():
        out[label]["losses"] = run["losses"]
        if "cg_iterations" in run:
            out[label]["cg_iterations"] = run["cg_iterations"]
    return out


def quick_small() -> dict[str, Any]:
    """Every method of the small table at the ``--quick`` size (6x6, 3 and 2 steps)."""
    example = _example()
    summary: dict[str, Any] = {"runs": {}}
    _quietly(example.small_part, example.QUICK, summary)
    return _image_numbers(summary["runs"][example.QUICK.small])


def quick_large() -> dict[str, Any]:
    """L-BFGS-B and Adam at the ``--quick`` large size (8x8, 6 steps)."""
    example = _example()
    summary: dict[str, Any] = {"runs": {}}
    _quietly(example.large_part, example.QUICK, summary)
    return _image_numbers(summary["runs"][example.QUICK.large])


def quick_spectrum() -> dict[str, Any]:
    """The spectrum facts at the ``--quick`` size: at the content image and after L-BFGS-B."""
    example, plan = _example(), _example().QUICK
    content, _, objective = example.problem(plan.small)
    lbfgs = [("lbfgs", "lbfgs", plan.fast, {})]
    runs, _ = _quietly(example.image_runs, objective, content, lbfgs)
    summary: dict[str, Any] = {"spectra": {}}
    _quietly(example.spectrum_part, objective, content, runs["lbfgs"].image, summary)
    summary["cosines_pixels"] = example.descent_cosines(objective, content.ravel())
    return example.finite_or_none(summary)


def quick_stylizer() -> dict[str, Any]:
    """The three stylizer runs at the ``--quick`` size (6x6 images, 2 steps), times left out."""
    example = _example()
    summary: dict[str, Any] = {"stylizer": {}}
    _quietly(example.stylizer_part, example.QUICK, summary)
    for run in summary["stylizer"].values():
        del run["times"], run["wall_seconds"], run["first"]["wall_time"], run["last"]["wall_time"]
    return example.finite_or_none(summary)


def _table(table_id: str, render: Any, quick: Any) -> Table:
    return Table(
        id=table_id, page=PAGE, command=COMMAND, record=(RECORD,), render=render, quick=quick
    )


TABLES = [
    _table("style-16", render_small, quick_small),
    _table("style-spectrum", render_spectrum, quick_spectrum),
    _table("style-32", render_large, quick_large),
    _table("style-stylizer", render_stylizer, quick_stylizer),
]
