"""Reproduce the style-transfer experiment of docs/style.md.

Image optimization at 16x16 (every method, exact pixel Hessian) and at a larger size
(L-BFGS-B, Adam and the matrix-free HSC step), the pixel Hessian's spectrum before and after
the HSC correction, and the article's stylizer loop against the HSC step on the stylizer's
parameter Hessian.

    OMP_NUM_THREADS=1 python examples/style_experiment.py --out runs/style-docs

takes a few minutes on one core; ``--quick`` runs a tiny version in seconds (the smoke test).
Writes PNG figures to ``--out`` (default ``runs/style-docs``, ignored by git; matplotlib, extra
``plot``) and prints the numbers; existing figures are kept unless ``--force``. The figures in
``docs/images/style`` were copied from such a run folder.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from hsc_ref.corrections import correct
from hsc_ref.derivatives import gradient, hessian
from hsc_ref.plotting import new_figure, save_figure
from hsc_ref.spectral import decompose
from hsc_ref.steps import spectral_step
from hsc_ref.style.images import bundled_image
from hsc_ref.style.loss import transfer_objective
from hsc_ref.style.optimize import optimize_image
from hsc_ref.style.plots import plot_losses
from hsc_ref.style.stylizer import stylizer_objective, train_stylizer


def spectrum_facts(H: np.ndarray) -> dict:
    """Rank, inertia and near-zero counts of H and of Hc = H + pinv(H)."""
    r = correct(H, "hsc")
    lam, c = r.eigenvalues_before, r.eigenvalues_after
    top = float(np.abs(lam).max())
    kept_c = np.abs(c[r.spectrum.kept])
    return (
        {
            "n": int(lam.shape[0]),
            "cutoff": r.cutoff,
            "rank_H": r.rank_before,
            "inertia_H": vars(r.inertia_before),
            "near_zero_H_1e-6": int((np.abs(lam) <= 1e-6 * top).sum()),
            "near_zero_H_1e-3": int((np.abs(lam) <= 1e-3 * top).sum()),
            "abs_below_1": int((np.abs(lam) < 1.0).sum()),
            "lam_min_max": [float(lam[0]), float(lam[-1])],
            "min_abs_lam": float(np.abs(lam).min()),
            "rank_Hc": r.rank_after,
            "inertia_Hc": vars(r.inertia_after),
            "c_min_max": [float(c.min()), float(c.max())],
            "min_abs_c_kept": float(kept_c.min()) if kept_c.size else float("nan"),
            "cond_H": top / float(np.abs(lam).min()),
            "cond_Hc": float(np.abs(c).max()) / float(np.abs(c).min()),
        },
        lam,
        c,
    )


def descent_cosines(fun, x) -> dict:
    """cos(-g, s) of each Newton-type step at x (negative: the step is an ascent direction)."""
    g = gradient(fun, x)
    spectrum = decompose(hessian(fun, x, batched=True))
    out = {}
    for name, params in (("hsc", {}), ("newton", {}), ("abs", {}), ("damped", {"mu": 1.0})):
        s = spectral_step(spectrum, g, name, **params)
        out[name] = float(-(g @ s) / (np.linalg.norm(g) * np.linalg.norm(s)))
    return out


def image_runs(objective, content, plans):
    """Run every ``(label, method, steps, kwargs)`` plan from the content image."""
    results = {}
    for label, method, steps, kwargs in plans:
        t0 = time.perf_counter()
        r = optimize_image(objective, content, method, steps=steps, **kwargs)
        print(
            f"  {label:<14} steps {steps:>3}  objective {r.losses[0]:10.4g} -> "
            f"{r.losses[-1]:10.4g}  style term {r.components['style']:.3g}  "
            f"{time.perf_counter() - t0:6.1f} s"
        )
        results[label] = r
    return results


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


def stylizer_part(size, steps, out, force, summary):
    contents = [bundled_image("shapes", size, seed=s) for s in (0, 2)]
    style = bundled_image("checkerboard", size, seed=1)
    obj = stylizer_objective(contents, style)
    print(f"Stylizer: patch MLP with n = {obj.n} parameters, {len(contents)} content images")
    summary["cosines_stylizer"] = descent_cosines(obj, obj.x0)
    print(f"  cos(-g, step) at the start: {json.dumps(summary['cosines_stylizer'])}")
    runs = {}
    for label, method, kwargs in (
        ("article (Adam 2e-4, clip 1)", "article", {}),
        ("article lr 2e-2", "article", {"lr": 2e-2}),
        ("hsc + Armijo", "hsc", {"line_search": True}),
    ):
        t0 = time.perf_counter()
        r = train_stylizer(obj, method, steps=steps, **kwargs)
        runs[label] = r
        d0, d1 = ({k: float(col[i]) for k, col in r.history.items()} for i in (0, -1))
        print(
            f"  {label:<28} loss {r.losses[0]:.5g} -> {r.losses[-1]:.5g}  "
            f"{time.perf_counter() - t0:5.1f} s; H at start: rank {d0['rank']:.0f}/{d0['n']:.0f}, "
            f"negative {d0['negative']:.0f}; at end: negative {d1['negative']:.0f}, min |c| of Hc "
            f"{d1['corrected_abs_min_kept']:.3f}, max |1/lam| {d1['pinv_abs_max']:.3g}"
        )
        summary["stylizer"][label] = {
            "losses": [float(v) for v in r.losses],
            "times": [float(v) for v in r.times],
            "first": d0,
            "last": d1,
        }
    fig, ax = new_figure(size=(5.0, 3.4))
    for label, r in runs.items():
        ax.plot(r.losses, marker=".", label=label)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("mean objective over the batch")
    ax.legend(fontsize=7)
    save_figure(fig, out / "stylizer_losses.png", overwrite=force)
    panels = {"content 1": contents[0], "content 2": contents[1], "style": style}
    for label, r in runs.items():
        outs = obj.stylize(r.params)
        panels[label.split(" (")[0] + " #1"] = outs[0]
        panels[label.split(" (")[0] + " #2"] = outs[1]
    image_grid(panels, out / "stylizer_outputs.png", force)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", default="runs/style-docs", help="folder for the PNG figures (runs/style-docs)"
    )
    parser.add_argument("--force", action="store_true", help="replace existing figures")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    small, large = (6, 8) if args.quick else (16, 32)
    fast, slow, stylizer_steps = (3, 2, 2) if args.quick else (60, 10, 15)
    summary: dict = {"sizes": [small, large], "spectra": {}, "stylizer": {}, "runs": {}}

    content = bundled_image("shapes", small)
    style = bundled_image("checkerboard", small, seed=1)
    objective = transfer_objective(content, style)
    print(f"Image optimization, {small}x{small}x3 = {objective.n} unknowns (start: content)")
    t0 = time.perf_counter()
    H0 = hessian(objective, content.ravel(), batched=True)
    print(f"  one exact pixel Hessian: {time.perf_counter() - t0:.2f} s")
    summary["cosines_pixels"] = descent_cosines(objective, content.ravel())
    print(f"  cos(-g, step) at the start: {json.dumps(summary['cosines_pixels'])}")
    plans = [
        ("lbfgs", "lbfgs", fast, {}),
        ("adam", "adam", fast, {}),
        ("hsc lr=1", "hsc", slow, {}),
        ("hsc + Armijo", "hsc", slow, {"line_search": True}),
        ("newton + Armijo", "newton", slow, {"line_search": True}),
        ("abs + Armijo", "abs", slow, {"line_search": True}),
        ("damped(1) + A.", "damped", slow, {"line_search": True, "mu": 1.0}),
    ]
    if not args.quick:  # CG needs hundreds of HVPs per step on these small, stiff problems
        plans.append(("hsc_cg + A.", "hsc_cg", slow, {"line_search": True}))
    runs = image_runs(objective, content, plans)
    summary["runs"][small] = {
        k: {"losses": [float(v) for v in r.losses], "times": [float(v) for v in r.times]}
        for k, r in runs.items()
    }
    H1 = hessian(objective, runs["lbfgs"].image.ravel(), batched=True)
    spectra = {}
    for where, H in (("start (content image)", H0), ("after L-BFGS-B", H1)):
        facts, lam, c = spectrum_facts(H)
        summary["spectra"][where] = facts
        spectra[f"H, {where}"] = lam
        spectra[f"Hc, {where}"] = c
        print(f"  spectrum {where}: {json.dumps(facts)}")
    plot_losses(list(runs.values()), out / f"losses_{small}.png", overwrite=args.force)
    spectrum_plot(spectra, out / f"spectrum_{small}.png", args.force)
    image_grid(
        {"content": content, "style": style, **{k: r.image for k, r in runs.items()}},
        out / f"transfer_{small}.png",
        args.force,
    )

    content_l = bundled_image("shapes", large)
    style_l = bundled_image("checkerboard", large, seed=1)
    objective_l = transfer_objective(content_l, style_l)
    print(
        f"Image optimization, {large}x{large}x3 = {objective_l.n} unknowns: L-BFGS-B, Adam and "
        f"the matrix-free HSC step (a dense Hessian would hold "
        f"{objective_l.n**2 * 8 / 2**20:.0f} MiB and take {objective_l.n} reverse-over-reverse "
        f"rows per step)"
    )
    plans_l = [("lbfgs", "lbfgs", 2 * fast, {}), ("adam", "adam", 2 * fast, {})]
    if not args.quick:
        plans_l.append(("hsc_cg + A.", "hsc_cg", slow, {"line_search": True}))
    runs_l = image_runs(objective_l, content_l, plans_l)
    summary["cg"] = {
        f"{label} {size}x{size}": r.history["cg_iterations"].astype(int).tolist()
        for size, group in ((small, runs), (large, runs_l))
        for label, r in group.items()
        if label.startswith("hsc_cg")
    }
    print(f"  CG iterations per matrix-free step: {summary['cg']}")
    summary["runs"][large] = {
        k: {"losses": [float(v) for v in r.losses], "times": [float(v) for v in r.times]}
        for k, r in runs_l.items()
    }
    plot_losses(list(runs_l.values()), out / f"losses_{large}.png", overwrite=args.force)
    image_grid(
        {"content": content_l, "style": style_l, **{k: r.image for k, r in runs_l.items()}},
        out / f"transfer_{large}.png",
        args.force,
    )
    stylizer_part(small, stylizer_steps, out, args.force, summary)
    return summary


if __name__ == "__main__":
    main()
