"""mpmath at 50 digits as an independent reference for Hc, H^+ and the HSC step.

Each case is an exact rational spectrum (zeros, negative and clustered eigenvalues included)
and an orthogonal ``Q`` built in mpmath as a product of Householder reflections of seeded
vectors. ``H = Q diag(lam) Q^T`` is formed in mpmath and rounded to float64; the reference is
then recomputed in mpmath *from the rounded float64 matrix* (``mpmath.eigsy`` at 50 digits),
so it is the exact answer for the input the code actually receives, not for the unrounded one.

Relative errors (Frobenius norms) are asserted against the first-order bounds derived in
``tests/test_corrections.py`` and ``tests/test_steps.py``, and the worst ones are printed by
``python tests/test_mpmath_reference.py``; with ``--record PATH`` (``--force`` to replace it) it
also writes them as JSON, the record that ``docs/tables/math_tables.py`` renders the tables of
``docs/math.md`` (sections 2 and 7) from.
"""

from __future__ import annotations

import argparse
from fractions import Fraction as F
from pathlib import Path
from typing import Any, NamedTuple

import mpmath
import numpy as np
import pytest
from strategies import EPS, ROUNDING_FACTOR, SEPARATED_RTOL

from hsc_ref import _io
from hsc_ref.corrections import correct
from hsc_ref.spectral import decompose
from hsc_ref.steps import hsc_step

DPS = 50


class Case(NamedTuple):
    """A named exact spectrum with the seed of its Householder vectors."""

    name: str
    lam: tuple[F, ...]
    seed: int


CASES = [
    Case("n=1 negative", (F(-3),), 1),
    Case("n=3 rank one", (F(0), F(0), F(2)), 2),
    Case("n=6 zeros and negatives", (F(3), F(-2), F(1, 2), F(0), F(0), F(-1, 4)), 3),
    Case(
        "n=8 exact clusters",
        (F(1), F(1), F(1), F(1001, 1000), F(-1), F(-1), F(0), F(5, 2)),
        4,
    ),
    Case(
        "n=12 magnitudes 1e-3..1e2",
        (
            F(100),
            F(-50),
            F(10),
            F(1),
            F(1, 10),
            F(-1, 100),
            F(1, 1000),
            F(0),
            F(0),
            F(0),
            F(7),
            F(-7),
        ),
        5,
    ),
    Case("n=5 small kept 1e-6", (F(1), F(-1), F(1, 10**6), F(2, 10**6), F(0)), 6),
    Case(
        "n=10 norm 1e3",
        (F(1000), F(-300), F(1), F(1, 3), F(0), F(0), F(-1, 7), F(2), F(5), F(-9)),
        7,
    ),
    Case(
        "n=12 near-cluster 1+k*1e-8",
        (*(F(10**8 + k, 10**8) * (1 if k % 3 else -1) for k in range(10)), F(0), F(0)),
        8,
    ),
    Case("n=4 norm 1e-3", (F(1, 1000), F(-1, 2000), F(0), F(1, 4000)), 9),
]


def householder_q(n: int, seed: int) -> mpmath.matrix:
    """Product of ``n`` Householder reflections ``I - 2 v v^T / (v^T v)`` of seeded vectors."""
    rng = np.random.default_rng(seed)
    q = mpmath.eye(n)
    for _ in range(n):
        v = mpmath.matrix([mpmath.mpf(float(x)) for x in rng.standard_normal(n)])
        q = q - (q * v) * (2 * v.T / (v.T * v)[0])
    return q


def rounded_matrix(case: Case) -> np.ndarray:
    """``Q diag(lam) Q^T`` in mpmath, rounded entrywise to float64 (exactly symmetric)."""
    n = len(case.lam)
    q = householder_q(n, case.seed)
    lam = [mpmath.mpf(x.numerator) / x.denominator for x in case.lam]
    H = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            H[i, j] = H[j, i] = float(mpmath.fsum(q[i, k] * lam[k] * q[j, k] for k in range(n)))
    return H


class Reference(NamedTuple):
    """mpmath reference values for the float64 matrix ``H``."""

    hc: mpmath.matrix
    pinv: mpmath.matrix
    phi: mpmath.matrix
    norm: float
    min_kept: float


def reference(H: np.ndarray, rtol: float) -> Reference:
    """``H + H^+``, ``H^+`` and ``phi(H)`` at 50 digits, with ``H^+``'s cutoff ``rtol*max|mu|``."""
    A = mpmath.matrix(H.tolist())  # float64 -> mpf is exact
    mu, V = mpmath.eigsy(A)
    n = H.shape[0]
    top = max(abs(x) for x in mu)
    cutoff = rtol * top
    inv = [1 / x if abs(x) > cutoff else mpmath.mpf(0) for x in mu]
    phi = [x / (1 + x * x) for x in mu]

    def dense(values: list) -> mpmath.matrix:
        return V * mpmath.diag(values) * V.T

    pinv = dense(inv)
    kept = [abs(x) for x in mu if abs(x) > cutoff]
    # The reference must not sit in the band where float64 could decide differently.
    for x in mu:
        assert not (cutoff / 1e3 < abs(x) <= cutoff * 1e3), "eigenvalue in the cutoff band"
    return Reference(A + pinv, pinv, dense(phi), float(top), float(min(kept)) if n else 0.0)


def rel_err(got: np.ndarray, ref: mpmath.matrix) -> float:
    """``||got - ref||_F / ||ref||_F`` evaluated in mpmath."""
    diff = mpmath.matrix(got.tolist()) - ref
    return float(mpmath.mnorm(diff, "f") / mpmath.mnorm(ref, "f"))


class Errors(NamedTuple):
    """Relative errors of one case, and the bounds they are checked against."""

    hc: float
    pinv: float
    step: dict[str, float]
    bound_matrix: float
    bound_step: dict[str, float]


def measure(case: Case) -> Errors:
    """Errors of ``correct``, ``Spectrum.pinv`` and the three step routes against mpmath."""
    mpmath.mp.dps = DPS
    H = rounded_matrix(case)
    n = H.shape[0]
    ref = reference(H, SEPARATED_RTOL)
    L, m = ref.norm, ref.min_kept
    g = np.random.default_rng(case.seed + 100).standard_normal(n)
    s_ref = -(ref.phi * mpmath.matrix(g.tolist()))
    g_norm = float(mpmath.norm(mpmath.matrix(g.tolist())))
    steps = {
        "spectral": hsc_step(H, g),
        "cholesky": hsc_step(H, g, route="cholesky"),
        "literal": hsc_step(H, g, route="literal", rtol=SEPARATED_RTOL),
    }
    step_err = {
        k: float(mpmath.norm(mpmath.matrix(v.tolist()) - s_ref)) / g_norm for k, v in steps.items()
    }
    c = ROUNDING_FACTOR * n * EPS
    return Errors(
        hc=rel_err(correct(H, rtol=SEPARATED_RTOL).matrix, ref.hc),
        pinv=rel_err(decompose(H, rtol=SEPARATED_RTOL).pinv(), ref.pinv),
        step=step_err,
        # Relative to ||H^+|| ~ 1/m (or ||Hc||), the first-order bounds c n eps L / m^2 become
        # c n eps cond = c n eps L / m; sqrt(n) converts the 2-norm bound to Frobenius norms.
        bound_matrix=np.sqrt(n) * c * max(1.0, L / m),
        bound_step={
            "spectral": c * (1 + L),
            "cholesky": 2 * c * (1 + L) ** 2,
            "literal": 2 * c * (1 + L + 1 / m),
        },
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_against_mpmath_50_digits(case):
    e = measure(case)
    assert e.hc <= e.bound_matrix
    assert e.pinv <= e.bound_matrix
    for route, err in e.step.items():
        assert err <= e.bound_step[route], route


def test_householder_q_is_orthogonal_to_50_digits():
    mpmath.mp.dps = DPS
    q = householder_q(6, 0)
    assert mpmath.mnorm(q.T * q - mpmath.eye(6), "f") < mpmath.mpf(10) ** (-45)


def test_reference_sees_rounded_not_exact_spectrum():
    """Rounding H to float64 moves its zero eigenvalues off zero: the reference must use them."""
    mpmath.mp.dps = DPS
    H = rounded_matrix(CASES[2])
    mu, _ = mpmath.eigsy(mpmath.matrix(H.tolist()))
    smallest = sorted(abs(x) for x in mu)[:2]
    assert all(0 < x < 1e-14 for x in smallest)


COLUMNS = {
    "hc": "Hc",
    "pinv": "H⁺",
    "spectral": "step spectral",
    "cholesky": "step cholesky",
    "literal": "step literal",
}
"""The measured quantities of a case (keys of its record) and their column labels."""


def record_of(measured: list[tuple[Case, Errors]]) -> dict[str, Any]:
    """Every case's errors and bounds as JSON types, with the exact spectrum's ``||H||``, ``n``
    and smallest nonzero ``|lam|`` (the kept one at ``SEPARATED_RTOL``) that describe it."""
    cases = []
    for case, e in measured:
        sizes = [abs(x) for x in case.lam]
        cases.append(
            {
                "name": case.name,
                "n": len(case.lam),
                "norm": float(max(sizes)),
                "min_kept": float(min(x for x in sizes if x)),
                "errors": {"hc": e.hc, "pinv": e.pinv, **e.step},
                "bounds": {"hc": e.bound_matrix, "pinv": e.bound_matrix, **e.bound_step},
            }
        )
    versions = {"mpmath": mpmath.__version__, "numpy": np.__version__}
    return {"dps": DPS, "rtol": SEPARATED_RTOL, "versions": versions, "cases": cases}


def markdown_table(record: dict[str, Any]) -> str:
    """The errors of every case as a Markdown table (printed by ``main``; docs/math.md)."""
    lines = ["| case | " + " | ".join(COLUMNS.values()) + " |", "|" + "---|" * (1 + len(COLUMNS))]
    for case in record["cases"]:
        cells = [f"{case['errors'][key]:.1e}" for key in COLUMNS]
        lines.append(f"| {case['name']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Print the errors of every case and the worst one per quantity (for docs/math.md)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--record", metavar="PATH", help="also write the errors as JSON to PATH")
    parser.add_argument("--force", action="store_true", help="replace an existing --record")
    args = parser.parse_args(argv)
    if args.record is not None and Path(args.record).exists() and not args.force:
        parser.error(f"--record {args.record} exists; pass --force to replace it")
    record = record_of([(case, measure(case)) for case in CASES])
    print(markdown_table(record))
    worst = {key: max(c["errors"][key] for c in record["cases"]) for key in COLUMNS}
    print("worst:", ", ".join(f"{COLUMNS[key]} {v:.1e}" for key, v in worst.items()))
    if args.record is not None:
        _io.atomic_write_json(args.record, record, overwrite=args.force)
        print(f"wrote {args.record}")


if __name__ == "__main__":
    main()
