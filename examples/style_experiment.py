"""Reproduce the style-transfer experiment of docs/style.md.

Image optimization at 16x16 (every method, exact pixel Hessian) and at a larger size
(L-BFGS-B, Adam and the matrix-free HSC step), the pixel Hessian's spectrum before and after
the HSC correction, and the article's stylizer loop against the HSC step on the stylizer's
parameter Hessian.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python examples/style_experiment.py \\
        --out runs/style-docs --record docs/tables/records/style-experiment.json

takes a few minutes on one core; ``--quick`` runs a tiny version in seconds (the smoke test).
Writes PNG figures to ``--out`` (default ``runs/style-docs``, ignored by git; matplotlib, extra
``plot``) and prints the numbers; existing figures are kept unless ``--force``. The figures in
``docs/images/style`` were copied from such a run folder. ``--record PATH`` also writes every
number the page's tables and prose quote (objectives, ranks, inertias, eigenvalue ranges, CG
iterations, wall times, the machine's load average) as JSON, atomically; an existing record
is kept unless ``--force``. ``docs/tables/style_tables.py`` renders the page's tables from it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from hsc_ref import _io
from hsc_ref._plotting import new_figure, save_figure
from hsc_ref.corrections import correct
from hsc_ref.derivatives import gradient, hessian
from hsc_ref.spectral import decompose
from hsc_ref.steps import spectral_step
from hsc_ref.style import _exact  # the optimizer's own Hessian route, timed beside autograd's
from hsc_ref.style.images import bundled_image
from hsc_ref.style.loss import transfer_objective
from hsc_ref.style.optimize import optimize_image
from hsc_ref.style.plots import plot_losses
from hsc_ref.style.stylizer import stylizer_objective, train_stylizer

COMMAND = (
    "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python examples/style_experiment.py "
    "--out runs/style-docs --record docs/tables/records/style-experiment.json"
)
"""The full experiment as docs/style.md states it."""


class Plan(NamedTuple):
    """Sizes and step counts of one version of the experiment."""

    small: int  # side of the images optimized with every method (dense Hessian)
    large: int  # side of the images optimized with L-BFGS-B, Adam (and matrix-free HSC)
    fast: int  # steps of L-BFGS-B and Adam at the small size (twice that at the large one)
    slow: int  # steps of the Newton-type methods
    stylizer_steps: int
    matrix_free: bool  # run the matrix-free HSC step (hundreds of HVPs per step)


FULL = Plan(small=16, large=32, fast=60, slow=10, stylizer_steps=15, matrix_free=True)
QUICK = Plan(small=6, large=8, fast=3, slow=2, stylizer_steps=2, matrix_free=False)
STYLIZER_RUNS = (
    ("article (Adam 2e-4, clip 1)", "article", {}),
    ("article lr 2e-2", "article", {"lr": 2e-2}),
    ("hsc + Armijo", "hsc", {"line_search": True}),
)


def spectrum_facts(H: np.ndarray) -> tuple[dict, np.ndarray, np.ndarray]:
    """Rank, inertia and near-zero counts of H and of Hc = H + pinv(H), and both spectra."""
    r = correct(H, "hsc")
    lam, c = r.eigenvalues_before, r.eigenvalues_after
    top = float(np.abs(lam).max())
    kept_c = np.abs(c[r.spectrum.kept])
    smallest = int(np.argmin(np.abs(lam)))
    facts = {
        "n": int(lam.shape[0]),
        "cutoff": r.cutoff,
        "rank_H": r.rank_before,
        "inertia_H": vars(r.inertia_before),
        "near_zero_H_1e-6": int((np.abs(lam) <= 1e-6 * top).sum()),
        "near_zero_H_1e-3": int((np.abs(lam) <= 1e-3 * top).sum()),
        "abs_below_1": int((np.abs(lam) < 1.0).sum()),
        "lam_min_max": [float(lam[0]), float(lam[-1])],
        "min_abs_lam": float(np.abs(lam).min()),
        "lam_of_min_abs": float(lam[smallest]),  # signed, with its image under the correction
        "c_of_min_abs": float(c[smallest]),
        "rank_Hc": r.rank_after,
        "inertia_Hc": vars(r.inertia_after),
        "c_min_max": [float(c.min()), float(c.max())],
        "min_abs_c_kept": float(kept_c.min()) if kept_c.size else float("nan"),
        "cond_H": top / float(np.abs(lam).min()),
        "cond_Hc": float(np.abs(c).max()) / float(np.abs(c).min()),
    }
    return facts, lam, c


def descent_cosines(fun, x) -> dict:
    """cos(-g, s) of each Newton-type step at x (negative: the step is an ascent direction)."""
    g = gradient(fun, x)
    spectrum = decompose(hessian(fun, x, batched=True))
    out = {}
    for name, params in (("hsc", {}), ("newton", {}), ("abs", {}), ("damped", {"mu": 1.0})):
        s = spectral_step(spectrum, g, name, **params)
        out[name] = float(-(g @ s) / (np.linalg.norm(g) * np.linalg.norm(s)))
    return out


def run_record(r, seconds: float) -> dict:
    """What the record keeps of one image optimization (the CG columns for ``hsc_cg``)."""
    out = {
        "method": r.method,
        "steps": len(r.losses) - 1,
        "losses": [float(v) for v in r.losses],
        "times": [float(v) for v in r.times],
        "wall_seconds": seconds,
        "components": dict(r.components),
        "evaluations": int(r.evaluations),
    }
    for column in ("cg_iterations", "cg_relative_residual"):
        if column in r.history:
            out[column] = [float(v) for v in r.history[column]]
    if "cg_iterations" in out:
        out["cg_iterations"] = [int(v) for v in out["cg_iterations"]]
    return out


def image_runs(objective, content, plans) -> tuple[dict, dict]:
    """Run every ``(label, method, steps, kwargs)`` plan from the content image."""
    results, records = {}, {}
    for label, method, steps, kwargs in plans:
        t0 = time.perf_counter()
        r = optimize_image(objective, content, method, steps=steps, **kwargs)
        seconds = time.perf_counter() - t0
        print(
            f"  {label:<14} steps {steps:>3}  objective {r.losses[0]:10.4g} -> "
            f"{r.losses[-1]:10.4g}  style term {r.components['style']:.3g}  {seconds:6.1f} s"
        )
        results[label], records[label] = r, run_record(r, seconds)
    return results, records


def small_plans(plan: Plan) -> list[tuple[str, str, int, dict]]:
    """Every method at the small size (the matrix-free step only if ``plan.matrix_free``)."""
    fast, slow = plan.fast, plan.slow
    plans = [
        ("lbfgs", "lbfgs", fast, {}),
        ("adam", "adam", fast, {}),
        ("hsc lr=1", "hsc", slow, {}),
        ("hsc + Armijo", "hsc", slow, {"line_search": True}),
        ("newton + Armijo", "newton", slow, {"line_search": True}),
        ("abs + Armijo", "abs", slow, {"line_search": True}),
        ("damped(1) + A.", "damped", slow, {"line_search": True, "mu": 1.0}),
    ]
    if plan.matrix_free:  # CG needs hundreds of HVPs per step on these small, stiff problems
        plans.append(("hsc_cg + A.", "hsc_cg", slow, {"line_search": True}))
    return plans


def large_plans(plan: Plan) -> list[tuple[str, str, int, dict]]:
    """L-BFGS-B and Adam at the large size (and the matrix-free step if ``plan.matrix_free``)."""
    plans = [("lbfgs", "lbfgs", 2 * plan.fast, {}), ("adam", "adam", 2 * plan.fast, {})]
    if plan.matrix_free:
        plans.append(("hsc_cg + A.", "hsc_cg", plan.slow, {"line_search": True}))
    return plans


def problem(size: int):
    """Content ``shapes`` (seed 0), style ``checkerboard`` (seed 1), default objective."""
    content = bundled_image("shapes", size)
    style = bundled_image("checkerboard", size, seed=1)
    return content, style, transfer_objective(content, style)


def timed(fun, *args, **kwargs) -> tuple[Any, float]:
    """``fun(*args, **kwargs)`` and its wall time in seconds."""
    t0 = time.perf_counter()
    value = fun(*args, **kwargs)
    return value, time.perf_counter() - t0


def hessian_costs(objective, x) -> dict:
    """Wall times of one exact pixel Hessian (autograd's and the optimizer's route), one eigh."""
    H, autograd_seconds = timed(hessian, objective, x, batched=True)
    _, route_seconds = timed(_exact.value_grad_hessian, objective, x)
    _, eigh_seconds = timed(np.linalg.eigh, H)
    print(
        f"  one exact pixel Hessian: {autograd_seconds:.2f} s (autograd, batched), "
        f"{route_seconds:.2f} s (the optimizer's route); its eigh: {eigh_seconds:.2f} s"
    )
    return {
        "hessian_seconds": autograd_seconds,
        "hessian_seconds_optimizer_route": route_seconds,
        "eigh_seconds": eigh_seconds,
    }


def small_part(plan: Plan, summary: dict) -> dict:
    """Every method at the small size; fills ``summary``, returns what the figures need."""
    content, style, objective = problem(plan.small)
    print(f"Image optimization, {plan.small}x{plan.small}x3 = {objective.n} unknowns")
    summary["pixel_hessian"] = hessian_costs(objective, content.ravel())
    summary["cosines_pixels"] = descent_cosines(objective, content.ravel())
    print(f"  cos(-g, step) at the start: {json.dumps(summary['cosines_pixels'])}")
    runs, records = image_runs(objective, content, small_plans(plan))
    summary["runs"][plan.small] = records
    return {"content": content, "style": style, "objective": objective, "runs": runs}


def spectrum_part(objective, content, lbfgs_image, summary: dict) -> dict:
    """The pixel Hessian's spectrum at the content image and after L-BFGS-B."""
    spectra = {}
    for where, x in (("start (content image)", content), ("after L-BFGS-B", lbfgs_image)):
        facts, lam, c = spectrum_facts(hessian(objective, x.ravel(), batched=True))
        summary["spectra"][where] = facts
        spectra[f"H, {where}"] = lam
        spectra[f"Hc, {where}"] = c
        print(f"  spectrum {where}: {json.dumps(facts)}")
    return spectra


def large_part(plan: Plan, summary: dict) -> dict:
    """L-BFGS-B, Adam (and the matrix-free HSC step) at the large size."""
    content, style, objective = problem(plan.large)
    print(
        f"Image optimization, {plan.large}x{plan.large}x3 = {objective.n} unknowns: L-BFGS-B, "
        f"Adam and the matrix-free HSC step (a dense Hessian would hold "
        f"{objective.n**2 * 8 / 2**20:.0f} MiB and take {objective.n} reverse-over-reverse "
        f"rows per step)"
    )
    runs, records = image_runs(objective, content, large_plans(plan))
    summary["runs"][plan.large] = records
    return {"content": content, "style": style, "runs": runs}


def cg_summary(summary: dict, plan: Plan) -> dict:
    """CG iterations per step of every matrix-free run, by label and size."""
    return {
        f"{label} {size}x{size}": record["cg_iterations"]
        for size in (plan.small, plan.large)
        for label, record in summary["runs"][size].items()
        if "cg_iterations" in record
    }


def stylizer_record(r, seconds: float) -> dict:
    """What the record keeps of one stylizer run: losses, times, H at the first and last step."""
    d0, d1 = ({k: float(col[i]) for k, col in r.history.items()} for i in (0, -1))
    return {
        "losses": [float(v) for v in r.losses],
        "times": [float(v) for v in r.times],
        "wall_seconds": seconds,
        "first": d0,
        "last": d1,
    }


def stylizer_part(plan: Plan, summary: dict) -> dict:
    """The article's loop (two step sizes) against the HSC step on the parameter Hessian."""
    size = plan.small
    contents = [bundled_image("shapes", size, seed=s) for s in (0, 2)]
    style = bundled_image("checkerboard", size, seed=1)
    obj = stylizer_objective(contents, style)
    print(f"Stylizer: patch MLP with n = {obj.n} parameters, {len(contents)} content images")
    summary["stylizer_setup"] = {"n": obj.n, "contents": len(contents), "size": size}
    summary["cosines_stylizer"] = descent_cosines(obj, obj.x0)
    print(f"  cos(-g, step) at the start: {json.dumps(summary['cosines_stylizer'])}")
    runs = {}
    for label, method, kwargs in STYLIZER_RUNS:
        r, seconds = timed(train_stylizer, obj, method, steps=plan.stylizer_steps, **kwargs)
        runs[label] = r
        record = summary["stylizer"][label] = stylizer_record(r, seconds)
        d0, d1 = record["first"], record["last"]
        print(
            f"  {label:<28} loss {r.losses[0]:.5g} -> {r.losses[-1]:.5g}  "
            f"{seconds:5.1f} s; H at start: rank {d0['rank']:.0f}/{d0['n']:.0f}, "
            f"negative {d0['negative']:.0f}; at end: negative {d1['negative']:.0f}, min |c| of Hc "
            f"{d1['corrected_abs_min_kept']:.3f}, max |1/lam| {d1['pinv_abs_max']:.3g}"
        )
    return {"objective": obj, "contents": contents, "style": style, "runs": runs}


def image_grid(images: dict, path: Path, force: bool) -> None:
    fig, axes = new_figure(1, len(images), size=(1.5 * len(images), 1.9))
    for ax, (title, img) in zip(np.atleast_1d(axes), images.items(), strict=True):
        ax.imshow(img, interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.set_axis_off()
    save_figure(fig, path, overwrite=force)


def spectrum_plot(spectra: dict, path: Path, force: bool) -> None:
    fig, ax = new_figure(size=(6.0, 3.6))
    for label, values in spectra.items():
        ax.plot(np.sort(values), marker=".", markersize=2, linewidth=0.8, label=label)
    ax.set_yscale("symlog", linthresh=1e-2)
    ax.set_xlabel("index (ascending)")
    ax.set_ylabel("eigenvalue")
    ax.axhline(0.0, color="k", linewidth=0.5)
    ax.legend(fontsize=7)
    save_figure(fig, path, overwrite=force)


def image_figures(part: dict, size: int, out: Path, force: bool) -> None:
    """Loss curves and the images of one size's runs."""
    plot_losses(list(part["runs"].values()), out / f"losses_{size}.png", overwrite=force)
    images = {k: r.image for k, r in part["runs"].items()}
    grid = {"content": part["content"], "style": part["style"], **images}
    image_grid(grid, out / f"transfer_{size}.png", force)


def stylizer_figures(part: dict, out: Path, force: bool) -> None:
    fig, ax = new_figure(size=(5.0, 3.4))
    for label, r in part["runs"].items():
        ax.plot(r.losses, marker=".", label=label)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("mean objective over the batch")
    ax.legend(fontsize=7)
    save_figure(fig, out / "stylizer_losses.png", overwrite=force)
    contents = part["contents"]
    panels = {"content 1": contents[0], "content 2": contents[1], "style": part["style"]}
    for label, r in part["runs"].items():
        outs = part["objective"].stylize(r.params)
        panels[label.split(" (")[0] + " #1"] = outs[0]
        panels[label.split(" (")[0] + " #2"] = outs[1]
    image_grid(panels, out / "stylizer_outputs.png", force)


def finite_or_none(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (strict JSON), keys as strings."""
    if isinstance(value, dict):
        return {str(k): finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def record_of(summary: dict, plan: Plan) -> dict:
    """The JSON record: the summary, the plan and how the run was made."""
    return finite_or_none(
        {
            **summary,
            "plan": plan._asdict(),
            "command": COMMAND if plan == FULL else None,
            "threads": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
        }
    )


def figure_names(plan: Plan) -> list[str]:
    """The PNG files a run writes to ``--out``."""
    sizes = (plan.small, plan.large)
    return [
        *(f"losses_{s}.png" for s in sizes),
        f"spectrum_{plan.small}.png",
        *(f"transfer_{s}.png" for s in sizes),
        "stylizer_losses.png",
        "stylizer_outputs.png",
    ]


def check_outputs(out: Path, plan: Plan, record: str | None, force: bool) -> Path | None:
    """Refuse existing figures or record before minutes of work rather than after."""
    existing = [out / name for name in figure_names(plan) if (out / name).exists()]
    if existing and not force:
        raise FileExistsError(f"{existing[0]} exists; pass --force to replace the figures")
    if record is None:
        return None
    path = Path(record)
    if path.exists() and not force:
        raise FileExistsError(f"--record {path} exists; pass --force to replace it")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"--record {path}: the folder {path.parent} does not exist")
    return path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", default="runs/style-docs", help="folder for the PNG figures (runs/style-docs)"
    )
    parser.add_argument("--force", action="store_true", help="replace existing figures/record")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument(
        "--record", metavar="PATH", help="also write every number of the run as JSON to PATH"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Run the experiment; return its numbers (the record, with integer sizes as keys)."""
    args = parse_args(argv)
    out = Path(args.out)
    plan = QUICK if args.quick else FULL
    record_path = check_outputs(out, plan, args.record, args.force)
    summary: dict = {"sizes": [plan.small, plan.large], "spectra": {}, "stylizer": {}, "runs": {}}
    summary["load_average"] = {"start": os.getloadavg()[0]}
    small = small_part(plan, summary)
    lbfgs_image = small["runs"]["lbfgs"].image
    spectra = spectrum_part(small["objective"], small["content"], lbfgs_image, summary)
    large = large_part(plan, summary)
    summary["cg"] = cg_summary(summary, plan)
    print(f"  CG iterations per matrix-free step: {summary['cg']}")
    stylizer = stylizer_part(plan, summary)
    summary["load_average"]["end"] = os.getloadavg()[0]
    image_figures(small, plan.small, out, args.force)
    spectrum_plot(spectra, out / f"spectrum_{plan.small}.png", args.force)
    image_figures(large, plan.large, out, args.force)
    stylizer_figures(stylizer, out, args.force)
    if record_path is not None:
        _io.atomic_write_json(record_path, record_of(summary, plan), overwrite=args.force)
        print(f"Record written to {record_path}")
    return summary


if __name__ == "__main__":
    main()
