"""The core demonstration: an exact MLP Hessian, its HSC correction and the step's three routes."""

from __future__ import annotations

from typing import NamedTuple

import autograd.numpy as anp
import numpy as np

from hsc_ref.corrections import correct
from hsc_ref.derivatives import value_grad_hessian
from hsc_ref.layout import flatten
from hsc_ref.models import mlp
from hsc_ref.steps import HSC_ROUTES, hsc_step

__all__ = ["CoreDemo", "core_demo", "format_core_demo", "core_report"]


class CoreDemo(NamedTuple):
    """Numbers reported by :func:`core_demo`.

    Attributes
    ----------
    n : int
        Number of parameters.
    rank_before, rank_after, null_dim : int
        Ranks of ``H`` and ``Hc = H + pinv(H)`` (equal) and the null-space dimension.
    null_space_residual : float
        ``max |Hc v|`` over the null vectors ``v`` of ``H`` (zero up to rounding).
    eigenvalue_range_before, eigenvalue_range_after : tuple of float
        Smallest and largest eigenvalues of ``H`` and ``Hc``.
    smallest_kept_magnitude_after : float
        ``min |lam + 1/lam|`` over the kept eigenvalues (at least 2).
    cutoff, rtol : float
        The cutoff policy used (``atol = 0``).
    grad_norm : float
        ``||g||``.
    step_norms, step_differences : dict of str to float
        ``||s||`` per route and ``||s - s_spectral|| / (lr ||g||)``.
    """

    n: int
    rank_before: int
    rank_after: int
    null_dim: int
    null_space_residual: float
    eigenvalue_range_before: tuple[float, float]
    eigenvalue_range_after: tuple[float, float]
    smallest_kept_magnitude_after: float
    cutoff: float
    rtol: float
    grad_norm: float
    step_norms: dict[str, float]
    step_differences: dict[str, float]


def demo_loss(seed: int = 0, batch: int = 32, hidden: int = 6):
    """A seeded regression loss of a 2-``hidden``-1 ReLU MLP with one dead hidden unit.

    The dead unit (bias -100, never active on the data) makes the Hessian exactly singular:
    its incoming weights, bias and outgoing weight span at least 4 directions of the null space.
    Returns ``(loss_of_flat, x0)``.
    """
    rng = np.random.default_rng(seed)
    model = mlp([2, hidden, 1], activation="relu")
    params = model.init(rng)
    W1, b1 = params[0]
    b1 = b1.copy()
    b1[0] = -100.0
    params[0] = (W1, b1)
    x = rng.uniform(-1.0, 1.0, (batch, 2))
    y = np.sin(np.pi * x[:, :1]) * x[:, 1:]
    x0, unflatten = flatten(params)

    def loss(flat):
        residual = model.apply(unflatten(flat), x) - y
        return anp.mean(residual**2, axis=(-2, -1))

    return loss, x0


def core_demo(seed: int = 0, lr: float = 1.0) -> CoreDemo:
    """Compute the exact Hessian of :func:`demo_loss`, correct it and compare the step routes.

    Parameters
    ----------
    seed : int, default 0
        Seed of the data and initial parameters.
    lr : float, default 1.0
        Step size of the compared steps.

    Returns
    -------
    CoreDemo

    Examples
    --------
    >>> d = core_demo(seed=0)
    >>> d.n, d.rank_before == d.rank_after, d.null_dim >= 4
    (25, True, True)
    >>> d.step_differences["cholesky"] < 1e-12
    True
    """
    loss, x0 = demo_loss(seed)
    vgh = value_grad_hessian(loss, x0, batched=True)
    result = correct(vgh.hessian, "hsc")
    spectrum = result.spectrum
    null_basis = spectrum.eigenvectors[:, ~spectrum.kept]
    residual = float(np.abs(result.matrix @ null_basis).max()) if null_basis.size else 0.0
    steps = {route: hsc_step(vgh.hessian, vgh.grad, lr=lr, route=route) for route in HSC_ROUTES}
    reference = steps["spectral"]
    scale = lr * float(np.linalg.norm(vgh.grad))
    after = result.eigenvalues_after
    kept_after = np.abs(after[spectrum.kept])
    return CoreDemo(
        n=spectrum.n,
        rank_before=result.rank_before,
        rank_after=result.rank_after,
        null_dim=result.null_dim_before,
        null_space_residual=residual,
        eigenvalue_range_before=(float(spectrum.eigenvalues[0]), float(spectrum.eigenvalues[-1])),
        eigenvalue_range_after=(float(after.min()), float(after.max())),
        smallest_kept_magnitude_after=float(kept_after.min()) if kept_after.size else float("nan"),
        cutoff=result.cutoff,
        rtol=result.rtol,
        grad_norm=float(np.linalg.norm(vgh.grad)),
        step_norms={route: float(np.linalg.norm(s)) for route, s in steps.items()},
        step_differences={
            route: float(np.linalg.norm(s - reference)) / scale for route, s in steps.items()
        },
    )


def format_core_demo(d: CoreDemo) -> str:
    """A short plain-text report of :func:`core_demo`.

    Examples
    --------
    >>> print(format_core_demo(core_demo(seed=0)).splitlines()[0])
    HSC on the exact Hessian of a seeded 2-6-1 ReLU MLP regression loss (one dead unit)
    """
    lines = [
        "HSC on the exact Hessian of a seeded 2-6-1 ReLU MLP regression loss (one dead unit)",
        f"  parameters n = {d.n}; cutoff policy: atol = 0, rtol = n*eps = {d.rtol:.2e}, "
        f"cutoff = {d.cutoff:.2e}",
        f"  rank(H) = {d.rank_before}, rank(H + pinv(H)) = {d.rank_after}, null space dim = "
        f"{d.null_dim}: the correction keeps the null space (max|Hc v| over null vectors "
        f"= {d.null_space_residual:.1e}); it does not make H full rank",
        f"  eigenvalues of H  in [{d.eigenvalue_range_before[0]:.3e}, "
        f"{d.eigenvalue_range_before[1]:.3e}]",
        f"  eigenvalues of Hc in [{d.eigenvalue_range_after[0]:.3e}, "
        f"{d.eigenvalue_range_after[1]:.3e}]; kept ones have |c| >= "
        f"{d.smallest_kept_magnitude_after:.3f} (>= 2 by construction)",
        f"  HSC step -pinv(Hc) g, ||g|| = {d.grad_norm:.3e}:",
    ]
    for route, norm in d.step_norms.items():
        lines.append(
            f"    {route:<9} ||s|| = {norm:.6e}   ||s - s_spectral|| / ||g|| = "
            f"{d.step_differences[route]:.1e}"
        )
    lines.append("  ||s|| <= ||g||/2 holds for the spectral route (|lam/(1+lam^2)| <= 1/2).")
    return "\n".join(lines)


def core_report(seed: int = 0) -> str:
    """The ``core`` section of ``hsc-ref demo``: :func:`core_demo` as text.

    Parameters
    ----------
    seed : int, default 0
        Seed of the data and initial parameters.

    Returns
    -------
    str
        :func:`format_core_demo` of :func:`core_demo`.

    Examples
    --------
    >>> "rank(H + pinv(H))" in core_report(seed=1)
    True
    """
    return format_core_demo(core_demo(seed=seed))
