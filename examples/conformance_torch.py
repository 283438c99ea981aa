"""Conformance of a user's own pseudo-inverse and HSC step, driven by ``hsc_ref.conformance``.

Checks a correct implementation (PyTorch's ``torch.linalg.pinv`` with the golden cutoff
``atol = 0, rtol = 100 n eps``, and an ``eigh``-based HSC step) and three planted cutoff
bugs (the cutoff doubled, scaled by ``||H||_F``, NumPy's default ``rcond = 1e-15``) over
drawn matrices, at float64 and float32, and prints each verdict with the diagnosis of a
failure. Without PyTorch it says so and checks the NumPy versions of the same functions.
Needs Hypothesis (``pip install "hsc-ref[test]"``).

Run: ``python examples/conformance_torch.py [--examples 30] [--seed 0]`` (a few seconds).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

import numpy as np

from hsc_ref.conformance import check


def numpy_implementations() -> dict[str, tuple[str, Callable, bool]]:
    """``name -> (output, fn, correct)`` for NumPy arrays."""

    def golden_rtol(H):
        return 100 * H.shape[0] * np.finfo(H.dtype).eps

    def pinv(H):
        lam, q = np.linalg.eigh(H)
        kept = np.abs(lam) > golden_rtol(H) * np.abs(lam).max()
        return (q * np.where(kept, 1 / np.where(kept, lam, 1), 0)) @ q.T

    def pinv_cutoff_doubled(H):
        return np.linalg.pinv(H, rtol=2 * golden_rtol(H), hermitian=True)

    def pinv_frobenius(H):  # the cutoff scaled by ||H||_F, np.linalg.norm's default
        lam, q = np.linalg.eigh(H)
        kept = np.abs(lam) > golden_rtol(H) * np.linalg.norm(H)
        return (q * np.where(kept, 1 / np.where(kept, lam, 1), 0)) @ q.T

    def step(H, g, lr):
        lam, q = np.linalg.eigh(H)
        return -lr * (q @ (lam / (1 + lam**2) * (q.T @ g)))

    return {
        "pinv (golden cutoff)": ("pinv", pinv, True),
        "step (eigh)": ("step", step, True),
        "pinv, cutoff x2": ("pinv", pinv_cutoff_doubled, False),
        "pinv, cutoff x ||H||_F": ("pinv", pinv_frobenius, False),
        "np.linalg.pinv default": ("pinv", np.linalg.pinv, False),
    }


def torch_implementations(torch) -> dict[str, tuple[str, Callable, bool]]:
    """The same with PyTorch's own functions."""

    def golden_rtol(H):
        return 100 * H.shape[0] * torch.finfo(H.dtype).eps

    def pinv(H):
        return torch.linalg.pinv(H, atol=0.0, rtol=golden_rtol(H), hermitian=True)

    def pinv_cutoff_doubled(H):
        return torch.linalg.pinv(H, atol=0.0, rtol=2 * golden_rtol(H), hermitian=True)

    def pinv_frobenius(H):  # atol from torch.linalg.norm(H): the Frobenius norm
        return torch.linalg.pinv(H, atol=golden_rtol(H) * torch.linalg.norm(H), hermitian=True)

    def step(H, g, lr):
        lam, q = torch.linalg.eigh(H)
        return -lr * (q @ (lam / (1 + lam**2) * (q.T @ g)))

    def numpy_default(H):
        return torch.from_numpy(np.linalg.pinv(H.numpy()))

    return {
        "pinv (golden cutoff)": ("pinv", pinv, True),
        "step (eigh)": ("step", step, True),
        "pinv, cutoff x2": ("pinv", pinv_cutoff_doubled, False),
        "pinv, cutoff x ||H||_F": ("pinv", pinv_frobenius, False),
        "np.linalg.pinv default": ("pinv", numpy_default, False),
    }


def main(examples: int = 30, seed: int = 0, only: Sequence[str] | None = None) -> dict:
    """Check the implementations (or the ``only`` ones) at both precisions; return verdicts."""
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed (pip install torch): checking the NumPy versions.")
        implementations, convert, library = numpy_implementations(), None, "numpy"
    else:
        implementations, convert, library = torch_implementations(torch), torch.from_numpy, "torch"
    if only is not None:
        implementations = {k: v for k, v in implementations.items() if k in set(only)}
    verdicts = {}
    for name, (output, fn, correct) in implementations.items():
        for dtype in ("float64", "float32"):
            report = check(
                fn,
                output,
                dtype=dtype,
                convert=convert,
                max_examples=examples,
                seed=seed,
                raise_on_failure=False,
            )
            expected = "ok" if report.passed == correct else "UNEXPECTED"
            verdict = "passes" if report.passed else "fails"
            print(
                f"[{expected}] {library} {name} at {dtype}: {verdict} ({report.examples} examples)"
            )
            if not report.passed:
                print(f"    likely cause: {report.diagnosis[:300]}")
            verdicts[(name, dtype)] = {"passed": report.passed, "expected": correct}
    return {"library": library, "verdicts": verdicts}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=30, help="examples per check")
    parser.add_argument("--seed", type=int, default=0, help="seed of the drawn matrices")
    args = parser.parse_args()
    result = main(args.examples, args.seed)
    unexpected = [k for k, v in result["verdicts"].items() if v["passed"] != v["expected"]]
    raise SystemExit(1 if unexpected else 0)
