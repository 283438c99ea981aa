"""Per-step wall time of the GAN trainer: ``--method hsc`` and the game methods against ``adam``.

The pinned ring setup of ``hsc-ref gan`` (``TrainConfig`` defaults: MLPs with hidden width 16,
batch 64, seed 0, diagnostics off). Each run's ``history["wall_time"]`` holds the timed region
of every step (both players' updates); a run's figure is the median over its steps, and the
methods run in turns. The game-aware methods of :mod:`hsc_ref.gan.methods` (``conopt``,
``sga``, ``cgd``, ``extragradient``, ``optimistic``) run at their defaults under their
``simultaneous`` schedule; their timed region is the same kind of work, one update of both
players (both gradients, then the products, fields or blocks the method asks for). Each row
records its ratio to Adam's median (``vs_adam``).

A third row times the HSC step from the building blocks the trainer will call once it is wired
to the hand-derived route: per player, :func:`hsc_ref.gan.game.player_value_grad_hessian`
(value, gradient and Hessian, ``route="exact"``) and :func:`hsc_ref.steps.hsc_step` (one
``eigh``), discriminator first, on the same kind of batches. It is labelled as what it is: the
cost of those calls, not a run of the trainer.

BLAS runs on one thread here (``threadpoolctl``, when installed): the matrices are of order 65
to 82, where a second OpenBLAS thread only adds waiting, and on a shared machine its
contention made single ``eigh`` calls take 100 ms instead of 1 ms. Both methods run under the
same setting.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np
from targets import GAN_ADAM as ADAM
from targets import GAN_BLOCKS as BLOCKS
from targets import GAN_GAME as GAME
from targets import GAN_HSC as HSC


def _trainer_step(method: str, steps: int) -> float:
    from hsc_ref.gan.train import TrainConfig, train

    result = train(TrainConfig(data="ring", method=method, steps=steps, seed=0, n_eval=100))
    return float(np.nanmedian(result.history["wall_time"]))


def _blocks_step(steps: int) -> float:
    from hsc_ref.gan.data import sample
    from hsc_ref.gan.game import init_game, player_value_grad_hessian
    from hsc_ref.gan.train import TrainConfig
    from hsc_ref.steps import hsc_step

    config = TrainConfig(data="ring", method="hsc", seed=0)
    fg = init_game(config.game(), np.random.default_rng(0))
    rng = np.random.default_rng(1)
    theta, phi, times = fg.theta.copy(), fg.phi.copy(), []
    for _ in range(steps):
        x, z = sample(fg.game.data, config.batch, rng), rng.standard_normal((config.batch, 2))
        start = time.perf_counter()
        d = player_value_grad_hessian(fg, theta, phi, x, z, player="discriminator")
        phi = phi + hsc_step(d.hessian, d.grad, lr=1.0)
        g = player_value_grad_hessian(fg, theta, phi, x, z, player="generator")
        theta = theta + hsc_step(g.hessian, g.grad, lr=1.0)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _game_build(method: str, steps: int):
    return lambda: _trainer_step(method, steps)


def run(*, steps: int, repeats: int, log: Any) -> list[dict[str, Any]]:
    """Median per-step wall time of each method over ``repeats`` runs in turns, BLAS 1 thread."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        log("  threadpoolctl not installed: BLAS keeps its thread count")
        return _run(steps=steps, repeats=repeats, log=log, blas_threads=None)
    with threadpool_limits(limits=1, user_api="blas"):
        return _run(steps=steps, repeats=repeats, log=log, blas_threads=1)


def _run(*, steps: int, repeats: int, log: Any, blas_threads: int | None) -> list[dict[str, Any]]:
    builds = {
        ADAM: lambda: _trainer_step("adam", steps),
        HSC: lambda: _trainer_step("hsc", steps),
        BLOCKS: lambda: _blocks_step(steps),
        **{label: _game_build(method, steps) for method, label in GAME.items()},
    }
    samples: dict[str, list[float]] = {name: [] for name in builds}
    notes: dict[str, str] = {}
    for _ in range(repeats):
        for name, build in builds.items():
            if name in notes:
                continue
            try:
                samples[name].append(build())
            except Exception as exc:  # the trainer is being rewired: record why, go on
                notes[name] = f"failed: {type(exc).__name__}: {exc}"
    records = []
    for name, values in samples.items():
        if name in notes:
            records.append({"method": name, "note": notes[name]})
            log(f"  {name}: {notes[name]}")
            continue
        records.append(
            {
                "method": name,
                "steps": steps,
                "blas_threads": blas_threads,
                "per_step_s": values,
                "median_s": statistics.median(values),
            }
        )
        log(f"  {name:42s} {statistics.median(values) * 1e3:8.2f} ms per step")
    adam = next((r["median_s"] for r in records if r["method"] == ADAM and "median_s" in r), None)
    for r in records:
        if adam is not None and "median_s" in r:
            r["vs_adam"] = r["median_s"] / adam
    return records
