"""The stored matrices of the golden matrix cases (``hsc_ref/golden/exact_inputs.npz``).

``python tests/golden/exact_inputs.py`` compares every stored ``H`` with its construction on
this machine (as a share of its eigenvalue tolerance); ``--write`` adds the ``H`` of every
matrix case that has none, from the construction here (a new case), and never changes a
stored one: the stored matrices are what every machine builds, and a set written from them
must keep checking.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from hsc_ref import _io
from hsc_ref.golden import _stored_inputs, cases

STORE = Path(_stored_inputs.__file__).with_name(_stored_inputs.EXACT_FILE)


def constructed(name: str) -> np.ndarray:
    """Case ``name``'s ``H`` for seed 0 from its construction here, ignoring the store."""
    original = cases.exact_matrix
    cases.exact_matrix = lambda _name, _seed, derived: derived
    try:
        return cases.build_case(name, 0).inputs["H"]
    finally:
        cases.exact_matrix = original


def shares() -> dict[str, float]:
    """``||H_stored - H_constructed||_F`` over the eigenvalue tolerance, per stored case."""
    out = {}
    for name, stored in _stored_inputs.stored_matrices().items():
        tol = cases.build_case(name).tolerances["eigenvalues"]["float64"].atol
        out[name] = float(np.linalg.norm(stored - constructed(name))) / tol
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="store the missing matrices")
    args = parser.parse_args(argv)
    for name, share in shares().items():
        print(f"{name:<28} stored vs constructed here: {share:.3g} x the eigenvalue tolerance")
    stored = _stored_inputs.stored_matrices()
    missing = [n for n in (*cases._MATRIX_CASES, *cases._TIGHT_CUTOFF_CASES) if n not in stored]
    print(f"matrix cases without a stored H: {missing or 'none'}")
    if args.write and missing:
        arrays = {f"{n}/H": np.asarray(v) for n, v in stored.items()}
        arrays |= {f"{n}/H": constructed(n) for n in missing}
        _io.atomic_write_bytes(STORE, _io.npz_bytes(arrays), overwrite=True)
        print(f"wrote {STORE} ({len(arrays)} matrices)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
