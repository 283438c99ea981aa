"""The literal route ``pinv(H + pinv(H)) g`` and its two failure modes, with numbers.

Naive code computes the HSC step with two pseudo-inverses. With SciPy's default cutoff policy
(``rtol = n * eps``) it fails in two ways (docs/design.md, "Numerics and the cutoff policy"),
reproduced here on random ``H = Q diag(lam) Q^T`` against the exact step
``-Q phi(lam) Q^T g``, ``phi = lam / (1 + lam^2)``:

1. *A tiny eigenvalue survives the first cutoff.* ``H^+`` then has norm ``1/lam_min`` and the
   dense sum ``H + H^+`` is rounded at that scale: the step's relative error grows like
   ``eps / lam_min`` (about 1e-2 .. 1e-1 at ``lam_min = 2e-15``).
2. *An eigenvalue dropped by the first cutoff is inverted by the second.* When ``||H|| >~ 100``
   the second cutoff ``n eps max|lam + 1/lam|`` is barely above the first, ``n eps ||H||``; an
   eigenvalue just under the first cutoff picks up rounding in ``H + H^+`` and in the second
   ``eigh`` and crosses it: the step gets a component ``1/lam ~ 1/(n eps ||H||)``, about
   ``1e13 * ||g||``, although every exact HSC step has norm ``<= ||g|| / 2``.

The spectral route (one ``eigh``, ``phi`` on the eigenvalues) and the Cholesky route (solve
``(I + H^2) s = -H g``) have no cutoff and are unaffected.

Run: ``python examples/literal_failures.py [--trials 100] [--seed 0]`` (a few seconds).
``--record PATH`` also writes every row as JSON, atomically (an existing record is kept unless
``--force``): the tables of ``docs/math.md``, section 3, are rendered from
``docs/tables/records/math-literal-failures.json`` by ``docs/tables/math_tables.py``.
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import scipy

from hsc_ref import _io
from hsc_ref.steps import HSC_ROUTES, hsc_step

EPS = float(np.finfo(np.float64).eps)
LAM_MIN = (1e-6, 1e-9, 1e-12, 1e-14, 2e-15)
"""Mode 1: the tiny eigenvalue of each setting (all above the first cutoff ``4 eps``)."""
NORMS = (1.0, 1e2, 1e4)
"""Mode 2: ``||H||`` of each setting."""


class Row(NamedTuple):
    """Worst and median errors of each route over the trials of one setting."""

    setting: str
    parameter: float  # lam_min (mode 1) or ||H|| (mode 2)
    median: dict[str, float]
    worst: dict[str, float]
    failures: int
    trials: int


def _orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def _trial(rng: np.random.Generator, lam: np.ndarray) -> dict[str, tuple[float, float]]:
    """For each route: (relative error against the exact step, ||s|| / ||g||)."""
    q = _orthogonal(rng, lam.shape[0])
    m = (q * lam) @ q.T
    H = 0.5 * (m + m.T)
    g = rng.standard_normal(lam.shape[0])
    exact = -(q @ ((lam / (1.0 + lam**2)) * (q.T @ g)))
    out = {}
    for route in HSC_ROUTES:
        s = hsc_step(H, g, route=route)  # default policy: atol = 0, rtol = n * eps
        err = float(np.linalg.norm(s - exact) / np.linalg.norm(exact))
        out[route] = (err, float(np.linalg.norm(s) / np.linalg.norm(g)))
    return out


def _row(setting: str, parameter: float, results: list, index: int, failed) -> Row:
    median = {r: float(np.median([x[r][index] for x in results])) for r in HSC_ROUTES}
    worst = {r: float(np.max([x[r][index] for x in results])) for r in HSC_ROUTES}
    failures = sum(bool(failed(x)) for x in results)
    return Row(setting, parameter, median, worst, failures, len(results))


def tiny_eigenvalue(lam_min: float, trials: int, rng: np.random.Generator) -> Row:
    """Mode 1: spectrum ``[1, -0.5, 0.25, lam_min]`` (``lam_min`` above the cutoff ``4 eps``)."""
    lam = np.array([1.0, -0.5, 0.25, lam_min])
    results = [_trial(rng, lam) for _ in range(trials)]
    setting = f"lam_min = {lam_min:.0e}"
    return _row(setting, lam_min, results, 0, lambda x: x["literal"][0] > 1e-6)


def dropped_then_inverted(norm: float, trials: int, rng: np.random.Generator) -> Row:
    """Mode 2: spectrum ``norm * [1, -0.6, 0.3, t]``, ``t`` drawn in ``[0.5, 1) n eps``: just
    under the first cutoff ``n eps ||H||`` (``n = 4``), so the exact literal route drops it."""
    n = 4
    results = []
    for _ in range(trials):
        t = rng.uniform(0.5, 1.0) * n * EPS
        results.append(_trial(rng, norm * np.array([1.0, -0.6, 0.3, t])))
    return _row(f"||H|| = {norm:.0e}", norm, results, 1, lambda x: x["literal"][1] > 0.5)


def _print_table(title: str, quantity: str, rows: list[Row]) -> None:
    print(f"\n{title}")
    print(
        f"| setting | {quantity}: literal median / worst | spectral worst | cholesky worst "
        "| literal failures |"
    )
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r.setting} | {r.median['literal']:.1e} / {r.worst['literal']:.1e} | "
            f"{r.worst['spectral']:.1e} | {r.worst['cholesky']:.1e} | {r.failures}/{r.trials} |"
        )


def measure(trials: int = 100, seed: int = 0) -> dict[str, list[Row]]:
    """Both sweeps, one generator seeded ``seed`` for all of them, ``trials`` matrices a row."""
    rng = np.random.default_rng(seed)
    mode1 = [tiny_eigenvalue(x, trials, rng) for x in LAM_MIN]
    mode2 = [dropped_then_inverted(x, trials, rng) for x in NORMS]
    return {"tiny_eigenvalue": mode1, "dropped_then_inverted": mode2}


def record_of(rows: dict[str, list[Row]], trials: int, seed: int) -> dict[str, Any]:
    """The rows as JSON types, with the settings and the versions that produced them."""
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    return {
        "trials": trials,
        "seed": seed,
        "eps": EPS,
        "versions": {**versions, "scipy": scipy.__version__},
        **{mode: [row._asdict() for row in mode_rows] for mode, mode_rows in rows.items()},
    }


def main(
    trials: int = 100, seed: int = 0, record: str | None = None, force: bool = False
) -> dict[str, list[Row]]:
    """Run both sweeps, print the tables and return their rows (and write them to ``record``)."""
    rows = measure(trials, seed)
    _print_table(
        "Mode 1: a tiny eigenvalue survives the first cutoff (n = 4, ||H|| = 1); "
        "failure = relative error > 1e-6",
        "relative error",
        rows["tiny_eigenvalue"],
    )
    _print_table(
        "Mode 2: an eigenvalue just under the first cutoff (n = 4); "
        "failure = ||s|| / ||g|| > 1/2 (impossible for the exact step)",
        "||s|| / ||g||",
        rows["dropped_then_inverted"],
    )
    if record is not None:
        _io.atomic_write_json(record, record_of(rows, trials, seed), overwrite=force)
        print(f"\nwrote {record}")
    return rows


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100, help="random matrices per setting")
    parser.add_argument("--seed", type=int, default=0, help="seed of numpy.random.default_rng")
    parser.add_argument("--record", metavar="PATH", help="also write the rows as JSON to PATH")
    parser.add_argument("--force", action="store_true", help="replace an existing --record")
    args = parser.parse_args()
    if args.trials < 1:
        parser.error(f"--trials must be at least 1 (a median needs a matrix), got {args.trials}")
    if args.record is not None and Path(args.record).exists() and not args.force:
        parser.error(f"--record {args.record} exists; pass --force to replace it")
    return args


if __name__ == "__main__":
    args = _arguments()
    main(trials=args.trials, seed=args.seed, record=args.record, force=args.force)
