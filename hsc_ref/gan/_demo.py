"""The ``gan`` section of ``hsc-ref demo``: the article's loop, the HSC step and Adam."""

from __future__ import annotations

import sys

from hsc_ref import _extras
from hsc_ref.gan.train import TrainConfig, train

__all__ = ["DEMO_METHODS", "gan_demo"]

DEMO_METHODS = ("article", "hsc", "adam")
"""The methods the section trains, in order."""


def gan_demo(seed: int = 0, steps: int = 300, *, progress: bool = True) -> str:
    """The ``hsc-ref demo`` GAN section: article's loop vs HSC step vs Adam on the ring.

    Same model (2-16-2 generator, 2-16-1 discriminator, tanh), batch 64 and step budget for
    the three; one seed and a short budget, so it illustrates the loops and their cost per
    step rather than ranks the methods (the table's last lines say so).

    Parameters
    ----------
    seed : int
        Seed of every run.
    steps : int
        Step budget of every run.
    progress : bool
        Show on stderr which run is training (a tqdm bar with the extra ``progress``, else
        one line per run).

    Returns
    -------
    str
        A plain-text table.

    Examples
    --------
    >>> print(gan_demo(steps=1, progress=False).splitlines()[0][:33])
    GAN on the 8-mode ring, 1 alterna
    """
    lines = [
        f"GAN on the 8-mode ring, {steps} alternating steps, seed {seed}, 2-16-2 / 2-16-1 tanh "
        "MLPs, batch 64; metrics on 2500 samples (modes within 3 std)",
        f"  {'method':<8} {'lr':>7} {'modes':>5} {'HQ %':>6} {'rev KL':>7} {'ms/step':>8} "
        f"{'indef H_G':>9} {'diverged':>8}",
    ]
    for number, method in enumerate(DEMO_METHODS, start=1):
        config = TrainConfig(data="ring", method=method, steps=steps, seed=seed,
                             spectrum_every=25)  # fmt: skip
        label = f"gan demo {number}/{len(DEMO_METHODS)}: {method}"
        lines.append(_row(method, _train_showing(config, label, progress).metrics))
    lines += [
        "  The article's loop computes H, pinv(H) and Hc each step and discards them; the HSC "
        "step uses pinv(Hc) g = (I + H^2)^-1 H g.",
        "  What this shows: that the loops run, and their cost per step. What it cannot show: "
        "which method trains better.",
        f"  {steps} steps is short for the ring (any method may still miss most modes), and one "
        "seed at one step size per method ranks nothing: a tune-then-confirm sweep does "
        "(hsc-ref sweep, docs/experiments.md).",
    ]
    return "\n".join(lines)


def _train_showing(config: TrainConfig, label: str, progress: bool):
    """``train(config)``, with a tqdm bar or one line on stderr when ``progress``."""
    if not progress:
        return train(config)
    if not _extras.installed("tqdm"):
        print(f"{label}, {config.steps} steps ...", file=sys.stderr, flush=True)
        return train(config)
    from tqdm import tqdm  # noqa: PLC0415  (optional extra)

    with tqdm(total=config.steps, desc=label, unit="step", leave=False) as bar:
        return train(config, callback=lambda p: bar.update(p.steps_completed - bar.n))


def _row(method: str, m: dict) -> str:
    kl = "n/a" if m["reverse_kl"] is None else f"{m['reverse_kl']:.3f}"
    diverged = m["diverged_at"] if m["diverged_at"] is not None else "-"
    indefinite = m["indefinite_fraction_g"]
    return (
        f"  {method:<8} {m['lr']:>7.0e} {m['modes_captured']:>5d} "
        f"{100 * m['high_quality_fraction']:>6.1f} {kl:>7} "
        f"{1e3 * m['wall_time_per_step']:>8.1f} "
        f"{'n/a' if indefinite is None else f'{indefinite:.2f}':>9} {diverged:>8}"
    )
