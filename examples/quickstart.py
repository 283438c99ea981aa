"""Quickstart: the exact Hessian of a small MLP loss, its HSC correction and the HSC step.

Walks the core API in order: parameters and their flat layout, the exact symmetrized Hessian
(batched route), ``decompose``/``correct`` with the recorded cutoff policy, and the HSC step
by its three routes beside the comparators. One hidden unit is dead (its bias is -100), so
the Hessian is exactly singular: the correction keeps that null space.

Run: ``python examples/quickstart.py [--seed 0]`` (a second or two).
"""

from __future__ import annotations

import argparse

import autograd.numpy as anp
import numpy as np

from hsc_ref import correct, decompose, flatten, hsc_step, spectral_step, value_grad_hessian
from hsc_ref.models import mlp
from hsc_ref.steps import HSC_ROUTES


def make_loss(seed: int):
    """A mean-squared-error loss of a 2-5-1 ReLU MLP on seeded data; one dead hidden unit."""
    rng = np.random.default_rng(seed)
    model = mlp([2, 5, 1], activation="relu")
    params = model.init(rng)
    W1, b1 = params[0]
    params[0] = (W1, np.where(np.arange(b1.shape[0]) == 0, -100.0, b1))  # unit 0 never fires
    x = rng.uniform(-1.0, 1.0, (64, 2))
    y = np.sin(np.pi * x[:, :1]) * x[:, 1:]
    theta, unflatten = flatten(params)  # layer by layer: W1.ravel() (C order), b1, W2, b2

    def loss(flat):  # accepts (n,) or a stack (k, n) of parameter copies
        return anp.mean((model.apply(unflatten(flat), x) - y) ** 2, axis=(-2, -1))

    return loss, theta


def main(seed: int = 0) -> dict:
    """Run the walk-through, print a short report and return its numbers."""
    loss, theta = make_loss(seed)
    value, g, H = value_grad_hessian(loss, theta, batched=True)
    spectrum = decompose(H)  # one eigh, pinvh cutoff policy: atol = 0, rtol = n * eps
    result = correct(spectrum, "hsc")  # Hc = H + pinv(H)
    steps = {route: hsc_step(H, g, lr=1.0, route=route) for route in HSC_ROUTES}
    others = {  # comparators on the same spectrum
        "newton": spectral_step(spectrum, g, "newton"),
        "damped(1)": spectral_step(spectrum, g, "damped", mu=1.0),
    }
    report = {
        "n": spectrum.n,
        "loss": value,
        "rank_H": result.rank_before,
        "rank_Hc": result.rank_after,
        "null_dim": result.null_dim_before,
        "cutoff": result.cutoff,
        "grad_norm": float(np.linalg.norm(g)),
        "H_norm": float(np.abs(spectrum.eigenvalues).max()),
        "step_norms": {k: float(np.linalg.norm(s)) for k, s in {**steps, **others}.items()},
    }
    print(f"n = {report['n']} parameters, loss = {value:.4f}, ||g|| = {report['grad_norm']:.3e}")
    print(
        f"rank(H) = {report['rank_H']}, rank(H + pinv(H)) = {report['rank_Hc']}, "
        f"null space {report['null_dim']} (cutoff {report['cutoff']:.2e}): rank is kept"
    )
    print(f"inertia of H: {result.inertia_before}, of Hc: {result.inertia_after}")
    for name, norm in report["step_norms"].items():
        print(f"  ||step|| {name:<9} = {norm:.6e}")
    print("HSC step: ||s|| <= lr ||g|| / 2 =", f"{report['grad_norm'] / 2:.3e}")
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    main(parser.parse_args().seed)
