"""Correct a Hessian stored in a ``.npy`` file with the ``hsc-ref correct`` command, in-process.

This is the route for a Hessian computed elsewhere (PyTorch, JAX, ...): save it with
``numpy.save`` (no pickles), optionally with the gradient, and run ``hsc-ref correct``. The
outputs are ``correction.npz`` (the corrected matrix, ``pinv(H)``, eigenvalues, the cutoff
policy and, with a gradient, the HSC step) and ``summary.json`` (ranks, inertia, norms).

Without ``--matrix`` the example writes a seeded singular test matrix first, into the folder
``DIR-input`` beside the output folder (an output folder holds its output set only).

Run: ``python examples/correct_from_file.py [--matrix H.npy --grad g.npy] [--out DIR] [--force]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from hsc_ref.cli import main as hsc_ref_main


def write_test_problem(folder: Path, seed: int = 0, n: int = 8) -> tuple[Path, Path]:
    """Save a symmetric ``H`` with a 3-dimensional null space and a gradient ``g``."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = np.concatenate([np.zeros(3), rng.uniform(0.1, 10.0, n - 3) * rng.choice([-1, 1], n - 3)])
    H = (q * lam) @ q.T
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "H.npy", 0.5 * (H + H.T))
    np.save(folder / "g.npy", rng.standard_normal(n))
    return folder / "H.npy", folder / "g.npy"


def main(argv: list[str] | None = None) -> dict:
    """Run ``hsc-ref correct`` on the given (or a generated) matrix; return the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", type=Path, help="symmetric H as .npy (default: generated)")
    parser.add_argument("--grad", type=Path, help="gradient g as .npy")
    parser.add_argument("--out", type=Path, help="output folder (default: a temporary one)")
    parser.add_argument("--force", action="store_true", help="replace existing outputs")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="hsc-ref-"))
    matrix, grad = args.matrix, args.grad
    if matrix is None:
        matrix, grad = write_test_problem(out.with_name(out.name + "-input"))  # beside --out
    command = ["correct", str(matrix), "--out", str(out)]
    command += ["--grad", str(grad)] if grad is not None else []
    command += ["--force"] if args.force else []
    print("hsc-ref", " ".join(command))
    if hsc_ref_main(command) != 0:
        raise SystemExit(2)
    with np.load(out / "correction.npz", allow_pickle=False) as data:  # never load pickles
        print("correction.npz holds:", ", ".join(sorted(data.files)))
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
