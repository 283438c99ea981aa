"""Reference outputs and derived tolerances of everything computed from a symmetric matrix.

The golden files (:mod:`hsc_ref.golden.cases`) and :func:`hsc_ref.testing.reference_outputs`
share this derivation, so a user's own matrix gets exactly the outputs and tolerances of a
golden matrix case. Tolerances are first-order error bounds times :data:`SAFETY` (see
``docs/validating.md``, "Tolerance policy"); with ``e_H`` the perturbation of ``H`` an
implementation at precision ``eps`` is expected to make (``n * eps * ||H||`` for a given
matrix): eigenvalues ``e_H`` (Weyl); ``H^+`` and ``Hc`` ``3 e_H ||H^+||^2`` (Wedin),
comparable only away from the cutoff; the HSC step ``lr (||g|| (e_H + n eps) + e_g / 2)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hsc_ref.corrections import correct
from hsc_ref.spectral import decompose, golden_rtol
from hsc_ref.steps import hsc_step

__all__: list[str] = []

SAFETY = 10.0
"""Factor between each first-order error bound and the tolerance written to the manifest."""

PRECISIONS = ("float64", "float32")
"""Precisions an implementation may compute in; each output has a tolerance for each."""


@dataclass(frozen=True)
class Tolerance:
    """Tolerance of one output at one precision, and why.

    ``|actual - desired| <= atol + rtol * |desired|`` elementwise must hold when
    ``comparable`` is true; when it is false the output is reported but cannot fail.

    Attributes
    ----------
    rtol, atol : float
        Relative and absolute tolerances.
    comparable : bool
        Whether agreement can be expected at this precision at all.
    reason : str
        How the tolerance was derived, or why the output is not comparable.
    """

    rtol: float
    atol: float
    comparable: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "rtol": self.rtol,
            "atol": self.atol,
            "comparable": self.comparable,
            "reason": self.reason,
        }


def eps_of(precision: str) -> float:
    """Unit roundoff of a precision name."""
    return float(np.finfo(np.dtype(precision)).eps)


def _tol(atol: float, reason: str, comparable: bool = True, rtol: float = 0.0) -> Tolerance:
    return Tolerance(float(rtol), float(atol), bool(comparable), reason)


def _not_comparable(reason: str) -> Tolerance:
    return Tolerance(0.0, 0.0, False, reason)


def cutoff_rtol(n: int, precision: str) -> float:
    """The golden cutoff policy's ``rtol = 100 * n * eps(precision)`` (``atol = 0``).

    :func:`hsc_ref.spectral.golden_rtol` under the name the golden code uses.

    Examples
    --------
    >>> cutoff_rtol(10, "float32")
    0.00011920928955078125
    """
    return golden_rtol(n, precision)


def _ambiguous(
    values: np.ndarray, widths: Mapping[str, float], precision: str, policy: str = "float64"
) -> bool:
    """True when a value may be kept by one implementation and dropped by another.

    The reference keeps ``|v| > cutoff(policy)`` (computed in float64, so its own values are
    off by at most ``w_float64``); an implementation at ``precision`` keeps ``|v| >
    cutoff(precision)`` with its values off by up to ``w_precision`` (the eigenvalue
    tolerance). Their kept sets agree for sure only outside both bands and outside the
    interval between the two cutoffs, where the two policies keep different sets by design.
    """
    n = values.shape[0]
    scale = float(np.abs(values).max())
    ref = cutoff_rtol(n, policy) * scale
    own = cutoff_rtol(n, precision) * scale
    low = min(ref - widths["float64"], own - widths[precision])
    high = max(ref + widths["float64"], own + widths[precision])
    mags = np.abs(values)
    return scale > 0 and bool(np.any((mags >= low) & (mags <= high)))


def _spectral_tolerances(
    lam: np.ndarray,
    e_h: Mapping[str, float],
    e_g: Mapping[str, float],
    lr: float,
    g_norm: float,
    *,
    policy: str = "float64",
) -> dict[str, dict[str, Tolerance]]:
    """Tolerances, per precision, of everything computed from ``H`` and ``g``.

    ``e_h[p]`` and ``e_g[p]`` bound the perturbations of ``H`` and ``g`` that an
    implementation at precision ``p`` is expected to make; the reference keeps the
    eigenvalues above the cutoff of ``policy``.
    """
    widths = {p: SAFETY * e_h[p] for p in PRECISIONS}
    tols: dict[str, dict[str, Tolerance]] = {}
    for precision in PRECISIONS:
        ambiguous = _ambiguous(lam, widths, precision, policy)
        kw = {
            "lr": lr,
            "g_norm": g_norm,
            "precision": precision,
            "ambiguous": ambiguous,
            "policy": policy,
        }
        one = _one_precision(lam, e_h[precision], e_g[precision], **kw)
        one["step_literal"] = _literal_tol(lam, e_h, e_g, **kw)
        for out, tol in one.items():
            tols.setdefault(out, {})[precision] = tol
    return tols


def _one_precision(
    lam: np.ndarray,
    e_h: float,
    e_g: float,
    *,
    lr: float,
    g_norm: float,
    precision: str,
    ambiguous: bool,
    policy: str,
) -> dict[str, Tolerance]:
    """Eigenvalues, ``H^+``, ``Hc``, rank, spectral and Cholesky steps at one precision."""
    n = lam.shape[0]
    eps = eps_of(precision)
    scale = float(np.abs(lam).max())
    kept = np.abs(lam) > cutoff_rtol(n, policy) * scale
    p_norm = float(1.0 / np.abs(lam[kept]).min()) if kept.any() else 0.0
    step_scale = lr * g_norm / 2  # ||s|| <= lr ||g|| / 2
    tols: dict[str, Tolerance] = {
        "eigenvalues": _tol(
            SAFETY * e_h, f"Weyl: |d lam| <= ||dH|| with ||dH|| = e_H = {e_h:.3g}; x{SAFETY:g}"
        )
    }
    pinv_atol = SAFETY * 3 * e_h * p_norm**2
    pinv_reason = (
        f"Wedin: ||d pinv(H)|| <= 3 ||dH|| ||pinv(H)||^2 = 3 * {e_h:.3g} * {p_norm:.3g}^2; "
        f"x{SAFETY:g}"
    )
    if ambiguous:
        band = (
            f"an eigenvalue lies within the eigenvalue tolerance of the cutoff, or between the "
            f"reference's {policy} cutoff and the {precision} one: the kept set, hence this "
            f"output, depends on rounding or differs by design"
        )
        tols["pinv"] = tols["hc"] = tols["rank"] = _not_comparable(band)
    elif p_norm > 0 and pinv_atol >= p_norm:
        tols["pinv"] = tols["hc"] = _not_comparable(
            f"the bound {pinv_atol:.3g} exceeds ||pinv(H)|| = {p_norm:.3g}: H is too "
            f"ill-conditioned on its kept spectrum for any digit to be expected at {precision}"
        )
        tols["rank"] = _tol(0.0, "an integer; the kept set is unambiguous")
    else:
        tols["pinv"] = _tol(pinv_atol, pinv_reason)
        tols["hc"] = _tol(SAFETY * (e_h + 3 * e_h * p_norm**2), f"||dH|| + ({pinv_reason})")
        tols["rank"] = _tol(0.0, "an integer; the kept set is unambiguous")
    step_atol = SAFETY * lr * (g_norm * (e_h + n * eps) + e_g / 2)
    tols["step"] = _step_tol(
        step_atol,
        step_scale,
        f"H -> H (I + H^2)^-1 is 1-Lipschitz and |phi| <= 1/2: ||ds|| <= lr (||g|| (||dH|| + "
        f"n eps) + ||dg|| / 2) = {lr:g} * ({g_norm:.3g} * ({e_h:.3g} + {n * eps:.3g}) + "
        f"{e_g:.3g} / 2); x{SAFETY:g}",
    )
    chol_atol = SAFETY * lr * (g_norm * n * eps * (1 + scale**2) + e_g / 2)
    tols["step_cholesky"] = _step_tol(
        max(chol_atol, step_atol),
        step_scale,
        f"Cholesky of I + H^2: ||ds|| <= lr (||g|| n eps (1 + ||H||^2) + ||dg|| / 2) = {lr:g} * "
        f"({g_norm:.3g} * {n * eps:.3g} * (1 + {scale:.3g}^2) + {e_g:.3g} / 2); x{SAFETY:g}",
    )
    return tols


def _step_tol(atol: float, step_scale: float, reason: str) -> Tolerance:
    if step_scale > 0 and atol >= step_scale:
        return _not_comparable(
            f"the bound {atol:.3g} exceeds the largest possible step lr ||g|| / 2 = "
            f"{step_scale:.3g} ({reason})"
        )
    return _tol(atol, reason)


def _literal_tol(
    lam: np.ndarray,
    e_h: Mapping[str, float],
    e_g: Mapping[str, float],
    *,
    lr: float,
    g_norm: float,
    precision: str,
    ambiguous: bool,
    policy: str,
) -> Tolerance:
    """Chain of the two pseudo-inverses of ``-lr pinvh(H + pinvh(H)) g``."""
    if ambiguous:
        return _not_comparable("the first pseudo-inverse's kept set depends on rounding")
    n = lam.shape[0]
    scale = float(np.abs(lam).max())
    kept = np.abs(lam) > cutoff_rtol(n, policy) * scale
    mu = lam + np.where(kept, 1.0 / np.where(kept, lam, 1.0), 0.0)  # eigenvalues of Hc
    p_norm = float(1.0 / np.abs(lam[kept]).min()) if kept.any() else 0.0
    mu_norm = float(np.abs(mu).max())
    e_hc = {p: e_h[p] + 3 * e_h[p] * p_norm**2 + n * eps_of(p) * mu_norm for p in PRECISIONS}
    if _ambiguous(mu, {p: SAFETY * e_hc[p] for p in PRECISIONS}, precision, policy):
        return _not_comparable("the second pseudo-inverse's kept set depends on rounding")
    mu_kept = np.abs(mu) > cutoff_rtol(n, policy) * mu_norm
    q_norm = float(1.0 / np.abs(mu[mu_kept]).min()) if mu_kept.any() else 0.0
    below = float(np.abs(lam[~kept]).max()) if (~kept).any() else 0.0
    eps = eps_of(precision)
    e = e_hc[precision]
    atol = (
        SAFETY
        * lr
        * (g_norm * (3 * e * q_norm**2 + n * eps * q_norm + below) + q_norm * e_g[precision])
    )
    return _step_tol(
        atol,
        lr * g_norm / 2,
        f"||dHc|| = e_H + 3 e_H ||H^+||^2 + n eps ||Hc|| = {e:.3g}; ||ds|| <= lr (||g|| "
        f"(3 ||dHc|| ||Hc^+||^2 + n eps ||Hc^+|| + max dropped |lam|) + ||Hc^+|| ||dg||); "
        f"x{SAFETY:g}",
    )


def _check_consistent(
    case: str, outputs: Mapping[str, np.ndarray], tols: Mapping, suffix: str = ""
) -> None:
    """The routes must agree with the spectral step within their float64 bounds.

    A route that disagrees is in a failure mode whose result depends on rounding details
    (the literal route); it is then marked not comparable. The Cholesky route disagreeing
    would mean a wrong bound, which is a bug: raise.
    """
    for route in (f"step_cholesky{suffix}", f"step_literal{suffix}"):
        tol = tols[route]["float64"]
        if not tol.comparable:
            continue
        err = float(np.abs(outputs[route] - outputs[f"step{suffix}"]).max())
        if err <= tol.atol:
            continue
        if route.startswith("step_cholesky"):
            raise AssertionError(f"{case}: Cholesky step off by {err:.3g} > bound {tol.atol:.3g}")
        for precision in PRECISIONS:
            tols[route][precision] = _not_comparable(
                f"the reference's own literal route is off the exact step by {err:.3g} (> its "
                f"bound {tol.atol:.3g}): it is in a rounding-driven failure mode"
            )


def _spectral_outputs(
    h: np.ndarray, g: np.ndarray, lr: float, policy: str = "float64", *, cholesky: bool = True
) -> dict[str, np.ndarray]:
    """Reference outputs computed from a symmetric ``H`` with hsc_ref's own API (float64).

    ``policy`` is the precision whose cutoff the pseudo-inverses apply: ``"float32"`` gives
    the answer a correct float32 implementation must give, computed exactly. ``cholesky=False``
    gives ``step_cholesky`` the spectral step's value (the same step in exact arithmetic), for
    a matrix whose own Cholesky route fails.
    """
    rtol = cutoff_rtol(h.shape[0], policy)
    step = hsc_step(h, g, lr=lr, route="spectral")
    return {
        **_matrix_outputs(h, policy),
        "step": step,
        "step_cholesky": hsc_step(h, g, lr=lr, route="cholesky") if cholesky else step.copy(),
        "step_literal": hsc_step(h, g, lr=lr, route="literal", rtol=rtol),
    }


def _matrix_outputs(h: np.ndarray, policy: str) -> dict[str, np.ndarray]:
    """The outputs of ``H`` alone: eigenvalues, ``H^+``, ``Hc`` and the rank."""
    spectrum = decompose(h, rtol=cutoff_rtol(h.shape[0], policy))
    return {
        "eigenvalues": spectrum.eigenvalues,
        "pinv": spectrum.pinv(),
        "hc": correct(spectrum, "hsc").matrix,
        "rank": np.int64(spectrum.rank),
    }


MATRIX_OUTPUTS = ("eigenvalues", "pinv", "hc", "rank")
"""Outputs computed from ``H`` alone."""

STEP_OUTPUTS = ("step", "step_cholesky", "step_literal")
"""Outputs computed from ``H``, ``g`` and ``lr``: the HSC step by three routes."""


def matrix_reference(
    h: np.ndarray,
    g: np.ndarray | None,
    lr: float,
    *,
    policy: str = "float64",
    name: str = "H",
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Tolerance]]]:
    """Reference outputs and tolerances (per output and precision) of a symmetric float64 ``h``.

    The outputs and tolerances of a golden matrix case: ``e_H = n eps ||H||`` and ``e_g`` 0 at
    float64 (``g`` is read exactly), ``eps ||g||`` at float32. Without ``g`` the step outputs
    are left out. ``policy`` is the precision whose golden cutoff the reference applies.
    """
    steps = g is not None
    g = np.asarray(g, dtype=np.float64) if steps else np.zeros(h.shape[0])
    cholesky_failed = False
    if not steps:
        outputs = _matrix_outputs(h, policy)
    else:
        try:
            outputs = _spectral_outputs(h, g, lr, policy)
        except np.linalg.LinAlgError:  # rounding made I + H^2 indefinite: ||H|| ~ 1/sqrt(eps)
            outputs = _spectral_outputs(h, g, lr, policy, cholesky=False)
            cholesky_failed = True
    lam = outputs["eigenvalues"]
    n = lam.shape[0]
    g_norm = float(np.linalg.norm(g))
    e_h = {p: n * eps_of(p) * float(np.abs(lam).max()) for p in PRECISIONS}
    e_g = {"float64": 0.0, "float32": eps_of("float32") * g_norm}  # g is read exactly at 64
    tols = _spectral_tolerances(lam, e_h, e_g, lr, g_norm, policy=policy)
    if cholesky_failed:
        tols["step_cholesky"] = {
            p: _not_comparable(
                "hsc_ref's own Cholesky factorization of I + H^2 fails at this ||H|| "
                f"({float(np.abs(lam).max()):.3g}): no digit of a Cholesky route is expected"
            )
            for p in PRECISIONS
        }
    if not steps:
        return outputs, {k: v for k, v in tols.items() if k in MATRIX_OUTPUTS}
    _check_consistent(name, outputs, tols)
    return outputs, tols
