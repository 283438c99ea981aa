"""Golden reference files: seeded cases, their derived tolerances, writing, reading, checking.

A *golden set* is a folder with one pickle-free ``.npz`` per case and a ``manifest.json``
that records the schema version, the versions that produced it, the conventions (flat
layout, losses, cutoff policy), every array's shape and dtype, the SHA-256 and size of each
data file, and for every output a tolerance per precision (``float64``, ``float32``):
``rtol``, ``atol``, whether the output is comparable at that precision, and the reason.

Another implementation reads the inputs, computes the outputs, saves them in one ``.npz``
with keys ``"<case>/<output>"`` and runs :func:`check_results` (or
``hsc-ref golden check DIR RESULTS.npz``). An output passes when, elementwise,
``|actual - desired| <= atol + rtol * |desired|``.

Tolerances are first-order error bounds times :data:`SAFETY` (see ``docs/validating.md``):
with ``e_H`` the size of the perturbation of ``H`` an implementation at precision ``eps``
is expected to make (``n * eps * ||H||`` for a given matrix),

- eigenvalues: ``e_H`` (Weyl);
- ``H^+`` and ``Hc``: ``3 e_H ||H^+||^2`` (Wedin), comparable only when no eigenvalue lies
  within ``sqrt(n) * eps * ||H||`` of the cutoff (or between the float64 and the float32
  cutoffs, for float32);
- the HSC step: ``lr ||g|| (e_H + n eps)`` (``H -> H (I + H^2)^{-1}`` is 1-Lipschitz);
- model outputs (loss, gradient, Hessian): an accumulation term ``(n + B) eps ||out||`` plus,
  for float32, the measured change of the reference when its inputs are rounded to float32.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import itertools
import json
import math
import os
import platform
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import autograd.numpy as anp
import numpy as np
import scipy.stats

from hsc_ref import __version__, _io
from hsc_ref.corrections import correct
from hsc_ref.derivatives import flatten, value_grad_hessian
from hsc_ref.models import mlp
from hsc_ref.spectral import decompose
from hsc_ref.steps import hsc_step
from hsc_ref.testing import compare_arrays

__all__ = [
    "SCHEMA_VERSION",
    "SAFETY",
    "PRECISIONS",
    "MANIFEST_NAME",
    "GoldenFileError",
    "Tolerance",
    "GoldenCase",
    "GoldenSet",
    "CheckRow",
    "CheckReport",
    "CASE_NAMES",
    "build_case",
    "build_cases",
    "write_golden",
    "read_golden",
    "save_results",
    "load_results",
    "check_results",
    "torch_parameter_order",
]

SCHEMA_VERSION = 1
"""Version of the file layout and manifest schema; readers reject any other."""

SAFETY = 10.0
"""Factor between each first-order error bound and the tolerance written to the manifest."""

PRECISIONS = ("float64", "float32")
"""Precisions an implementation may compute in; each output has a tolerance for each."""

MANIFEST_NAME = "manifest.json"

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed entry time: identical seeds give identical bytes

CONVENTIONS = {
    "flat_layout": (
        "parameters are layers [(W, b), ...], W of shape (fan_in, fan_out), y = x @ W + b; the "
        "flat vector concatenates, layer by layer, W.ravel() (C order) then b. A PyTorch "
        "nn.Linear stores weight (out, in): W = weight.T"
    ),
    "hessian": "symmetrized (H + H^T)/2 over the flat layout; rows and columns in that order",
    "losses": "means over the batch (and over outputs for the squared error)",
    "cutoff_policy": (
        "scipy.linalg.pinvh: keep |lam| > atol + rtol * max|lam| with atol = 0 and "
        "rtol = n * eps(dtype of the implementation); pass it explicitly (torch.pinverse "
        "defaults to rcond = 1e-15 whatever the dtype)"
    ),
    "hc": "Hc = H + pinv(H) under the cutoff policy",
    "step": (
        "HSC step s = -lr * pinv(Hc) g = -lr * Q diag(lam / (1 + lam^2)) Q^T g; 'step' is the "
        "spectral route, 'step_cholesky' solves (I + H^2) s = -lr H g, 'step_literal' is "
        "-lr * pinvh(H + pinvh(H)) @ g with the cutoff policy in both pseudo-inverses"
    ),
    "eigenvalues": "ascending",
    "rank": "number of eigenvalues above the cutoff, an integer",
    "results_file": (
        "one .npz (no object arrays) with keys '<case>/<output>'; float32 arrays select the "
        "float32 tolerances of their case"
    ),
}


class GoldenFileError(ValueError):
    """A golden set or results file is missing, corrupted, tampered with or of another schema."""


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


@dataclass(frozen=True, eq=False)
class GoldenSet:
    """A golden set read back from disk, verified against its manifest.

    Attributes
    ----------
    directory : Path
        The folder.
    manifest : dict
        The parsed ``manifest.json``.
    cases : dict of str to GoldenCase
        The verified cases by name.
    """

    directory: Path
    manifest: dict[str, Any]
    cases: dict[str, GoldenCase]


# --------------------------------------------------------------------------- tolerances


def _eps(precision: str) -> float:
    return float(np.finfo(np.dtype(precision)).eps)


def _tol(atol: float, reason: str, comparable: bool = True, rtol: float = 0.0) -> Tolerance:
    return Tolerance(float(rtol), float(atol), bool(comparable), reason)


def _not_comparable(reason: str) -> Tolerance:
    return Tolerance(0.0, 0.0, False, reason)


def _cutoff_band_hit(lam: np.ndarray, n: int, precision: str) -> bool:
    """True when an eigenvalue may be kept by one side and dropped by the other.

    The kept set is ambiguous for ``|lam|`` within ``w = sqrt(n) eps ||H||`` (the typical
    backward error of ``eigh``, the noise SciPy's cutoff ``n eps ||H||`` is designed to sit
    above) of the cutoff, and, for float32, anywhere between the float64 and float32 cutoffs.
    """
    scale = float(np.abs(lam).max())
    eps64, eps_p = _eps("float64"), _eps(precision)
    low = n * eps64 * scale - math.sqrt(n) * eps64 * scale
    high = n * eps_p * scale + math.sqrt(n) * eps_p * scale
    mags = np.abs(lam)
    return bool(np.any((mags >= low) & (mags <= high))) and scale > 0


def _spectral_tolerances(
    lam: np.ndarray, e_h: float, lr: float, g_norm: float, precision: str
) -> dict[str, Tolerance]:
    """Tolerances of everything computed from ``H`` given the perturbation size ``e_h``."""
    n = lam.shape[0]
    eps = _eps(precision)
    scale = float(np.abs(lam).max())
    cutoff64 = n * _eps("float64") * scale
    kept = np.abs(lam) > cutoff64
    p_norm = float(1.0 / np.abs(lam[kept]).min()) if kept.any() else 0.0
    step_scale = lr * g_norm / 2  # ||s|| <= lr ||g|| / 2
    ambiguous = _cutoff_band_hit(lam, n, precision)
    band = (
        "an eigenvalue lies near the cutoff (within sqrt(n) eps ||H|| of it, or between the "
        "float64 and float32 cutoffs): the kept set, hence this output, depends on rounding"
    )
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
    step_atol = SAFETY * lr * g_norm * (e_h + n * eps)
    tols["step"] = _step_tol(
        step_atol,
        step_scale,
        f"H -> H (I + H^2)^-1 is 1-Lipschitz: ||ds|| <= lr ||g|| (||dH|| + n eps) = "
        f"{lr:g} * {g_norm:.3g} * ({e_h:.3g} + {n * eps:.3g}); x{SAFETY:g}",
    )
    chol_atol = SAFETY * lr * g_norm * n * eps * (1 + scale**2)
    tols["step_cholesky"] = _step_tol(
        max(chol_atol, step_atol),
        step_scale,
        f"Cholesky of I + H^2: ||ds|| <= lr ||g|| n eps (1 + ||H||^2) = {lr:g} * {g_norm:.3g} * "
        f"{n * eps:.3g} * (1 + {scale:.3g}^2); x{SAFETY:g}",
    )
    tols["step_literal"] = _literal_tol(lam, e_h, lr, g_norm, precision, ambiguous=ambiguous)
    return tols


def _step_tol(atol: float, step_scale: float, reason: str) -> Tolerance:
    if step_scale > 0 and atol >= step_scale:
        return _not_comparable(
            f"the bound {atol:.3g} exceeds the largest possible step lr ||g|| / 2 = "
            f"{step_scale:.3g} ({reason})"
        )
    return _tol(atol, reason)


def _literal_tol(
    lam: np.ndarray, e_h: float, lr: float, g_norm: float, precision: str, *, ambiguous: bool
) -> Tolerance:
    """Chain of the two pseudo-inverses of ``-lr pinvh(H + pinvh(H)) g``."""
    if ambiguous:
        return _not_comparable("the first pseudo-inverse's kept set depends on rounding")
    n = lam.shape[0]
    eps = _eps(precision)
    scale = float(np.abs(lam).max())
    kept = np.abs(lam) > n * _eps("float64") * scale
    mu = lam + np.where(kept, 1.0 / np.where(kept, lam, 1.0), 0.0)
    if _cutoff_band_hit(mu, n, precision):
        return _not_comparable("the second pseudo-inverse's kept set depends on rounding")
    p_norm = float(1.0 / np.abs(lam[kept]).min()) if kept.any() else 0.0
    mu_kept = np.abs(mu) > n * _eps("float64") * float(np.abs(mu).max())
    q_norm = float(1.0 / np.abs(mu[mu_kept]).min()) if mu_kept.any() else 0.0
    e_hc = e_h + 3 * e_h * p_norm**2 + n * eps * float(np.abs(mu).max())
    below = float(np.abs(lam[~kept]).max()) if (~kept).any() else 0.0
    atol = SAFETY * lr * g_norm * (3 * e_hc * q_norm**2 + n * eps * q_norm + below)
    return _step_tol(
        atol,
        lr * g_norm / 2,
        f"||dHc|| = e_H + 3 e_H ||H^+||^2 + n eps ||Hc|| = {e_hc:.3g}; ||ds|| <= lr ||g|| "
        f"(3 ||dHc|| ||Hc^+||^2 + n eps ||Hc^+|| + max dropped |lam|); x{SAFETY:g}",
    )


def _check_consistent(case: str, outputs: Mapping[str, np.ndarray], tols: Mapping) -> None:
    """The routes must agree with the spectral step within their float64 bounds.

    A route that disagrees is in a failure mode whose result depends on rounding details
    (the literal route); it is then marked not comparable. The Cholesky route disagreeing
    would mean a wrong bound, which is a bug: raise.
    """
    for route in ("step_cholesky", "step_literal"):
        tol = tols[route]["float64"]
        if not tol.comparable:
            continue
        err = float(np.abs(outputs[route] - outputs["step"]).max())
        if err <= tol.atol:
            continue
        if route == "step_cholesky":
            raise AssertionError(f"{case}: Cholesky step off by {err:.3g} > bound {tol.atol:.3g}")
        for precision in PRECISIONS:
            tols[route][precision] = _not_comparable(
                f"the reference's own literal route is off the exact step by {err:.3g} (> its "
                f"bound {tol.atol:.3g}): it is in a rounding-driven failure mode"
            )


# --------------------------------------------------------------------------- matrix cases


def _seeded_rng(seed: int, name: str) -> np.random.Generator:
    """Generator for one case: the global seed and a stable hash of the case name."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _matrix_from_spectrum(lam: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    q = scipy.stats.ortho_group.rvs(lam.shape[0], random_state=rng)
    h = (q * lam) @ q.T
    return 0.5 * (h + h.T)


def _spectral_outputs(h: np.ndarray, g: np.ndarray, lr: float) -> dict[str, np.ndarray]:
    """Reference outputs computed from a symmetric ``H`` with hsc_ref's own API."""
    spectrum = decompose(h)
    return {
        "eigenvalues": spectrum.eigenvalues,
        "pinv": spectrum.pinv(),
        "hc": correct(spectrum, "hsc").matrix,
        "rank": np.int64(spectrum.rank),
        "step": hsc_step(h, g, lr=lr, route="spectral"),
        "step_cholesky": hsc_step(h, g, lr=lr, route="cholesky"),
        "step_literal": hsc_step(h, g, lr=lr, route="literal"),
    }


def _spectral_meta(lam: np.ndarray) -> dict[str, Any]:
    n = lam.shape[0]
    scale = float(np.abs(lam).max())
    return {
        "n": n,
        "cutoff_float64": n * _eps("float64") * scale,
        "cutoff_float32": n * _eps("float32") * scale,
        "norm_H": scale,
    }


def _matrix_case(name: str, seed: int, lam_fn: Callable, lr: float, description: str) -> GoldenCase:
    rng = _seeded_rng(seed, name)
    lam_true = np.asarray(lam_fn(rng), dtype=np.float64)
    h = _matrix_from_spectrum(lam_true, rng)
    g = rng.standard_normal(lam_true.shape[0])
    outputs = _spectral_outputs(h, g, lr)
    lam = outputs["eigenvalues"]
    n = lam.shape[0]
    g_norm = float(np.linalg.norm(g))
    tols: dict[str, dict[str, Tolerance]] = {}
    for precision in PRECISIONS:
        e_h = n * _eps(precision) * float(np.abs(lam).max())
        for out, tol in _spectral_tolerances(lam, e_h, lr, g_norm, precision).items():
            tols.setdefault(out, {})[precision] = tol
    _check_consistent(name, outputs, tols)
    meta = {**_spectral_meta(lam), "lr": lr, "constructed_eigenvalues": lam_true.tolist()}
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
    # n = 12, ||H|| = 4: an eigenvalue at 1.05 x (n eps ||H||), inside the float64 ambiguity band.
    near = 1.05 * 12 * float(np.finfo(np.float64).eps) * 4.0
    return np.concatenate([[4.0, -3.0], rng.uniform(0.5, 2.0, 8), [near, 0.0]])


def _between_cutoffs(rng: np.random.Generator) -> np.ndarray:
    # 1e-9 ||H||: kept by the float64 cutoff (~2e-15 ||H||), dropped by float32's (~1e-6 ||H||).
    return np.concatenate([[2.0, -1.5], rng.uniform(0.5, 1.5, 7), [1e-9 * 2.0], [0.0]])


_MATRIX_CASES: dict[str, tuple[Callable, float, str]] = {
    "matrix_spd": (_spd, 1.0, "well-conditioned SPD matrix, eigenvalues in [0.5, 4]"),
    "matrix_exact_zeros": (
        _exact_zeros,
        0.5,
        "three exact zero eigenvalues, positive and negative ones in 0.3..3; lr = 0.5",
    ),
    "matrix_clustered_negative": (
        _clustered_negative,
        1.0,
        "clusters at -2 (x4), 1e-3 (x3) and 0.5 (split by 1e-12), negative eigenvalues",
    ),
    "matrix_large_norm": (
        _large_norm,
        1.0,
        "||H|| = 1e6 with eigenvalues -3e5, two exact zeros and six of order 1",
    ),
    "matrix_near_cutoff": (
        _near_cutoff,
        1.0,
        "an eigenvalue at 1.05 x the float64 cutoff n eps ||H|| plus an exact zero: H^+, Hc, "
        "rank are not comparable; the step is",
    ),
    "matrix_between_cutoffs": (
        _between_cutoffs,
        1.0,
        "an eigenvalue 1e-9 ||H|| (kept in float64, dropped in float32) and an exact zero",
    ),
}


# --------------------------------------------------------------------------- model cases


def _input_rounding_change(
    evaluate: Callable[..., dict[str, np.ndarray]], inputs: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """Max change of each output when the inputs are rounded to float32 (computed in float64)."""
    exact = evaluate(**inputs)
    rounded = {k: np.asarray(v, np.float32).astype(np.float64) for k, v in inputs.items()}
    again = evaluate(**rounded)
    return {k: float(np.abs(np.asarray(again[k]) - np.asarray(exact[k])).max()) for k in exact}


def _model_tolerances(
    outputs: Mapping[str, np.ndarray],
    rounding: Mapping[str, float],
    m: int,
    lr: float,
) -> dict[str, dict[str, Tolerance]]:
    """Tolerances of loss, gradient, Hessian and everything computed from the Hessian."""
    tols: dict[str, dict[str, Tolerance]] = {}
    lam = outputs["eigenvalues"]
    n = lam.shape[0]
    g_norm = float(np.linalg.norm(outputs["grad"]))
    h_norm = float(np.abs(lam).max())
    for precision in PRECISIONS:
        eps = _eps(precision)
        in_round = {k: (v if precision == "float32" else 0.0) for k, v in rounding.items()}
        for out, norm in (
            ("loss", abs(float(outputs["loss"]))),
            ("grad", g_norm),
            ("hessian", float(np.linalg.norm(outputs["hessian"]))),
        ):
            bound = m * eps * norm + in_round[out]
            tols.setdefault(out, {})[precision] = _tol(
                SAFETY * bound,
                f"accumulation (n + B) eps ||{out}|| = {m} * {eps:.3g} * {norm:.3g}"
                + (f" + change under float32 input rounding {in_round[out]:.3g}" * (eps > 1e-10))
                + f"; x{SAFETY:g}",
            )
        e_h = m * eps * float(np.linalg.norm(outputs["hessian"])) + in_round["hessian"]
        e_h += n * eps * h_norm  # the implementation's own eigh
        for out, tol in _spectral_tolerances(lam, e_h, lr, g_norm, precision).items():
            tols.setdefault(out, {})[precision] = tol
    return tols


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

    inputs = {"theta": theta, "x": x, "y": y, "lr": np.float64(1.0)}
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
    outputs = evaluate(**inputs)
    rounding = _input_rounding_change(evaluate, inputs)
    m = outputs["grad"].shape[0] + batch
    tols = _model_tolerances(outputs, rounding, m, float(inputs["lr"]))
    _check_consistent(name, outputs, tols)
    layers = [[int(a), int(b)] for a, b in itertools.pairwise(sizes)]
    meta = {
        **_spectral_meta(outputs["eigenvalues"]),
        "layers": layers,
        "activation": activation,
        "output_activation": "identity",
        "batch": batch,
        "loss": "mean over batch and outputs of (mlp(theta, x) - y)^2",
        "flat_outputs": ["grad", "hessian", "step", "step_cholesky", "step_literal"],
    }
    return GoldenCase(name, "mlp", description, inputs, outputs, tols, meta)


_MLP_CASES: dict[str, tuple[tuple[int, ...], str, bool, str]] = {
    "mlp_tanh": ((3, 4, 2), "tanh", False, "3-4-2 tanh MLP, squared error, batch 16"),
    "mlp_relu_dead_unit": (
        (2, 5, 1),
        "relu",
        True,
        "2-5-1 ReLU MLP with a dead hidden unit (bias -100): an exact null space",
    ),
}

CASE_NAMES: tuple[str, ...] = (*_MATRIX_CASES, *_MLP_CASES)
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
        lam_fn, lr, description = _MATRIX_CASES[name]
        return _matrix_case(name, int(seed), lam_fn, lr, description)
    if name in _MLP_CASES:
        sizes, activation, dead, description = _MLP_CASES[name]
        return _mlp_case(
            name, int(seed), sizes, activation, dead_unit=dead, description=description
        )
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


# --------------------------------------------------------------------------- files


def _npz_bytes(arrays: Mapping[str, Any]) -> bytes:
    """An uncompressed ``.npz`` with sorted entries and a fixed entry date: reproducible bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for key in sorted(arrays):
            array = np.asarray(arrays[key], order="C")
            if array.dtype.hasobject:
                raise TypeError(f"array {key!r} must not have object dtype (no pickles)")
            entry = io.BytesIO()
            np.lib.format.write_array(entry, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            archive.writestr(info, entry.getvalue())
    return buffer.getvalue()


def _versions() -> dict[str, str]:
    return {
        "hsc_ref": __version__,
        "numpy": np.__version__,
        "scipy": importlib.metadata.version("scipy"),
        "autograd": importlib.metadata.version("autograd"),
        "python": platform.python_version(),
    }


def _array_spec(array: np.ndarray) -> dict[str, Any]:
    return {"shape": list(array.shape), "dtype": str(array.dtype)}


def _case_manifest(case: GoldenCase, data: bytes) -> dict[str, Any]:
    return {
        "file": f"{case.name}.npz",
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "kind": case.kind,
        "description": case.description,
        "meta": case.meta,
        "inputs": {k: _array_spec(np.asarray(v)) for k, v in case.inputs.items()},
        "outputs": {
            k: {
                **_array_spec(np.asarray(v)),
                "tolerance": {p: case.tolerances[k][p].to_json() for p in PRECISIONS},
            }
            for k, v in case.outputs.items()
        },
    }


def write_golden(
    directory: str | os.PathLike,
    *,
    seed: int = 0,
    only: Sequence[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Build the golden cases from ``seed`` and write them, atomically, to ``directory``.

    Parameters
    ----------
    directory : path
        Output folder (created if needed); gets ``manifest.json`` and ``<case>.npz`` files.
    seed : int, default 0
        Global seed; each case draws from ``default_rng([seed, crc32(case name)])``.
    only : sequence of str, optional
        Write only these cases.
    overwrite : bool, default False
        Replace existing files; otherwise an existing file raises ``FileExistsError``.

    Returns
    -------
    Path
        The manifest's path.

    Raises
    ------
    FileExistsError
        If a file to write exists and ``overwrite`` is false (nothing is written then).

    Notes
    -----
    The same seed gives byte-identical files on the same machine: the ``.npz`` entries are
    written in sorted order with a fixed date, and the manifest has no time stamp. Data files
    are written first and the manifest last, so a reader never sees a manifest that names
    files not yet written.

    Examples
    --------
    >>> import tempfile
    >>> path = write_golden(tempfile.mkdtemp(), only=["matrix_spd"])
    >>> path.name
    'manifest.json'
    """
    directory = Path(directory)
    cases = build_cases(seed, only)
    targets = [directory / f"{c.name}.npz" for c in cases] + [directory / MANIFEST_NAME]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{existing[0]} exists; pass overwrite (--force) to replace it")
    manifest: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "format": "hsc_ref golden set",
        "seed": int(seed),
        "dtype": "float64",
        "versions": _versions(),
        "conventions": CONVENTIONS,
        "tolerance_policy": {
            "check": "|actual - desired| <= atol + rtol * |desired| elementwise",
            "safety_factor": SAFETY,
            "eps": {p: _eps(p) for p in PRECISIONS},
            "not_comparable": "reported, never failed, may be missing",
            "doc": "docs/validating.md",
        },
        "cases": {},
    }
    for case in cases:
        data = _npz_bytes(
            {**{f"input/{k}": v for k, v in case.inputs.items()}}
            | {f"output/{k}": v for k, v in case.outputs.items()}
        )
        _io.atomic_write_bytes(directory / f"{case.name}.npz", data, overwrite=overwrite)
        manifest["cases"][case.name] = _case_manifest(case, data)
    return _io.atomic_write_json(directory / MANIFEST_NAME, manifest, overwrite=overwrite)


def _read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise GoldenFileError(f"golden manifest {path} does not exist")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GoldenFileError(f"golden manifest {path} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("cases"), dict):
        raise GoldenFileError(f"golden manifest {path} must be an object with 'cases'")
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise GoldenFileError(
            f"golden manifest {path} has schema_version {version!r}; this hsc_ref "
            f"{__version__} reads schema_version {SCHEMA_VERSION} only: regenerate it with "
            f"'hsc-ref golden write' or use the hsc_ref version that wrote it"
        )
    return manifest


def _load_npz(path: Path, what: str) -> dict[str, np.ndarray]:
    """Every array of a pickle-free ``.npz``, with a clear error for each way it can be bad."""
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if magic == b"\x93NUMPY":
        raise GoldenFileError(f"{what} {path} must be an .npz archive, got a single-array .npy")
    if not magic.startswith(b"PK"):
        raise GoldenFileError(f"{what} {path} is not an .npz archive (no zip signature)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except GoldenFileError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise GoldenFileError(
                f"{what} {path} contains a pickled (object-dtype) array; only plain numeric "
                f"arrays are accepted, pickles are never loaded"
            ) from exc
        raise GoldenFileError(f"{what} {path} could not be read as an .npz: {exc}") from exc
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise GoldenFileError(
            f"{what} {path} is not a readable .npz (truncated or corrupted?): {exc}"
        ) from exc


def _verify_file(path: Path, spec: Mapping[str, Any]) -> None:
    if not path.is_file():
        raise GoldenFileError(f"golden data file {path} named by the manifest does not exist")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != spec.get("size") or digest != spec.get("sha256"):
        raise GoldenFileError(
            f"golden data file {path} does not match the manifest (size {len(data)} vs "
            f"{spec.get('size')}, SHA-256 {digest[:16]}... vs {str(spec.get('sha256'))[:16]}...): "
            f"it was truncated, corrupted or modified; regenerate it with 'hsc-ref golden write'"
        )


def _read_case(directory: Path, name: str, spec: Mapping[str, Any]) -> GoldenCase:
    path = directory / str(spec.get("file", ""))
    if path.parent != directory or not path.name.endswith(".npz"):
        raise GoldenFileError(f"case {name!r}: manifest file entry must be '<case>.npz' in DIR")
    _verify_file(path, spec)
    arrays = _load_npz(path, "golden data file")
    groups: dict[str, dict[str, np.ndarray]] = {"input": {}, "output": {}}
    for key, array in arrays.items():
        group, _, short = key.partition("/")
        if group not in groups:
            raise GoldenFileError(f"{path}: unexpected entry {key!r}")
        groups[group][short] = array
    tols: dict[str, dict[str, Tolerance]] = {}
    for group, plural in (("input", "inputs"), ("output", "outputs")):
        expected = spec.get(plural, {})
        if set(expected) != set(groups[group]):
            raise GoldenFileError(
                f"{path}: {plural} {sorted(groups[group])} differ from the manifest's "
                f"{sorted(expected)}"
            )
        for key, entry in expected.items():
            array = groups[group][key]
            if list(array.shape) != entry.get("shape") or str(array.dtype) != entry.get("dtype"):
                raise GoldenFileError(
                    f"{path}: {group} {key!r} has shape {array.shape} dtype {array.dtype}, the "
                    f"manifest says {entry.get('shape')} {entry.get('dtype')}"
                )
    for key, entry in spec["outputs"].items():
        try:
            tols[key] = {p: Tolerance(**entry["tolerance"][p]) for p in PRECISIONS}
        except (KeyError, TypeError) as exc:
            raise GoldenFileError(f"case {name!r} output {key!r}: bad tolerance entry") from exc
    return GoldenCase(
        name,
        str(spec.get("kind", "")),
        str(spec.get("description", "")),
        groups["input"],
        groups["output"],
        tols,
        dict(spec.get("meta", {})),
    )


def read_golden(directory: str | os.PathLike) -> GoldenSet:
    """Read and verify a golden set.

    Raises
    ------
    GoldenFileError
        (a ``ValueError``) if the manifest is missing, not JSON or of another schema version,
        or a data file is missing, truncated, modified (size or SHA-256 differ), holds a
        pickled array, or disagrees with the manifest on its arrays, shapes or dtypes.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_golden(folder, only=["matrix_spd"])
    >>> sorted(read_golden(folder).cases)
    ['matrix_spd']
    """
    directory = Path(directory)
    manifest = _read_manifest(directory)
    cases = {name: _read_case(directory, name, spec) for name, spec in manifest["cases"].items()}
    return GoldenSet(directory, manifest, cases)


def save_results(
    path: str | os.PathLike, results: Mapping[str, Any], *, overwrite: bool = False
) -> Path:
    """Save an implementation's outputs (keys ``"<case>/<output>"``) as a pickle-free ``.npz``.

    Written atomically and reproducibly (sorted entries, fixed dates).

    Parameters
    ----------
    path : path
        Target file.
    results : mapping of str to array_like
        ``{"<case>/<output>": array}``; float32 arrays select float32 tolerances.
    overwrite : bool, default False
        Replace an existing file.

    Returns
    -------
    Path
        ``path``.
    """
    for key in results:
        if not isinstance(key, str) or key.count("/") != 1:
            raise ValueError(f"result keys must look like '<case>/<output>', got {key!r}")
    data = _npz_bytes({k: np.asarray(v) for k, v in results.items()})
    return _io.atomic_write_bytes(path, data, overwrite=overwrite)


def load_results(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load a results ``.npz`` without pickles; keys must look like ``"<case>/<output>"``.

    Parameters
    ----------
    path : path
        A file written by :func:`save_results` or ``numpy.savez``.

    Returns
    -------
    dict of str to ndarray

    Raises
    ------
    GoldenFileError
        If the file is missing, not an ``.npz``, holds a pickled array, or has bad keys.
    """
    path = Path(path)
    if not path.is_file():
        raise GoldenFileError(f"results file {path} does not exist")
    arrays = _load_npz(path, "results file")
    bad = [k for k in arrays if k.count("/") != 1]
    if bad:
        raise GoldenFileError(f"results file {path}: keys must be '<case>/<output>', got {bad}")
    return arrays


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class CheckRow:
    """One compared output: errors, the tolerance applied, the verdict and why.

    Attributes
    ----------
    case, output : str
        What was compared.
    precision : str
        ``"float64"`` or ``"float32"``: whose tolerances applied.
    status : str
        ``"pass"``, ``"fail"``, ``"missing"`` or ``"not comparable"`` (reported only; it
        cannot fail).
    max_abs_err, max_rel_err : float or None
        ``max|actual - desired|`` and that divided by ``max|desired|`` (None when missing).
    atol, rtol : float
        The tolerance applied.
    reason : str
        How the tolerance was derived.
    message : str
        Why it failed (with the likely cause when recognizable), or empty.
    """

    case: str
    output: str
    precision: str
    status: str
    max_abs_err: float | None
    max_rel_err: float | None
    atol: float
    rtol: float
    reason: str
    message: str

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (infinite errors become the string ``"inf"``)."""
        out = dict(vars(self))
        for key in ("max_abs_err", "max_rel_err"):
            if out[key] is not None and not math.isfinite(out[key]):
                out[key] = "inf"
        return out


@dataclass(frozen=True)
class CheckReport:
    """All rows of a check, with the unexpected result keys.

    Attributes
    ----------
    golden_dir : str
        The golden folder checked against.
    rows : tuple of CheckRow
        One per output of every checked case.
    unexpected : tuple of str
        Result keys that name no golden output (ignored).
    """

    golden_dir: str
    rows: tuple[CheckRow, ...]
    unexpected: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """True when no output failed and none is missing."""
        return not any(r.status in ("fail", "missing") for r in self.rows)

    def counts(self) -> dict[str, int]:
        """Number of rows per status."""
        counts = {s: 0 for s in ("pass", "fail", "missing", "not comparable")}
        for row in self.rows:
            counts[row.status] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict of the whole report."""
        return {
            "golden_dir": self.golden_dir,
            "passed": self.passed,
            "counts": self.counts(),
            "unexpected_keys": list(self.unexpected),
            "rows": [r.to_json() for r in self.rows],
        }

    def format_table(self, *, failures_only: bool = False) -> str:
        """A plain-text table (case, output, precision, errors, tolerance, status) and notes."""
        rows = [r for r in self.rows if not failures_only or r.status in ("fail", "missing")]
        head = ("case", "output", "prec", "max abs err", "max rel err", "atol", "rtol", "status")
        body = [
            (
                r.case,
                r.output,
                r.precision,
                _fmt(r.max_abs_err),
                _fmt(r.max_rel_err),
                _fmt(r.atol),
                _fmt(r.rtol),
                r.status.upper() if r.status in ("fail", "missing") else r.status,
            )
            for r in rows
        ]
        widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
        lines = [
            "  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
            for line in (head, *body)
        ]
        notes = [
            f"- {r.case}/{r.output} {r.status.upper()}: {r.message}"
            for r in rows
            if r.status in ("fail", "missing")
        ]
        counts = self.counts()
        summary = ", ".join(f"{v} {k}" for k, v in counts.items())
        lines += ["", f"{'PASSED' if self.passed else 'FAILED'}: {summary}", *notes]
        if self.unexpected:
            lines.append(f"(ignored keys not in the golden set: {', '.join(self.unexpected)})")
        return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2e}"


def torch_parameter_order(layers: Sequence[Sequence[int]]) -> np.ndarray:
    """Indices ``p`` with ``torch_flat = ours[p]`` for ``nn.Linear`` layers ``(fan_in, fan_out)``.

    PyTorch's ``parameters_to_vector`` stores each ``weight`` as ``(out, in)`` row-major, then
    the bias; hsc_ref stores ``W = weight.T`` row-major, then the bias. A Hessian in PyTorch's
    order is ``H[np.ix_(p, p)]``.

    Examples
    --------
    >>> torch_parameter_order([(2, 3)])          # W (2, 3) = weight.T, then b (3,)
    array([0, 3, 1, 4, 2, 5, 6, 7, 8])
    """
    pieces, offset = [], 0
    for layer in layers:
        fan_in, fan_out = int(layer[0]), int(layer[1])
        weight = offset + np.arange(fan_in)[None, :] * fan_out + np.arange(fan_out)[:, None]
        pieces += [weight.ravel(), offset + fan_in * fan_out + np.arange(fan_out)]
        offset += fan_in * fan_out + fan_out
    return np.concatenate(pieces)


def _diagnose(case: GoldenCase, output: str, actual: np.ndarray, desired: np.ndarray) -> str:
    """Name the likely cause of a failure when it has a recognizable pattern."""
    a = np.asarray(actual, dtype=np.float64)
    d = np.asarray(desired, dtype=np.float64)
    hints = []
    layers = case.meta.get("layers")
    if layers and output in case.meta.get("flat_outputs", ()) and a.shape == d.shape:
        p = torch_parameter_order(layers)
        permuted = d[p] if d.ndim == 1 else d[np.ix_(p, p)]
        if np.allclose(a, permuted, rtol=1e-6, atol=1e-6 * max(np.abs(d).max(), 1e-300)):
            hints.append(
                "it matches the reference in PyTorch's parameter order (nn.Linear weight "
                "(out, in) row-major): report it in hsc_ref's flat layout, W = weight.T row-major "
                "then b (hsc_ref.golden.torch_parameter_order gives the permutation)"
            )
    if output == "loss":
        hints.append(
            "the loss itself differs, so the function evaluated is not the reference one: "
            "check how the flat parameters are loaded (W = weight.T, "
            "hsc_ref.derivatives.layers_to_torch_linear), the inputs, and the conventions"
        )
    big = np.abs(d) > 1e-8 * np.abs(d).max() if d.size > 1 and np.abs(d).max() > 0 else None
    if big is not None and a.shape == d.shape and np.all(np.abs(a[~big]) <= 1e-8 * np.abs(a).max()):
        ratio = a[big] / d[big]
        k = float(np.median(ratio))
        if k != 0 and abs(k - 1) > 1e-3 and np.allclose(ratio, k, rtol=1e-5):
            hints.append(
                f"actual = {k:.6g} x reference (1/k = {1 / k:.6g}) everywhere: a scale or "
                f"normalization convention differs (see the manifest's conventions)"
            )
    scale = float(np.abs(d).max()) if d.size else 0.0
    if a.shape == d.shape and float(np.abs(a).max()) > 1e3 * max(scale, 1e-300):
        if output in ("pinv", "hc", "step_literal", "rank", "eigenvalues") or "pinv" in output:
            hints.append(
                f"the result is {float(np.abs(a).max()) / max(scale, 1e-300):.1e} x larger than "
                f"the reference: a pseudo-inverse inverted rounding noise; pass the cutoff "
                f"rtol = n * eps(dtype) explicitly (torch.pinverse defaults to rcond = 1e-15, far "
                f"below float32 rounding)"
            )
    return "; ".join(hints)


def _case_precision(
    case: str, outputs: Sequence[str], results: Mapping[str, np.ndarray], precision: str
) -> str:
    if precision != "auto":
        return precision
    kinds = [np.asarray(results[f"{case}/{o}"]).dtype for o in outputs if f"{case}/{o}" in results]
    return "float32" if any(k == np.float32 for k in kinds) else "float64"


def _check_output(
    case: GoldenCase, output: str, precision: str, results: Mapping[str, np.ndarray]
) -> CheckRow:
    tol = case.tolerances[output][precision]
    key = f"{case.name}/{output}"
    desired = case.outputs[output]

    def row(status: str, err: Any, message: str) -> CheckRow:
        abs_err = None if err is None else err.max_abs_err
        rel_err = None if err is None else err.max_rel_err
        return CheckRow(
            case.name,
            output,
            precision,
            status,
            abs_err,
            rel_err,
            tol.atol,
            tol.rtol,
            tol.reason,
            message,
        )

    if key not in results:
        if not tol.comparable:
            return row("not comparable", None, f"not provided; not comparable: {tol.reason}")
        return row("missing", None, f"no '{key}' in the results")
    actual = np.asarray(results[key])
    comparison = compare_arrays(actual, desired, rtol=tol.rtol, atol=tol.atol)
    if not tol.comparable:
        return row("not comparable", comparison, tol.reason)
    if comparison.ok:
        return row("pass", comparison, "")
    hint = _diagnose(case, output, actual, desired) if actual.shape == desired.shape else ""
    message = f"{comparison.message}; tolerance because: {tol.reason}"
    return row("fail", comparison, message + (f". Likely cause: {hint}" if hint else ""))


def check_results(
    golden: GoldenSet | str | os.PathLike,
    results: Mapping[str, Any] | str | os.PathLike,
    *,
    precision: str = "auto",
    only: Sequence[str] | None = None,
) -> CheckReport:
    """Compare another implementation's outputs with a golden set.

    Parameters
    ----------
    golden : GoldenSet or path
        A set read by :func:`read_golden`, or its folder.
    results : mapping or path
        ``{"<case>/<output>": array}`` or a results ``.npz`` (see :func:`save_results`).
    precision : {"auto", "float64", "float32"}
        Tolerances to apply. ``"auto"``: float32 for a case with any float32 result array.
    only : sequence of str, optional
        Check only these cases (others are neither compared nor reported missing).

    Returns
    -------
    CheckReport
        One row per output of every checked case; ``passed`` is false on any failure or
        missing comparable output.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_golden(folder, only=["matrix_exact_zeros"])
    >>> outputs = read_golden(folder).cases["matrix_exact_zeros"].outputs
    >>> report = check_results(folder, {f"matrix_exact_zeros/{k}": v for k, v in outputs.items()})
    >>> report.passed, report.counts()["pass"]
    (True, 7)
    """
    if precision not in ("auto", *PRECISIONS):
        raise ValueError(f"precision must be 'auto', 'float64' or 'float32', got {precision!r}")
    if not isinstance(golden, GoldenSet):
        golden = read_golden(golden)
    if isinstance(results, (str, os.PathLike)):
        results = load_results(results)
    names = list(golden.cases) if only is None else list(only)
    unknown = sorted(set(names) - set(golden.cases))
    if unknown:
        raise ValueError(f"cases must be among {sorted(golden.cases)}, got unknown {unknown}")
    rows = []
    for name in names:
        case = golden.cases[name]
        prec = _case_precision(name, list(case.outputs), results, precision)
        rows += [_check_output(case, out, prec, results) for out in case.outputs]
    known = {f"{n}/{o}" for n in golden.cases for o in golden.cases[n].outputs}
    unexpected = tuple(sorted(k for k in results if k not in known))
    return CheckReport(str(golden.directory), tuple(rows), unexpected)
