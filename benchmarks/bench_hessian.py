"""Exact dense Hessians of the generator loss: hsc_ref's routes against torch.func and JAX.

Every method differentiates the same float64 loss at the same point (``problems.py``):

* ``hsc_ref exact``: the hand-derived route of the package's MLP games
  (:func:`hsc_ref.gan.game.player_value_grad_hessian`, ``route="exact"``);
* ``hsc_ref.hessian, package tanh``: the generic batched autograd route on the loss written
  with ``hsc_ref.models.mlp`` (the reference every other method is compared with);
* ``hsc_ref.hessian, anp.tanh`` (and ``workers=2``): the generic route on the loss as a user
  writes it, with ``autograd.numpy.tanh`` (and ``chunk_size=128``, four times the default
  rows per pass, to show what the default gains);
* ``torch.func.hessian`` and ``jax.jit(jax.hessian)`` on the same loss.

The largest entry difference from the reference, relative to ``max|H|``, is recorded next to
each time, so a fast wrong answer cannot hide in the table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from problems import Problem, flat_game, jax_loss, make_problem, torch_loss, user_loss
from targets import EXACT, JAX, TORCH, USER
from timing import measure_round_robin

PACKAGE = "hsc_ref.hessian, package tanh"


def user_workers(threads: int) -> str:
    return f"{USER}, workers={threads}"


def _exact(problem: Problem):
    from hsc_ref.gan.game import player_value_grad_hessian

    fg, phi, x_real = flat_game(problem)

    def run() -> np.ndarray:
        return player_value_grad_hessian(
            fg, problem.theta, phi, x_real, problem.z, player="generator", route="exact"
        ).hessian

    return run


def _generic(loss: Any, theta: np.ndarray, workers: int = 1, chunk_size: int | None = None):
    from hsc_ref.derivatives import hessian

    return lambda: hessian(loss, theta, batched=True, workers=workers, chunk_size=chunk_size)


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


def _methods(problem: Problem, threads: int, peers: bool) -> list[tuple[str, Any, str | None]]:
    user = user_loss(problem)
    methods: list[tuple[str, Any, str | None]] = [
        (EXACT, _exact(problem), None),
        (PACKAGE, _generic(problem.loss, problem.theta), None),
        (USER, _generic(user, problem.theta), None),
        (user_workers(threads), _generic(user, problem.theta, threads), None),
        (f"{USER}, chunk_size=128", _generic(user, problem.theta, chunk_size=128), None),
    ]
    if peers:
        for name, build in (
            (TORCH, lambda: _torch(problem, threads)),
            (JAX, lambda: _jax(problem)),
        ):
            fn, note = _peer(name, build)
            methods.append((name, fn, note))
    return methods


def run(
    widths: list[int], *, threads: int, repeats: int, peers: bool, log: Any
) -> list[dict[str, Any]]:
    """Time every method at every width; return one record per (method, n)."""
    records: list[dict[str, Any]] = []
    for h in widths:
        problem = make_problem(h)
        methods = _methods(problem, threads, peers)
        fns = {name: fn for name, fn, _ in methods if fn is not None}
        timed = measure_round_robin(fns, repeats=repeats, warmups={JAX: 1} if JAX in fns else {})
        reference = timed[PACKAGE]["result"]
        scale = float(np.abs(reference).max())
        for name, fn, note in methods:
            if fn is None:
                records.append({"n": problem.n, "h": h, "method": name, "note": note})
                log(f"  n={problem.n:5d} {note}")
                continue
            m = timed[name]
            H = m.pop("result")
            m["rel_diff_vs_autograd"] = float(np.abs(H - reference).max()) / scale
            records.append({"n": problem.n, "h": h, "method": name, **m})
            log(
                f"  n={problem.n:5d} {name:42s} {m['median_s']:9.4f} s (min {m['min_s']:.4f})  "
                f"diff {m['rel_diff_vs_autograd']:.1e}"
            )
    return records
