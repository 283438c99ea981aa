"""The ``style`` section of ``hsc-ref demo``: L-BFGS-B against the HSC step on one small image."""

from __future__ import annotations

from hsc_ref.corrections import correct
from hsc_ref.derivatives import hessian
from hsc_ref.style.images import bundled_image
from hsc_ref.style.loss import transfer_objective
from hsc_ref.style.optimize import optimize_image

__all__ = ["style_demo"]


def style_demo(seed: int = 0, size: int = 12, steps: int = 8) -> str:
    """L-BFGS-B against the HSC step (with and without backtracking) on one small image.

    Parameters
    ----------
    seed : int
        Seed of the bundled images.
    size : int
        Image side; the pixel Hessian has ``(3 size^2)^2`` entries.
    steps : int
        Iterations of every method.

    Returns
    -------
    str
        A plain-text report.

    Examples
    --------
    >>> "lbfgs" in style_demo(size=8, steps=2)
    True
    """
    content = bundled_image("shapes", size, seed=seed)
    style = bundled_image("checkerboard", size, seed=seed + 1)
    objective = transfer_objective(content, style)
    spectrum = correct(hessian(objective, content.ravel(), batched=True), "hsc")
    lines = [
        f"Style transfer, {size}x{size}x3 = {objective.n} pixel unknowns, start = content image",
        f"  exact pixel Hessian at the start: rank {spectrum.rank_before}/{objective.n}, "
        f"inertia {vars(spectrum.inertia_before)}, eigenvalues in "
        f"[{spectrum.eigenvalues_before[0]:.3g}, {spectrum.eigenvalues_before[-1]:.3g}]",
        f"  Hc = H + pinv(H): rank {spectrum.rank_after}, inertia {vars(spectrum.inertia_after)}"
        " (same as H: the correction fixes neither rank nor sign)",
        f"  objective after {steps} steps (start {float(objective(content.ravel())):.5g}):",
    ]
    for method, search in (("lbfgs", False), ("hsc", False), ("hsc", True)):
        r = optimize_image(
            objective, content, method, steps=steps, **({"line_search": True} if search else {})
        )
        name = method + (" + Armijo backtracking" if search else "")
        lines.append(
            f"    {name:<28} {r.losses[-1]:.5g}   ({r.times[-1]:.2f} s, style term "
            f"{r.components['style']:.3g})"
        )
    return "\n".join(lines)
