"""Golden cases: seeded inputs, reference outputs and the tolerance of every output.

The outputs and tolerances of everything computed from a symmetric matrix are derived in the
core's private ``hsc_ref._tolerances``, which :func:`hsc_ref.testing.reference_outputs` shares.

:mod:`hsc_ref.golden` re-exports the public names. Tolerances are first-order error
bounds times :data:`SAFETY` (see ``docs/validating.md``): with ``e_H`` the size of the
perturbation of ``H`` an implementation at precision ``eps`` is expected to make
(``n * eps * ||H||`` for a given matrix),

- eigenvalues: ``e_H`` (Weyl);
- ``H^+`` and ``Hc``: ``3 e_H ||H^+||^2`` (Wedin), comparable only when no eigenvalue lies
  within the eigenvalue tolerance ``SAFETY * e_H`` of the cutoff
  ``RTOL_FACTOR * n * eps * ||H||`` (or between the float64 and the float32 cutoffs, for
  float32);
- the HSC step: ``lr (||g|| (e_H + n eps) + e_g / 2)`` (``H -> H (I + H^2)^{-1}`` is
  1-Lipschitz, ``|phi| <= 1/2``);
- model outputs (loss, gradient, Hessian): an accumulation term ``(n + B) eps ||out||`` plus,
  for float32, the measured change of the reference when its inputs are rounded to float32.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import autograd.numpy as anp
import numpy as np
import scipy.stats

from hsc_ref._tolerances import (
    PRECISIONS,
    SAFETY,
    Tolerance,
    _check_consistent,
    _spectral_outputs,
    _spectral_tolerances,
    _tol,
    cutoff_rtol,
    eps_of,
    matrix_reference,
)
from hsc_ref.derivatives import value_grad_hessian
from hsc_ref.golden._stored_inputs import exact_matrix
from hsc_ref.layout import flatten
from hsc_ref.models import mlp
from hsc_ref.spectral import GOLDEN_RTOL_FACTOR

__all__ = [
    "Tolerance",
    "GoldenCase",
    "CASE_NAMES",
    "build_case",
    "build_cases",
]

RTOL_FACTOR = GOLDEN_RTOL_FACTOR
"""The golden cutoff is ``rtol = RTOL_FACTOR * n * eps(dtype)`` (``spectral.golden_rtol``)."""


CONVENTIONS = {
    "flat_layout": (
        "parameters are layers [(W, b), ...], W of shape (fan_in, fan_out), y = x @ W + b; the "
        "flat vector concatenates, layer by layer, W.ravel() (C order) then b. A PyTorch "
        "nn.Linear stores weight (out, in): W = weight.T"
    ),
    "hessian": "symmetrized (H + H^T)/2 over the flat layout; rows and columns in that order",
    "losses": "means over the batch (and over outputs for the squared error)",
    "cutoff_policy": (
        "scipy.linalg.pinvh's rule, keep |lam| > atol + rtol * max|lam|, with atol = 0 and "
        "rtol = 100 * n * eps(dtype of the implementation), n the order of the matrix (each "
        "GAN player's own), in every pseudo-inverse, rank and Hc, and in both pseudo-inverses "
        "of the literal step. It is 100 x SciPy's default n * eps, which sits at the rounding "
        "noise of zero eigenvalues, and also 100 x the default of hsc_ref's own correct() and "
        "hsc_step(): pass it explicitly. Library defaults differ: NumPy's pinv and "
        "torch.pinverse use rcond = 1e-15 whatever the dtype, SciPy and torch.linalg.pinv "
        "n * eps, JAX's pinv 10 * n * eps. Each case's meta.cutoff_policy gives n, rtol and "
        "the cutoff per precision, and the exact calls"
    ),
    "gram": (
        "G = F F^T, unnormalized, F = a layer's features as C x M (M = h w positions); style "
        "loss E_l = sum (G - A)^2 / (4 C^2 M^2) (Gatys et al.); other published conventions "
        "are exact multiples (PyTorch tutorial mse_loss(G/(CM), A/(CM)) = (4 / C^2) E_l), see "
        "hsc_ref.style.convention_factor"
    ),
    "hc": "Hc = H + pinv(H) under the cutoff policy",
    "step": (
        "HSC step s = -lr * pinv(Hc) g = -lr * Q diag(lam / (1 + lam^2)) Q^T g; 'step' is the "
        "spectral route, 'step_cholesky' solves (I + H^2) s = -lr H g (the same step in exact "
        "arithmetic), 'step_literal' is -lr * pinvh(H + pinvh(H)) @ g with the cutoff policy "
        "in both pseudo-inverses: it maps every eigenvalue at or below the cutoff to 0 where "
        "the other two routes give lam / (1 + lam^2), so it differs from them whenever a "
        "nonzero eigenvalue is dropped"
    ),
    "eigenvalues": "ascending",
    "rank": "number of eigenvalues above the cutoff, an integer",
    "results_file": (
        "one .npz (no object arrays) with keys '<case>/<output>', every floating array at the "
        "one precision the implementation computes in (the checker applies that precision's "
        "tolerances to the whole set; an array below it fails). An output you cannot compute "
        "(a float32 Cholesky that fails) is left out: reported 'not provided' where it is not "
        "comparable at your precision, 'missing' (a failure) elsewhere"
    ),
}


@dataclass(frozen=True, eq=False)
class GoldenCase:
    """One golden case: inputs, reference outputs, tolerances per output and precision.

    Attributes
    ----------
    name, kind, description : str
        Identifier (``[a-z0-9_]``), family (``"matrix"``, ``"mlp"``, ...), what it exercises.
    inputs, outputs : dict of str to ndarray
        Arrays the implementation reads, and the reference values it must reproduce.
    tolerances : dict of str to dict of str to Tolerance
        ``tolerances[output][precision]``.
    meta : dict
        JSON-ready facts an implementation needs (layer sizes, activation, cutoffs, ...).
    """

    name: str
    kind: str
    description: str
    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    tolerances: dict[str, dict[str, Tolerance]]
    meta: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- tolerances


def cutoff_keywords(rtol: float) -> dict[str, str]:
    """The calls that apply the golden cutoff ``atol = 0``, ``rtol`` in each library.

    Examples
    --------
    >>> cutoff_keywords(1e-13)["scipy"]
    'scipy.linalg.pinvh(H, atol=0.0, rtol=1e-13)'
    """
    r = repr(float(rtol))
    return {
        "hsc_ref": (
            f"hsc_ref.corrections.correct(H, 'hsc', atol=0.0, rtol={r}); "
            f"hsc_ref.steps.hsc_step(H, g, lr=lr, route='literal', atol=0.0, rtol={r})"
        ),
        "scipy": f"scipy.linalg.pinvh(H, atol=0.0, rtol={r})",
        "numpy": f"numpy.linalg.pinv(H, rtol={r}, hermitian=True)",
        "torch": f"torch.linalg.pinv(H, atol=0.0, rtol={r}, hermitian=True)",
        "jax": f"jax.numpy.linalg.pinv(H, rtol={r}, hermitian=True)",
    }


# --------------------------------------------------------------------------- matrix cases


def _seeded_rng(seed: int, name: str) -> np.random.Generator:
    """Generator for one case: the global seed and a stable hash of the case name."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _matrix_from_spectrum(lam: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    q = scipy.stats.ortho_group.rvs(lam.shape[0], random_state=rng)
    h = (q * lam) @ q.T
    return 0.5 * (h + h.T)


_MATRIX_NAMES = {"": "H", "_g": "H_G (generator)", "_d": "H_D (discriminator)"}


def _spectral_meta(lam: np.ndarray, policy: str) -> dict[str, Any]:
    """The golden cutoff policy of one matrix: what to pass, and what it gives here."""
    n = lam.shape[0]
    scale = float(np.abs(lam).max())
    return {
        "n": n,
        "atol": 0.0,
        "rtol_float64": cutoff_rtol(n, "float64"),
        "rtol_float32": cutoff_rtol(n, "float32"),
        "cutoff_float64": cutoff_rtol(n, "float64") * scale,
        "cutoff_float32": cutoff_rtol(n, "float32") * scale,
        "norm_H": scale,
        "reference_policy": policy,
        "calls_float64": cutoff_keywords(cutoff_rtol(n, "float64")),
        "calls_float32": cutoff_keywords(cutoff_rtol(n, "float32")),
    }


def _matrix_case(
    name: str, seed: int, lam_fn: Callable, lr: float, description: str, *, policy: str
) -> GoldenCase:
    rng = _seeded_rng(seed, name)
    lam_true = np.asarray(lam_fn(rng), dtype=np.float64)
    # the construction always runs (it draws from rng); seed 0's H is stored exactly
    h = exact_matrix(name, seed, _matrix_from_spectrum(lam_true, rng))
    g = rng.standard_normal(lam_true.shape[0])
    meta = {"constructed_eigenvalues": lam_true.tolist()}
    return matrix_case(name, h, g, lr=lr, description=description, meta=meta, policy=policy)


def matrix_case(
    name: str,
    h: np.ndarray,
    g: np.ndarray,
    *,
    lr: float = 1.0,
    description: str = "",
    meta: dict[str, Any] | None = None,
    policy: str = "float64",
) -> GoldenCase:
    """A matrix case from a symmetric ``h`` and a gradient ``g``: outputs and tolerances.

    The reference applies the golden cutoff of ``policy`` (``"float32"``: the answer of a
    correct float32 implementation, whose cutoff-dependent outputs a float64 one cannot match).
    """
    outputs, tols = matrix_reference(h, g, lr, policy=policy, name=name)
    lam = outputs["eigenvalues"]
    meta = {"cutoff_policy": {"H": _spectral_meta(lam, policy)}, "lr": lr, **(meta or {})}
    inputs = {"H": h, "g": g, "lr": np.float64(lr)}
    return GoldenCase(name, "matrix", description, inputs, outputs, tols, meta)


def _spd(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0.5, 4.0, 10)


def _exact_zeros(rng: np.random.Generator) -> np.ndarray:
    return np.concatenate([np.zeros(3), rng.uniform(0.3, 3.0, 6), -rng.uniform(0.3, 3.0, 3)])


def _clustered_negative(rng: np.random.Generator) -> np.ndarray:
    return np.concatenate(
        [np.full(4, -2.0), np.full(3, 1e-3), -rng.uniform(1, 5, 3), 0.5 + 1e-12 * np.arange(2)]
    )


def _large_norm(rng: np.random.Generator) -> np.ndarray:
    return np.concatenate([[1e6, -3e5], np.zeros(2), rng.uniform(0.5, 2.0, 6)])


def _near_cutoff(rng: np.random.Generator) -> np.ndarray:
    # n = 12, ||H|| = 4: an eigenvalue at 1.05 x the float64 cutoff, 5 n eps ||H|| above it,
    # inside the ambiguity band (the eigenvalue tolerance 10 n eps ||H||)
    near = 1.05 * cutoff_rtol(12, "float64") * 4.0
    return np.concatenate([[4.0, -3.0], rng.uniform(0.5, 2.0, 8), [near, 0.0]])


def _between_cutoffs(rng: np.random.Generator) -> np.ndarray:
    # 1e-9 ||H||: kept by the float64 cutoff (~2e-15 ||H||), dropped by float32's (~1e-6 ||H||).
    return np.concatenate([[2.0, -1.5], rng.uniform(0.5, 1.5, 7), [1e-9 * 2.0], [0.0]])


def _cutoff_band(precision: str) -> Callable[[np.random.Generator], np.ndarray]:
    """n = 12, ||H|| = 4: eigenvalues at 0.5 and -2 times the cutoff of ``precision``.

    Both lie well outside the ambiguity band (the cutoff +- the eigenvalue tolerance, 0.1 x
    the cutoff), so the kept set is unambiguous, and any cutoff off by a factor 2 or more
    (x3, /3, x10, /10, library defaults n eps, 10 n eps, rcond = 1e-15) changes it.
    """

    def spectrum(rng: np.random.Generator) -> np.ndarray:
        c = cutoff_rtol(12, precision) * 4.0
        return np.concatenate([[4.0, -3.0], rng.uniform(0.5, 2.0, 7), [0.5 * c, -2.0 * c, 0.0]])

    return spectrum


_MATRIX_CASES: dict[str, tuple[Callable, float, str, str]] = {
    "matrix_spd": (
        _spd,
        0.5,
        "well-conditioned SPD matrix, eigenvalues in [0.5, 4]; lr = 0.5",
        "float64",
    ),
    "matrix_exact_zeros": (
        _exact_zeros,
        0.5,
        "three exact zero eigenvalues, positive and negative ones in 0.3..3; lr = 0.5",
        "float64",
    ),
    "matrix_clustered_negative": (
        _clustered_negative,
        0.25,
        "clusters at -2 (x4), 1e-3 (x3) and 0.5 (split by 1e-12), negative eigenvalues; lr = 0.25",
        "float64",
    ),
    "matrix_large_norm": (
        _large_norm,
        2.0,
        "||H|| = 1e6 with eigenvalues -3e5, two exact zeros and six of order 1; lr = 2",
        "float64",
    ),
    "matrix_near_cutoff": (
        _near_cutoff,
        0.5,
        "an eigenvalue at 1.05 x the float64 cutoff 100 n eps ||H||, inside the eigenvalue "
        "tolerance of it, plus an exact zero: H^+, Hc, rank and the literal step are not "
        "comparable (rounding decides them); the spectral and Cholesky steps are",
        "float64",
    ),
    "matrix_between_cutoffs": (
        _between_cutoffs,
        0.75,
        "an eigenvalue 1e-9 ||H|| (kept by the float64 cutoff, dropped by the float32 one) "
        "and an exact zero; lr = 0.75",
        "float64",
    ),
    "matrix_cutoff_band": (
        _cutoff_band("float64"),
        0.5,
        "eigenvalues at 0.5 and -2 times the float64 cutoff 100 n eps ||H|| (n = 12) and an "
        "exact zero: a cutoff off by a factor 2 or more changes H^+, Hc and the rank; lr = 0.5",
        "float64",
    ),
    "matrix_cutoff_band_float32": (
        _cutoff_band("float32"),
        0.5,
        "eigenvalues at 0.5 and -2 times the float32 cutoff 100 n eps32 ||H|| (n = 12) and an "
        "exact zero; the reference applies the float32 cutoff, so H^+, Hc and the rank are "
        "comparable at float32 only (a float64 implementation keeps both); lr = 0.5",
        "float32",
    ),
}


TIGHT_CUTOFF_RATIO = 1.2
"""The ``matrix_cutoff_tight*`` cases put eigenvalues at ``1 / 1.2`` and ``1.2`` x the cutoff.

A cutoff ``k`` x the golden one keeps the same set only for ``1 / 1.2 <= k <= 1.2`` (up to the
eigenvalues' rounding): one off by more than a factor 1.2, in either direction, changes
``H^+``, ``Hc`` and the rank.
"""

TIGHT_PINV_MARGIN = 1.5
"""Least factor by which keeping or dropping either eigenvalue next to the cutoff of a
``matrix_cutoff_tight*`` case moves an entry of ``H^+`` beyond the ``H^+`` tolerance."""


def _cutoff_tight_spectrum(precision: str, rng: np.random.Generator) -> np.ndarray:
    """n = 12, ||H|| = 4: eigenvalues at 1/1.2 and -1.2 times the cutoff ``c`` of ``precision``.

    Placement, in units of ``c = 100 n eps ||H||``: the eigenvalue tolerance is ``10 n eps
    ||H|| = 0.1 c``, so rounding decides the kept set in ``[0.9, 1.1] c`` (``_ambiguous``), and
    an eigenvalue computed by a backward-stable ``eigh`` lies within ``n eps ||H|| = 0.01 c``
    of the constructed one. ``c / 1.2 = 0.833 c`` lies 0.067 c below that band and 0.064 c
    above ``c / 1.3 = 0.769 c``; ``1.2 c`` lies 0.1 c above the band and 0.1 c below ``1.3 c``:
    a cutoff 1.3 x smaller keeps the first, one 1.3 x larger drops the second, each with at
    least 6 x the eigenvalue's rounding to spare. Two more at ``-0.4 c`` and ``5 c`` bound the
    range of cutoffs a kept count implies (``[0.4, 1/1.2)`` or ``[1.2, 5)`` x ``c``), so that a
    diagnosis of a cutoff off by 1.3 or 2 does not offer library defaults, an absolute cutoff
    (``c / ||H|| = 0.25 c``) or the other precision's eps. The bulk ``4, -3, 3`` and four in
    ``[1, 2]`` gives ``||H||_F / max|lam|`` in ``[1.54, 1.77]``, ``trace H / max|lam|`` in
    ``[2, 3]`` and ``sum |lam| / max|lam|`` in ``[3.5, 4.5]``: a cutoff scaled by any of them
    instead of ``max|lam|`` lies between 1.54 c and 4.5 c, drops the eigenvalue at 1.2 c and
    keeps the one at 5 c.
    """
    c = cutoff_rtol(12, precision) * 4.0
    r = TIGHT_CUTOFF_RATIO
    near = [-0.4 * c, c / r, -r * c, 5 * c, 0.0]
    return np.concatenate([[4.0, -3.0, 3.0], rng.uniform(1.0, 2.0, 4), near])


def _concentrated_basis(
    lam: np.ndarray, columns: Sequence[int], precision: str, rng: np.random.Generator
) -> np.ndarray:
    """A Haar-random orthogonal ``Q``, drawn again until each of ``columns`` is concentrated.

    Keeping or dropping the eigenvalue ``lam[j]`` changes ``H^+`` by ``q_j q_j^T / lam[j]``,
    whose largest entry is ``max_i q_ij^2 / |lam[j]|``; the ``H^+`` tolerance is ``SAFETY * 3
    e_H ||H^+||^2`` (Wedin), a 2-norm bound that an entry of a spread eigenvector (``max_i
    q_ij^2`` near ``1 / n``) does not reach. Each column ``j`` must have ``max_i q_ij^2 >=
    TIGHT_PINV_MARGIN * tolerance * |lam[j]|`` (0.375 for the eigenvalue at 1.2 c, 0.26 for
    the one at c / 1.2): about one draw in four has both.
    """
    n = lam.shape[0]
    scale = float(np.abs(lam).max())
    kept = np.abs(lam) > cutoff_rtol(n, precision) * scale
    p_norm = 1.0 / float(np.abs(lam[kept]).min())
    tolerance = SAFETY * 3 * n * eps_of(precision) * scale * p_norm**2
    need = TIGHT_PINV_MARGIN * tolerance * np.abs(lam[list(columns)])
    for _ in range(1000):
        q = scipy.stats.ortho_group.rvs(n, random_state=rng)
        if np.all((q[:, list(columns)] ** 2).max(axis=0) >= need):
            return q
    raise RuntimeError("no concentrated basis in 1000 draws")  # p = 0.76^1000 < 1e-100


def _cutoff_tight_case(
    name: str, seed: int, lr: float, description: str, *, policy: str
) -> GoldenCase:
    """``H = Q diag(lam) Q^T`` from :func:`_cutoff_tight_spectrum` and a concentrated ``Q``."""
    rng = _seeded_rng(seed, name)
    lam = _cutoff_tight_spectrum(policy, rng)
    c = cutoff_rtol(lam.shape[0], policy) * float(np.abs(lam).max())
    next_to_cutoff = np.flatnonzero((np.abs(lam) > 0.5 * c) & (np.abs(lam) < 2 * c))
    q = _concentrated_basis(lam, next_to_cutoff.tolist(), policy, rng)
    h = (q * lam) @ q.T
    # the construction always runs (it draws from rng); seed 0's H is stored exactly
    h = exact_matrix(name, seed, 0.5 * (h + h.T))
    g = rng.standard_normal(lam.shape[0])
    meta = {"constructed_eigenvalues": lam.tolist()}
    return matrix_case(name, h, g, lr=lr, description=description, meta=meta, policy=policy)


_TIGHT_CUTOFF_CASES: dict[str, tuple[float, str, str]] = {
    "matrix_cutoff_tight": (
        0.5,
        "eigenvalues at -0.4, 1/1.2, -1.2 and 5 times the float64 cutoff 100 n eps ||H|| "
        "(n = 12) and an exact zero, ||H||_F >= 1.54 ||H||: a cutoff off by more than a factor "
        "1.2, or scaled by ||H||_F or the trace instead of max|lam|, changes H^+, Hc and the "
        "rank; lr = 0.5",
        "float64",
    ),
    "matrix_cutoff_tight_float32": (
        0.5,
        "eigenvalues at -0.4, 1/1.2, -1.2 and 5 times the float32 cutoff 100 n eps32 ||H|| "
        "(n = 12) and an exact zero; the reference applies the float32 cutoff, so H^+, Hc and "
        "the rank are comparable at float32 only; lr = 0.5",
        "float32",
    ),
}
"""Matrix cases written after every other case (a set without them still names the others
in the same order)."""


# --------------------------------------------------------------------------- model cases


def _input_rounding_change(
    evaluate: Callable[..., dict[str, np.ndarray]], inputs: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """Max change of each output when the inputs are rounded to float32 (computed in float64)."""
    exact = evaluate(**inputs)
    rounded = {k: np.asarray(v, np.float32).astype(np.float64) for k, v in inputs.items()}
    again = evaluate(**rounded)
    return {k: float(np.abs(np.asarray(again[k]) - np.asarray(exact[k])).max()) for k in exact}


def _accumulation_tol(out: str, norm: float, m: int, rounding: float, precision: str) -> Tolerance:
    """``(n + B) eps ||out||`` plus, for float32, the change under float32 input rounding."""
    eps = eps_of(precision)
    in_round = rounding if precision == "float32" else 0.0
    return _tol(
        SAFETY * (m * eps * norm + in_round),
        f"accumulation (n + B) eps ||{out}|| = {m} * {eps:.3g} * {norm:.3g}"
        + (f" + change under float32 input rounding {in_round:.3g}" if in_round else "")
        + f"; x{SAFETY:g}",
    )


def _model_tolerances(
    outputs: Mapping[str, np.ndarray],
    rounding: Mapping[str, float],
    m: int,
    lr: float,
    suffix: str = "",
    *,
    policy: str = "float64",
) -> dict[str, dict[str, Tolerance]]:
    """Tolerances of loss, gradient, Hessian and everything computed from the Hessian.

    ``suffix`` selects one player's outputs (``"_g"``, ``"_d"``) in a game.
    """
    tols: dict[str, dict[str, Tolerance]] = {}
    lam = outputs[f"eigenvalues{suffix}"]
    n = lam.shape[0]
    g_norm = float(np.linalg.norm(outputs[f"grad{suffix}"]))
    h_norm = float(np.linalg.norm(outputs[f"hessian{suffix}"]))
    e_h, e_g = {}, {}
    for precision in PRECISIONS:
        eps = eps_of(precision)
        for base in ("loss", "grad", "hessian"):
            out = f"{base}{suffix}"
            norm = float(np.linalg.norm(outputs[out]))
            tols.setdefault(out, {})[precision] = _accumulation_tol(
                out, norm, m, rounding[out], precision
            )
        f32 = precision == "float32"
        in_round = rounding[f"hessian{suffix}"] if f32 else 0.0
        e_h[precision] = m * eps * h_norm + in_round + n * eps * float(np.abs(lam).max())
        e_g[precision] = m * eps * g_norm + (rounding[f"grad{suffix}"] if f32 else 0.0)
    for out, tol in _spectral_tolerances(lam, e_h, e_g, lr, g_norm, policy=policy).items():
        tols[f"{out}{suffix}"] = tol
    return tols


def _model_case(
    name: str,
    *,
    kind: str,
    description: str,
    inputs: dict[str, np.ndarray],
    evaluate: Callable[..., dict[str, np.ndarray]],
    players: Mapping[str, int],
    meta: dict[str, Any],
    policy: str = "float64",
) -> GoldenCase:
    """Evaluate a model case, derive every tolerance and check the step routes.

    ``players`` maps an output suffix (``""`` for one model) to the accumulation length
    ``m = n + B`` of that player's sums. Outputs that belong to no player's spectral family
    get the accumulation tolerance with the largest ``m``.
    """
    outputs = evaluate(**inputs)
    rounding = _input_rounding_change(evaluate, inputs)
    lr = float(inputs["lr"])
    tols: dict[str, dict[str, Tolerance]] = {}
    for suffix, m in players.items():
        tols |= _model_tolerances(outputs, rounding, m, lr, suffix, policy=policy)
    m_max = max(players.values())
    for out, value in outputs.items():
        if out not in tols:
            norm = float(np.linalg.norm(value))
            tols[out] = {
                p: _accumulation_tol(out, norm, m_max, rounding[out], p) for p in PRECISIONS
            }
    for suffix in players:
        _check_consistent(name, outputs, tols, suffix)
    policies = {
        _MATRIX_NAMES[suffix]: _spectral_meta(outputs[f"eigenvalues{suffix}"], policy)
        for suffix in players
    }
    meta = {"cutoff_policy": policies, "lr": lr, **meta}
    return GoldenCase(name, kind, description, inputs, outputs, tols, meta)


def _mlp_problem(
    sizes: Sequence[int], activation: str, batch: int, dead_unit: bool, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], Callable]:
    """Seeded inputs of a squared-error MLP loss and a function evaluating every output."""
    model = mlp(sizes, activation=activation)
    params = model.init(rng)
    params = [(W, rng.uniform(-0.1, 0.1, b.shape)) for W, b in params]
    if dead_unit:  # a hidden unit never active: exact zeros in the Hessian, a null space
        W1, b1 = params[0]
        params[0] = (W1, np.concatenate([[-100.0], b1[1:]]))
    theta, unflatten = flatten(params)
    x = rng.uniform(-1.0, 1.0, (batch, sizes[0]))
    y = np.sin(np.pi * x[:, :1]) * np.cos(x[:, -1:]) * np.ones((1, sizes[-1]))

    def evaluate(theta, x, y, lr):
        def loss(flat):
            residual = model.apply(unflatten(flat), x) - y
            return anp.mean(residual**2, axis=(-2, -1))

        vgh = value_grad_hessian(loss, theta, batched=True)
        out = {"loss": np.float64(vgh.value), "grad": vgh.grad, "hessian": vgh.hessian}
        return {**out, **_spectral_outputs(vgh.hessian, vgh.grad, float(lr))}

    inputs = {"theta": theta, "x": x, "y": y, "lr": np.float64(0.5)}
    return inputs, evaluate


def _mlp_case(
    name: str,
    seed: int,
    sizes: Sequence[int],
    activation: str,
    *,
    dead_unit: bool,
    description: str,
) -> GoldenCase:
    batch = 16
    inputs, evaluate = _mlp_problem(sizes, activation, batch, dead_unit, _seeded_rng(seed, name))
    n = inputs["theta"].shape[0]
    meta = {
        "layers": [[int(a), int(b)] for a, b in itertools.pairwise(sizes)],
        "activation": activation,
        "output_activation": "identity",
        "batch": batch,
        "loss": "mean over batch and outputs of (mlp(theta, x) - y)^2",
        "flat_outputs": ["grad", "hessian", "step", "step_cholesky", "step_literal"],
    }
    return _model_case(
        name,
        kind="mlp",
        description=description,
        inputs=inputs,
        evaluate=evaluate,
        players={"": n + batch},
        meta=meta,
    )


_MLP_CASES: dict[str, tuple[tuple[int, ...], str, bool, str]] = {
    "mlp_tanh": ((3, 4, 2), "tanh", False, "3-4-2 tanh MLP, squared error, batch 16"),
    "mlp_relu_dead_unit": (
        (2, 5, 1),
        "relu",
        True,
        "2-5-1 ReLU MLP with a dead hidden unit (bias -100): an exact null space",
    ),
}

# --------------------------------------------------------------------------- GAN cases


def _game_outputs(
    fg: Any, theta: Any, phi: Any, x_real: Any, z: Any, *, lr: float, policy: str
) -> dict:
    """Both players' losses, gradients, Hessians, spectral outputs, and the game Jacobian."""
    from hsc_ref import gan  # noqa: PLC0415  (keep importing hsc_ref.golden light)

    losses = gan.player_losses(fg, x_real, z)
    out: dict[str, np.ndarray] = {}
    players = (
        ("_g", lambda t: losses.generator(t, phi), theta),
        ("_d", lambda p: losses.discriminator(theta, p), phi),
    )
    for suffix, fun, point in players:
        vgh = value_grad_hessian(fun, point, batched=True)
        base = {"loss": np.float64(vgh.value), "grad": vgh.grad, "hessian": vgh.hessian}
        base |= _spectral_outputs(vgh.hessian, vgh.grad, lr, policy)
        out |= {f"{k}{suffix}": v for k, v in base.items()}
    out["jacobian"] = gan.game_matrices(fg, theta, phi, x_real, z).jacobian
    return out


_SATURATION_SCALE = 100.0  # discriminator output layer x100: logits of tens
_SATURATION_SHIFT = 50.0  # fake logits from about 21 to 81, real ones from -9 to 108


def _saturate(phi: np.ndarray, n_hidden: int) -> np.ndarray:
    """A confident discriminator: its output layer scaled and shifted (logits |t| >> 1).

    Fake samples get logits between about 21 (where PyTorch's ``F.softplus`` threshold 20
    is off by ``e^-t``) and 81 (where ``1 - sigmoid(t)`` rounds to 0, so BCE through sigmoid
    probabilities takes ``log(0)``); every softplus must be ``logaddexp(0, t)``.
    """
    phi = phi.copy()
    out = slice(phi.shape[0] - n_hidden - 1, phi.shape[0])
    phi[out] *= _SATURATION_SCALE
    phi[-1] += _SATURATION_SHIFT
    return phi


def _tune_discriminator_eigenvalue(
    hessian_d: Callable[[np.ndarray], np.ndarray], phi: np.ndarray, index: int, target: float
) -> np.ndarray:
    """Set one discriminator bias so that ``min |lam(H_D)| / max |lam(H_D)| = target``.

    A large bias ``beta`` saturates its tanh unit; the unit's parameters then span
    eigenvalues of size ``e^(-2 beta)``: four Newton steps on ``log`` of the smallest one
    (slope -2) place it, deterministically.
    """
    phi = phi.copy()
    phi[index] = 0.5 * np.log(1.0 / target) / 2.0  # a first guess on the e^(-2 beta) line
    for _ in range(6):
        lam = np.abs(np.linalg.eigvalsh(hessian_d(phi)))
        phi[index] += 0.5 * np.log(lam.min() / lam.max() / target)
    return phi


_TUNED_INDEX = 8
"""The discriminator parameter ``gan_player_cutoffs`` tunes: its first hidden unit's bias."""

_TUNED_BIAS = {
    "float64": float.fromhex("0x1.ac88944fb48a0p+3"),  # 13.391672282861975
    "float32": float.fromhex("0x1.abd0747aea6d1p+1"),  # 3.3422990417646834
}
"""``phi[_TUNED_INDEX]`` of ``gan_player_cutoffs`` (and ``_float32``) for seed 0, stored exactly.

Derived once by ``_tune_discriminator_eigenvalue`` (OpenBLAS 0.3.31, SkylakeX kernel). The tuning
sits on ``log`` of an eigenvalue of order ``1e-12 ||H_D||``, so rounding moves its result:
another BLAS kernel lands up to 2.6e-5 away (float64 policy). Stored, the input is the same on
every machine; other seeds are tuned where they are built. ``tests/golden/test_travel.py``
re-tunes and checks the stored values still put the eigenvalue at 1.6 x the cutoff.
"""


def _gan_setup(seed: int, setup: str, policy: str) -> tuple[Any, dict, dict]:
    """A GAN on ring data: seeded players and batch, then the setup's change of ``phi``."""
    from hsc_ref import gan  # noqa: PLC0415
    from hsc_ref.gan import data as gan_data  # noqa: PLC0415

    rng = _seeded_rng(seed, "gan_ring_players")  # every setup starts from the same players
    game = gan.mlp_game("ring", hidden=(4,), noise_dim=2, activation="tanh", loss="bce")
    fg = gan.init_game(game, rng)
    batch = 16
    x_real = gan_data.sample(game.data, batch, rng)
    z = rng.standard_normal((batch, game.noise_dim))
    theta, phi = fg.theta, fg.phi
    extra: dict[str, Any] = {}
    if setup == "saturated":
        phi = _saturate(phi, 4)
    elif setup == "player_cutoffs":
        losses = gan.player_losses(fg, x_real, z)

        def hessian_d(p: np.ndarray) -> np.ndarray:
            return value_grad_hessian(lambda q: losses.discriminator(theta, q), p).hessian

        n_d = phi.shape[0]
        target = 1.6 * cutoff_rtol(n_d, policy)
        if seed == 0 and policy in _TUNED_BIAS:  # stored exactly: the same input everywhere
            phi = phi.copy()
            phi[_TUNED_INDEX] = _TUNED_BIAS[policy]
        else:
            phi = _tune_discriminator_eigenvalue(hessian_d, phi, _TUNED_INDEX, target)
        extra["tuned"] = (
            f"the discriminator's first hidden bias (phi[8] = {phi[8]:.6g}) saturates its unit "
            f"so that H_D's smallest eigenvalue is 1.6 x its own {policy} cutoff "
            f"{RTOL_FACTOR:g} * {n_d} * eps, below the cutoff computed from the whole game's "
            f"n = {theta.shape[0] + n_d}"
        )
    inputs = {"theta": theta, "phi": phi, "x_real": x_real, "z": z, "lr": np.float64(0.5)}
    meta = {
        "batch": batch,
        "data": "ring: 8 Gaussians at radius 2, std 0.02 (x_real is given)",
        "layers_g": [[game.noise_dim, 4], [4, 2]],
        "layers_d": [[2, 4], [4, 1]],
        "activation": "tanh",
        "output_activation": "identity (generator samples, discriminator logits)",
        **extra,
    }
    return fg, inputs, meta


def _dirac_setup(name: str, seed: int, point: tuple[float, float]) -> tuple[Any, dict, dict]:
    from hsc_ref import gan  # noqa: PLC0415

    game = gan.dirac_game("bce")
    fg = gan.init_game(game, _seeded_rng(seed, name))
    batch = 4
    inputs = {
        "theta": np.array([point[0]]),
        "phi": np.array([point[1]]),
        "x_real": np.zeros((batch, 1)),
        "z": np.zeros((batch, 1)),
        "lr": np.float64(0.5),
    }
    meta = {"batch": batch, "model": "DiracGAN: G(theta, z) = theta, D(psi, x) = psi x, data at 0"}
    return fg, inputs, meta


def _logit_range(fg: Any, inputs: Mapping[str, np.ndarray]) -> float:
    """The largest ``|t|`` among the discriminator's real and fake logits."""
    game = fg.game
    fake = game.generator.apply(fg.unflatten_g(inputs["theta"]), inputs["z"])
    d_params = fg.unflatten_d(inputs["phi"])
    logits = [game.discriminator.apply(d_params, x) for x in (inputs["x_real"], fake)]
    return float(max(np.abs(t).max() for t in logits))


def _gan_case(
    name: str, seed: int, *, setup: str, point: Any, policy: str, description: str
) -> GoldenCase:
    """GAN players on ring data (``setup``) or DiracGAN at ``point``."""
    if setup == "dirac":
        fg, inputs, meta = _dirac_setup(name, seed, point)
    else:
        fg, inputs, meta = _gan_setup(seed, setup, policy)

    def evaluate(theta, phi, x_real, z, lr):
        return _game_outputs(fg, theta, phi, x_real, z, lr=float(lr), policy=policy)

    n_g, n_d, batch = inputs["theta"].shape[0], inputs["phi"].shape[0], meta["batch"]
    spectral = ["grad", "hessian", "step", "step_cholesky", "step_literal"]
    meta |= {
        "losses": (
            "logits r = D(x_real), f = D(G(z)); L_D = mean softplus(-r) + mean softplus(f); "
            "L_G = mean softplus(-f) (non-saturating BCE); softplus(t) = log(1 + e^t) = "
            "logaddexp(0, t) (never log(1 + exp(t)) or log(sigmoid), which overflow or round)"
        ),
        "max_abs_logit": _logit_range(fg, inputs),
        "jacobian": (
            "Jacobian of (grad_theta L_G, grad_phi L_D) over (theta, phi): "
            "[[H_G, d2 L_G/dtheta dphi], [d2 L_D/dphi dtheta, H_D]], not symmetric"
        ),
        "flat_outputs": [f"{k}{s}" for s in ("_g", "_d") for k in spectral],
    }
    return _model_case(
        name,
        kind="dirac" if setup == "dirac" else "gan",
        description=description,
        inputs=inputs,
        evaluate=evaluate,
        players={"_g": n_g + batch, "_d": n_d + batch},
        meta=meta,
        policy=policy,
    )


_GAN_CASES: dict[str, tuple[str, Any, str, str]] = {
    "gan_ring_players": (
        "ring",
        None,
        "float64",
        "GAN players on ring data: 2-4-2 tanh generator, 2-4-1 tanh discriminator, BCE, "
        "batch 16, lr = 0.5; per-player Hessians and the game Jacobian",
    ),
    "gan_saturated": (
        "saturated",
        None,
        "float64",
        "the ring GAN with a confident discriminator (output layer x100, shifted by 50): fake "
        "logits from 21 to 81, real ones from -9 to 108; naive softplus, sigmoid-probability "
        "BCE and PyTorch's F.softplus threshold all show",
    ),
    "gan_player_cutoffs": (
        "player_cutoffs",
        None,
        "float64",
        "the ring GAN with one discriminator unit saturated so that H_D's smallest eigenvalue "
        "is 1.6 x the player's own float64 cutoff (n = 17), below the whole game's (n = 39)",
    ),
    "gan_player_cutoffs_float32": (
        "player_cutoffs",
        None,
        "float32",
        "as gan_player_cutoffs for the float32 cutoff: the reference applies it, so the "
        "discriminator's H^+, Hc and rank are comparable at float32 only",
    ),
    "dirac_equilibrium": (
        "dirac",
        (0.0, 0.0),
        "float64",
        "DiracGAN at its equilibrium (0, 0): both per-player Hessians vanish, so Hc = 0",
    ),
    "dirac_near_equilibrium": (
        "dirac",
        (0.01, 0.02),
        "float64",
        "DiracGAN at (0.01, 0.02): per-player Hessians of order 1e-4, Hc of order 1e4, "
        "the step of order 1e-6",
    ),
    "dirac_saturated": (
        "dirac",
        (20.0, 40.0),
        "float64",
        "DiracGAN at (20, 40): the fake logit is 800, where log(1 + exp(t)) overflows and "
        "1 - sigmoid(t) is 0; the Hessians underflow to exact zeros",
    ),
}


# --------------------------------------------------------------------------- style cases


def _style_case(name: str, seed: int, *, description: str) -> GoldenCase:
    """Gatys style loss of a small image through a seeded two-layer feature extractor."""
    from hsc_ref import style  # noqa: PLC0415  (keep importing hsc_ref.golden light)

    rng = _seeded_rng(seed, name)
    shape = (4, 4, 3)
    fx = style.feature_extractor((4, 6), in_channels=3, seed=int(rng.integers(2**31)))
    image = rng.uniform(0.2, 0.8, shape)
    style_image = rng.uniform(0.0, 1.0, shape)
    n_layers = len(fx.layers)

    def evaluate(image, style_image, lr, **weights):
        layers = tuple((weights[f"W{i}"], weights[f"b{i}"]) for i in range(n_layers))
        extractor = style.FeatureExtractor(layers, fx.in_channels, fx.seed)
        targets = [style.gram(f) for f in extractor.apply(style_image)]

        def loss(flat):
            features = extractor.apply(anp.reshape(flat, (*flat.shape[:-1], *shape)))
            return style.style_loss(features, targets)

        vgh = value_grad_hessian(loss, image.ravel(), batched=True)
        features = extractor.apply(image)
        out = {"loss": np.float64(vgh.value), "grad": vgh.grad, "hessian": vgh.hessian}
        for i, (f, a) in enumerate(zip(features, targets, strict=True)):
            out[f"gram_{i}"] = style.gram(f)
            out[f"style_gram_{i}"] = a
            out[f"layer_loss_{i}"] = np.float64(style.loss.layer_style_loss(f, a))
        return out | _spectral_outputs(vgh.hessian, vgh.grad, float(lr))

    inputs = {"image": image, "style_image": style_image, "lr": np.float64(0.5)}
    for i, (W, b) in enumerate(fx.layers):
        inputs |= {f"W{i}": W, f"b{i}": b}
    n = image.size
    meta = {
        "image_shape": list(shape),
        "channels": list(fx.channels),
        "flat_image": "the (H, W, C) image raveled in C order; grad, Hessian and steps use it",
        "extractor": (
            "h = 2 x - 1; for each layer l: (if l > 0) 2x2 average pooling, then "
            "h = tanh(patches(h) @ W_l + b_l), where patches(h)[i, j, (a, b, c)] = "
            "h[(i + a - 1) % h_l, (j + b - 1) % w_l, c] (periodic 3x3 neighbourhoods, ordered "
            "row offset, column offset, channel); W_l is (9 C_in, C_out)"
        ),
        "gram": "G = F F^T, unnormalized, F = the layer's features as C x M (M = h w)",
        "style_loss": (
            "loss = sum_l (1 / L) E_l with E_l = sum (G_l - A_l)^2 / (4 C_l^2 M_l^2) (Gatys "
            "et al.); A_l = Gram matrix of the style image (style_gram_l); layer_loss_l = E_l"
        ),
    }
    return _model_case(
        name,
        kind="style",
        description=description,
        inputs=inputs,
        evaluate=evaluate,
        players={"": n + shape[0] * shape[1]},
        meta=meta,
    )


_STYLE_CASES: dict[str, str] = {
    "style_pixels": (
        "Gatys style loss of a 4x4x3 image through a seeded 3-4-6 channel tanh feature "
        "extractor: Gram matrices, per-layer losses, the exact 48x48 pixel Hessian"
    ),
}


CASE_NAMES: tuple[str, ...] = (
    *_MATRIX_CASES,
    *_MLP_CASES,
    *_GAN_CASES,
    *_STYLE_CASES,
    *_TIGHT_CUTOFF_CASES,
)
"""Names of the golden cases, in writing order."""


def build_case(name: str, seed: int = 0) -> GoldenCase:
    """Build one golden case from its name and the global seed.

    Examples
    --------
    >>> case = build_case("matrix_spd")
    >>> case.inputs["H"].shape, case.tolerances["step"]["float32"].comparable
    ((10, 10), True)
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if name in _MATRIX_CASES:
        lam_fn, lr, description, policy = _MATRIX_CASES[name]
        return _matrix_case(name, int(seed), lam_fn, lr, description, policy=policy)
    if name in _MLP_CASES:
        sizes, activation, dead, description = _MLP_CASES[name]
        return _mlp_case(
            name, int(seed), sizes, activation, dead_unit=dead, description=description
        )
    if name in _GAN_CASES:
        setup, point, policy, description = _GAN_CASES[name]
        return _gan_case(
            name, int(seed), setup=setup, point=point, policy=policy, description=description
        )
    if name in _STYLE_CASES:
        return _style_case(name, int(seed), description=_STYLE_CASES[name])
    if name in _TIGHT_CUTOFF_CASES:
        lr, description, policy = _TIGHT_CUTOFF_CASES[name]
        return _cutoff_tight_case(name, int(seed), lr, description, policy=policy)
    raise ValueError(f"case must be one of {list(CASE_NAMES)}, got {name!r}")


def build_cases(seed: int = 0, only: Sequence[str] | None = None) -> list[GoldenCase]:
    """Build every golden case (or the ``only`` ones), in :data:`CASE_NAMES` order.

    Parameters
    ----------
    seed : int, default 0
        Global seed.
    only : sequence of str, optional
        Names of the cases to build.

    Returns
    -------
    list of GoldenCase
    """
    names = CASE_NAMES if only is None else [n for n in CASE_NAMES if n in set(only)]
    unknown = sorted(set(only or ()) - set(CASE_NAMES))
    if unknown:
        raise ValueError(f"cases must be among {list(CASE_NAMES)}, got unknown {unknown}")
    return [build_case(name, seed) for name in names]
