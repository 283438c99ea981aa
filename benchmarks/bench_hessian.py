"""Exact dense Hessians of the generator loss: hsc_ref's batched route against its peers.

Every method differentiates the same float64 loss at the same point (``problems.py``); the
largest entry difference from hsc_ref's matrix is recorded next to each time, so a fast
wrong answer cannot hide in the table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from problems import Problem, jax_loss, make_problem, torch_loss
from timing import measure_round_robin


def _hsc_batched(problem: Problem, workers: int = 1):
    from hsc_ref.derivatives import hessian

    return lambda: hessian(problem.loss, problem.theta, batched=True, workers=workers)


def _autograd_plain(problem: Problem):
    import autograd

    n = problem.n
    fn = autograd.hessian(problem.loss)
    return lambda: np.asarray(fn(problem.theta)).reshape(n, n)


def _anp_tanh_batched(h: int):
    """Ablation: the batched route with autograd's own ``tanh`` rule (``g / cosh(x)**2``)."""
    import autograd.numpy as anp

    from hsc_ref import models

    saved = models.ACTIVATIONS["tanh"]
    models.ACTIVATIONS["tanh"] = anp.tanh  # mlp() looks the activation up when built
    try:
        problem = make_problem(h)
    finally:
        models.ACTIVATIONS["tanh"] = saved
    return _hsc_batched(problem)


def _torch(problem: Problem, threads: int):
    import torch

    torch.set_num_threads(threads)
    loss = torch_loss(problem)
    theta = torch.from_numpy(problem.theta.copy())
    fn = torch.func.hessian(loss)
    return lambda: fn(theta).numpy()


def _jax(problem: Problem):
    import jax

    jax.config.update("jax_enable_x64", True)
    fn = jax.jit(jax.hessian(jax_loss(problem)))
    x = jax.numpy.asarray(problem.theta)

    def run() -> np.ndarray:
        return np.asarray(fn(x).block_until_ready())

    return run


def _peer(name: str, build: Any) -> tuple[Any, str | None]:
    """Build a peer's callable, or return the reason it is skipped."""
    try:
        return build(), None
    except ImportError as exc:
        return None, f"{name} skipped: {exc.name or exc} not importable"


def run(
    widths: list[int], *, threads: int, repeats: int, peers: bool, log: Any
) -> list[dict[str, Any]]:
    """Time every method at every width; return one record per (method, n)."""
    records: list[dict[str, Any]] = []
    for h in widths:
        problem = make_problem(h)
        methods: list[tuple[str, Any, str | None]] = [
            ("hsc_ref.hessian (batched)", _hsc_batched(problem), None),
            (f"hsc_ref batched, workers={threads}", _hsc_batched(problem, threads), None),
            ("hsc_ref batched, anp.tanh rule", _anp_tanh_batched(h), None),
            ("autograd.hessian", _autograd_plain(problem), None),
        ]
        if peers:
            for name, build in (
                ("torch.func.hessian", lambda p=problem: _torch(p, threads)),
                ("jax.jit(jax.hessian)", lambda p=problem: _jax(p)),
            ):
                fn, note = _peer(name, build)
                methods.append((name, fn, note))
        fns = {name: fn for name, fn, _ in methods if fn is not None}
        warm = {k: 1 for k in fns if "jax" in k}
        timed = measure_round_robin(fns, repeats=repeats, warmups=warm)
        reference = timed["hsc_ref.hessian (batched)"]["result"]
        scale = float(np.abs(reference).max())
        for name, fn, note in methods:
            if fn is None:
                records.append({"n": problem.n, "h": h, "method": name, "note": note})
                log(f"  n={problem.n:5d} {note}")
                continue
            m = timed[name]
            H = m.pop("result")
            m["rel_diff_vs_hsc_ref"] = float(np.abs(H - reference).max()) / scale
            records.append({"n": problem.n, "h": h, "method": name, **m})
            log(
                f"  n={problem.n:5d} {name:32s} {m['median_s']:9.4f} s (min {m['min_s']:.4f})  "
                f"diff {m['rel_diff_vs_hsc_ref']:.1e}"
            )
    return records
